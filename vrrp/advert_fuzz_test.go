package vrrp_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// FuzzAdvertisement checks that Unmarshal never panics on any input and that
// whatever it accepts survives Append and a second Unmarshal unchanged, with
// a checksum that VerifyChecksum accepts as the RFC form.
func FuzzAdvertisement(f *testing.F) {
	for _, g := range advGoldens() {
		f.Add(advHex(f, g.wire), g.ipv6)
	}
	for _, s := range []struct {
		wire string
		ipv6 bool
	}{
		{"", false},
		{"31", false},
		{"310ac802 0064df", false},            // 7 bytes
		{"21016401 0001b952 c0a80101", false}, // v2 without auth data
		{"21016401 0001b952 c0a80101 00000000 00000000", true},                // v2 over IPv6
		{"f20ac802 0064dfec c0000201 c0000202", false},                        // version 15
		{"320ac802 0064dfec c0000201 c0000202", false},                        // type 2
		{"3100c802 0064dfec c0000201 c0000202", false},                        // VRID 0
		{"310ac8ff 0064dfec c0000201 c0000202", false},                        // count 255, 2 addresses
		{"310ac802 f000f04f c0000201 c0000202", false},                        // only reserved interval bits
		{"310ac802 f064efeb c0000201 c0000202", false},                        // reserved bits and interval 100
		{"21ff0000 ffff0000 00000000 00000000", false},                        // v2, no addresses, auth type 255
		{"31ff ff00 0fff 0000", false},                                        // v3 IPv4, no addresses
		{"3101 6401 0064 0000 0000 0000 0000 0000 0000 ffff c000 0201", true}, // IPv4-mapped address
		{"3101 6400 0064 0000", true},                                         // v3 IPv6, no addresses
		// tcpdump's fuzzed frames (tests/vrrp-vrrp_print-oobr*.pcap), VRRP part.
		{"21020001 01ff", false},
		{"31ff1103 010da200 00000000 00000200 0000ff", false},
		{"31000400 89000000 00000000 00000300 000000", false},
		{"31ff1103 0100a2", false},
		{"f2f2f2f2 f2000000 00000000 00000300 000000", false},
	} {
		f.Add(advHex(f, s.wire), s.ipv6)
	}
	// Inputs the fuzzer found: VRRPv3 IPv6 advertisements, without
	// addresses and with an IPv4-mapped one, that Unmarshal accepted and
	// Append could not encode.
	f.Add([]byte("100\x000000"), true)
	f.Add([]byte("100\x020000\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff00000000000000000000"), true)
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		src, dst, group := advSrc4, vrrp.Group4, vrrp.Group4
		if ipv6 {
			src, dst, group = advSrc6, vrrp.Group6, vrrp.Group6
		}
		_ = vrrp.VerifyChecksum(b, src, dst, group) // must not panic either
		var a vrrp.Advertisement
		if err := a.Unmarshal(b, ipv6); err != nil {
			return
		}
		if a.Version == 2 {
			src, dst = netip.Addr{}, netip.Addr{}
		}
		out, err := a.Append(nil, src, dst)
		if err != nil {
			t.Fatalf("Unmarshal accepted %x (IPv6 %v) as %+v but Append refuses it: %v", b, ipv6, a, err)
		}
		if len(out) != len(b) || a.Len() != len(b) {
			t.Fatalf("re-encoded %d bytes, Len %d, from %d: %x -> %x", len(out), a.Len(), len(b), b, out)
		}
		// Append writes what was read, except the checksum (recomputed)
		// and the VRRPv3 reserved bits (zero, RFC 5798 §5.2.6).
		want := bytes.Clone(b)
		want[6], want[7] = out[6], out[7]
		if a.Version == 3 {
			want[4] &= 0x0f
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("re-encoded\n%x\nfrom\n%x", out, b)
		}
		var again vrrp.Advertisement
		if err := again.Unmarshal(out, ipv6); err != nil {
			t.Fatalf("Unmarshal of the re-encoded %x: %v", out, err)
		}
		advCheckEqual(t, &again, &a)
		if form := vrrp.VerifyChecksum(out, src, group, group); form != vrrp.ChecksumOK {
			t.Fatalf("VerifyChecksum of the re-encoded %x = %v, want ok", out, form)
		}
	})
}
