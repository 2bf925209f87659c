package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Wire constants for VRRP (RFC 3768 section 5, RFC 5798 section 5).
const (
	// IPProtocol is the IP protocol number of VRRP.
	IPProtocol = vrrpio.IPProtocol
	// TypeAdvertisement is the only VRRP packet type (RFC 5798 section 5.2.2).
	TypeAdvertisement = 1
	// HeaderLen is the length of the fixed VRRP header, before the addresses.
	HeaderLen = 8
	// AuthDataLen is the length of the VRRPv2 authentication data that
	// follows the addresses (RFC 3768 section 5.3.10).
	AuthDataLen = 8
	// MaxInterval3 is the largest VRRPv3 Max Advert Interval, in
	// centiseconds (12 bits, RFC 5798 section 5.2.7).
	MaxInterval3 = 0x0fff
)

// VRRPv2 authentication types (RFC 2338 section 5.3.6, RFC 3768 section 5.3.6).
const (
	AuthNone = 0 // no authentication
	AuthPass = 1 // simple text password (RFC 2338; reserved in RFC 3768)
	AuthAH   = 2 // IP Authentication Header (RFC 2338; reserved in RFC 3768)
)

// Errors of the codec. Each error that Advertisement.Unmarshal and
// Advertisement.Append return wraps exactly one of them, so callers branch
// with errors.Is.
var (
	// ErrTruncated is returned when a message is shorter than its fixed
	// header and addresses require.
	ErrTruncated = errors.New("vrrp: truncated advertisement")
	// ErrVersion is returned when the version field is neither 2 nor 3.
	ErrVersion = errors.New("vrrp: bad version")
	// ErrType is returned when the type field is not 1 (advertisement).
	ErrType = errors.New("vrrp: bad packet type")
	// ErrLength is returned when the message length disagrees with its
	// address count.
	ErrLength = errors.New("vrrp: address count and length mismatch")
	// ErrChecksum is not returned by the codec, whose VerifyChecksum
	// reports ChecksumBad; it is there for callers that turn that into an
	// error.
	ErrChecksum = errors.New("vrrp: bad checksum")
	// ErrInterval is returned for a zero (or, when encoding, out of range)
	// advertisement interval.
	ErrInterval = errors.New("vrrp: bad advertisement interval")
	// ErrFamily is returned when an address family does not fit the
	// message: VRRPv2 over IPv6, or IPv4 and IPv6 addresses mixed.
	ErrFamily = errors.New("vrrp: wrong address family")
	// ErrVRID is returned for virtual router ID 0.
	ErrVRID = errors.New("vrrp: bad virtual router ID")
	// ErrCount is returned when encoding more than 255 addresses.
	ErrCount = errors.New("vrrp: too many addresses")
)

// Advertisement is a VRRP advertisement, version 2 (RFC 3768) or 3 (RFC
// 5798), for IPv4 or IPv6. The zero value is ready for Unmarshal, which
// reuses the Addresses slice so that a value kept between calls makes
// decoding allocation-free.
type Advertisement struct {
	// Version is 2 or 3.
	Version uint8
	// Type is the packet type; only TypeAdvertisement is valid. Append
	// writes TypeAdvertisement when it is zero.
	Type uint8
	// VRID is the virtual router identifier, 1 to 255.
	VRID uint8
	// Priority is the sender's priority: 255 for the address owner, 0 when
	// the Master stops.
	Priority uint8
	// Interval is the advertisement interval in the unit of the version:
	// whole seconds (8 bits) for VRRPv2, centiseconds (12 bits, the
	// reserved bits masked on decode) for VRRPv3. See IntervalDuration.
	Interval uint16
	// AuthType is the VRRPv2 authentication type (AuthNone, AuthPass, ...).
	// VRRPv3 has none and ignores it.
	AuthType uint8
	// AuthData is the VRRPv2 authentication data: for AuthPass the password
	// zero-padded to 8 bytes. VRRPv3 ignores it.
	AuthData [AuthDataLen]byte
	// Checksum is the checksum field as read by Unmarshal. Append computes
	// the checksum and ignores this field.
	Checksum uint16
	// Addresses are the virtual addresses, all IPv4 or all IPv6.
	Addresses []netip.Addr
}

// IntervalDuration returns the advertisement interval as a duration.
func (a *Advertisement) IntervalDuration() time.Duration {
	if a.Version == 2 {
		return time.Duration(a.Interval) * time.Second
	}
	return time.Duration(a.Interval) * 10 * time.Millisecond
}

// Password returns the VRRPv2 simple text password carried in AuthData,
// without its zero padding.
func (a *Advertisement) Password() string {
	if i := bytes.IndexByte(a.AuthData[:], 0); i >= 0 {
		return string(a.AuthData[:i])
	}
	return string(a.AuthData[:])
}

// IntervalField converts an advertisement interval to the wire field of
// the given version: whole seconds for VRRPv2 (1 to 255), centiseconds for
// VRRPv3 (1 to 4095). It returns an error wrapping ErrInterval when d is
// not a whole number of units or is out of range.
func IntervalField(version uint8, d time.Duration) (uint16, error) {
	unit, max := 10*time.Millisecond, time.Duration(MaxInterval3)
	if version == 2 {
		unit, max = time.Second, 255
	}
	if d <= 0 || d%unit != 0 || d/unit > max {
		return 0, fmt.Errorf("%w: %v is not a multiple of %v between %v and %v", ErrInterval, d, unit, unit, max*unit)
	}
	return uint16(d / unit), nil
}

// PasswordData returns the VRRPv2 authentication data for a simple text
// password: its first 8 bytes, zero-padded.
func PasswordData(pass string) [AuthDataLen]byte {
	var d [AuthDataLen]byte
	copy(d[:], pass)
	return d
}

// Len returns the encoded length of a.
func (a *Advertisement) Len() int {
	n := HeaderLen
	if len(a.Addresses) > 0 && a.Addresses[0].Is6() {
		n += 16 * len(a.Addresses)
	} else {
		n += 4 * len(a.Addresses)
	}
	if a.Version == 2 {
		n += AuthDataLen
	}
	return n
}

// Unmarshal decodes the VRRP message b (the IP payload) into a. ipv6 tells
// the address family, known from the IP header. Unmarshal checks the
// structure only; use VerifyChecksum for the checksum. It does not retain b.
// On error, a is left as it was.
func (a *Advertisement) Unmarshal(b []byte, ipv6 bool) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("%w: %d bytes, the header needs %d", ErrTruncated, len(b), HeaderLen)
	}
	version, typ := b[0]>>4, b[0]&0x0f
	if version != 2 && version != 3 {
		return fmt.Errorf("%w: %d", ErrVersion, version)
	}
	if typ != TypeAdvertisement {
		return fmt.Errorf("%w: %d", ErrType, typ)
	}
	if b[1] == 0 {
		return fmt.Errorf("%w: 0", ErrVRID)
	}
	if version == 2 && ipv6 {
		return fmt.Errorf("%w: VRRPv2 over IPv6", ErrFamily)
	}
	count := int(b[3])
	alen := 4
	if ipv6 {
		alen = 16
	}
	want := HeaderLen + count*alen
	if version == 2 {
		want += AuthDataLen
	}
	if len(b) < want {
		if version == 2 && len(b) == want-AuthDataLen {
			return fmt.Errorf("%w: %d bytes, %d addresses and the authentication data need %d", ErrTruncated, len(b), count, want)
		}
		return fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrLength, len(b), count, want)
	}
	if len(b) > want {
		return fmt.Errorf("%w: %d bytes, %d addresses need %d", ErrLength, len(b), count, want)
	}
	interval := uint16(b[5])
	if version == 3 {
		interval = binary.BigEndian.Uint16(b[4:6]) & MaxInterval3
	}
	if interval == 0 {
		return fmt.Errorf("%w: 0", ErrInterval)
	}
	// Every check passed: only now is a overwritten.
	a.Version, a.Type, a.VRID, a.Priority = version, typ, b[1], b[2]
	a.Checksum = binary.BigEndian.Uint16(b[6:8])
	a.Interval = interval
	if version == 2 {
		a.AuthType = b[4]
		copy(a.AuthData[:], b[want-AuthDataLen:want])
	} else {
		a.AuthType = 0
		a.AuthData = [AuthDataLen]byte{}
	}
	a.Addresses = a.Addresses[:0]
	for i := 0; i < count; i++ {
		p := b[HeaderLen+i*alen:]
		if ipv6 {
			a.Addresses = append(a.Addresses, netip.AddrFrom16([16]byte(p[:16])))
		} else {
			a.Addresses = append(a.Addresses, netip.AddrFrom4([4]byte(p[:4])))
		}
	}
	return nil
}

// Append encodes a, with its checksum, at the end of b and returns the
// extended buffer. It allocates only when b lacks the capacity.
//
// The checksum follows the version: VRRPv2 sums the message alone (RFC 3768
// section 5.3.8); VRRPv3 adds the IPv4 or IPv6 pseudo-header built from src
// and dst (RFC 5798 section 5.2.8), as keepalived and FRRouting do. For a
// VRRPv3 IPv4 message, invalid (zero) src and dst give the message-only
// checksum that RFC 9568 implementations expect. The address family is
// that of the addresses, or of src for an empty list. Append ignores the
// Checksum field of a.
func (a *Advertisement) Append(b []byte, src, dst netip.Addr) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return b, fmt.Errorf("%w: %d", ErrVersion, a.Version)
	}
	typ := a.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	if typ != TypeAdvertisement {
		return b, fmt.Errorf("%w: %d", ErrType, typ)
	}
	if a.VRID == 0 {
		return b, fmt.Errorf("%w: 0", ErrVRID)
	}
	if len(a.Addresses) > 255 {
		return b, fmt.Errorf("%w: %d", ErrCount, len(a.Addresses))
	}
	// The family is that of the addresses or, for an empty list, of the
	// pseudo-header. An IPv4-mapped IPv6 address in the list counts as
	// IPv6, as it does on the wire; in the pseudo-header it is unmapped.
	src, dst = src.Unmap(), dst.Unmap()
	ipv6 := src.Is6()
	if len(a.Addresses) > 0 {
		ipv6 = a.Addresses[0].Is6()
	}
	for _, ip := range a.Addresses {
		if ip.Is6() != ipv6 || !ip.IsValid() {
			return b, fmt.Errorf("%w: address %v in a list of %s", ErrFamily, ip, familyName(ipv6))
		}
	}
	if ipv6 && a.Version == 2 {
		return b, fmt.Errorf("%w: VRRPv2 over IPv6", ErrFamily)
	}
	if a.Interval == 0 || (a.Version == 2 && a.Interval > 255) || a.Interval > MaxInterval3 {
		return b, fmt.Errorf("%w: %d", ErrInterval, a.Interval)
	}
	start := len(b)
	b = append(b, a.Version<<4|typ, a.VRID, a.Priority, uint8(len(a.Addresses)))
	if a.Version == 2 {
		b = append(b, a.AuthType, uint8(a.Interval))
	} else {
		b = binary.BigEndian.AppendUint16(b, a.Interval)
	}
	b = append(b, 0, 0)
	for _, ip := range a.Addresses {
		b = append(b, ip.AsSlice()...)
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	var sum uint32
	if a.Version == 3 {
		if src.IsValid() || dst.IsValid() || ipv6 {
			if src.Is6() != ipv6 || dst.Is6() != ipv6 || !src.IsValid() || !dst.IsValid() {
				return b[:start], fmt.Errorf("%w: pseudo-header %v > %v for %s addresses", ErrFamily, src, dst, familyName(ipv6))
			}
			sum = pseudoSum(src, dst, len(msg))
		}
	}
	binary.BigEndian.PutUint16(msg[6:8], finish(sumBytes(sum, msg)))
	return b, nil
}

func familyName(ipv6 bool) string {
	if ipv6 {
		return "IPv6"
	}
	return "IPv4"
}

// ChecksumForm tells which checksum form a received message matched.
type ChecksumForm uint8

// Checksum forms reported by VerifyChecksum.
const (
	// ChecksumBad means no accepted form matched.
	ChecksumBad ChecksumForm = iota
	// ChecksumOK is the RFC form: VRRPv2 over the message, VRRPv3 with the
	// pseudo-header built from the real source and destination.
	ChecksumOK
	// ChecksumGroup is a VRRPv3 checksum whose pseudo-header holds the
	// multicast group although the packet was sent unicast.
	ChecksumGroup
	// ChecksumNoPseudo is a VRRPv3 IPv4 checksum over the message only (the
	// RFC 9568 reading of holo, Cisco and Juniper).
	ChecksumNoPseudo
	numChecksumForms
)

var checksumNames = [...]string{"bad", "ok", "group", "nopseudo"}

// String returns "bad", "ok", "group" or "nopseudo".
func (f ChecksumForm) String() string {
	if int(f) < len(checksumNames) {
		return checksumNames[f]
	}
	return fmt.Sprintf("ChecksumForm(%d)", uint8(f))
}

// VerifyChecksum checks the checksum of the VRRP message msg received from
// src at dst and returns the form that matched: for VRRPv3, the pseudo-header
// with dst, then with group (when valid and different from dst), then, for
// IPv4 only, the message alone. It returns ChecksumBad when none matches or
// the message is too short to carry a version.
func VerifyChecksum(msg []byte, src, dst, group netip.Addr) ChecksumForm {
	if len(msg) < HeaderLen {
		return ChecksumBad
	}
	src, dst, group = src.Unmap(), dst.Unmap(), group.Unmap()
	body := sumBytes(0, msg)
	if msg[0]>>4 != 3 {
		if finish(body) == 0 {
			return ChecksumOK
		}
		return ChecksumBad
	}
	if src.IsValid() && dst.IsValid() && src.Is6() == dst.Is6() {
		if finish(body+pseudoSum(src, dst, len(msg))) == 0 {
			return ChecksumOK
		}
	}
	if group.IsValid() && group != dst && src.IsValid() && group.Is6() == src.Is6() {
		if finish(body+pseudoSum(src, group, len(msg))) == 0 {
			return ChecksumGroup
		}
	}
	if src.Is4() && finish(body) == 0 {
		return ChecksumNoPseudo
	}
	return ChecksumBad
}

// pseudoSum returns the unfolded one's complement sum of the IPv4 (RFC 791)
// or IPv6 (RFC 8200 section 8.1) pseudo-header for protocol 112.
func pseudoSum(src, dst netip.Addr, length int) uint32 {
	var sum uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = sumBytes(sum, s[:])
		sum = sumBytes(sum, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = sumBytes(sum, s[:])
		sum = sumBytes(sum, d[:])
	}
	return sum + uint32(length>>16) + uint32(length&0xffff) + IPProtocol
}

// sumBytes adds b to the running one's complement sum as 16-bit words.
func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// finish folds sum to 16 bits and complements it.
func finish(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
