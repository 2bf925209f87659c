package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vrrpkit/vrrpkit/internal/privnet"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// tcpdumpFile returns the path of a file from tcpdump's tests in the shared
// test material.
func tcpdumpFile(t *testing.T, name string) string {
	t.Helper()
	return testenv.SharedTestdata(t, "pcaps", "tcpdump", name)
}

// collect runs dumpPcap over the file at path and returns what it emitted.
func collect(t *testing.T, path string) (recs []*record, errs []error, err error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = dumpPcap(f, func(rec *record, err error) error {
		if err != nil {
			errs = append(errs, err)
		} else {
			recs = append(recs, rec)
		}
		return nil
	})
	return recs, errs, err
}

// tcpdumpEntry is one packet as tcpdump -v printed it in vrrp-v.out.
type tcpdumpEntry struct {
	frame     int
	src, dst  netip.Addr
	ttl       uint8
	version   uint8
	vrid      uint8
	prio      uint8
	authType  *uint8 // nil for VRRPv3
	auth      *string
	interval  uint16
	unit      string // "s" or "cs"
	length    int
	count     int
	addresses []netip.Addr
}

var (
	entryStart = regexp.MustCompile(`^\s*(\d+)\s+\d{4}-\d\d-\d\d `)
	entryBody  = regexp.MustCompile(`(?:ttl (\d+)|hlim (\d+)),.*? (\S+) > (\S+): VRRPv(\d), Advertisement, ` +
		`vrid (\d+), prio (\d+), (?:authtype (\w+), )?intvl (\d+)(s|cs), length (\d+), ` +
		`addrs(?:\((\d+)\))?: (\S+)(?: auth "([^"]*)")?$`)
)

// parseTcpdumpOut parses tcpdump's verbose VRRP output: each packet starts
// with a line holding its number and date, continued on indented lines.
func parseTcpdumpOut(t *testing.T, path string) []tcpdumpEntry {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		if entryStart.MatchString(line) {
			texts = append(texts, strings.TrimSpace(line))
		} else if len(texts) > 0 {
			texts[len(texts)-1] += " " + strings.TrimSpace(line)
		} else {
			t.Fatalf("%s: continuation line before any packet: %q", path, line)
		}
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: bad number %q: %v", path, s, err)
		}
		return n
	}
	var out []tcpdumpEntry
	for _, text := range texts {
		m := entryBody.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: cannot parse %q", path, text)
		}
		e := tcpdumpEntry{
			frame:    num(entryStart.FindStringSubmatch(text)[1]),
			src:      netip.MustParseAddr(m[3]),
			dst:      netip.MustParseAddr(m[4]),
			version:  uint8(num(m[5])),
			vrid:     uint8(num(m[6])),
			prio:     uint8(num(m[7])),
			interval: uint16(num(m[9])),
			unit:     m[10],
			length:   num(m[11]),
			count:    1,
		}
		if m[1] != "" {
			e.ttl = uint8(num(m[1]))
		} else {
			e.ttl = uint8(num(m[2]))
		}
		if m[8] != "" {
			at, ok := map[string]uint8{"none": 0, "simple": 1, "ah": 2}[m[8]]
			if !ok {
				t.Fatalf("%s: unknown authtype %q", path, m[8])
			}
			e.authType = &at
		}
		if m[12] != "" {
			e.count = num(m[12])
		}
		for _, a := range strings.Split(m[13], ",") {
			e.addresses = append(e.addresses, netip.MustParseAddr(a))
		}
		if strings.Contains(text, ` auth "`) {
			e.auth = &m[14]
		}
		out = append(out, e)
	}
	return out
}

// TestTcpdumpPcap decodes every frame of tcpdump's vrrp.pcap and checks it
// against tcpdump's own decode in vrrp-v.out.
func TestTcpdumpPcap(t *testing.T) {
	want := parseTcpdumpOut(t, tcpdumpFile(t, "vrrp-v.out"))
	recs, errs, err := collect(t, tcpdumpFile(t, "vrrp.pcap"))
	if err != nil {
		t.Fatalf("dumpPcap: %v", err)
	}
	for _, e := range errs {
		t.Errorf("frame not decoded: %v", e)
	}
	if len(want) != 165 || len(recs) != len(want) {
		t.Fatalf("%d records from vrrp.pcap, %d packets in vrrp-v.out; both should be 165", len(recs), len(want))
	}
	versions := map[uint8]int{}
	for i, w := range want {
		r := recs[i]
		if w.frame != i+1 {
			t.Fatalf("vrrp-v.out entry %d is numbered %d", i+1, w.frame)
		}
		versions[r.Version]++
		wantMS := int64(w.interval) * 1000
		if w.unit == "cs" {
			wantMS = int64(w.interval) * 10
		}
		if r.Src != w.src || r.Dst != w.dst || r.TTL != w.ttl || r.Version != w.version ||
			r.Type != vrrp.TypeAdvertisement || r.VRID != w.vrid || r.Priority != w.prio ||
			r.interval != w.interval || r.IntervalMS != wantMS || r.length != w.length ||
			r.Count != w.count || !slices.Equal(r.Addresses, w.addresses) ||
			!reflect.DeepEqual(r.AuthType, w.authType) || !reflect.DeepEqual(r.Auth, w.auth) {
			t.Errorf("frame %d:\n got %+v\nwant %+v", i+1, *r, w)
		}
		if (w.unit == "s") != (w.version == 2) {
			t.Errorf("frame %d: tcpdump prints the v%d interval in %s", i+1, w.version, w.unit)
		}
		if r.Checksum != "ok" {
			t.Errorf("frame %d: checksum %q, want ok", i+1, r.Checksum)
		}
	}
	if versions[2] != 68 || versions[3] != 97 {
		t.Errorf("versions %v, want 68 VRRPv2 and 97 VRRPv3", versions)
	}
}

// runDump runs the program with args and returns its exit status and output.
func runDump(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// jsonLines parses one JSON object per line.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJSONOutput(t *testing.T) {
	code, stdout, stderr := runDump(t, "-json", "-r", tcpdumpFile(t, "vrrp.pcap"))
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := jsonLines(t, stdout)
	if len(lines) != 165 {
		t.Fatalf("%d JSON lines, want 165", len(lines))
	}
	for frame, want := range map[int]string{
		1: `{"src":"10.0.0.91","dst":"224.0.0.18","ttl":255,"version":2,"type":1,"vrid":42,"priority":191,"count":3,
			"interval_ms":10000,"addresses":["10.4.42.1","10.4.42.2","10.4.42.3"],"auth_type":1,"auth":"abcdefgh","checksum":"ok"}`,
		2: `{"src":"10.0.0.91","dst":"224.0.0.18","ttl":255,"version":2,"type":1,"vrid":43,"priority":191,"count":1,
			"interval_ms":10000,"addresses":["10.4.43.150"],"auth_type":0,"checksum":"ok"}`,
		3: `{"src":"10.0.0.91","dst":"224.0.0.18","ttl":255,"version":3,"type":1,"vrid":44,"priority":191,"count":2,
			"interval_ms":10000,"addresses":["10.4.44.100","10.4.44.200"],"checksum":"ok"}`,
		7: `{"src":"fe80::d6ca:6dff:fe66:cf60","dst":"ff02::12","ttl":255,"version":3,"type":1,"vrid":46,"priority":191,"count":5,
			"interval_ms":10000,"addresses":["fe80::200:5eff:fe00:22e","2001::eeff:a","2001::eeff:b","2001::eeff:c","2001::eeff:d"],
			"checksum":"ok"}`,
		165: `{"src":"10.0.0.97","dst":"224.0.0.18","ttl":255,"version":2,"type":1,"vrid":43,"priority":197,"count":1,
			"interval_ms":10000,"addresses":["10.4.43.150"],"auth_type":0,"checksum":"ok"}`,
	} {
		if got := lines[frame-1]; !reflect.DeepEqual(got, mustJSON(t, want)) {
			t.Errorf("frame %d:\n got %v\nwant %s", frame, got, want)
		}
	}
	allowed := []string{"src", "dst", "ttl", "version", "type", "vrid", "priority", "count", "interval_ms",
		"addresses", "auth_type", "auth", "checksum"}
	for i, m := range lines {
		for k := range m {
			if !slices.Contains(allowed, k) {
				t.Errorf("line %d has key %q", i+1, k)
			}
		}
		_, hasAuthType := m["auth_type"]
		if v2 := m["version"] == 2.0; hasAuthType != v2 {
			t.Errorf("line %d: auth_type present %v for version %v", i+1, hasAuthType, m["version"])
		}
	}
}

func TestTextOutput(t *testing.T) {
	code, stdout, stderr := runDump(t, "-r", tcpdumpFile(t, "vrrp.pcap"))
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 165 {
		t.Fatalf("%d lines, want 165", len(lines))
	}
	for frame, want := range map[int]string{
		1: `10.0.0.91 > 224.0.0.18: VRRPv2, Advertisement, ttl 255, vrid 42, prio 191, authtype simple, intvl 10s, length 28, addrs(3): 10.4.42.1,10.4.42.2,10.4.42.3 auth "abcdefgh", checksum ok`,
		2: `10.0.0.91 > 224.0.0.18: VRRPv2, Advertisement, ttl 255, vrid 43, prio 191, authtype none, intvl 10s, length 20, addrs: 10.4.43.150, checksum ok`,
		6: `fe80::d6ca:6dff:fe66:cf60 > ff02::12: VRRPv3, Advertisement, ttl 255, vrid 45, prio 191, intvl 1000cs, length 40, addrs(2): fe80::200:5eff:fe00:22d,2001::abcd:a, checksum ok`,
	} {
		if lines[frame-1] != want {
			t.Errorf("frame %d:\n got %s\nwant %s", frame, lines[frame-1], want)
		}
	}
}

// TestOobrPcaps runs the frames tcpdump's fuzzing found: the tool must
// report them as errors, never as packets, and never panic.
func TestOobrPcaps(t *testing.T) {
	t.Run("oobr-2", func(t *testing.T) {
		path := tcpdumpFile(t, "vrrp-vrrp_print-oobr-2.pcap")
		code, stdout, stderr := runDump(t, "-json", "-r", path)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		lines := jsonLines(t, stdout)
		if len(lines) != 10 {
			t.Fatalf("%d lines, want one error per frame (10)", len(lines))
		}
		for i, m := range lines {
			msg, ok := m["error"].(string)
			if len(m) != 1 || !ok || !strings.HasPrefix(msg, fmt.Sprintf("frame %d: ", i+1)) {
				t.Errorf("line %d = %v, want exactly {\"error\": \"frame %d: ...\"}", i+1, m, i+1)
			}
		}
	})
	t.Run("oobr-2 unfragmented", func(t *testing.T) {
		// All ten frames have the More Fragments bit, which is enough to
		// reject them. With the IPv4 flags cleared, the VRRP codec must
		// find what tcpdump's decode shows is wrong with each one.
		frames := readFrames(t, tcpdumpFile(t, "vrrp-vrrp_print-oobr-2.pcap"))
		want := []error{vrrp.ErrLength, vrrp.ErrLength, vrrp.ErrLength, vrrp.ErrLength, vrrp.ErrVRID,
			vrrp.ErrLength, vrrp.ErrLength, vrrp.ErrTruncated, vrrp.ErrVRID, vrrp.ErrVersion}
		if len(frames) != len(want) {
			t.Fatalf("%d frames, want %d", len(frames), len(want))
		}
		var d frameDecoder
		for i, f := range frames {
			f = slices.Clone(f)
			f[14+6], f[14+7] = 0, 0 // flags and fragment offset
			rec, err := d.decodeFrame(f, layers.LinkTypeEthernet)
			if !errors.Is(err, want[i]) {
				t.Errorf("frame %d: %v, %v; want an error wrapping %v", i+1, rec, err, want[i])
			}
		}
	})
	t.Run("oobr", func(t *testing.T) {
		// Frame Relay (link type 107), which vrrpdump does not read.
		code, stdout, stderr := runDump(t, "-json", "-r", tcpdumpFile(t, "vrrp-vrrp_print-oobr.pcap"))
		if code != 1 || stdout != "" || !strings.Contains(stderr, "unsupported link type 107") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, unsupported link type 107", code, stdout, stderr)
		}
	})
}

// readFrames returns the frames of a pcap file.
func readFrames(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, data)
	}
}

func TestPcapPlusPlus(t *testing.T) {
	dir := testenv.SharedTestdata(t, "pcaps", "pcapplusplus")
	recs, errs, err := collect(t, dir+"/VRRP-V2.pcap")
	if err != nil || len(recs) != 0 || len(errs) != 1 || !errors.Is(errs[0], vrrp.ErrTruncated) {
		t.Errorf("VRRP-V2.pcap (no auth data): records %v, errors %v, %v; want one ErrTruncated", recs, errs, err)
	}
	for file, want := range map[string]string{
		"VRRP-V3-IPv4.pcap": `{"src":"192.168.0.30","dst":"224.0.0.18","ttl":255,"version":3,"type":1,"vrid":1,"priority":100,
			"count":2,"interval_ms":10,"addresses":["192.168.0.1","192.168.0.2"],"checksum":"ok"}`,
		"VRRP-V3-IPv6.pcap": `{"src":"fe80::1","dst":"ff02::12","ttl":255,"version":3,"type":1,"vrid":1,"priority":100,
			"count":3,"interval_ms":10,"addresses":["fe80::254","2001:db8::1","2001:db8::2"],"checksum":"ok"}`,
	} {
		code, stdout, stderr := runDump(t, "-json", "-r", dir+"/"+file)
		lines := jsonLines(t, stdout)
		if code != 0 || stderr != "" || len(lines) != 1 || !reflect.DeepEqual(lines[0], mustJSON(t, want)) {
			t.Errorf("%s: exit %d, stderr %q, output %s; want %s", file, code, stderr, stdout, want)
		}
	}
}

var (
	testMAC   = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x0a}
	groupMAC4 = net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}
	src4      = netip.MustParseAddr("192.0.2.1")
	peer4     = netip.MustParseAddr("192.0.2.2")
	src6      = netip.MustParseAddr("fe80::1")
	peer6     = netip.MustParseAddr("fe80::2")
)

// advert encodes a VRRPv3 advertisement checksummed for the pseudo-header
// src > sumDst (invalid addresses for the message-only form).
func advert(t *testing.T, vrid uint8, addrs []netip.Addr, src, sumDst netip.Addr) []byte {
	t.Helper()
	a := vrrp.Advertisement{Version: 3, VRID: vrid, Priority: 100, Interval: 100, Addresses: addrs}
	b, err := a.Append(nil, src, sumDst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frame serializes layers into a frame.
func frame(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func eth4() *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: testMAC, DstMAC: groupMAC4, EthernetType: layers.EthernetTypeIPv4}
}

func ip4(src, dst netip.Addr, ttl uint8) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Protocol: vrrp.IPProtocol,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func ip6(src, dst netip.Addr, hops uint8) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: hops, NextHeader: vrrp.IPProtocol,
		SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
}

func TestDecodeFrame(t *testing.T) {
	v4addrs := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	v6addrs := []netip.Addr{netip.MustParseAddr("fe80::100"), netip.MustParseAddr("2001:db8::100")}
	sumGroup4 := advert(t, 10, v4addrs, src4, vrrp.Group4)
	sumGroup6 := advert(t, 10, v6addrs, src6, vrrp.Group6)
	bad := slices.Clone(sumGroup4)
	bad[2]++ // priority changed after the checksum
	fragment := ip4(src4, vrrp.Group4, 255)
	fragment.FragOffset = 1
	moreFragments := ip4(src4, vrrp.Group4, 255)
	moreFragments.Flags = layers.IPv4MoreFragments
	udp := ip4(src4, peer4, 64)
	udp.Protocol = layers.IPProtocolUDP
	full := frame(t, eth4(), ip4(src4, vrrp.Group4, 255), gopacket.Payload(sumGroup4)) // padded to 60 bytes

	for _, tc := range []struct {
		name     string
		lt       layers.LinkType
		frame    []byte
		want     string // the record's text, or the error it wraps
		wantErr  error
		skipped  bool
		checksum string
	}{
		{name: "v3 IPv4 multicast", lt: layers.LinkTypeEthernet, frame: full,
			want: "192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, ttl 255, vrid 10, prio 100, intvl 100cs, length 12, addrs: 192.0.2.100, checksum ok"},
		{name: "v3 IPv4 unicast, group pseudo-header, TTL 64", lt: layers.LinkTypeEthernet,
			frame: frame(t, eth4(), ip4(src4, peer4, 64), gopacket.Payload(sumGroup4)),
			want:  "192.0.2.1 > 192.0.2.2: VRRPv3, Advertisement, ttl 64, vrid 10, prio 100, intvl 100cs, length 12, addrs: 192.0.2.100, checksum group"},
		{name: "v3 IPv4 message-only checksum", lt: layers.LinkTypeEthernet,
			frame: frame(t, eth4(), ip4(src4, vrrp.Group4, 255), gopacket.Payload(advert(t, 10, v4addrs, netip.Addr{}, netip.Addr{}))),
			want:  "192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, ttl 255, vrid 10, prio 100, intvl 100cs, length 12, addrs: 192.0.2.100, checksum nopseudo"},
		{name: "bad checksum", lt: layers.LinkTypeEthernet,
			frame: frame(t, eth4(), ip4(src4, vrrp.Group4, 255), gopacket.Payload(bad)),
			want:  "192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, ttl 255, vrid 10, prio 101, intvl 100cs, length 12, addrs: 192.0.2.100, checksum bad"},
		{name: "802.1Q", lt: layers.LinkTypeEthernet,
			frame: frame(t, &layers.Ethernet{SrcMAC: testMAC, DstMAC: groupMAC4, EthernetType: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, ip4(src4, vrrp.Group4, 255), gopacket.Payload(sumGroup4)),
			want: "192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, ttl 255, vrid 10, prio 100, intvl 100cs, length 12, addrs: 192.0.2.100, checksum ok"},
		{name: "raw IPv6 unicast, group pseudo-header", lt: layers.LinkTypeRaw,
			frame: frame(t, ip6(src6, peer6, 255), gopacket.Payload(sumGroup6)),
			want:  "fe80::1 > fe80::2: VRRPv3, Advertisement, ttl 255, vrid 10, prio 100, intvl 100cs, length 40, addrs(2): fe80::100,2001:db8::100, checksum group"},
		{name: "Linux cooked IPv6", lt: layers.LinkTypeLinuxSLL,
			// Linux cooked header: multicast, ARPHRD_ETHER, the 6-byte MAC
			// padded to 8, EtherType IPv6.
			frame: append(append([]byte{0, 2, 0, 1, 0, 6}, append(slices.Clone(testMAC), 0, 0, 0x86, 0xdd)...),
				frame(t, ip6(src6, vrrp.Group6, 1), gopacket.Payload(sumGroup6))...),
			want: "fe80::1 > ff02::12: VRRPv3, Advertisement, ttl 1, vrid 10, prio 100, intvl 100cs, length 40, addrs(2): fe80::100,2001:db8::100, checksum ok"},
		{name: "v3 IPv4 padded Ethernet", lt: layers.LinkTypeEthernet, frame: append(slices.Clone(full), make([]byte, 14)...),
			want: "192.0.2.1 > 224.0.0.18: VRRPv3, Advertisement, ttl 255, vrid 10, prio 100, intvl 100cs, length 12, addrs: 192.0.2.100, checksum ok"},
		{name: "truncated capture", lt: layers.LinkTypeEthernet, frame: full[:14+20+10], want: "truncated capture, 10 of 12 payload bytes"},
		{name: "truncated IPv4 header", lt: layers.LinkTypeEthernet, frame: full[:14+12], want: "ip4 header"},
		{name: "truncated Ethernet", lt: layers.LinkTypeEthernet, frame: full[:10], want: "Ethernet"},
		{name: "fragment offset", lt: layers.LinkTypeEthernet,
			frame: frame(t, eth4(), fragment, gopacket.Payload(sumGroup4)), want: "fragment (offset 8"},
		{name: "more fragments", lt: layers.LinkTypeEthernet,
			frame: frame(t, eth4(), moreFragments, gopacket.Payload(sumGroup4)), want: "more fragments true"},
		{name: "VRRP in IPv6 over IPv4 family", lt: layers.LinkTypeRaw,
			frame: frame(t, ip6(src6, vrrp.Group6, 255), gopacket.Payload(sumGroup4)), wantErr: vrrp.ErrLength},
		{name: "UDP", lt: layers.LinkTypeEthernet, frame: frame(t, eth4(), udp, gopacket.Payload(sumGroup4)), skipped: true},
		{name: "ARP", lt: layers.LinkTypeEthernet, frame: frame(t, &layers.Ethernet{SrcMAC: testMAC, DstMAC: groupMAC4,
			EthernetType: layers.EthernetTypeARP}, gopacket.Payload(make([]byte, 28))), skipped: true},
		{name: "raw IP version 5", lt: layers.LinkTypeRaw, frame: []byte{0x50, 0, 0, 0}, want: "IP version 5"},
		{name: "unsupported link type", lt: layers.LinkTypeFDDI, frame: full, want: "unsupported link type 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d frameDecoder
			rec, err := d.decodeFrame(tc.frame, tc.lt)
			switch {
			case tc.skipped:
				if !errors.Is(err, errNotVRRP) {
					t.Errorf("got %v, %v; want it skipped as not VRRP", rec, err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("got %v, %v; want an error wrapping %v", rec, err, tc.wantErr)
				}
			case err != nil:
				if errors.Is(err, errNotVRRP) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want a record %q or an error with it", err, tc.want)
				}
			default:
				if got := string(rec.appendText(nil)); got != tc.want {
					t.Errorf("got  %s\nwant %s", got, tc.want)
				}
			}
		})
	}
}

// TestPcapng writes the frames of vrrp.pcap as pcapng and checks that both
// formats give the same records.
func TestPcapng(t *testing.T) {
	path := tcpdumpFile(t, "vrrp.pcap")
	var ng bytes.Buffer
	w, err := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range readFrames(t, path) {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, 0), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := dumpPcap(&ng, func(rec *record, err error) error {
		if err != nil {
			return err
		}
		got = append(got, string(rec.appendText(nil)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runDump(t, "-r", path)
	if want := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); code != 0 || !slices.Equal(got, want) {
		t.Errorf("pcapng gave %d lines, pcap %d (exit %d); they differ", len(got), len(want), code)
	}
}

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	notPcap := dir + "/not.pcap"
	if err := os.WriteFile(notPcap, []byte("this is not a capture file"), 0o644); err != nil {
		t.Fatal(err)
	}
	short := dir + "/short.pcap"
	if err := os.WriteFile(short, []byte{0xd4, 0xc3}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, 2, "give exactly one of -r FILE and -i IFACE"},
		{[]string{"-r", "a", "-i", "lo"}, 2, "give exactly one"},
		{[]string{"-r", "a", "-4"}, 2, "-4 and -6 go with -i"},
		{[]string{"-i", "lo", "-4", "-6"}, 2, "exclude each other"},
		{[]string{"-r", "a", "extra"}, 2, "unexpected arguments"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-r", dir + "/missing.pcap"}, 1, "no such file"},
		{[]string{"-r", notPcap}, 1, "pcap: "},
		{[]string{"-r", short}, 1, "capture header"},
		{[]string{"-i", "no-such-interface0"}, 1, `interface "no-such-interface0"`},
	} {
		code, stdout, stderr := runDump(t, tc.args...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("vrrpdump %q: exit %d, stdout %q, stderr %q; want exit %d and %q on stderr",
				tc.args, code, stdout, stderr, tc.code, tc.stderr)
		}
	}
	if code, _, _ := runDump(t, "-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

func TestListenError(t *testing.T) {
	eperm := &net.OpError{Op: "listen", Net: "ip4:112", Err: os.NewSyscallError("socket", syscall.EPERM)}
	err := listenError(vrrp.IPv4, eperm)
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "needs root") {
		t.Errorf("listenError(EPERM) = %v, want it to say root is needed and wrap EPERM", err)
	}
	other := listenError(vrrp.IPv6, syscall.EAFNOSUPPORT)
	if strings.Contains(other.Error(), "root") || !errors.Is(other, syscall.EAFNOSUPPORT) {
		t.Errorf("listenError(EAFNOSUPPORT) = %v", other)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestOutputError(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"-r", tcpdumpFile(t, "vrrp.pcap")}, failWriter{}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "disk full") {
		t.Errorf("exit %d, stderr %q; want 1 and the write error", code, errb.String())
	}
}

// TestLive captures on the loopback interface of a private network
// (internal/privnet), where the test is root, while it sends VRRP packets
// to its addresses through raw sockets.
func TestLive(t *testing.T) { privnet.Run(t, testLive) }

func testLive(t *testing.T, n privnet.Net) {
	lo, err := loopback()
	if err != nil {
		testenv.Skip(t, "no loopback interface: %v", err)
	}
	const vrid = 213
	recs := make(chan *record, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- capture(ctx, lo.Name, []vrrp.Family{vrrp.IPv4, vrrp.IPv6}, func(rec *record, err error) error {
			if err == nil && rec.VRID == vrid {
				recs <- rec
			}
			return nil
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("capture: %v", err)
		}
	}()

	local4, local6 := n.A, n.A6
	c4, err := net.ListenPacket("ip4:112", local4.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if err := ipv4.NewPacketConn(c4).SetTTL(255); err != nil {
		t.Fatal(err)
	}
	c6, err := net.ListenPacket("ip6:112", local6.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c6.Close()
	if err := ipv6.NewPacketConn(c6).SetHopLimit(255); err != nil {
		t.Fatal(err)
	}
	// Unicast to ourselves, the IPv4 checksum with the group in the
	// pseudo-header, the IPv6 one with the real destination.
	msg4 := advert(t, vrid, []netip.Addr{netip.MustParseAddr("198.18.0.100")}, local4, vrrp.Group4)
	msg6 := advert(t, vrid, []netip.Addr{netip.MustParseAddr("fe80::64")}, local6, local6)

	want := map[string]string{
		"198.18.0.1": "198.18.0.1 > 198.18.0.1: VRRPv3, Advertisement, ttl 255, vrid 213, prio 100, intvl 100cs, length 12, addrs: 198.18.0.100, checksum group",
		"fd00::1":    "fd00::1 > fd00::1: VRRPv3, Advertisement, ttl 255, vrid 213, prio 100, intvl 100cs, length 24, addrs: fe80::64, checksum ok",
	}
	got := map[string]string{}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(got) < len(want) {
		select {
		case rec := <-recs:
			got[rec.Src.String()] = string(rec.appendText(nil))
		case <-tick.C: // the capture may not be listening yet: send again
			if _, err := c4.WriteTo(msg4, &net.IPAddr{IP: local4.AsSlice()}); err != nil {
				t.Fatal(err)
			}
			if _, err := c6.WriteTo(msg6, &net.IPAddr{IP: local6.AsSlice()}); err != nil {
				t.Fatal(err)
			}
		case err := <-done:
			done <- err
			t.Fatalf("capture ended early: %v", err)
		case <-deadline:
			t.Fatalf("after 10 s got %v, want %v", got, want)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}

func loopback() (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return &ifi, nil
		}
	}
	return nil, errors.New("none is up")
}

// FuzzDecodeFrame feeds arbitrary Ethernet and raw IP frames to the frame
// decoder, which must return a record or an error and never panic.
func FuzzDecodeFrame(f *testing.F) {
	v4 := []netip.Addr{netip.MustParseAddr("192.0.2.100")}
	a := vrrp.Advertisement{Version: 3, VRID: 1, Interval: 100, Addresses: v4}
	msg, err := a.Append(nil, src4, vrrp.Group4)
	if err != nil {
		f.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth4(), ip4(src4, vrrp.Group4, 255), gopacket.Payload(msg)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes(), false)
	f.Add(buf.Bytes()[14:], true)
	f.Add([]byte{}, false)
	f.Add([]byte{0x60}, true)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		lt := layers.LinkTypeEthernet
		if raw {
			lt = layers.LinkTypeRaw
		}
		var d frameDecoder
		rec, err := d.decodeFrame(data, lt)
		if (rec == nil) == (err == nil) {
			t.Fatalf("decodeFrame(%x) = %v, %v: want a record or an error", data, rec, err)
		}
		if rec != nil && rec.Count != len(rec.Addresses) {
			t.Fatalf("count %d with %d addresses", rec.Count, len(rec.Addresses))
		}
	})
}
