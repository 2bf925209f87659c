package interop_test

import (
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"

	"bytes"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// TestVMAC runs each pairing with use_vmac: the Master's adverts and
// gratuitous ARPs leave from the virtual router MAC 00:00:5e:00:01:VRID
// (RFC 5798 section 7.2), and the VMAC moves with mastership.
func TestVMAC(t *testing.T) {
	m := modes[1] // v3 IPv4
	for _, p := range pairings {
		t.Run(p.name, func(t *testing.T) {
			lab := netns.New(t, 3)
			h1, h2, obs := lab.Host(1), lab.Host(2), lab.Host(3)
			hosts := []*netns.Host{h1, h2}
			hi := newSpeaker(t, p.hi, m, h1, h2)
			lo := newSpeaker(t, p.lo, m, h2, h1)
			capture := obs.Capture(t, obs.Iface)
			vmac := vip.VMACAddr(vrid, vrrp.IPv4)
			slack := 3 * time.Second

			lo.start(opts{prio: 100, vmac: true})
			hi.start(opts{prio: 150, vmac: true})
			waitHolder(t, m, h1, hosts, 2*m.masterDown(100)+slack, "VMAC election: VIP on host 1 only")
			if out := h1.Run(t, "ip", "-o", "addr", "show", "dev", "vrrp.51"); !bytes.Contains([]byte(out), []byte(m.vip().Addr().String())) {
				t.Errorf("the VIP is not on host 1's VMAC interface vrrp.51: %s", out)
			}
			capture.WaitFrame(t, slack, "an advert from the VMAC", func(f netns.Frame) bool {
				v, ok := vrrpcap.Decode(f)
				return ok && v.Src == h1.Addr4.Addr() && bytes.Equal(v.EthSrc, vmac) && v.Advert.Priority == 150
			})
			checkAnnounced(t, m, capture, vmac, "host 1's VMAC")

			capture.Clear()
			hi.stop()
			waitHolder(t, m, h2, hosts, m.masterDown(100)+slack, "VMAC graceful failover: VIP on host 2 only")
			capture.WaitFrame(t, slack, "an advert from host 2's VMAC", func(f netns.Frame) bool {
				v, ok := vrrpcap.Decode(f)
				return ok && v.Src == h2.Addr4.Addr() && bytes.Equal(v.EthSrc, vmac)
			})
			checkAnnounced(t, m, capture, vmac, "host 2's VMAC")
			lo.stop()
			if p.lo == ours {
				netns.WaitFor(t, slack, "host 2's VMAC removed at stop", func() bool {
					out := h2.Run(t, "ip", "-o", "link", "show")
					return !bytes.Contains([]byte(out), []byte("vrrp.51"))
				})
			}
		})
	}
}

// TestThreeNodes runs three of our routers: the highest priority wins, the
// next one takes over when it dies, and it preempts on its return.
func TestThreeNodes(t *testing.T) {
	m := modes[1]
	lab := netns.New(t, 3)
	h := lab.Hosts
	var sp []*speaker
	for i, prio := range []int{150, 100, 50} {
		s := newSpeaker(t, ours, m, h[i], h[(i+1)%3])
		s.start(opts{prio: prio, lease: 2 * time.Second})
		sp = append(sp, s)
	}
	slack := 3 * time.Second
	waitHolder(t, m, h[0], h, 2*m.masterDown(50)+slack, "three nodes: VIP on host 1 only")
	sp[0].kill()
	waitHolder(t, m, h[1], h, 2*time.Second+slack, "three nodes: VIP on host 2 only after host 1 died")
	sp[0].start(opts{prio: 150, lease: 2 * time.Second})
	waitHolder(t, m, h[0], h, m.masterDown(150)+slack, "three nodes: host 1 back as Master")
	for _, s := range sp {
		s.stop()
	}
}
