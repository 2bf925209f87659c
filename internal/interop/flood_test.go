package interop_test

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// TestFlood aims 100,000 bad adverts at a running Master: bad checksums,
// unknown VRIDs, TTL 64, truncated messages, wrong passwords and spoofed
// lower priorities. Its state must not change, every drop must be counted
// under its reason, and the log must stay short.
func TestFlood(t *testing.T) {
	m := modes[1] // v3 IPv4
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	target := newSpeaker(t, ours, m, h1, h2)
	v3 := target.ourConfig(opts{prio: 150})
	v2 := vrrp.InstanceConfig{
		Name: "VI_2", Interface: h1.Iface, VRID: 52, Version: 2, Priority: 150, AdvertInterval: time.Second,
		AuthPass: "secret", VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.101/24")}},
	}
	v3.Instances = append(v3.Instances, v2)
	target.startWith(v3)
	h1.WaitAddr(t, netip.MustParseAddr("198.18.0.101"), 10*time.Second)
	h1.WaitAddr(t, m.vip().Addr(), 10*time.Second)
	before := target.dump()

	// A raw socket that writes its own IPv4 headers, in host 2.
	var conn net.PacketConn
	if err := h2.Do(func() error {
		var err error
		conn, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := ipv4.NewRawConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	spoofed := netip.MustParseAddr("198.18.0.77")
	dst := h1.Addr4.Addr()
	advert := func(version, vrid, prio uint8, pass string, vips ...netip.Addr) []byte {
		a := vrrp.Advertisement{Version: version, VRID: vrid, Priority: prio, Interval: 10, Addresses: vips}
		if version == 2 {
			a.Interval, a.AuthType, a.AuthData = 1, vrrp.AuthPass, vrrp.PasswordData(pass)
		}
		b, err := a.Append(nil, spoofed, dst)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	vip := m.vip().Addr()
	badSum := advert(3, vrid, 200, "", vip)
	badSum[6] ^= 0x55
	kinds := []struct {
		name string
		msg  []byte
		ttl  int
	}{
		{"checksum", badSum, 255},
		{"unknown-vrid", advert(3, 99, 200, "", vip), 255},
		{"ttl", advert(3, vrid, 200, "", vip), 64},
		{"truncated", advert(3, vrid, 200, "", vip)[:6], 255},
		{"auth", advert(2, 52, 200, "wrong", netip.MustParseAddr("198.18.0.101")), 255},
		{"lower-priority", advert(3, vrid, 50, "", vip), 255},
	}
	const total = 100000
	sent := make([]uint64, len(kinds))
	start := time.Now()
	for i := 0; i < total; i++ {
		k := i % len(kinds)
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(kinds[k].msg),
			TTL: kinds[k].ttl, Protocol: vrrp.IPProtocol, Src: spoofed.AsSlice(), Dst: dst.AsSlice()}
		if err := raw.WriteTo(h, kinds[k].msg, nil); err != nil {
			t.Fatalf("sending bad advert %d: %v", i, err)
		}
		sent[k]++
		if i%500 == 499 {
			time.Sleep(10 * time.Millisecond) // at most 50,000 a second: count, don't lose
		}
	}
	t.Logf("sent %d bad adverts in %v", total, time.Since(start).Round(time.Millisecond))

	want := map[string]uint64{}
	for k, kd := range kinds {
		want[kd.name] = sent[k]
	}
	var after struct {
		Instances []vrrp.Status
		Router    vrrp.RouterStats
	}
	got := func() map[string]uint64 {
		after = target.dump()
		g := map[string]uint64{"unknown-vrid": after.Router.Drops[vrrp.DropUnknownVRID]}
		for _, s := range after.Instances {
			for _, d := range []vrrp.DropReason{vrrp.DropChecksum, vrrp.DropTTL, vrrp.DropTruncated, vrrp.DropAuth, vrrp.DropLowerPriority} {
				g[d.String()] += s.Stats.Drops[d]
			}
		}
		return g
	}
	deadline := time.Now().Add(10 * time.Second)
	g := got()
	for time.Now().Before(deadline) {
		done := true
		for k, n := range want {
			done = done && g[k] >= n
		}
		if done {
			break
		}
		time.Sleep(200 * time.Millisecond)
		g = got()
	}
	for k, n := range want {
		if g[k] != n {
			t.Errorf("%s drops: %d, want %d", k, g[k], n)
		}
	}
	for i, s := range after.Instances {
		b := before.Instances[i]
		if s.State != vrrp.Master || s.Stats.Transitions != b.Stats.Transitions {
			t.Errorf("%s: %v after the flood, transitions %d -> %d", s.Name, s.State, b.Stats.Transitions, s.Stats.Transitions)
		}
	}
	if !has(t, h1, vip) {
		t.Error("the Master lost its VIP")
	}
	log, err := os.ReadFile(target.logf)
	if err != nil {
		t.Fatal(err)
	}
	// At most one line per reason and instance every 10 s.
	lines := strings.Count(string(log), "dropped an advert")
	if limit := 2 * len(kinds) * (int(time.Since(start)/(10*time.Second)) + 1); lines > limit {
		t.Errorf("%d log lines about drops, want at most %d", lines, limit)
	}
	t.Logf("%d log lines about %d drops", lines, total)
}
