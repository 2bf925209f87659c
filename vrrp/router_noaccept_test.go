package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ops returns the operations of a fake Binder's calls, in order.
func ops(b *vipfake.Binder) string {
	var s []string
	for _, c := range b.Calls() {
		s = append(s, c.Op.String())
	}
	return strings.Join(s, " ")
}

// NoAccept: the Master filters its addresses before it binds them and
// until it has removed them; a Backup filters nothing; the filter of a
// killed process is removed at the start.
func TestRouterNoAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		var nodes []*node
		for i, p := range []uint8{150, 100} {
			c := v3inst(p)
			c.NoAccept = true
			n := newNode(t, seg, "r"+string(rune('1'+i)), []netip.Addr{addr4(i + 1)}, c)
			n.start()
			nodes = append(nodes, n)
		}
		r1, r2 := nodes[0], nodes[1]
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if r1.state("VI_1") != vrrp.Master || !r1.binder.Filtered(vip4.Addr()) || !r1.binder.Has(vip4) {
			t.Errorf("r1 %v: filtered %v, bound %v; want a filtered, bound Master", r1.state("VI_1"), r1.binder.Filtered(vip4.Addr()), r1.binder.Has(vip4))
		}
		if got := ops(r1.binder); got != "unbind unfilter filter bind" {
			t.Errorf("r1's binder calls %q; want unbind and unfilter (at the start), then filter before bind", got)
		}
		if r2.binder.Filtered(vip4.Addr()) || ops(r2.binder) != "unbind unfilter" {
			t.Errorf("r2 (Backup) binder calls %q", ops(r2.binder))
		}
		r1.stop()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if r1.binder.Filtered(vip4.Addr()) || r1.binder.Has(vip4) {
			t.Error("r1 kept its filter or address after a graceful stop")
		}
		if got := ops(r1.binder); got != "unbind unfilter filter bind unbind unfilter" {
			t.Errorf("r1's binder calls %q; want the filter removed after the address", got)
		}
		if r2.state("VI_1") != vrrp.Master || !r2.binder.Filtered(vip4.Addr()) {
			t.Errorf("r2 %v, filtered %v; want a filtered Master", r2.state("VI_1"), r2.binder.Filtered(vip4.Addr()))
		}
		r2.stop()
	})
}

// bindOnly is a Binder that does not filter.
type bindOnly struct{ vrrp.Binder }

func TestNoAcceptValidation(t *testing.T) {
	inst := func(name string, vrid, prio uint8, accept, noAccept bool) vrrp.InstanceConfig {
		c := v3inst(prio)
		c.Name, c.VRID, c.Accept, c.NoAccept = name, vrid, accept, noAccept
		return c
	}
	_, err := vrrp.NewRouter(vrrp.Config{Transport: fake.NewSegment(fake.SegmentConfig{}).NewHost("h"),
		Binder: bindOnly{&vipfake.Binder{}},
		Instances: []vrrp.InstanceConfig{
			inst("a", 1, 100, false, true), inst("owner", 2, 255, false, true),
			inst("both", 3, 100, true, true), inst("accept", 4, 100, true, false),
		}})
	if !errors.Is(err, vrrp.ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
	for _, want := range []string{
		"Instances[0] (a).NoAccept: the Binder does not filter",
		"Instances[2] (both).NoAccept: cannot be set with Accept",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, notWant := range []string{"(owner)", "(accept)"} {
		if strings.Contains(err.Error(), notWant) {
			t.Errorf("error names %s:\n%v", notWant, err)
		}
	}
	r, err := vrrp.NewRouter(vrrp.Config{Transport: fake.NewSegment(fake.SegmentConfig{}).NewHost("h"),
		Binder: &vipfake.Binder{}, Instances: []vrrp.InstanceConfig{inst("a", 1, 100, false, true)}})
	if err != nil {
		t.Fatalf("NoAccept with a FilterBinder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = r.Run(ctx)
}
