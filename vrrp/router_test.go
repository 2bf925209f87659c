package vrrp_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	announcefake "github.com/vrrpkit/vrrpkit/announce/fake"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

var (
	vip4 = netip.MustParsePrefix("198.18.0.100/24")
	vip6 = netip.MustParsePrefix("fd00::100/64")
)

// node is one Router on a fake segment, with what it reported.
type node struct {
	t      *testing.T
	name   string
	host   *fake.Host
	binder *vipfake.Binder
	ann    *announcefake.Announcer
	router *vrrp.Router
	cancel context.CancelFunc
	done   chan error

	mu          sync.Mutex
	transitions []vrrp.Transition
	masterCtxs  []context.Context
	masterSeen  []vrrp.State // the Status each OnMaster call saw
}

func addr4(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}) }

// newNode builds a node whose instances get their Name from the node when
// empty. It does not start it.
func newNode(t *testing.T, seg *fake.Segment, name string, addrs []netip.Addr, insts ...vrrp.InstanceConfig) *node {
	t.Helper()
	return newNodeWith(t, seg, name, addrs, vrrp.Static{}, insts...)
}

// newNodeWith is newNode with static addresses, routes and rules.
func newNodeWith(t *testing.T, seg *fake.Segment, name string, addrs []netip.Addr, static vrrp.Static, insts ...vrrp.InstanceConfig) *node {
	t.Helper()
	n := &node{t: t, name: name, host: seg.NewHost(name, addrs...), binder: &vipfake.Binder{},
		ann: announcefake.NewAnnouncer(nil)}
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: n.host,
		Binder:    n.binder,
		Announcer: n.ann,
		Instances: insts,
		Static:    static,
		Logger:    debugLogger(name),
		OnTransition: func(tr vrrp.Transition) {
			n.mu.Lock()
			n.transitions = append(n.transitions, tr)
			n.mu.Unlock()
		},
		OnMaster: func(ctx context.Context, inst string) {
			s, _ := n.router.InstanceStatus(inst)
			n.mu.Lock()
			n.masterCtxs = append(n.masterCtxs, ctx)
			n.masterSeen = append(n.masterSeen, s.State)
			n.mu.Unlock()
			<-ctx.Done()
		},
	})
	if err != nil {
		t.Fatalf("NewRouter(%s): %v", name, err)
	}
	n.router = r
	return n
}

func (n *node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.router.Run(ctx) }()
}

// stop stops the Router gracefully and checks that Run returned nil.
func (n *node) stop() {
	n.t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		n.t.Errorf("%s: Run: %v", n.name, err)
	}
}

func (n *node) state(inst string) vrrp.State {
	s, ok := n.router.InstanceStatus(inst)
	if !ok {
		n.t.Fatalf("%s: no instance %s", n.name, inst)
	}
	return s.State
}

func (n *node) history() []vrrp.Transition {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]vrrp.Transition(nil), n.transitions...)
}

// lastTo returns the time of the last transition of inst to state.
func (n *node) lastTo(inst string, to vrrp.State) (time.Time, bool) {
	h := n.history()
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Instance == inst && h[i].To == to {
			return h[i].Time, true
		}
	}
	return time.Time{}, false
}

func v3inst(prio uint8) vrrp.InstanceConfig {
	return vrrp.InstanceConfig{
		Name: "VI_1", Interface: "eth0", VRID: 51, Priority: prio,
		AdvertInterval: time.Second, VIPs: []vrrp.VIP{{Prefix: vip4}},
	}
}

// threeNodes starts r1 (150), r2 (100) and r3 (50) and returns them with the
// start time.
func threeNodes(t *testing.T, seg *fake.Segment) ([]*node, time.Time) {
	prios := []uint8{150, 100, 50}
	var nodes []*node
	for i, p := range prios {
		nodes = append(nodes, newNode(t, seg, []string{"r1", "r2", "r3"}[i], []netip.Addr{addr4(i + 1)}, v3inst(p)))
	}
	start := time.Now()
	for _, n := range nodes {
		n.start()
	}
	return nodes, start
}

// masterDown is Master_Down_Interval for a 1 s VRRPv3 interval (RFC 5798
// section 6.1), in exact nanoseconds.
func masterDown(prio int) time.Duration {
	return 3*time.Second + time.Duration(256-prio)*time.Second/256
}

// RFC 5798 section 6.4.1 and 6.4.2: all start as Backup; the highest
// priority's Master_Down_Timer expires first and it becomes Master.
func TestRouterElection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		nodes, start := threeNodes(t, seg)
		time.Sleep(10 * time.Second)
		synctest.Wait()

		want := []vrrp.State{vrrp.Master, vrrp.Backup, vrrp.Backup}
		for i, n := range nodes {
			if got := n.state("VI_1"); got != want[i] {
				t.Errorf("%s: state %v, want %v", n.name, got, want[i])
			}
			if has := n.binder.Has(vip4); has != (i == 0) {
				t.Errorf("%s: VIP bound %v", n.name, has)
			}
		}
		at, ok := nodes[0].lastTo("VI_1", vrrp.Master)
		if !ok || at.Sub(start) != masterDown(150) {
			t.Errorf("r1 became Master %v after start, want Master_Down_Interval %v", at.Sub(start), masterDown(150))
		}
		// keepalived's schedule: 5 rounds at the takeover, 5 more 5 s later.
		anns := nodes[0].ann.Announcements()
		if len(anns) != 10 {
			t.Errorf("r1 sent %d rounds of announcements, want 10", len(anns))
		}
		for i, a := range anns {
			want := at
			if i >= 5 {
				want = at.Add(5 * time.Second)
			}
			if !a.Time.Equal(want) || len(a.Addrs) != 1 || a.Addrs[0] != vip4.Addr() || a.Iface != "eth0" {
				t.Errorf("announcement %d: %+v, want %v on eth0 at %v", i, a, vip4.Addr(), want)
			}
		}
		if n := nodes[1].ann.Len(); n != 0 {
			t.Errorf("r2, a Backup, announced %d times", n)
		}
		h := nodes[0].history()
		if len(h) != 2 || h[0].To != vrrp.Backup || h[0].Reason != vrrp.ReasonStartup ||
			h[1].To != vrrp.Master || h[1].Reason != vrrp.ReasonMasterDown {
			t.Errorf("r1 transitions %+v", h)
		}
		s, _ := nodes[1].router.InstanceStatus("VI_1")
		if s.Master != addr4(1) || s.MasterPriority != 150 || s.MasterAdverInterval != time.Second {
			t.Errorf("r2 status master %v/%d interval %v", s.Master, s.MasterPriority, s.MasterAdverInterval)
		}
		// r2 reads r1's adverts when its timer falls due (the fake
		// transport holds them back): at 3.6 s, 7.0 s and 10.0 s.
		if s.Stats.AdvertsReceived < 4 || s.Stats.Checksums[vrrp.ChecksumOK] != s.Stats.AdvertsReceived {
			t.Errorf("r2 stats %+v", s.Stats)
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

// lastFrame taps seg for the frames host from writes while its link is
// up; last returns the time of the latest, untap removes the tap.
func lastFrame(seg *fake.Segment, host string) (last func() time.Time, untap func()) {
	var mu sync.Mutex
	var at time.Time
	untap = seg.Tap(func(f fake.Frame) {
		for _, h := range seg.Hosts() {
			if h.Name() == host && f.From == host && h.LinkUp() {
				mu.Lock()
				at = f.Time
				mu.Unlock()
			}
		}
	})
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}, untap
}

// RFC 5798 section 6.4.2 (365)-(410): after the Master dies silently, the
// next priority takes over Master_Down_Interval after the last advert.
func TestRouterCrashFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		lastR1, untap := lastFrame(seg, "r1")
		defer untap()
		nodes, _ := threeNodes(t, seg)
		time.Sleep(5500 * time.Millisecond)
		nodes[0].host.SetLink(false) // the cable is cut: nothing more from r1
		time.Sleep(10 * time.Second)
		synctest.Wait()

		if got := nodes[1].state("VI_1"); got != vrrp.Master {
			t.Fatalf("r2 is %v after r1 died", got)
		}
		at, _ := nodes[1].lastTo("VI_1", vrrp.Master)
		took := at.Sub(lastR1())
		if took != masterDown(100) {
			t.Errorf("r2 took over %v after r1's last advert, want Master_Down_Interval %v", took, masterDown(100))
		}
		if !nodes[1].binder.Has(vip4) || nodes[2].binder.Has(vip4) {
			t.Error("VIP not on r2 alone")
		}
		for _, n := range nodes {
			n.stop()
		}
	})
}

// RFC 5798 section 6.4.3 (655)-(670) and 6.4.2 (425)-(430): a Master that
// stops sends priority 0; the Backup takes over after Skew_Time only.
func TestRouterGracefulStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		nodes, _ := threeNodes(t, seg)
		time.Sleep(5 * time.Second)
		stopAt := time.Now()
		nodes[0].stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()

		at, ok := nodes[1].lastTo("VI_1", vrrp.Master)
		if want := 156 * time.Second / 256; !ok || at.Sub(stopAt) != want {
			t.Errorf("r2 took over %v after the stop, want Skew_Time %v", at.Sub(stopAt), want)
		}
		s, _ := nodes[0].router.InstanceStatus("VI_1")
		if s.State != vrrp.Init || s.Stats.PriorityZeroSent != 1 {
			t.Errorf("r1 after stop: %v, priority 0 sent %d", s.State, s.Stats.PriorityZeroSent)
		}
		if nodes[0].binder.Has(vip4) {
			t.Error("r1 kept the VIP after a graceful stop")
		}
		s2, _ := nodes[1].router.InstanceStatus("VI_1")
		if s2.Stats.PriorityZeroReceived != 1 {
			t.Errorf("r2 priority 0 received %d", s2.Stats.PriorityZeroReceived)
		}
		h := nodes[0].history()
		if last := h[len(h)-1]; last.To != vrrp.Init || last.Reason != vrrp.ReasonShutdown {
			t.Errorf("r1 last transition %+v", last)
		}
		for _, n := range nodes[1:] {
			n.stop()
		}
	})
}

// OnMaster's context lives exactly as long as the mastership.
func TestRouterOnMasterContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		low := newNode(t, seg, "low", []netip.Addr{addr4(2)}, v3inst(100))
		low.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		low.mu.Lock()
		ctxs := append([]context.Context(nil), low.masterCtxs...)
		low.mu.Unlock()
		if len(ctxs) != 1 || ctxs[0].Err() != nil {
			t.Fatalf("OnMaster contexts %d, err %v", len(ctxs), ctxs)
		}
		low.mu.Lock()
		if seen := low.masterSeen; len(seen) != 1 || seen[0] != vrrp.Master {
			t.Errorf("OnMaster saw the instance's Status as %v, want MASTER", seen)
		}
		low.mu.Unlock()
		high := newNode(t, seg, "high", []netip.Addr{addr4(1)}, v3inst(200))
		high.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if high.state("VI_1") != vrrp.Master || low.state("VI_1") != vrrp.Backup {
			t.Fatalf("high %v, low %v", high.state("VI_1"), low.state("VI_1"))
		}
		if ctxs[0].Err() == nil {
			t.Error("OnMaster context still alive after losing mastership")
		}
		if low.binder.Has(vip4) || !high.binder.Has(vip4) {
			t.Error("VIP did not move to high")
		}
		high.stop()
		low.stop()
	})
}

// OnTransition is called in order, even when the callback is slow.
func TestRouterCallbacksOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		var mu sync.Mutex
		var got []string
		r, err := vrrp.NewRouter(vrrp.Config{
			Transport: seg.NewHost("a", addr4(1)),
			Instances: []vrrp.InstanceConfig{v3inst(100)},
			OnTransition: func(tr vrrp.Transition) {
				time.Sleep(10 * time.Second) // slower than the protocol
				mu.Lock()
				got = append(got, tr.From.String()+">"+tr.To.String())
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := startRouter(t, r)
		time.Sleep(4 * time.Second)
		// The protocol went on while the first callback slept.
		if s, _ := r.InstanceStatus("VI_1"); s.State != vrrp.Master {
			t.Errorf("state %v while the callback sleeps", s.State)
		}
		if err := r.SetFault("VI_1", "test", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := r.SetFault("VI_1", "test", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		stop()
		want := "INIT>BACKUP BACKUP>MASTER MASTER>FAULT FAULT>BACKUP BACKUP>INIT"
		if s := strings.Join(got, " "); s != want {
			t.Errorf("transitions %q, want %q", s, want)
		}
	})
}

// A callback that reads Status sees the transition it reports: the
// Router publishes an event's Status before it hands the event's
// callbacks over.
func TestRouterCallbackSeesStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		var (
			mu  sync.Mutex
			got []string
			r   *vrrp.Router
		)
		r, err := vrrp.NewRouter(vrrp.Config{
			Transport: seg.NewHost("a", addr4(1)),
			Instances: []vrrp.InstanceConfig{v3inst(100)},
			OnTransition: func(tr vrrp.Transition) {
				s, _ := r.InstanceStatus(tr.Instance)
				mu.Lock()
				got = append(got, tr.To.String()+"/"+s.State.String())
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := startRouter(t, r)
		time.Sleep(4 * time.Second)
		for _, on := range []bool{true, false} {
			if err := r.SetFault("VI_1", "test", on); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		stop()
		want := "BACKUP/BACKUP MASTER/MASTER FAULT/FAULT BACKUP/BACKUP INIT/INIT"
		if s := strings.Join(got, " "); s != want {
			t.Errorf("transition/status in the callbacks %q, want %q", s, want)
		}
	})
}

func TestNewRouterValidation(t *testing.T) {
	_, err := vrrp.NewRouter(vrrp.Config{Instances: []vrrp.InstanceConfig{
		{Name: "a", Interface: "eth0", VRID: 0, VIPs: []vrrp.VIP{{Prefix: vip4}}},
		{Name: "a", Interface: "", VRID: 1, Version: 2, AdvertInterval: 1500 * time.Millisecond,
			VIPs: []vrrp.VIP{{Prefix: vip6}}, AuthPass: "longer than 8"},
		{Name: "c", Interface: "eth0", VRID: 2, Version: 3, AdvertInterval: 5 * time.Millisecond,
			VIPs: []vrrp.VIP{{Prefix: vip4}, {Prefix: vip6}}, AuthPass: "x"},
		{Name: "d", Interface: "eth0", VRID: 2, VIPs: nil, UnicastPeers: []netip.Addr{netip.MustParseAddr("fd00::1")}},
		{Name: "e", Interface: "eth0", VRID: 3, VIPs: []vrrp.VIP{{Prefix: vip6, Broadcast: netip.MustParseAddr("198.18.0.255")}}},
	}})
	if !errors.Is(err, vrrp.ErrConfig) {
		t.Fatalf("err %v, want ErrConfig", err)
	}
	for _, want := range []string{
		"Instances[0] (a).VRID",
		"Instances[1] (a).Name: duplicate",
		"Instances[1] (a).Interface: required",
		"Instances[1] (a).AdvertInterval",
		"Instances[1] (a).Version: VRRPv2 carries IPv4 only",
		"Instances[1] (a).AuthPass: at most 8 bytes",
		"Instances[2] (c).AdvertInterval",
		"Instances[2] (c).VIPs[1]",
		"Instances[2] (c).AuthPass: authentication exists in VRRPv2 only",
		"Instances[3] (d).VIPs: at least one",
		"Instances[3] (d).UnicastPeers[0]",
		"Instances[4] (e).VIPs[0]: broadcast 198.18.0.255: only IPv4",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// Reload changes a running Master's priority and addresses in place, without
// a transition, and adds and removes instances.
func TestRouterReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, v3inst(150))
		b := newNode(t, seg, "b", []netip.Addr{addr4(2)}, v3inst(100))
		a.start()
		b.start()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		before := len(a.history())

		extra := netip.MustParsePrefix("198.18.0.101/24")
		changed := v3inst(200)
		changed.VIPs = []vrrp.VIP{{Prefix: extra}}
		added := v3inst(120)
		added.Name, added.VRID = "VI_2", 52
		added.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/24")}}
		if err := a.router.Reload(context.Background(), []vrrp.InstanceConfig{changed, added}); err != nil {
			t.Fatal(err)
		}
		// b must learn the new address list too, or it drops a's adverts.
		if err := b.router.Reload(context.Background(), []vrrp.InstanceConfig{func() vrrp.InstanceConfig {
			c := v3inst(100)
			c.VIPs = changed.VIPs
			return c
		}()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		h := a.history()
		for _, tr := range h[before:] {
			if tr.Instance == "VI_1" {
				t.Errorf("reload caused a transition of VI_1: %+v", tr)
			}
		}
		s, _ := a.router.InstanceStatus("VI_1")
		if s.State != vrrp.Master || s.EffectivePriority != 200 {
			t.Errorf("VI_1 after reload: %v prio %d", s.State, s.EffectivePriority)
		}
		if a.binder.Has(vip4) || !a.binder.Has(extra) {
			t.Errorf("addresses after reload: %v", a.binder.Bound("eth0"))
		}
		if st := a.state("VI_2"); st != vrrp.Master {
			t.Errorf("added VI_2 is %v", st)
		}
		if bs, _ := b.router.InstanceStatus("VI_1"); bs.State != vrrp.Backup || bs.MasterPriority != 200 {
			t.Errorf("b: %v, master priority %d", bs.State, bs.MasterPriority)
		}
		// Remove VI_2: it stops as at shutdown.
		if err := a.router.Reload(context.Background(), []vrrp.InstanceConfig{changed}); err != nil {
			t.Fatal(err)
		}
		if _, ok := a.router.InstanceStatus("VI_2"); ok {
			t.Error("VI_2 still reported after removal")
		}
		if err := a.router.SetPriority("VI_2", 10); !errors.Is(err, vrrp.ErrUnknownInstance) {
			t.Errorf("SetPriority on a removed instance: %v", err)
		}
		// An invalid configuration changes nothing.
		if err := a.router.Reload(context.Background(), []vrrp.InstanceConfig{{Name: "bad"}}); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("invalid reload: %v", err)
		}
		if a.state("VI_1") != vrrp.Master {
			t.Error("invalid reload disturbed VI_1")
		}
		a.stop()
		b.stop()
	})
}

// SetPriority moves mastership: a lowered Master is preempted by the Backup
// at Master_Down_Interval (RFC 5798 section 6.4.2 (465)-(470)).
func TestRouterSetPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, v3inst(150))
		b := newNode(t, seg, "b", []netip.Addr{addr4(2)}, v3inst(100))
		a.start()
		b.start()
		time.Sleep(5 * time.Second)
		if err := a.router.SetPriority("VI_1", 50); err != nil {
			t.Fatal(err)
		}
		if err := a.router.SetPriority("VI_1", 255); !errors.Is(err, vrrp.ErrPriority) {
			t.Errorf("SetPriority 255: %v", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Backup || b.state("VI_1") != vrrp.Master {
			t.Errorf("after lowering a: a %v, b %v", a.state("VI_1"), b.state("VI_1"))
		}
		if err := a.router.ResetPriority("VI_1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Master || b.state("VI_1") != vrrp.Backup {
			t.Errorf("after restoring a: a %v, b %v", a.state("VI_1"), b.state("VI_1"))
		}
		a.stop()
		b.stop()
	})
}

// Malformed and hostile packets are counted by reason and change nothing.
func TestRouterDropsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, v3inst(150))
		a.start()
		time.Sleep(5 * time.Second)

		encFrom := func(src netip.Addr, vrid, prio uint8, addrs ...netip.Addr) []byte {
			adv := vrrp.Advertisement{Version: 3, VRID: vrid, Priority: prio, Interval: 100, Addresses: addrs}
			b, err := adv.Append(nil, src, vrrp.Group4)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		enc := func(vrid, prio uint8, addrs ...netip.Addr) []byte { return encFrom(addr4(9), vrid, prio, addrs...) }
		good := enc(51, 200, vip4.Addr())
		self := info4(addr4(1))
		info := info4(addr4(9))
		corrupt := append([]byte(nil), good...)
		corrupt[2] ^= 0xff
		ttl64 := info
		ttl64.TTL = 64
		cases := []struct {
			msg  []byte
			info vrrp.PacketInfo
		}{
			{corrupt, info},                   // checksum
			{good[:5], info},                  // truncated
			{good, ttl64},                     // TTL
			{enc(51, 200, addr4(77)), info},   // address list
			{enc(99, 200, vip4.Addr()), info}, // unknown VRID
			{append(good[:len(good):len(good)], 0, 0, 0, 0), info}, // too long
			{encFrom(addr4(1), 51, 200, vip4.Addr()), self},        // looped back
		}
		for i := 0; i < 100; i++ {
			for _, c := range cases {
				seg.Inject(a.host, c.info, c.msg)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		s, _ := a.router.InstanceStatus("VI_1")
		if s.State != vrrp.Master {
			t.Errorf("state %v after the flood", s.State)
		}
		for _, d := range []vrrp.DropReason{vrrp.DropChecksum, vrrp.DropTruncated, vrrp.DropTTL, vrrp.DropAddressList, vrrp.DropLength, vrrp.DropLoop} {
			if s.Stats.Drops[d] != 100 {
				t.Errorf("drops[%v] = %d, want 100", d, s.Stats.Drops[d])
			}
		}
		if rs := a.router.Stats(); rs.Drops[vrrp.DropUnknownVRID] != 100 {
			t.Errorf("router drops unknown VRID %d, want 100", rs.Drops[vrrp.DropUnknownVRID])
		}
		a.stop()
	})
}

func info4(src netip.Addr) vrrp.PacketInfo {
	return vrrp.PacketInfo{Src: src, Dst: vrrp.Group4, TTL: 255}
}

// Unicast peers: adverts go to each peer and are accepted only from them.
func TestRouterUnicast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		uni := func(prio uint8, peer netip.Addr) vrrp.InstanceConfig {
			c := v3inst(prio)
			c.UnicastPeers = []netip.Addr{peer}
			return c
		}
		a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, uni(150, addr4(2)))
		b := newNode(t, seg, "b", []netip.Addr{addr4(2)}, uni(100, addr4(1)))
		stranger := newNode(t, seg, "c", []netip.Addr{addr4(3)}, uni(200, addr4(2)))
		var mu sync.Mutex
		dsts := map[netip.Addr]bool{}
		defer seg.Tap(func(f fake.Frame) {
			mu.Lock()
			dsts[f.Info.Dst] = true
			mu.Unlock()
		})()
		a.start()
		b.start()
		stranger.start()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Master || b.state("VI_1") != vrrp.Backup {
			t.Errorf("a %v, b %v", a.state("VI_1"), b.state("VI_1"))
		}
		s, _ := b.router.InstanceStatus("VI_1")
		if s.Stats.Drops[vrrp.DropUnknownPeer] == 0 {
			t.Error("b accepted or ignored the stranger's adverts without counting them")
		}
		mu.Lock()
		if dsts[vrrp.Group4] {
			t.Error("a unicast instance sent to the multicast group")
		}
		mu.Unlock()
		a.stop()
		b.stop()
		stranger.stop()
	})
}

// VRRPv3 over IPv6 from link-local sources, and VRRPv2 with a password.
func TestRouterFamiliesAndVersions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		v6 := func(prio uint8) vrrp.InstanceConfig {
			return vrrp.InstanceConfig{Name: "V6", Interface: "eth0", VRID: 7, Priority: prio,
				AdvertInterval: 100 * time.Millisecond,
				VIPs:           []vrrp.VIP{{Prefix: netip.MustParsePrefix("fe80::200:5eff:fe00:207/64")}, {Prefix: vip6}}}
		}
		v2 := func(prio uint8, pass string) vrrp.InstanceConfig {
			return vrrp.InstanceConfig{Name: "V2", Interface: "eth0", VRID: 8, Version: 2, Priority: prio,
				AuthPass: pass, VIPs: []vrrp.VIP{{Prefix: vip4}}}
		}
		ll := func(i int) netip.Addr { return netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i)}) }
		a := newNode(t, seg, "a", []netip.Addr{addr4(1), ll(1)}, v6(100), v2(100, "secret"))
		b := newNode(t, seg, "b", []netip.Addr{addr4(2), ll(2)}, v6(100), v2(100, "wrong"))
		// b starts first and is Master before a starts: an equal priority
		// from the Master holds a in Backup (RFC 5798 section 6.4.2). Which
		// of two routers started together wins the race depends on which
		// timer fires first, so the tie-break between two Masters is
		// tested in machine_test.go, where the order is fixed.
		b.start()
		time.Sleep(time.Second)
		synctest.Wait()
		a.start()
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if a.state("V6") != vrrp.Backup || b.state("V6") != vrrp.Master {
			t.Errorf("V6: a %v, b %v", a.state("V6"), b.state("V6"))
		}
		if !b.binder.Has(vip6) || a.binder.Has(vip6) {
			t.Error("IPv6 VIP not on b alone")
		}
		// Different passwords: each drops the other's adverts and both are
		// Master, as keepalived would be.
		for _, n := range []*node{a, b} {
			s, _ := n.router.InstanceStatus("V2")
			if s.State != vrrp.Master || s.Stats.Drops[vrrp.DropAuth] == 0 {
				t.Errorf("%s V2: %v, auth drops %d", n.name, s.State, s.Stats.Drops[vrrp.DropAuth])
			}
		}
		a.stop()
		b.stop()
	})
}

func debugLogger(name string) *slog.Logger {
	if os.Getenv("VRRPKIT_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
}

// RFC 3768 section 5.3.5 sets no minimum address count: a VRRPv2 instance
// without addresses (keepalived: "No VIP specified; at least one is
// sensible") elects a Master, which sends adverts that list no address,
// binds nothing and still gets OnMaster; VRRPv3 needs one (RFC 5798
// section 5.2.5).
func TestRouterNoVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		var mu sync.Mutex
		counts := map[int]int{}
		untap := seg.Tap(func(f fake.Frame) {
			if len(f.Msg) >= 4 {
				mu.Lock()
				counts[int(f.Msg[3])]++
				mu.Unlock()
			}
		})
		defer untap()
		inst := func(prio uint8) vrrp.InstanceConfig {
			return vrrp.InstanceConfig{Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2,
				Priority: prio, AdvertInterval: time.Second}
		}
		r1 := newNode(t, seg, "r1", []netip.Addr{addr4(1)}, inst(150))
		r2 := newNode(t, seg, "r2", []netip.Addr{addr4(2)}, inst(100))
		r1.start()
		r2.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if r1.state("VI_1") != vrrp.Master || r2.state("VI_1") != vrrp.Backup {
			st, _ := r2.router.InstanceStatus("VI_1")
			t.Fatalf("r1 %v, r2 %v; want Master and Backup; r2 stats %+v", r1.state("VI_1"), r2.state("VI_1"), st.Stats)
		}
		r1.mu.Lock()
		calls := len(r1.masterCtxs)
		r1.mu.Unlock()
		if calls != 1 {
			t.Errorf("OnMaster called %d times on r1, want 1", calls)
		}
		mu.Lock()
		if counts[0] == 0 || len(counts) != 1 {
			t.Errorf("advert address counts %v, want only 0", counts)
		}
		mu.Unlock()
		r1.stop()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if r2.state("VI_1") != vrrp.Master {
			t.Errorf("r2 is %v after r1 stopped, want Master", r2.state("VI_1"))
		}
		r2.stop()
	})
	_, err := vrrp.NewRouter(vrrp.Config{Instances: []vrrp.InstanceConfig{
		{Name: "v3", Interface: "eth0", VRID: 1, Version: 3}}})
	if !errors.Is(err, vrrp.ErrConfig) || !strings.Contains(err.Error(), "RFC 5798 section 5.2.5") {
		t.Errorf("VRRPv3 without addresses: err %v, want ErrConfig citing RFC 5798 section 5.2.5", err)
	}
}
