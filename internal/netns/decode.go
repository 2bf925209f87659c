package netns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv4"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// EtherTypes the decoders know.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
	etherTypeVLAN = 0x8100
)

// IP protocol numbers the decoders know.
const (
	ProtoICMP   = 1
	ProtoICMPv6 = 58
	ProtoVRRP   = vrrpio.IPProtocol
)

// Frame is one Ethernet frame seen by a Capture.
type Frame struct {
	// Time is when the capture read the frame (time.Now at the read).
	Time time.Time
	// Data is the whole Ethernet frame, from the destination address on.
	Data []byte
}

// EthernetFrame is the Ethernet header of a frame and its payload.
type EthernetFrame struct {
	// Time is the frame's capture time.
	Time time.Time
	// Src and Dst are the Ethernet source and destination.
	Src, Dst net.HardwareAddr
	// EtherType is the type of the payload (after one 802.1Q tag, if any).
	EtherType uint16
	// Payload is what follows the header.
	Payload []byte
}

// Ethernet decodes the frame's Ethernet header, skipping one 802.1Q tag.
func (f Frame) Ethernet() (EthernetFrame, bool) {
	b := f.Data
	if len(b) < 14 {
		return EthernetFrame{}, false
	}
	e := EthernetFrame{
		Time: f.Time,
		Dst:  net.HardwareAddr(b[0:6]),
		Src:  net.HardwareAddr(b[6:12]),
	}
	e.EtherType = binary.BigEndian.Uint16(b[12:14])
	b = b[14:]
	if e.EtherType == etherTypeVLAN {
		if len(b) < 4 {
			return EthernetFrame{}, false
		}
		e.EtherType = binary.BigEndian.Uint16(b[2:4])
		b = b[4:]
	}
	e.Payload = b
	return e, true
}

// IPFrame is an IPv4 or IPv6 packet in an Ethernet frame.
type IPFrame struct {
	// Time is the frame's capture time.
	Time time.Time
	// EthSrc and EthDst are the Ethernet source and destination.
	EthSrc, EthDst net.HardwareAddr
	// Src and Dst are the IP source and destination.
	Src, Dst netip.Addr
	// Protocol is the IPv4 protocol, or the IPv6 next header after any
	// hop-by-hop, routing and destination options headers.
	Protocol uint8
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8
	// Payload is the IP payload (after the extension headers), without
	// Ethernet padding.
	Payload []byte
}

// IP decodes the frame as an IPv4 packet (header parsed with
// golang.org/x/net/ipv4.ParseHeader) or an IPv6 packet (fixed header and
// the common extension headers). Fragments other than a first one are not
// decoded.
func (f Frame) IP() (IPFrame, bool) {
	e, ok := f.Ethernet()
	if !ok {
		return IPFrame{}, false
	}
	p := IPFrame{Time: f.Time, EthSrc: e.Src, EthDst: e.Dst}
	b := e.Payload
	switch e.EtherType {
	case EtherTypeIPv4:
		h, err := ipv4.ParseHeader(b)
		if err != nil || h.Version != 4 || h.Len < ipv4.HeaderLen || h.Len > len(b) {
			return IPFrame{}, false
		}
		end := h.TotalLen
		if end == 0 { // segmentation offload leaves it unset on the sender
			end = len(b)
		}
		if end < h.Len || end > len(b) || h.FragOff != 0 {
			return IPFrame{}, false
		}
		src, ok1 := netip.AddrFromSlice(h.Src.To4())
		dst, ok2 := netip.AddrFromSlice(h.Dst.To4())
		if !ok1 || !ok2 {
			return IPFrame{}, false
		}
		p.Src, p.Dst, p.Protocol, p.TTL = src, dst, uint8(h.Protocol), uint8(h.TTL)
		p.Payload = b[h.Len:end]
		return p, true
	case EtherTypeIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return IPFrame{}, false
		}
		end := 40 + int(binary.BigEndian.Uint16(b[4:6]))
		if end > len(b) {
			return IPFrame{}, false
		}
		p.Src = netip.AddrFrom16([16]byte(b[8:24]))
		p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
		p.TTL = b[7]
		next, rest := b[6], b[40:end]
		for {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 || len(rest) < (int(rest[1])+1)*8 {
					return IPFrame{}, false
				}
				next, rest = rest[0], rest[(int(rest[1])+1)*8:]
				continue
			case 44: // fragment: only a first fragment has the upper header
				if len(rest) < 8 || binary.BigEndian.Uint16(rest[2:4])&^7 != 0 {
					return IPFrame{}, false
				}
				next, rest = rest[0], rest[8:]
				continue
			}
			break
		}
		p.Protocol, p.Payload = next, rest
		return p, true
	}
	return IPFrame{}, false
}

// ARPFrame is an ARP packet in an Ethernet frame.
type ARPFrame struct {
	// Time is the frame's capture time.
	Time time.Time
	// EthSrc and EthDst are the Ethernet source and destination.
	EthSrc, EthDst net.HardwareAddr
	// Op is the operation: arp.OperationRequest or arp.OperationReply.
	Op arp.Operation
	// SenderMAC and SenderIP are the sender's hardware and IPv4 address.
	SenderMAC net.HardwareAddr
	SenderIP  netip.Addr
	// TargetMAC and TargetIP are the target's hardware and IPv4 address.
	TargetMAC net.HardwareAddr
	TargetIP  netip.Addr
}

// Gratuitous reports whether the packet announces its sender's own
// address: sender and target IP are the same.
func (a ARPFrame) Gratuitous() bool {
	return a.SenderIP.IsValid() && a.SenderIP == a.TargetIP
}

// ARP decodes the frame as an ARP packet (github.com/mdlayher/arp).
func (f Frame) ARP() (ARPFrame, bool) {
	e, ok := f.Ethernet()
	if !ok || e.EtherType != EtherTypeARP {
		return ARPFrame{}, false
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(e.Payload); err != nil {
		return ARPFrame{}, false
	}
	return ARPFrame{
		Time:      f.Time,
		EthSrc:    e.Src,
		EthDst:    e.Dst,
		Op:        p.Operation,
		SenderMAC: p.SenderHardwareAddr,
		SenderIP:  p.SenderIP,
		TargetMAC: p.TargetHardwareAddr,
		TargetIP:  p.TargetIP,
	}, true
}

// NAFrame is an IPv6 neighbour advertisement in an Ethernet frame.
type NAFrame struct {
	IPFrame
	// Target is the advertised address.
	Target netip.Addr
	// Router, Solicited and Override are the message's flags.
	Router, Solicited, Override bool
	// TargetMAC is the target link-layer address option, nil if absent.
	TargetMAC net.HardwareAddr
	// HopLimit is the IPv6 hop limit (also in TTL).
	HopLimit uint8
}

// NA decodes the frame as an ICMPv6 neighbour advertisement
// (github.com/mdlayher/ndp).
func (f Frame) NA() (NAFrame, bool) {
	p, ok := f.IP()
	if !ok || p.Protocol != ProtoICMPv6 || !p.Src.Is6() {
		return NAFrame{}, false
	}
	m, err := ndp.ParseMessage(p.Payload)
	if err != nil {
		return NAFrame{}, false
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		return NAFrame{}, false
	}
	n := NAFrame{
		IPFrame:   p,
		Target:    na.TargetAddress,
		Router:    na.Router,
		Solicited: na.Solicited,
		Override:  na.Override,
		HopLimit:  p.TTL,
	}
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			n.TargetMAC = lla.Addr
		}
	}
	return n, true
}
