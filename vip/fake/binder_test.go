package fake

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

func vip(s string) vrrp.VIP { return vrrp.VIP{Prefix: netip.MustParsePrefix(s)} }

func TestBindUnbind(t *testing.T) {
	var b Binder
	ctx := context.Background()
	v1, v2 := vip("192.0.2.10/32"), vip("192.0.2.9/24")
	v3 := vrrp.VIP{Prefix: netip.MustParsePrefix("2001:db8::1/64"), Device: "eth1", Label: "l", Scope: "link"}
	if err := b.Bind(ctx, "eth0", []vrrp.VIP{v1, v2, v3}); err != nil {
		t.Fatal(err)
	}
	if err := b.Bind(ctx, "eth0", []vrrp.VIP{v1}); err != nil { // idempotent
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(b.Bound("eth0")), fmt.Sprint([]vrrp.VIP{v2, v1}); got != want {
		t.Errorf("Bound(eth0) = %v, want %v", got, want)
	}
	if got := b.Bound("eth1"); len(got) != 1 || got[0] != v3 {
		t.Errorf("Bound(eth1) = %v, want [%v]", got, v3)
	}
	if got := fmt.Sprint(b.Interfaces()); got != "[eth0 eth1]" {
		t.Errorf("Interfaces = %v", got)
	}
	if !b.Has(v3.Prefix) || b.Has(netip.MustParsePrefix("192.0.2.10/24")) {
		t.Error("Has")
	}
	if !b.HasAddr(netip.MustParseAddr("192.0.2.9")) || b.HasAddr(netip.MustParseAddr("192.0.2.1")) {
		t.Error("HasAddr")
	}

	// Unbinding uses the Device too, and is idempotent.
	for range 2 {
		if err := b.Unbind(ctx, "eth9", []vrrp.VIP{{Prefix: v3.Prefix, Device: "eth1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if b.Has(v3.Prefix) || len(b.Bound("eth1")) != 0 || len(b.Interfaces()) != 1 {
		t.Errorf("after Unbind: %v %v", b.Bound("eth1"), b.Interfaces())
	}
	if err := b.Unbind(ctx, "eth0", []vrrp.VIP{v1, v2}); err != nil {
		t.Fatal(err)
	}
	if len(b.Bound("eth0")) != 0 || len(b.Interfaces()) != 0 {
		t.Errorf("after Unbind: %v", b.Bound("eth0"))
	}

	calls := b.Calls()
	if len(calls) != 5 || calls[0].Op != OpBind || calls[4].Op != OpUnbind || calls[0].Iface != "eth0" || len(calls[0].VIPs) != 3 {
		t.Errorf("Calls = %+v", calls)
	}
	calls[0].VIPs[0] = vip("10.0.0.1/32")
	if b.Calls()[0].VIPs[0] != v1 {
		t.Error("Calls shares its VIPs")
	}
	if OpBind.String() != "bind" || OpUnbind.String() != "unbind" || Op(9).String() != "Op(9)" {
		t.Error("Op.String")
	}
}

func TestBindArgumentCopied(t *testing.T) {
	var b Binder
	vips := []vrrp.VIP{vip("192.0.2.10/32")}
	b.Bind(context.Background(), "eth0", vips)
	vips[0] = vip("10.0.0.1/32")
	if !b.Has(netip.MustParsePrefix("192.0.2.10/32")) || b.Calls()[0].VIPs[0] != vip("192.0.2.10/32") {
		t.Error("Binder keeps the caller's slice")
	}
}

func TestSetError(t *testing.T) {
	var b Binder
	ctx := context.Background()
	boom := errors.New("boom")
	b.SetError(boom)
	for range 2 {
		if err := b.Bind(ctx, "eth0", []vrrp.VIP{vip("192.0.2.10/32")}); !errors.Is(err, boom) {
			t.Errorf("Bind = %v, want boom", err)
		}
	}
	if len(b.Bound("eth0")) != 0 {
		t.Error("a failed Bind bound")
	}
	b.SetError(nil)
	if err := b.Bind(ctx, "eth0", []vrrp.VIP{vip("192.0.2.10/32")}); err != nil {
		t.Fatal(err)
	}
	b.SetError(boom)
	if err := b.Unbind(ctx, "eth0", []vrrp.VIP{vip("192.0.2.10/32")}); !errors.Is(err, boom) {
		t.Errorf("Unbind = %v, want boom", err)
	}
	if len(b.Bound("eth0")) != 1 {
		t.Error("a failed Unbind unbound")
	}
	calls := b.Calls()
	if !errors.Is(calls[0].Err, boom) || calls[2].Err != nil || !errors.Is(calls[3].Err, boom) {
		t.Errorf("Calls = %+v", calls)
	}

	b.SetError(nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Bind(cctx, "eth0", []vrrp.VIP{vip("192.0.2.11/32")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Bind with a canceled context = %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	var b Binder
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			v := []vrrp.VIP{vip(fmt.Sprintf("192.0.2.%d/32", i))}
			for range 100 {
				b.Bind(context.Background(), "eth0", v)
				b.Bound("eth0")
				b.Has(v[0].Prefix)
				b.Calls()
				b.Unbind(context.Background(), "eth0", v)
			}
		})
	}
	wg.Wait()
	if len(b.Calls()) != 1600 || len(b.Bound("eth0")) != 0 {
		t.Errorf("%d calls, %v bound", len(b.Calls()), b.Bound("eth0"))
	}
}
