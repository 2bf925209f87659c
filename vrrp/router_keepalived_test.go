package vrrp_test

// Router tests of three keepalived options: state MASTER below priority
// 255 (InitialMaster), virtual_ipaddress_excluded (ExcludedVIPs) and the
// TTL bounds of a unicast_peer (PeerTTLs).

import (
	"context"
	"net/netip"
	"slices"
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
	exVIP4  = netip.MustParsePrefix("203.0.113.5/24")
	exVIP4b = netip.MustParsePrefix("203.0.113.6/32")
	exVIP6  = netip.MustParsePrefix("2001:db8::5/64")
)

// Validate checks the new fields and names each problem: excluded VIPs
// must be valid prefixes and repeat no address (keepalived refuses a
// duplicate address in an instance), of either family; PeerTTLs must name
// unicast peers once each with Min <= Max (keepalived "min_ttl %d > max_ttl
// %d").
func TestValidateKeepalivedOptions(t *testing.T) {
	seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
	defer seg.Close()
	host := seg.NewHost("a", addr4(1))
	with := func(f func(*vrrp.InstanceConfig)) vrrp.InstanceConfig {
		c := v3inst(100)
		f(&c)
		return c
	}
	uni := func(c *vrrp.InstanceConfig) { c.UnicastPeers = []netip.Addr{addr4(2), addr4(3)} }
	tests := []struct {
		name string
		inst vrrp.InstanceConfig
		want []string // substrings of the error; none for a valid configuration
	}{
		{"excluded VIPs of both families", with(func(c *vrrp.InstanceConfig) {
			c.ExcludedVIPs = []vrrp.VIP{{Prefix: exVIP4}, {Prefix: exVIP6, Device: "eth1"}}
		}), nil},
		{"excluded VIP invalid", with(func(c *vrrp.InstanceConfig) {
			c.ExcludedVIPs = []vrrp.VIP{{}}
		}), []string{"Instances[0] (VI_1).ExcludedVIPs[0]: invalid prefix"}},
		{"excluded VIP IPv4-mapped", with(func(c *vrrp.InstanceConfig) {
			c.ExcludedVIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("::ffff:203.0.113.5/128")}}
		}), []string{"ExcludedVIPs[0]: invalid prefix"}},
		{"excluded VIP repeats a VIP", with(func(c *vrrp.InstanceConfig) {
			c.ExcludedVIPs = []vrrp.VIP{{Prefix: netip.PrefixFrom(vip4.Addr(), 32)}}
		}), []string{"ExcludedVIPs[0]: duplicate address 198.18.0.100"}},
		{"excluded VIP repeated", with(func(c *vrrp.InstanceConfig) {
			c.ExcludedVIPs = []vrrp.VIP{{Prefix: exVIP6}, {Prefix: exVIP6}}
		}), []string{"ExcludedVIPs[1]: duplicate address"}},
		{"peer TTLs", with(func(c *vrrp.InstanceConfig) {
			uni(c)
			c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(2), Min: 60, Max: 64}, {Addr: addr4(3), Min: 200}}
		}), nil},
		{"peer TTL of no peer", with(func(c *vrrp.InstanceConfig) {
			uni(c)
			c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(9), Min: 1, Max: 2}}
		}), []string{"PeerTTLs[0]: 198.18.0.9 is not one of UnicastPeers"}},
		// The RFC 5798 §5.1.1.3 rule stays for multicast.
		{"peer TTL on a multicast instance", with(func(c *vrrp.InstanceConfig) {
			c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(2)}}
		}), []string{"PeerTTLs[0]: 198.18.0.2 is not one of UnicastPeers"}},
		{"peer TTL repeated", with(func(c *vrrp.InstanceConfig) {
			uni(c)
			c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(2)}, {Addr: addr4(2), Max: 9}}
		}), []string{"PeerTTLs[1]: duplicate peer 198.18.0.2"}},
		{"peer TTL Min above Max", with(func(c *vrrp.InstanceConfig) {
			uni(c)
			c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(3), Min: 100, Max: 64}}
		}), []string{"PeerTTLs[0]: Min 100 exceeds Max 64"}},
		{"initial MASTER", with(func(c *vrrp.InstanceConfig) { c.InitialMaster = true }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := vrrp.Config{Transport: host, Instances: []vrrp.InstanceConfig{tt.inst}}
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// keepalived's state MASTER with a priority below 255: the instance starts
// as Backup but takes over after one interval plus the smallest skew when
// no Master speaks; a better Master heard in time keeps it Backup, a worse
// one is preempted after the same short time.
func TestRouterInitialMaster(t *testing.T) {
	first := time.Second + time.Second/256 // 1 s + Master_Adver_Interval/256
	tests := []struct {
		name  string
		other uint8 // priority of a Master running before; 0 for none
		// master reports whether the instance must become Master, and
		// after how long.
		master bool
		after  time.Duration
	}{
		{"alone", 0, true, first},
		{"a better Master runs", 200, false, 0},
		{"a worse Master runs", 50, true, first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
				defer seg.Close()
				if tt.other != 0 {
					b := newNode(t, seg, "b", []netip.Addr{addr4(2)}, v3inst(tt.other))
					b.start()
					defer b.stop()
					time.Sleep(5*time.Second + 300*time.Millisecond)
					synctest.Wait()
					if b.state("VI_1") != vrrp.Master {
						t.Fatal("b is not Master")
					}
				}
				c := v3inst(100)
				c.InitialMaster = true
				a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, c)
				start := time.Now()
				a.start()
				defer a.stop()
				time.Sleep(10 * time.Second)
				synctest.Wait()
				at, ok := a.lastTo("VI_1", vrrp.Master)
				if ok != tt.master {
					t.Fatalf("became Master: %v, want %v; transitions %+v", ok, tt.master, a.history())
				}
				if h := a.history(); h[0].To != vrrp.Backup || h[0].Reason != vrrp.ReasonStartup {
					t.Errorf("first transition %+v, want to BACKUP at startup", h[0])
				}
				if ok && at.Sub(start) != tt.after {
					t.Errorf("Master %v after start, want %v", at.Sub(start), tt.after)
				}
			})
		})
	}
}

// tapAdverts records the address lists of the adverts host sends.
func tapAdverts(t *testing.T, seg *fake.Segment, host string) (get func() [][]netip.Addr, remove func()) {
	var mu sync.Mutex
	var lists [][]netip.Addr
	remove = seg.Tap(func(f fake.Frame) {
		if f.From != host {
			return
		}
		var a vrrp.Advertisement
		if err := a.Unmarshal(f.Msg, f.Info.Dst.Is6()); err != nil {
			t.Errorf("%s sent an undecodable advert: %v", host, err)
			return
		}
		mu.Lock()
		lists = append(lists, slices.Clone(a.Addresses))
		mu.Unlock()
	})
	return func() [][]netip.Addr {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lists)
	}, remove
}

// announced reports whether some announcement of n holds addr.
func announced(n *node, addr netip.Addr) bool {
	for _, a := range n.ann.Announcements() {
		if slices.Contains(a.Addrs, addr) {
			return true
		}
	}
	return false
}

// keepalived's virtual_ipaddress_excluded: the Master binds and announces
// the excluded addresses with its VIPs, lists only the VIPs in its adverts
// (so a peer that does not know them accepts the adverts, RFC 5798 §7.1
// address check), releases them when it leaves Master and at stop, removes
// stale ones at start, and a Reload changes them on a running Master
// without a failover.
func TestRouterExcludedVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		ca := v3inst(150)
		ca.ExcludedVIPs = []vrrp.VIP{{Prefix: exVIP4}, {Prefix: exVIP6, Device: "eth1"}}
		a := newNode(t, seg, "a", []netip.Addr{addr4(1)}, ca)
		b := newNode(t, seg, "b", []netip.Addr{addr4(2)}, v3inst(100)) // knows no excluded VIP
		adverts, untap := tapAdverts(t, seg, "a")
		defer untap()
		// Left by a crashed predecessor.
		if err := a.binder.Bind(context.Background(), "eth0", []vrrp.VIP{{Prefix: exVIP4}}); err != nil {
			t.Fatal(err)
		}
		a.start()
		b.start()
		synctest.Wait()
		if a.binder.Has(exVIP4) {
			t.Error("a stale excluded VIP survived the start")
		}

		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Master || b.state("VI_1") != vrrp.Backup {
			t.Fatalf("a %v, b %v", a.state("VI_1"), b.state("VI_1"))
		}
		if got := a.binder.Bound("eth0"); !slices.Equal(got, []vrrp.VIP{{Prefix: vip4}, {Prefix: exVIP4}}) {
			t.Errorf("bound on eth0: %+v, want the VIP and the excluded VIP", got)
		}
		if got := a.binder.Bound("eth1"); !slices.Equal(got, []vrrp.VIP{{Prefix: exVIP6, Device: "eth1"}}) {
			t.Errorf("bound on eth1: %+v, want the excluded IPv6 VIP", got)
		}
		for _, p := range []netip.Prefix{vip4, exVIP4, exVIP6} {
			if !announced(a, p.Addr()) {
				t.Errorf("%v not announced", p.Addr())
			}
		}
		if bs, _ := b.router.InstanceStatus("VI_1"); bs.Stats.Drops[vrrp.DropAddressList] != 0 || bs.Master != addr4(1) {
			t.Errorf("b: %d address-list drops, Master %v", bs.Stats.Drops[vrrp.DropAddressList], bs.Master)
		}

		// Reload: exVIP4 goes, exVIP4b comes, on the running Master.
		before, nAnn := len(a.history()), a.ann.Len()
		ca.ExcludedVIPs = []vrrp.VIP{{Prefix: exVIP4b}, {Prefix: exVIP6, Device: "eth1"}}
		if err := a.router.Reload(context.Background(), []vrrp.InstanceConfig{ca}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if h := a.history(); len(h) != before {
			t.Errorf("the reload caused transitions: %+v", h[before:])
		}
		if !a.binder.Has(exVIP4b) || a.binder.Has(exVIP4) || !a.binder.Has(exVIP6) || !a.binder.Has(vip4) {
			t.Errorf("after reload: eth0 %+v, eth1 %+v", a.binder.Bound("eth0"), a.binder.Bound("eth1"))
		}
		if anns := a.ann.Announcements()[nAnn:]; !slices.ContainsFunc(anns, func(an announcefake.Announcement) bool {
			return slices.Equal(an.Addrs, []netip.Addr{exVIP4b.Addr()})
		}) {
			t.Errorf("the added excluded VIP was not announced at the reload: %+v", anns)
		}

		// b raised: a leaves Master and releases everything.
		if err := b.router.SetPriority("VI_1", 200); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Backup || b.state("VI_1") != vrrp.Master {
			t.Fatalf("after raising b: a %v, b %v", a.state("VI_1"), b.state("VI_1"))
		}
		if ifs := a.binder.Interfaces(); len(ifs) != 0 {
			t.Errorf("a Backup holds addresses on %v: %+v %+v", ifs, a.binder.Bound("eth0"), a.binder.Bound("eth1"))
		}
		// b back to 100: a takes over again, then stops.
		if err := b.router.ResetPriority("VI_1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if a.state("VI_1") != vrrp.Master || !a.binder.Has(exVIP4b) || !a.binder.Has(exVIP6) {
			t.Fatalf("a %v, excluded bound %v %v", a.state("VI_1"), a.binder.Has(exVIP4b), a.binder.Has(exVIP6))
		}
		a.stop()
		if ifs := a.binder.Interfaces(); len(ifs) != 0 {
			t.Errorf("addresses left after stop on %v", ifs)
		}
		b.stop()

		want := []netip.Addr{vip4.Addr()}
		lists := adverts()
		if len(lists) < 10 {
			t.Fatalf("only %d adverts from a", len(lists))
		}
		for i, l := range lists {
			if !slices.Equal(l, want) {
				t.Fatalf("advert %d lists %v, want %v alone", i, l, want)
			}
		}
	})
}

// With use_vmac, excluded VIPs without a device go on the VMAC interface
// as the VIPs do (keepalived); with a lease, every refresh binds them too.
func TestRouterExcludedVIPsVMACAndLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		c := v3inst(100)
		c.UseVMAC = true
		c.ExcludedVIPs = []vrrp.VIP{{Prefix: exVIP4}, {Prefix: exVIP6, Device: "eth1"}}
		vb := &vmacBinder{}
		_, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Binder: vb, Instances: []vrrp.InstanceConfig{c}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got, want := vb.Bound("vrrp.51"), []vrrp.VIP{{Prefix: vip4, Device: "vrrp.51"}, {Prefix: exVIP4, Device: "vrrp.51"}}; !slices.Equal(got, want) {
			t.Errorf("bound on the VMAC %+v, want %+v", got, want)
		}
		if got := vb.Bound("eth1"); len(got) != 1 || got[0].Prefix != exVIP6 {
			t.Errorf("bound on eth1 %+v, want %v", got, exVIP6)
		}
		stop()
		if ifs := vb.Interfaces(); len(ifs) != 0 {
			t.Errorf("addresses left after stop on %v", ifs)
		}

		c.UseVMAC = false
		lb := &leaseBinder{lease: 3 * time.Second}
		_, stop = runRouter(t, vrrp.Config{Transport: seg.NewHost("b", addr4(2)), Binder: lb, Instances: []vrrp.InstanceConfig{c}})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		binds := 0
		for _, call := range lb.Calls() {
			if call.Op != vipfake.OpBind {
				continue
			}
			binds++
			if !slices.ContainsFunc(call.VIPs, func(v vrrp.VIP) bool { return v.Prefix == exVIP4 }) ||
				!slices.ContainsFunc(call.VIPs, func(v vrrp.VIP) bool { return v.Prefix == exVIP6 }) {
				t.Errorf("a Bind without the excluded VIPs: %+v", call.VIPs)
			}
		}
		if binds < 5 {
			t.Errorf("%d Bind calls, want the takeover and refreshes", binds)
		}
		stop()
	})
}

// keepalived's unicast_peer { ADDR min_ttl N max_ttl M }: adverts from that
// peer are accepted only with a TTL within [N, M], which replaces the TTL
// 255 rule of RFC 5798 §5.1.1.3 for it; other peers keep the rule, and
// strangers are dropped before any TTL check. A Reload changes the bounds.
func TestRouterPeerTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		host := seg.NewHost("a", addr4(1))
		c := v3inst(100)
		c.UnicastPeers = []netip.Addr{addr4(2), addr4(3)}
		c.PeerTTLs = []vrrp.PeerTTL{{Addr: addr4(2), Min: 60, Max: 64}}
		// A Backup's status shows each advert at once only with EagerReads.
		r, stop := runRouter(t, vrrp.Config{Transport: host, EagerReads: true, Instances: []vrrp.InstanceConfig{c}})
		defer stop()
		synctest.Wait()
		type inject struct {
			src  netip.Addr
			ttl  uint8
			want vrrp.DropReason
		}
		phases := []struct {
			name     string
			peerTTLs []vrrp.PeerTTL
			cases    []inject
		}{
			{"peer 2 in 60-64", c.PeerTTLs, []inject{
				{addr4(2), 60, vrrp.DropNone},
				{addr4(2), 64, vrrp.DropNone},
				{addr4(2), 59, vrrp.DropTTL},
				{addr4(2), 65, vrrp.DropTTL},
				{addr4(2), 255, vrrp.DropTTL},
				{addr4(3), 255, vrrp.DropNone},
				{addr4(3), 64, vrrp.DropTTL},
				{addr4(9), 255, vrrp.DropUnknownPeer},
				{addr4(9), 62, vrrp.DropUnknownPeer},
			}},
			{"reloaded: peer 3 from 1, peer 2 unbounded", []vrrp.PeerTTL{{Addr: addr4(3), Min: 1}}, []inject{
				{addr4(2), 64, vrrp.DropTTL},
				{addr4(2), 255, vrrp.DropNone},
				{addr4(3), 1, vrrp.DropNone},
				{addr4(3), 255, vrrp.DropNone},
			}},
		}
		for i, ph := range phases {
			if i > 0 {
				c.PeerTTLs = ph.peerTTLs
				if err := r.Reload(context.Background(), []vrrp.InstanceConfig{c}); err != nil {
					t.Fatal(err)
				}
			}
			for _, in := range ph.cases {
				adv := vrrp.Advertisement{Version: 3, VRID: 51, Priority: 200, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
				msg, err := adv.Append(nil, in.src, addr4(1))
				if err != nil {
					t.Fatal(err)
				}
				s0, _ := r.InstanceStatus("VI_1")
				seg.Inject(host, vrrp.PacketInfo{Src: in.src, Dst: addr4(1), TTL: in.ttl}, msg)
				synctest.Wait()
				s1, _ := r.InstanceStatus("VI_1")
				for d := range vrrp.NumDropReasons {
					want := uint64(0)
					if d == in.want && d != vrrp.DropNone {
						want = 1
					}
					if got := s1.Stats.Drops[d] - s0.Stats.Drops[d]; got != want {
						t.Errorf("%s: from %v TTL %d: %d %v drops, want %d", ph.name, in.src, in.ttl, got, d, want)
					}
				}
				if in.want == vrrp.DropNone && s1.Master != in.src {
					t.Errorf("%s: from %v TTL %d: not followed, Master %v", ph.name, in.src, in.ttl, s1.Master)
				}
			}
		}
	})
}
