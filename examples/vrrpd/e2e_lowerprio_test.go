package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// injectAdvert sends one VRRPv2 advert for e2eConf's instance from host h
// (its own address, TTL 255, to the multicast group) with priority prio.
func injectAdvert(t *testing.T, h *netns.Host, prio uint8) {
	t.Helper()
	var conn net.PacketConn
	if err := h.Do(func() error {
		var err error
		conn, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := ipv4.NewRawConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	src, dst := h.Addr4.Addr(), netip.MustParseAddr("224.0.0.18")
	a := vrrp.Advertisement{Version: 2, VRID: 51, Priority: prio, Interval: 1, AuthType: vrrp.AuthPass,
		AuthData: vrrp.PasswordData("secret"), Addresses: []netip.Addr{e2eVIP.Addr()}}
	msg, err := a.Append(nil, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	ifi, err := func() (ifi *net.Interface, err error) {
		err = h.Do(func() error { ifi, err = net.InterfaceByName(h.Iface); return err })
		return ifi, err
	}()
	if err != nil {
		t.Fatal(err)
	}
	hdr := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(msg),
		TTL: 255, Protocol: 112, Src: src.AsSlice(), Dst: dst.AsSlice()}
	if err := raw.WriteTo(hdr, msg, &ipv4.ControlMessage{IfIndex: ifi.Index}); err != nil {
		t.Fatal(err)
	}
}

// reaction is what a Master sent in the 4 s after an injected advert:
// adverts and gratuitous ARPs for the VIP, by window.
type reaction struct {
	advertsAt0, garpsAt0 int // within 300 ms of the injected advert
	garpsLater           int // from 300 ms to 2.5 s (the second burst)
	garpsLate            int // from 2.5 s to 4 s
	firstAdvertAfter0    time.Duration
	times                []string
}

// react runs kind on a fresh lab with e2eConf's instance at priority 200
// and the global lines extra, injects one advert of priority inject once
// it is Master, and returns what it sent.
func react(t *testing.T, kind, extra string, inject uint8) reaction {
	t.Helper()
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	conf := strings.Replace(e2eConf(200, ""), "  vrrp_garp_master_delay 1\n", "  vrrp_garp_master_delay 1\n"+extra, 1)
	p := startPeer(t, kind, h1, conf)
	defer p.stop()
	h1.WaitAddr(t, e2eVIP.Addr(), 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // past the takeover's second burst
	c := h2.Capture(t, h2.Iface)
	time.Sleep(300 * time.Millisecond)
	at := time.Now()
	injectAdvert(t, h2, inject)
	time.Sleep(4 * time.Second)
	var r reaction
	for _, f := range c.Frames() {
		if v, ok := vrrpcap.Decode(f); ok && v.Src == h1.Addr4.Addr() && !v.Time.Before(at) {
			d := v.Time.Sub(at)
			r.times = append(r.times, fmt.Sprintf("advert %d at %+.3fs", v.Advert.Priority, d.Seconds()))
			if d < 300*time.Millisecond {
				r.advertsAt0++
			} else if r.firstAdvertAfter0 == 0 {
				r.firstAdvertAfter0 = d
			}
		}
		if a, ok := f.ARP(); ok && a.Gratuitous() && a.SenderIP == e2eVIP.Addr() && !a.Time.Before(at) {
			d := a.Time.Sub(at)
			r.times = append(r.times, fmt.Sprintf("garp at %+.3fs", d.Seconds()))
			switch {
			case d < 300*time.Millisecond:
				r.garpsAt0++
			case d < 2500*time.Millisecond:
				r.garpsLater++
			default:
				r.garpsLate++
			}
		}
	}
	return r
}

// A Master that hears a lower priority sends its advert at once, restarts
// its advert timer, and sends keepalived's lower-priority gratuitous ARPs
// (garp_lower_prio_repeat rounds now and again after
// garp_lower_prio_delay, by default garp_master_repeat and
// garp_master_delay); one that hears a higher priority with
// higher_prio_send_advert sends a last advert. vrrpd and keepalived run
// the same file and their frames are counted and timed side by side.
func TestE2EPriorityReactions(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		inject      uint8
	}{
		{"lower priority, defaults", "", 100},
		{"lower priority, repeat 2 delay 2", "  vrrp_garp_lower_prio_repeat 2\n  vrrp_garp_lower_prio_delay 2\n", 100},
		{"lower priority, no advert", "  vrrp_lower_prio_no_advert\n", 100},
		{"lower priority, no GARP", "  vrrp_garp_lower_prio_repeat 0\n", 100},
		{"higher priority, last advert", "  vrrp_higher_prio_send_advert\n", 250},
		{"higher priority, silent", "", 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ka := react(t, "keepalived", tc.extra, tc.inject)
			vd := react(t, "vrrpd", tc.extra, tc.inject)
			t.Logf("keepalived: %v", ka.times)
			t.Logf("vrrpd:      %v", vd.times)
			if ka.advertsAt0 != vd.advertsAt0 || ka.garpsAt0 != vd.garpsAt0 || ka.garpsLater != vd.garpsLater || ka.garpsLate != vd.garpsLate {
				t.Errorf("adverts at once %d / %d, GARPs at once %d / %d, in the second burst %d / %d, later %d / %d (keepalived / vrrpd)",
					ka.advertsAt0, vd.advertsAt0, ka.garpsAt0, vd.garpsAt0, ka.garpsLater, vd.garpsLater, ka.garpsLate, vd.garpsLate)
			}
			if tc.inject < 200 {
				// The next periodic advert: an interval after the
				// immediate one, or on the old schedule without it.
				if d := ka.firstAdvertAfter0 - vd.firstAdvertAfter0; d > 150*time.Millisecond || d < -150*time.Millisecond {
					t.Errorf("next advert at %v (keepalived) and %v (vrrpd)", ka.firstAdvertAfter0, vd.firstAdvertAfter0)
				}
			}
		})
	}
}

// notify_master_rx_lower_pri runs, with its own arguments only, each time
// the Master hears a lower priority; vrrpd and keepalived alike.
func TestE2EMasterRxLowerPri(t *testing.T) {
	for _, kind := range []string{"keepalived", "vrrpd"} {
		t.Run(kind, func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			s, out := notifyScript(t)
			conf := strings.Replace(e2eConf(200, ""), "  virtual_ipaddress {",
				"  notify_master_rx_lower_pri \""+s+" rx\"\n  virtual_ipaddress {", 1)
			startPeer(t, kind, h1, conf)
			h1.WaitAddr(t, e2eVIP.Addr(), 10*time.Second)
			injectAdvert(t, h2, 100)
			waitNotified(t, out, "rx")
			injectAdvert(t, h2, 150)
			netns.WaitFor(t, 5*time.Second, "a second run", func() bool {
				b, _ := os.ReadFile(out)
				return string(b) == "rx\nrx\n"
			})
		})
	}
}
