package vrrp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// VRRPv2 with IPsec AH (RFC 2338 section 5.3.6.2, RFC 2402), as keepalived
// implements it for auth_type AH. The advert is an IPv4 datagram of
// protocol 51 whose payload is a 24-byte Authentication Header followed by
// the VRRPv2 message (auth type 2, eight zero bytes of authentication data,
// its checksum as usual, over the message alone):
//
//	next header 112 | payload len 4 | reserved 0
//	SPI: the sender's IPv4 address
//	sequence number
//	ICV: 12 bytes
//
// The ICV is HMAC-MD5 truncated to 96 bits, keyed with the password
// zero-padded to 8 bytes, over the IPv4 header (with TOS, flags and
// fragment offset, and header checksum zeroed; the TTL too when the
// instance has unicast peers), the AH header with a zero ICV, and the VRRP
// message. The identification field and the total length are covered,
// which is why an AH advert is built whole, IP header included.
const (
	// IPProtocolAH is the IP protocol number of the Authentication Header.
	IPProtocolAH = vrrpio.IPProtocolAH
	// AHLen is the length of the Authentication Header keepalived sends:
	// 12 fixed bytes and a 96-bit ICV.
	AHLen = 24
	// ICVLen is the length of the ICV: HMAC-MD5-96.
	ICVLen = 12
	// IPv4HeaderLen is the length of an IPv4 header without options, as
	// AppendAH writes it.
	IPv4HeaderLen = 20
	// ahPayloadLen is the AH payload length field: the header's length in
	// 32-bit words, minus 2 (RFC 2402 section 2.2).
	ahPayloadLen = AHLen/4 - 2
	// tosVRRP is the IPv4 TOS keepalived sends adverts with.
	tosVRRP = 0xc0
)

// Errors of the AH codec.
var (
	// ErrAH is returned by ParseAH when a datagram is not IPv4 with an
	// Authentication Header of keepalived's shape followed by a VRRP
	// message.
	ErrAH = errors.New("vrrp: bad IPsec authentication header")
)

// AH is the IPsec Authentication Header of a VRRPv2 advert.
type AH struct {
	// NextHeader is the protocol of what follows: 112.
	NextHeader uint8
	// SPI is the security parameters index; keepalived sends its IPv4
	// source address there, and receivers check it.
	SPI uint32
	// Seq is the sequence number.
	Seq uint32
	// ICV is the integrity check value, HMAC-MD5-96.
	ICV [ICVLen]byte
}

// AHFields are what a sender chooses of an AH advert's IPv4 and AH headers.
type AHFields struct {
	// Src and Dst are the IPv4 source and destination; the SPI is Src.
	Src, Dst netip.Addr
	// ID is the IPv4 identification. keepalived counts it up from 1 with
	// each advert, skipping 0, which the kernel would replace.
	ID uint16
	// Seq is the AH sequence number.
	Seq uint32
	// Unicast leaves the TTL out of the ICV, as keepalived does for an
	// instance with unicast peers.
	Unicast bool
}

// AppendAH appends to b an IPv4 datagram (header with TOS 0xc0, TTL 255,
// no options, a zero header checksum that the kernel fills in) carrying an
// Authentication Header and the VRRPv2 message msg, with the ICV computed
// with key (the password zero-padded to 8 bytes, see PasswordData). It
// returns an error wrapping ErrFamily when Src or Dst is not IPv4, or
// ErrLength when the datagram would exceed 65535 bytes.
func AppendAH(b []byte, f AHFields, msg []byte, key [AuthDataLen]byte) ([]byte, error) {
	if !f.Src.Unmap().Is4() || !f.Dst.Unmap().Is4() {
		return b, fmt.Errorf("%w: AH needs IPv4, not %v > %v", ErrFamily, f.Src, f.Dst)
	}
	total := IPv4HeaderLen + AHLen + len(msg)
	if total > 0xffff {
		return b, fmt.Errorf("%w: %d bytes", ErrLength, total)
	}
	start := len(b)
	src, dst := f.Src.Unmap().As4(), f.Dst.Unmap().As4()
	b = append(b, 0x45, tosVRRP)
	b = binary.BigEndian.AppendUint16(b, uint16(total))
	b = binary.BigEndian.AppendUint16(b, f.ID)
	b = append(b, 0, 0, 255, IPProtocolAH, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	b = append(b, IPProtocol, ahPayloadLen, 0, 0)
	b = append(b, src[:]...)
	b = binary.BigEndian.AppendUint32(b, f.Seq)
	b = append(b, make([]byte, ICVLen)...)
	b = append(b, msg...)
	pkt := b[start:]
	icv := ahICV(pkt, IPv4HeaderLen, key, f.Unicast)
	copy(pkt[IPv4HeaderLen+12:], icv[:])
	return b, nil
}

// ParseAH checks the structure of a received IPv4 datagram pkt, header
// included, that should carry an Authentication Header and a VRRP message,
// and returns the header and the message (a slice of pkt). It returns an
// error wrapping ErrAH when pkt is not IPv4 of protocol 51, is shorter than
// its headers, or its AH is not of the length keepalived sends or is not
// followed by VRRP. It neither checks the ICV (see VerifyAH) nor decodes
// the message (see Advertisement.Unmarshal).
func ParseAH(pkt []byte) (AH, []byte, error) {
	var ah AH
	if len(pkt) < IPv4HeaderLen || pkt[0]>>4 != 4 {
		return ah, nil, fmt.Errorf("%w: not an IPv4 datagram", ErrAH)
	}
	hlen := int(pkt[0]&0x0f) << 2
	switch {
	case hlen < IPv4HeaderLen:
		return ah, nil, fmt.Errorf("%w: IPv4 header length %d", ErrAH, hlen)
	case pkt[9] != IPProtocolAH:
		return ah, nil, fmt.Errorf("%w: IP protocol %d", ErrAH, pkt[9])
	case len(pkt) < hlen+AHLen:
		return ah, nil, fmt.Errorf("%w: %d bytes, the headers need %d", ErrAH, len(pkt), hlen+AHLen)
	}
	h := pkt[hlen:]
	if h[1] != ahPayloadLen {
		return ah, nil, fmt.Errorf("%w: payload length %d, keepalived sends %d", ErrAH, h[1], ahPayloadLen)
	}
	if h[0] != IPProtocol {
		return ah, nil, fmt.Errorf("%w: next header %d", ErrAH, h[0])
	}
	ah.NextHeader = h[0]
	ah.SPI = binary.BigEndian.Uint32(h[4:8])
	ah.Seq = binary.BigEndian.Uint32(h[8:12])
	copy(ah.ICV[:], h[12:AHLen])
	return ah, pkt[hlen+AHLen:], nil
}

// VerifyAH reports whether the ICV of pkt, a datagram ParseAH accepts,
// matches key (the password zero-padded to 8 bytes), the TTL left out when
// unicast. The comparison takes constant time.
func VerifyAH(pkt []byte, key [AuthDataLen]byte, unicast bool) bool {
	if _, _, err := ParseAH(pkt); err != nil {
		return false
	}
	hlen := int(pkt[0]&0x0f) << 2
	want := ahICV(pkt, hlen, key, unicast)
	return hmac.Equal(want[:], pkt[hlen+12:hlen+AHLen])
}

// AHSource returns the IPv4 source of an AH datagram pkt (ParseAH accepted
// it).
func AHSource(pkt []byte) netip.Addr {
	if len(pkt) < IPv4HeaderLen {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(pkt[12:16]))
}

// ahICV computes the ICV of the datagram pkt whose IP header is hlen bytes
// long: over a copy of the header with its mutable fields zeroed, the AH
// with a zero ICV, and the rest.
func ahICV(pkt []byte, hlen int, key [AuthDataLen]byte, unicast bool) [ICVLen]byte {
	var hdr [60 + AHLen]byte
	n := copy(hdr[:], pkt[:hlen+AHLen])
	hdr[1] = 0              // TOS
	hdr[6], hdr[7] = 0, 0   // flags, fragment offset
	hdr[10], hdr[11] = 0, 0 // header checksum
	if unicast {
		hdr[8] = 0 // TTL
	}
	clear(hdr[hlen+12 : hlen+AHLen])
	mac := hmac.New(md5.New, key[:])
	mac.Write(hdr[:n])
	mac.Write(pkt[hlen+AHLen:])
	var sum [md5.Size]byte
	var icv [ICVLen]byte
	copy(icv[:], mac.Sum(sum[:0]))
	return icv
}

// AHCounter is the sequence number state keepalived keeps for an AH
// instance: one counter per instance that its own adverts and the ones it
// accepts both move, so that all routers of a virtual router share one
// increasing sequence. The zero value is a fresh instance's. It is not
// safe for concurrent use; the Node keeps one per AH instance.
type AHCounter struct {
	// Seq is the last sequence number sent or accepted.
	Seq uint32
	// Cycled is set when Seq reached the end of its range; the next
	// takeover starts the count again from 0.
	Cycled bool
}

// ahSeqMax is the last sequence number keepalived counts up to; beyond it
// the counter has cycled.
const ahSeqMax = 0xfffffffd

// Next returns the sequence number of the next advert to send: one more
// than the last, unless the counter has cycled, when it stays.
func (c *AHCounter) Next() uint32 {
	if c.Seq > ahSeqMax {
		c.Cycled = true
	} else {
		c.Seq++
	}
	return c.Seq
}

// Accept applies the replay check to an authenticated advert of sequence
// number seq: it is accepted, and becomes the counter, only when it is
// greater than the counter. A sequence number that goes backwards, or
// repeats, is rejected, whoever sent it.
func (c *AHCounter) Accept(seq uint32) bool {
	if seq <= c.Seq {
		return false
	}
	c.Seq = seq
	return true
}

// LowerPriority is what a Master does on an authenticated advert of lower
// priority (the one it answers with an advert of its own): it takes the
// sender's sequence number plus one as its counter, so that its answer and
// its following adverts go on from there.
func (c *AHCounter) LowerPriority(seq uint32) {
	c.Seq, c.Cycled = seq+1, false
}

// BecomeMaster is called at a takeover: a counter that cycled starts again
// from 0.
func (c *AHCounter) BecomeMaster() {
	if c.Cycled {
		c.Seq, c.Cycled = 0, false
	}
}
