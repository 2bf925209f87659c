// Package vrrpcap decodes the VRRP advertisements of frames captured in
// the namespace lab (package netns), with package vrrp's codec. It is apart
// from netns so that netns, which the internal tests of vip and announce
// use, does not import vrrp, which imports them.
package vrrpcap

import (
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Frame is a VRRP advertisement in an Ethernet frame.
type Frame struct {
	netns.IPFrame
	// Advert is the decoded advertisement.
	Advert vrrp.Advertisement
}

// Decode decodes f as a VRRP advertisement over IPv4 or IPv6, its message
// decoded with vrrp.Advertisement.Unmarshal. The message itself (for
// vrrp.VerifyChecksum) is the Payload.
func Decode(f netns.Frame) (Frame, bool) {
	p, ok := f.IP()
	if !ok || p.Protocol != netns.ProtoVRRP {
		return Frame{}, false
	}
	v := Frame{IPFrame: p}
	if err := v.Advert.Unmarshal(p.Payload, p.Src.Is6()); err != nil {
		return Frame{}, false
	}
	return v, true
}
