package vrrp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	announcefake "github.com/vrrpkit/vrrpkit/announce/fake"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// runRouter starts a Router with cfg and returns a function that stops it
// and checks Run's result; calling it again does nothing, so that a test
// can defer it and still stop the Router early.
func runRouter(t *testing.T, cfg vrrp.Config) (*vrrp.Router, func()) {
	t.Helper()
	r, err := vrrp.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, startRouter(t, r)
}

// startRouter runs r, made by the caller, and returns runRouter's stop.
func startRouter(t *testing.T, r *vrrp.Router) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func stateOf(t *testing.T, r *vrrp.Router, name string) vrrp.State {
	t.Helper()
	s, ok := r.InstanceStatus(name)
	if !ok {
		t.Fatalf("no instance %s", name)
	}
	return s.State
}

// The announcement schedule follows keepalived's garp_master_* options and
// stops when mastership ends.
func TestRouterAnnounceSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		ann := announcefake.NewAnnouncer(nil)
		c := v3inst(100)
		c.GARPMasterRepeat, c.GARPInterval = 3, 100*time.Millisecond
		c.GARPMasterDelay = 2 * time.Second
		c.GARPMasterRefresh, c.GARPMasterRefreshRepeat = 10*time.Second, 2
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Announcer: ann,
			Instances: []vrrp.InstanceConfig{c}})
		time.Sleep(25 * time.Second)
		synctest.Wait()
		s, _ := r.InstanceStatus("VI_1")
		t0 := s.Since // the takeover
		ms := time.Millisecond
		want := []time.Duration{0, 100 * ms, 200 * ms, 2000 * ms, 2100 * ms, 2200 * ms, 10000 * ms, 10100 * ms, 20000 * ms, 20100 * ms}
		got := ann.Announcements()
		if len(got) != len(want) {
			t.Fatalf("%d announcements, want %d: %+v", len(got), len(want), got)
		}
		for i, a := range got {
			if d := a.Time.Sub(t0); d != want[i] {
				t.Errorf("announcement %d at +%v, want +%v", i, d, want[i])
			}
		}
		// A better Master appears: announcements stop.
		other := v3inst(200)
		_, stop2 := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Instances: []vrrp.InstanceConfig{other}})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if st := stateOf(t, r, "VI_1"); st != vrrp.Backup {
			t.Fatalf("a is %v", st)
		}
		n := ann.Len()
		time.Sleep(30 * time.Second)
		if ann.Len() != n {
			t.Errorf("a Backup kept announcing: %d -> %d", n, ann.Len())
		}
		stop2()
		stop()
	})
}

// leaseBinder is a vip/fake Binder that claims to lease its addresses.
type leaseBinder struct {
	vipfake.Binder
	lease time.Duration
}

func (b *leaseBinder) Lease() time.Duration { return b.lease }

// A Master refreshes leased addresses every third of the lease.
func TestRouterLeaseRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		b := &leaseBinder{lease: 3 * time.Second}
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: b,
			Instances: []vrrp.InstanceConfig{v3inst(100)}})
		time.Sleep(4 * time.Second) // Master at 3.609 s
		synctest.Wait()
		before := countOps(b.Calls(), vipfake.OpBind)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := countOps(b.Calls(), vipfake.OpBind) - before; got != 10 {
			t.Errorf("%d refreshes in 10 s with a 3 s lease, want 10", got)
		}
		if stateOf(t, r, "VI_1") != vrrp.Master {
			t.Fatal("not Master")
		}
		stop()
		if b.Has(vip4) {
			t.Error("VIP left after stop")
		}
	})
}

func countOps(calls []vipfake.Call, op vipfake.Op) int {
	n := 0
	for _, c := range calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

// vmacBinder is a vip/fake Binder that also records VMAC interfaces.
type vmacBinder struct {
	vipfake.Binder
	mu    sync.Mutex
	vmacs map[string]string // name -> parent/vrid/family
}

func (b *vmacBinder) AddVMAC(_ context.Context, parent, name string, vrid uint8, f vrrp.Family) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.vmacs == nil {
		b.vmacs = map[string]string{}
	}
	b.vmacs[name] = parent + "/" + f.String() + "/" + string(rune('0'+vrid%10))
	return nil
}

func (b *vmacBinder) RemoveVMAC(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.vmacs, name)
	return nil
}

func (b *vmacBinder) has(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.vmacs[name]
	return ok
}

// With UseVMAC the addresses go on the VMAC interface, adverts leave by
// it, and it is removed at stop.
func TestRouterVMAC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		b := &vmacBinder{}
		ann := announcefake.NewAnnouncer(nil)
		c := v3inst(100)
		c.UseVMAC = true
		host := seg.NewHost("a", addr4(1))
		peer := seg.NewHost("p", addr4(2))
		pc, err := peer.Open(context.Background(), vrrp.Endpoint{Interface: "eth0", Family: vrrp.IPv4})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		var mu sync.Mutex
		var from []string
		defer seg.Tap(func(f fake.Frame) {
			mu.Lock()
			from = append(from, f.From)
			mu.Unlock()
		})()
		r, stop := runRouter(t, vrrp.Config{Transport: host, Binder: b, Announcer: ann, Instances: []vrrp.InstanceConfig{c}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if stateOf(t, r, "VI_1") != vrrp.Master || !b.has("vrrp.51") {
			t.Fatalf("state %v, vmac %v", stateOf(t, r, "VI_1"), b.has("vrrp.51"))
		}
		if got := b.Bound("vrrp.51"); len(got) != 1 || got[0].Prefix != vip4 {
			t.Errorf("bound on the VMAC: %+v", got)
		}
		if a := ann.Announcements(); len(a) == 0 || a[0].Iface != "vrrp.51" {
			t.Errorf("announcements %+v, want on vrrp.51", a)
		}
		var conns []string
		for _, cn := range host.Conns() {
			conns = append(conns, cn.Interface())
		}
		if len(conns) != 2 {
			t.Errorf("conns %v, want eth0 and vrrp.51", conns)
		}
		// The peer receives adverts from a (over the VMAC conn).
		buf := make([]byte, 100)
		n, info, err := pc.ReadFrom(buf)
		if err != nil || n == 0 || info.Src != addr4(1) {
			t.Errorf("peer read %d bytes from %v: %v", n, info.Src, err)
		}
		stop()
		if b.has("vrrp.51") {
			t.Error("VMAC left after stop")
		}
	})
}

// fakeLinks is a LinkMonitor driven by the test.
type fakeLinks struct{ ch chan vrrp.LinkState }

func (f *fakeLinks) Watch(ctx context.Context, fn func(vrrp.LinkState)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case ls := <-f.ch:
			fn(ls)
		}
	}
}

// The interface going down, or losing its address, puts the instance in
// FAULT; tracked interfaces move the priority by their weight.
func TestRouterLinkStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		links := &fakeLinks{ch: make(chan vrrp.LinkState)}
		ba := &vipfake.Binder{}
		ca := v3inst(150)
		ca.TrackInterfaces = []vrrp.TrackInterface{{Name: "uplink", Weight: -60}, {Name: "bonus", Weight: 10}, {Name: "hard", Weight: 0}}
		a, stopA := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: ba, Links: links,
			Instances: []vrrp.InstanceConfig{ca}})
		b, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Instances: []vrrp.InstanceConfig{v3inst(120)}})
		up := func(name string, up bool, addrs ...netip.Addr) {
			links.ch <- vrrp.LinkState{Interface: name, Exists: true, Up: up, Addrs: addrs}
		}
		up("eth0", true, addr4(1))
		up("bonus", true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		s, _ := a.InstanceStatus("VI_1")
		if s.State != vrrp.Master || s.EffectivePriority != 160 {
			t.Fatalf("a: %v prio %d, want MASTER 160", s.State, s.EffectivePriority)
		}
		// uplink down: 150 + 10 - 60 = 100 < 120, b preempts.
		up("uplink", false)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if s, _ := a.InstanceStatus("VI_1"); s.EffectivePriority != 100 || s.State != vrrp.Backup || stateOf(t, b, "VI_1") != vrrp.Master {
			t.Fatalf("after uplink down: a %v prio %d, b %v", s.State, s.EffectivePriority, stateOf(t, b, "VI_1"))
		}
		up("uplink", true)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if stateOf(t, a, "VI_1") != vrrp.Master {
			t.Fatal("a did not preempt back")
		}
		// The interface loses its address: FAULT, VIP gone, priority 0 sent.
		up("eth0", true)
		time.Sleep(10 * time.Millisecond)
		synctest.Wait()
		s, _ = a.InstanceStatus("VI_1")
		if s.State != vrrp.Fault || ba.Has(vip4) || s.Stats.PriorityZeroSent != 1 || len(s.Faults) != 1 || s.Faults[0] != "interface" {
			t.Fatalf("after address loss: %v faults %v VIP %v prio0 %d", s.State, s.Faults, ba.Has(vip4), s.Stats.PriorityZeroSent)
		}
		up("eth0", true, addr4(1))
		synctest.Wait()
		if st := stateOf(t, a, "VI_1"); st != vrrp.Backup {
			t.Fatalf("after the address returns: %v", st)
		}
		// A weight-0 tracked interface going down is a FAULT too; the link
		// itself going down as well needs both cleared.
		up("hard", false)
		up("eth0", false, addr4(1))
		synctest.Wait()
		up("hard", true)
		synctest.Wait()
		if st := stateOf(t, a, "VI_1"); st != vrrp.Fault {
			t.Fatalf("with eth0 still down: %v", st)
		}
		up("eth0", true, addr4(1))
		synctest.Wait()
		if st := stateOf(t, a, "VI_1"); st != vrrp.Backup {
			t.Fatalf("with everything up: %v", st)
		}
		stopB()
		stopA()
	})
}

// AdjustPriority deltas add up and are clamped to 1-254.
func TestRouterAdjustPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		steps := []struct {
			source string
			delta  int
			want   uint8
		}{
			{"chk1", 20, 120}, {"chk2", -50, 70}, {"chk3", 500, 254}, {"chk3", 0, 70}, {"chk4", -200, 1}, {"chk4", 0, 70}, {"chk1", 0, 50},
		}
		for _, st := range steps {
			if err := r.AdjustPriority("VI_1", st.source, st.delta); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if s, _ := r.InstanceStatus("VI_1"); s.EffectivePriority != st.want {
				t.Errorf("after %s %+d: priority %d, want %d", st.source, st.delta, s.EffectivePriority, st.want)
			}
		}
		stop()
	})
}

// Many instances that advertise together leave in batches, one for each
// interface even when the instances of several interfaces fall due
// interleaved.
func TestRouterBatchesAdverts(t *testing.T) {
	for _, ifaces := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d interfaces", ifaces), func(t *testing.T) { testBatches(t, ifaces) })
	}
}

func testBatches(t *testing.T, ifaces int) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		var insts []vrrp.InstanceConfig
		for i := 1; i <= 50; i++ {
			c := v3inst(100)
			c.Name, c.VRID = "VI_"+string(rune('A'+i%26))+string(rune('a'+i/26)), uint8(i)
			c.Interface = fmt.Sprintf("eth%d", i%ifaces)
			insts = append(insts, c)
		}
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: insts})
		// Takeover adverts leave at once, one by one; the steady ones that
		// follow leave in batches.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		takeover := seg.Stats()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		var sent uint64
		for _, s := range r.Status() {
			if s.State != vrrp.Master {
				t.Errorf("%s: %v", s.Name, s.State)
			}
			sent += s.Stats.AdvertsSent
		}
		st := seg.Stats()
		if st.Batches == 0 || st.Sent != sent {
			t.Errorf("batches %d, segment sent %d, router counted %d", st.Batches, st.Sent, sent)
		}
		if b, n := st.Batches-takeover.Batches, st.Sent-takeover.Sent; n < 400 || b > n/10 {
			t.Errorf("%d batches for %d steady adverts: not batched", b, n)
		}
		stop()
	})
}

// countHandler counts log records whose message contains a substring.
type countHandler struct {
	mu    sync.Mutex
	match string
	n     int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.match) {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

func (h *countHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// A flood of bad adverts is counted in full but logged at most once per
// reason every ten seconds.
func TestRouterDropLogsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		h := &countHandler{match: "dropped an advert"}
		host := seg.NewHost("a", addr4(1))
		r, stop := runRouter(t, vrrp.Config{Transport: host, Logger: slog.New(h), Instances: []vrrp.InstanceConfig{v3inst(100)}})
		adv := vrrp.Advertisement{Version: 3, VRID: 51, Priority: 200, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
		msg, err := adv.Append(nil, addr4(9), vrrp.Group4)
		if err != nil {
			t.Fatal(err)
		}
		ttl := vrrp.PacketInfo{Src: addr4(9), Dst: vrrp.Group4, TTL: 64}
		synctest.Wait() // the Router has opened its socket
		for sec := 0; sec < 30; sec++ {
			for i := 0; i < 100; i++ {
				seg.Inject(host, ttl, msg)
			}
			time.Sleep(time.Second)
		}
		synctest.Wait()
		s, _ := r.InstanceStatus("VI_1")
		if s.Stats.Drops[vrrp.DropTTL] != 3000 {
			t.Errorf("counted %d TTL drops, want 3000", s.Stats.Drops[vrrp.DropTTL])
		}
		if n := h.count(); n < 3 || n > 4 {
			t.Errorf("%d drop log lines in 30 s, want 3 or 4", n)
		}
		stop()
	})
}

// When the interface's address changes (an interface re-created with
// another address), adverts follow it and ties are broken with the new one.
func TestRouterFollowsSourceAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		links := &fakeLinks{ch: make(chan vrrp.LinkState)}
		host := seg.NewHost("a", addr4(1), addr4(7))
		var mu sync.Mutex
		var srcs []netip.Addr
		defer seg.Tap(func(f fake.Frame) {
			mu.Lock()
			srcs = append(srcs, f.Info.Src)
			mu.Unlock()
		})()
		r, stop := runRouter(t, vrrp.Config{Transport: host, Links: links, Instances: []vrrp.InstanceConfig{v3inst(100)}})
		defer stop()
		links.ch <- vrrp.LinkState{Interface: "eth0", Exists: true, Up: true, Addrs: []netip.Addr{addr4(1)}}
		time.Sleep(5 * time.Second)
		links.ch <- vrrp.LinkState{Interface: "eth0", Exists: true, Up: true, Addrs: []netip.Addr{addr4(7)}}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		mu.Lock()
		last := srcs[len(srcs)-1]
		mu.Unlock()
		if last != addr4(7) {
			t.Errorf("adverts from %v after the address changed to %v", last, addr4(7))
		}
		if s, _ := r.InstanceStatus("VI_1"); s.State != vrrp.Master || s.Master != addr4(7) {
			t.Errorf("status %v master %v", s.State, s.Master)
		}
	})
}

// An IPv6 instance keeps its link-local source while the interface has it,
// as the transport does, when a newer link-local (listed first) appears;
// it moves when its address goes.
func TestRouterKeepsLinkLocalSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		ll1, ll9 := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::9")
		links := &fakeLinks{ch: make(chan vrrp.LinkState)}
		host := seg.NewHost("a", ll1, ll9)
		var mu sync.Mutex
		var last netip.Addr
		defer seg.Tap(func(f fake.Frame) {
			mu.Lock()
			last = f.Info.Src
			mu.Unlock()
		})()
		c := v3inst(100)
		c.VIPs = []vrrp.VIP{{Prefix: vip6}}
		_, stop := runRouter(t, vrrp.Config{Transport: host, Links: links, Instances: []vrrp.InstanceConfig{c}})
		defer stop()
		lastSrc := func() netip.Addr {
			mu.Lock()
			defer mu.Unlock()
			return last
		}
		links.ch <- vrrp.LinkState{Interface: "eth0", Exists: true, Up: true, Addrs: []netip.Addr{ll1}}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := lastSrc(); got != ll1 {
			t.Fatalf("adverts from %v, want %v", got, ll1)
		}
		links.ch <- vrrp.LinkState{Interface: "eth0", Exists: true, Up: true, Addrs: []netip.Addr{ll9, ll1}}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := lastSrc(); got != ll1 {
			t.Errorf("adverts from %v after a newer link-local appeared, want still %v", got, ll1)
		}
		links.ch <- vrrp.LinkState{Interface: "eth0", Exists: true, Up: true, Addrs: []netip.Addr{ll9}}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := lastSrc(); got != ll9 {
			t.Errorf("adverts from %v after %v went, want %v", got, ll1, ll9)
		}
	})
}

// With the PreciseClock (a timerfd loop timer, in real time), a pair at
// 10 ms adverts elects the higher priority, and the Backup takes over when
// the Master stops.
func TestRouterPreciseClock(t *testing.T) {
	seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
	defer seg.Close()
	inst := func(prio uint8) vrrp.InstanceConfig {
		c := v3inst(prio)
		c.AdvertInterval = 10 * time.Millisecond
		return c
	}
	a, stopA := runRouter(t, vrrp.Config{Clock: vrrp.PreciseClock{}, Transport: seg.NewHost("a", addr4(1)),
		Instances: []vrrp.InstanceConfig{inst(150)}})
	defer stopA()
	b, stopB := runRouter(t, vrrp.Config{Clock: vrrp.PreciseClock{}, Transport: seg.NewHost("b", addr4(2)),
		Instances: []vrrp.InstanceConfig{inst(100)}})
	defer stopB()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("a Master, b Backup", func() bool {
		s, _ := b.InstanceStatus("VI_1")
		return stateOf(t, a, "VI_1") == vrrp.Master && s.State == vrrp.Backup && s.Stats.AdvertsReceived > 10
	})
	stopA()
	waitFor("b Master", func() bool { return stateOf(t, b, "VI_1") == vrrp.Master })
}

// With LogUnknownVRIDs (keepalived's log_unknown_vrids), adverts for a
// VRID no instance has are logged, at most once per interface every ten
// seconds, and counted either way; without it they are only counted.
func TestRouterLogUnknownVRIDs(t *testing.T) {
	for _, logIt := range []bool{true, false} {
		t.Run(fmt.Sprint(logIt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
				defer seg.Close()
				h := &countHandler{match: "Unknown VRID 77"}
				host := seg.NewHost("a", addr4(1))
				r, stop := runRouter(t, vrrp.Config{Transport: host, Logger: slog.New(h), LogUnknownVRIDs: logIt,
					Instances: []vrrp.InstanceConfig{v3inst(100)}})
				adv := vrrp.Advertisement{Version: 3, VRID: 77, Priority: 200, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
				msg, err := adv.Append(nil, addr4(9), vrrp.Group4)
				if err != nil {
					t.Fatal(err)
				}
				info := vrrp.PacketInfo{Src: addr4(9), Dst: vrrp.Group4, TTL: 255}
				synctest.Wait()
				for sec := 0; sec < 20; sec++ {
					for i := 0; i < 10; i++ {
						seg.Inject(host, info, msg)
					}
					time.Sleep(time.Second)
				}
				synctest.Wait()
				if n := r.Stats().Drops[vrrp.DropUnknownVRID]; n != 200 {
					t.Errorf("counted %d unknown-VRID drops, want 200", n)
				}
				n := h.count()
				if logIt && (n < 2 || n > 3) {
					t.Errorf("%d log lines in 20 s, want 2 or 3", n)
				}
				if !logIt && n != 0 {
					t.Errorf("%d log lines without LogUnknownVRIDs", n)
				}
				stop()
			})
		})
	}
}

// countingClock is the system clock (synctest's fake time) with timers that
// count their Resets and how often they fired.
type countingClock struct {
	resets, fires atomic.Int64
}

func (c *countingClock) Now() time.Time { return time.Now() }

func (c *countingClock) NewTimer(d time.Duration) (vrrp.Timer, <-chan time.Time) {
	ch := make(chan time.Time, 1)
	t := &countingTimer{c: c, ch: ch}
	t.t = time.AfterFunc(d, t.fire)
	return t, ch
}

type countingTimer struct {
	c  *countingClock
	ch chan time.Time
	t  *time.Timer
}

func (t *countingTimer) fire() {
	t.c.fires.Add(1)
	select {
	case t.ch <- time.Now():
	default:
	}
}

func (t *countingTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

func (t *countingTimer) Stop() bool {
	was := t.t.Stop()
	t.drain()
	return was
}

func (t *countingTimer) Reset(d time.Duration) bool {
	t.c.resets.Add(1)
	was := t.t.Stop()
	t.drain()
	t.t.Reset(d)
	return was
}

// A Backup that reads every advert at once (EagerReads) and whose Master
// is alive neither re-arms its timer for every advert nor lets it fire
// early: it moves the timer later only once the deadline is within an
// advert interval.
func TestRouterBackupTimerQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		_, stopM := runRouter(t, vrrp.Config{Transport: seg.NewHost("m", addr4(1)), Instances: []vrrp.InstanceConfig{v3inst(200)}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		clk := &countingClock{}
		b, stopB := runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Clock: clk, EagerReads: true, Instances: []vrrp.InstanceConfig{v3inst(100)}})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s0, _ := b.InstanceStatus("VI_1")
		r0, f0 := clk.resets.Load(), clk.fires.Load()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		s1, _ := b.InstanceStatus("VI_1")
		resets, fires := clk.resets.Load()-r0, clk.fires.Load()-f0
		adverts := s1.Stats.AdvertsReceived - s0.Stats.AdvertsReceived
		if s1.State != vrrp.Backup || adverts < 29 {
			t.Fatalf("Backup %v received %d adverts", s1.State, adverts)
		}
		if fires != 0 || resets > int64(adverts)/2 {
			t.Errorf("%d adverts: timer re-armed %d times and fired %d times", adverts, resets, fires)
		}
		stopB()
		stopM()
	})
}
