package vrrp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"testing"
)

// keepalivedAH reads the AH adverts keepalived 2.2.7 sent (see
// testdata/ah/README.md).
func keepalivedAH(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/ah/keepalived-2.2.7-vrid51.hex")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		b, err := hex.DecodeString(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	if len(pkts) != 6 {
		t.Fatalf("%d packets, want 6", len(pkts))
	}
	return pkts
}

func TestAHKeepalivedGolden(t *testing.T) {
	key := PasswordData("secret1")
	src, dst := netip.MustParseAddr("198.18.51.1"), Group4
	for i, pkt := range keepalivedAH(t) {
		ah, msg, err := ParseAH(pkt)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if ah.SPI != 0xc6123301 || ah.Seq != uint32(i+1) || ah.NextHeader != IPProtocol {
			t.Errorf("packet %d: AH %+v", i, ah)
		}
		if !VerifyAH(pkt, key, false) {
			t.Errorf("packet %d: ICV does not verify", i)
		}
		if VerifyAH(pkt, PasswordData("secret2"), false) {
			t.Errorf("packet %d: verifies with another key", i)
		}
		if AHSource(pkt) != src {
			t.Errorf("packet %d: source %v", i, AHSource(pkt))
		}
		var a Advertisement
		if err := a.Unmarshal(msg, false); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if a.AuthType != AuthAH || a.AuthData != [AuthDataLen]byte{} || a.VRID != 51 {
			t.Errorf("packet %d: advert %+v", i, a)
		}
		if VerifyChecksum(msg, src, dst, Group4) != ChecksumOK {
			t.Errorf("packet %d: VRRP checksum", i)
		}
		// Rebuilt from its fields, the datagram is the same byte for
		// byte but for the header checksum, which the kernel fills in.
		m, err := a.Append(nil, netip.Addr{}, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendAH(nil, AHFields{Src: src, Dst: dst, ID: uint16(i + 1), Seq: ah.Seq}, m, key)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(pkt)
		want[10], want[11] = 0, 0
		if !bytes.Equal(got, want) {
			t.Errorf("packet %d:\n got %x\nwant %x", i, got, want)
		}
	}
}

func TestAHMutations(t *testing.T) {
	key := PasswordData("secret1")
	pkt := keepalivedAH(t)[0]
	// The mutable fields are out of the ICV.
	for _, off := range []int{1, 6, 7, 10, 11} {
		p := bytes.Clone(pkt)
		p[off] ^= 0x40
		if !VerifyAH(p, key, false) {
			t.Errorf("byte %d changed: ICV fails", off)
		}
	}
	// The TTL is in it unless unicast.
	p := bytes.Clone(pkt)
	p[8] = 64
	if VerifyAH(p, key, false) {
		t.Error("TTL changed: ICV still verifies for multicast")
	}
	// Every other byte is covered.
	for off := range pkt {
		switch off {
		case 1, 6, 7, 8, 10, 11:
			continue
		}
		p := bytes.Clone(pkt)
		p[off] ^= 0x01
		if VerifyAH(p, key, false) {
			t.Errorf("byte %d changed: ICV still verifies", off)
		}
	}
	// Unicast: the TTL is out, and an ICV computed so verifies only so.
	m := pkt[IPv4HeaderLen+AHLen:]
	u, err := AppendAH(nil, AHFields{Src: AHSource(pkt), Dst: netip.MustParseAddr("198.18.51.2"), ID: 7, Seq: 9, Unicast: true}, m, key)
	if err != nil {
		t.Fatal(err)
	}
	u[8] = 17
	if !VerifyAH(u, key, true) || VerifyAH(u, key, false) {
		t.Error("unicast ICV")
	}
}

func TestParseAHErrors(t *testing.T) {
	pkt := keepalivedAH(t)[0]
	for name, mut := range map[string]func([]byte) []byte{
		"short":      func(p []byte) []byte { return p[:IPv4HeaderLen+AHLen-1] },
		"ipv6":       func(p []byte) []byte { p[0] = 0x65; return p },
		"ihl":        func(p []byte) []byte { p[0] = 0x44; return p },
		"proto":      func(p []byte) []byte { p[9] = 112; return p },
		"nexthdr":    func(p []byte) []byte { p[20] = 6; return p },
		"payloadlen": func(p []byte) []byte { p[21] = 7; return p },
		"empty":      func(p []byte) []byte { return nil },
	} {
		if _, _, err := ParseAH(mut(bytes.Clone(pkt))); !errors.Is(err, ErrAH) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := AppendAH(nil, AHFields{Src: netip.MustParseAddr("fe80::1"), Dst: Group4}, nil, [8]byte{}); !errors.Is(err, ErrFamily) {
		t.Errorf("IPv6: %v", err)
	}
}

func TestAHCounter(t *testing.T) {
	var c AHCounter
	if c.Next() != 1 || c.Next() != 2 {
		t.Fatal("Next does not count from 1")
	}
	if c.Accept(2) || c.Accept(1) {
		t.Error("accepted a repeated or older sequence number")
	}
	if !c.Accept(10) || c.Seq != 10 || c.Next() != 11 {
		t.Error("an accepted sequence number does not become the counter")
	}
	c.LowerPriority(40)
	if c.Next() != 42 {
		t.Errorf("after a lower-priority advert of 40: %d", c.Seq)
	}
	c.Seq = ahSeqMax
	if c.Next() != ahSeqMax+1 || c.Cycled {
		t.Fatal("last number")
	}
	if c.Next() != ahSeqMax+1 || !c.Cycled {
		t.Fatal("the counter does not stop when cycled")
	}
	c.BecomeMaster()
	if c.Seq != 0 || c.Cycled || c.Next() != 1 {
		t.Error("a takeover does not restart a cycled counter")
	}
}

func FuzzParseAH(f *testing.F) {
	for _, p := range keepalivedAH(f) {
		f.Add(p)
	}
	f.Add([]byte{0x46, 0, 0, 0, 0, 0, 0, 0, 255, 51})
	key := PasswordData("secret1")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		ah, msg, err := ParseAH(pkt)
		if err != nil {
			if VerifyAH(pkt, key, false) {
				t.Fatal("VerifyAH accepts what ParseAH rejects")
			}
			return
		}
		if ah.NextHeader != IPProtocol || len(msg) > len(pkt)-IPv4HeaderLen-AHLen {
			t.Fatalf("AH %+v, message of %d bytes", ah, len(msg))
		}
		VerifyAH(pkt, key, true)
		var a Advertisement
		if a.Unmarshal(msg, false) != nil {
			return
		}
		// What decodes re-encodes to a datagram that verifies.
		m, err := a.Append(nil, netip.Addr{}, netip.Addr{})
		if err != nil {
			return
		}
		out, err := AppendAH(nil, AHFields{Src: AHSource(pkt), Dst: Group4, ID: 1, Seq: ah.Seq}, m, key)
		if err != nil {
			t.Fatal(err)
		}
		if !VerifyAH(out, key, false) {
			t.Fatal("re-encoded datagram does not verify")
		}
	})
}
