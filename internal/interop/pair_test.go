package interop_test

import (
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"

	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// pairings are the two speakers of a pair: the high priority one first.
var pairings = []struct {
	name   string
	hi, lo kind
}{
	{"vrrpkit-vrrpkit", ours, ours},
	{"keepalived-master", keepalived, ours},
	{"keepalived-backup", ours, keepalived},
}

// TestPair runs, for each VRRP flavour and each pairing, one scenario after
// another on the same lab: election, graceful failover (priority 0),
// preemption, crash failover (SIGKILL), nopreempt, preempt_delay, and the
// interface going down (FAULT). The VIP holder is read through netlink and
// the adverts, gratuitous ARPs and NAs from a capture on a third host.
func TestPair(t *testing.T) {
	for _, m := range modes {
		for _, p := range pairings {
			// One at a time: the scenarios time takeovers, and parallel
			// labs on two cores would make them late.
			t.Run(m.name+"/"+p.name, func(t *testing.T) {
				runPair(t, m, p.hi, p.lo)
			})
		}
	}
}

func runPair(t *testing.T, m mode, hiKind, loKind kind) {
	lab := netns.New(t, 3)
	h1, h2, obs := lab.Host(1), lab.Host(2), lab.Host(3)
	hosts := []*netns.Host{h1, h2}
	hi := newSpeaker(t, hiKind, m, h1, h2)
	lo := newSpeaker(t, loKind, m, h2, h1)
	// The observer sees broadcast and multicast; unicast adverts between
	// the pair are seen on host 1's port of the switch.
	capture := obs.Capture(t, obs.Iface)
	hiPort := lab.CaptureSwitch(t, h1.Port)
	vip := m.vip().Addr()
	// Generous bounds: processes start, and the machine has two cores.
	slack := 3 * time.Second
	hiDown, loDown := m.masterDown(150), m.masterDown(100)
	const lease = 2 * time.Second

	// Election: both start as Backup; the higher priority takes over.
	lo.start(opts{prio: 100, lease: lease})
	hi.start(opts{prio: 150, lease: lease})
	waitHolder(t, m, h1, hosts, 2*loDown+slack, "election: VIP on host 1 only")
	checkAdverts(t, m, hiPort, h1, h2, 150)
	checkAnnounced(t, m, capture, h1.MAC, "host 1 at the election")

	// Graceful failover: priority 0, the Backup waits only Skew_Time.
	capture.Clear()
	hi.stop()
	hiPort.WaitFrame(t, slack, "a priority 0 advert from host 1", func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Src == srcOf(m, h1) && v.Advert.Priority == 0
	})
	waitHolder(t, m, h2, hosts, loDown+slack, "graceful failover: VIP on host 2 only")
	checkAnnounced(t, m, capture, h2.MAC, "host 2 after the graceful failover")

	// Preemption: the higher priority returns and takes over.
	hi.start(opts{prio: 150, lease: lease})
	waitHolder(t, m, h1, hosts, hiDown+slack, "preemption: VIP back on host 1")

	// Crash failover: SIGKILL, no priority 0; the Backup waits
	// Master_Down_Interval.
	hiPort.Clear()
	killed := time.Now()
	hi.kill()
	netns.WaitFor(t, loDown+slack, "crash failover: VIP on host 2", func() bool { return has(t, h2, vip) })
	t.Logf("crash failover took %v (Master_Down_Interval %v)", time.Since(killed).Round(time.Millisecond), loDown)
	for _, f := range hiPort.Frames() {
		if v, ok := vrrpcap.Decode(f); ok && v.Src == srcOf(m, h1) && v.Advert.Priority == 0 {
			t.Errorf("a killed %s sent priority 0", hi)
		}
	}
	if hiKind == keepalived {
		// keepalived leaves its addresses behind; take them away by hand.
		if has(t, h1, vip) {
			t.Logf("keepalived left %v on host 1 after SIGKILL, as expected of it", vip)
			h1.Run(t, "ip", "addr", "del", m.vip().String(), "dev", h1.Iface)
		}
	} else {
		// Our leased address expires by itself.
		h1.WaitNoAddr(t, vip, lease+slack)
	}

	// nopreempt: the higher priority returns but leaves the Master alone.
	hi.start(opts{prio: 150, nopreempt: true, lease: lease})
	time.Sleep(3*hiDown + time.Second)
	if !has(t, h2, vip) || has(t, h1, vip) {
		t.Fatalf("nopreempt: host 1 took the VIP from a lower priority Master")
	}
	hi.stop()

	// preempt_delay: it takes over, but only once the delay has passed.
	const delay = 3 * time.Second
	started := time.Now()
	hi.start(opts{prio: 150, preemptDelay: delay, lease: lease})
	netns.WaitFor(t, delay+hiDown+slack, "preempt_delay: VIP on host 1", func() bool { return has(t, h1, vip) })
	if took := time.Since(started); took < delay-200*time.Millisecond {
		t.Errorf("preempt_delay %v: host 1 took over after %v", delay, took)
	}
	waitHolder(t, m, h1, hosts, loDown+slack, "preempt_delay: VIP on host 1 only")

	// Interface down: FAULT; host 2 takes over; back up, host 1 preempts.
	down := time.Now()
	if err := h1.SetLink(false); err != nil {
		t.Fatal(err)
	}
	netns.WaitFor(t, loDown+slack, "link down: VIP on host 2", func() bool { return has(t, h2, vip) })
	netns.WaitFor(t, slack, "host 1 in FAULT", func() bool { return hi.inState("FAULT", down) })
	if err := h1.SetLink(true); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, m, h1, hosts, hiDown+2*slack, "link up: VIP back on host 1")

	lo.stop()
	hi.stop()
}

// srcOf is the address h sends adverts from in mode m.
func srcOf(m mode, h *netns.Host) netip.Addr {
	if m.family == vrrp.IPv6 {
		return h.LinkLocal
	}
	return h.Addr4.Addr()
}

// checkAdverts checks the adverts of the Master on host h as the observer
// captured them: RFC 5798 section 5.1 (TTL 255, the group or the peer as
// destination) and the fields and checksum of section 5.2.
func checkAdverts(t *testing.T, m mode, c *netns.Capture, h, peer *netns.Host, prio uint8) {
	t.Helper()
	f := c.WaitFrame(t, 3*time.Second+3*m.interval, "an advert from the Master", func(f netns.Frame) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Src == srcOf(m, h) && v.Advert.Priority == prio
	})
	v, _ := vrrpcap.Decode(f)
	a := v.Advert
	wantDst := vrrp.Group4
	if m.family == vrrp.IPv6 {
		wantDst = vrrp.Group6
	}
	if m.unicast {
		wantDst = peer.Addr4.Addr()
	}
	if v.TTL != 255 || v.Dst != wantDst || int(a.Version) != m.version || a.VRID != vrid ||
		len(a.Addresses) != 1 || a.Addresses[0] != m.vip().Addr() || a.IntervalDuration() != m.interval {
		t.Errorf("advert from host %d: ttl %d dst %v version %d vrid %d addrs %v interval %v",
			h.Index, v.TTL, v.Dst, a.Version, a.VRID, a.Addresses, a.IntervalDuration())
	}
	if m.pass != "" && (a.AuthType != vrrp.AuthPass || a.Password() != m.pass) {
		t.Errorf("advert from host %d: auth %d %q", h.Index, a.AuthType, a.Password())
	}
	if form := vrrp.VerifyChecksum(v.Payload, v.Src, v.Dst, wantDst); form != vrrp.ChecksumOK {
		t.Errorf("advert from host %d: checksum form %v", h.Index, form)
	}
}

// checkAnnounced waits for the gratuitous ARP (IPv4) or unsolicited NA
// (IPv6) of the VIP with sender MAC mac.
func checkAnnounced(t *testing.T, m mode, c *netns.Capture, mac net.HardwareAddr, what string) {
	t.Helper()
	vip := m.vip().Addr()
	c.WaitFrame(t, 5*time.Second, fmt.Sprintf("gratuitous ARP / NA for %v from %v (%s)", vip, mac, what), func(f netns.Frame) bool {
		if m.family == vrrp.IPv4 {
			a, ok := f.ARP()
			return ok && a.Gratuitous() && a.SenderIP == vip && bytes.Equal(a.SenderMAC, mac)
		}
		n, ok := f.NA()
		return ok && n.Target == vip && n.Override && !n.Solicited && bytes.Equal(n.TargetMAC, mac)
	})
}
