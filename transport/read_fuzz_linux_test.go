//go:build linux

package transport

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// FuzzHeader4 feeds header4 what an IPv4 raw socket could place in its two
// buffers: the first 20 bytes of a packet in the header buffer, the rest
// in a payload buffer of any size. It must not panic, must return a
// length within the payload buffer, and must leave there the bytes that
// follow the header and its options.
func FuzzHeader4(f *testing.F) {
	advert := []byte{0x31, 51, 100, 1, 0, 100, 0, 0, 198, 18, 0, 100}
	plain := append([]byte{0x45, 0xc0, 0, 32, 0, 0, 0, 0, 255, 112, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18}, advert...)
	// IHL 6: a router alert option before the advert.
	opts := append([]byte{0x46, 0xc0, 0, 36, 0, 0, 0, 0, 255, 112, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18, 0x94, 4, 0, 0}, advert...)
	f.Add(plain, uint16(1500))
	f.Add(opts, uint16(1500))
	f.Add(opts, uint16(3))
	f.Add([]byte{0x4f, 0, 0, 0}, uint16(64))
	f.Fuzz(func(t *testing.T, pkt []byte, bufLen uint16) {
		var h [ipv4.HeaderLen]byte
		copy(h[:], pkt)
		buf := make([]byte, int(bufLen%4096))
		rest := pkt[min(len(pkt), ipv4.HeaderLen):]
		copy(buf, rest)
		// recvmsg reports the bytes it placed in the two buffers.
		got := min(len(pkt), ipv4.HeaderLen+len(buf))
		var info vrrpio.PacketInfo
		n := header4(&h, buf, got, &info)
		if n < 0 || n > len(buf) {
			t.Fatalf("header4 = %d, outside the %d-byte buffer", n, len(buf))
		}
		if len(pkt) < ipv4.HeaderLen {
			if n != 0 {
				t.Fatalf("header4 = %d for a %d-byte packet", n, len(pkt))
			}
			return
		}
		if info.TTL != pkt[8] || info.Src != netip.AddrFrom4([4]byte(pkt[12:16])) || info.Dst != netip.AddrFrom4([4]byte(pkt[16:20])) {
			t.Fatalf("info %+v from header % x", info, pkt[:20])
		}
		hlen := int(pkt[0]&0x0f) << 2
		if n > 0 && hlen >= ipv4.HeaderLen && !bytes.Equal(buf[:n], pkt[hlen:hlen+n]) {
			t.Fatalf("payload % x, want % x", buf[:n], pkt[hlen:hlen+n])
		}
	})
}

// cmsg returns one control message of level and typ carrying data, as the
// kernel lays it out.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

// aligned returns a copy of b that starts on an 8-byte boundary, as the
// control buffer the kernel fills does (a header is read in place).
func aligned(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8)
	if len(words) == 0 {
		return nil
	}
	out := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(b))
	copy(out, b)
	return out
}

// FuzzParseControl feeds parseControl arbitrary control data, which must
// not make it panic, and well-formed messages built from the fuzzed
// values, which it must read exactly: the arrival time always, the hop
// limit and destination only on an IPv6 socket.
func FuzzParseControl(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, int64(1_700_000_000), int64(123), uint8(255), []byte{0xfd, 0, 1}, true)
	f.Add(cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, make([]byte, 8)), int64(0), int64(999_999_999), uint8(1), []byte(nil), false)
	f.Fuzz(func(t *testing.T, junk []byte, sec, nsec int64, hop uint8, dst []byte, v6 bool) {
		var info vrrpio.PacketInfo
		parseControl(aligned(junk), &info, v6)

		ts := binary.NativeEndian.AppendUint64(nil, uint64(sec))
		ts = binary.NativeEndian.AppendUint64(ts, uint64(nsec))
		var a [16]byte
		copy(a[:], dst)
		pktinfo := append(a[:], 0, 0, 0, 0) // struct in6_pktinfo: address, ifindex
		b := cmsg(unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, ts)
		b = append(b, cmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, binary.NativeEndian.AppendUint32(nil, uint32(hop)))...)
		b = append(b, cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, pktinfo)...)
		info = vrrpio.PacketInfo{}
		parseControl(aligned(b), &info, v6)
		if !info.Time.Equal(time.Unix(sec, nsec)) {
			t.Errorf("time %v, want %v", info.Time, time.Unix(sec, nsec))
		}
		want := vrrpio.PacketInfo{Time: info.Time}
		if v6 {
			want.TTL, want.Dst = hop, netip.AddrFrom16(a)
		}
		if info != want {
			t.Errorf("info %+v, want %+v", info, want)
		}
	})
}
