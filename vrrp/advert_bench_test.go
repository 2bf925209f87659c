package vrrp_test

import (
	"testing"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// advBenchCases are the three shapes a router sends: VRRPv2 with a
// password, VRRPv3 over IPv4 and VRRPv3 over IPv6, each from advGoldens.
func advBenchCases(b *testing.B) []advGolden {
	want := map[string]string{
		"v2 PASS vrrpPW":          "v2",
		"v3 IPv4 multicast":       "v3-IPv4",
		"v3 IPv6 tcpdump frame 6": "v3-IPv6",
	}
	var out []advGolden
	for _, g := range advGoldens() {
		if name, ok := want[g.name]; ok {
			g.name = name
			out = append(out, g)
		}
	}
	if len(out) != len(want) {
		b.Fatalf("found %d of the %d benchmark vectors in advGoldens", len(out), len(want))
	}
	return out
}

func BenchmarkAppend(b *testing.B) {
	for _, g := range advBenchCases(b) {
		b.Run(g.name, func(b *testing.B) {
			buf := make([]byte, 0, 128)
			b.ReportAllocs()
			b.SetBytes(int64(g.adv.Len()))
			for b.Loop() {
				var err error
				if buf, err = g.adv.Append(buf[:0], g.src, g.dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, g := range advBenchCases(b) {
		b.Run(g.name, func(b *testing.B) {
			wire := advHex(b, g.wire)
			var a vrrp.Advertisement
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if err := a.Unmarshal(wire, g.ipv6); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyChecksum(b *testing.B) {
	for _, g := range advBenchCases(b) {
		b.Run(g.name, func(b *testing.B) {
			wire := advHex(b, g.wire)
			src, group := g.srcOr(), advGroup(g.ipv6)
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if vrrp.VerifyChecksum(wire, src, g.recvDst, group) != vrrp.ChecksumOK {
					b.Fatal("checksum not ok")
				}
			}
		})
	}
	// The slowest accepted path: a VRRPv3 IPv4 message-only checksum, found
	// after both pseudo-header forms failed.
	b.Run("v3-IPv4-nopseudo", func(b *testing.B) {
		wire := advHex(b, "310ac802 0064828a c0000201 c0000202")
		b.ReportAllocs()
		b.SetBytes(int64(len(wire)))
		for b.Loop() {
			if vrrp.VerifyChecksum(wire, advSrc4, advUnicast4, vrrp.Group4) != vrrp.ChecksumNoPseudo {
				b.Fatal("checksum not nopseudo")
			}
		}
	})
}
