//go:build linux

package vip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// ruleText renders the expressions of a filter rule in the words of
// "nft --debug=netlink", enough to compare them.
func ruleText(r *nftables.Rule) string {
	var parts []string
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Meta:
			parts = append(parts, map[expr.MetaKey]string{expr.MetaKeyNFPROTO: "nfproto", expr.MetaKeyL4PROTO: "l4proto"}[e.Key])
		case *expr.Cmp:
			parts = append(parts, fmt.Sprintf("== %v", e.Data))
		case *expr.Payload:
			base := map[expr.PayloadBase]string{expr.PayloadBaseNetworkHeader: "network", expr.PayloadBaseTransportHeader: "transport"}[e.Base]
			parts = append(parts, fmt.Sprintf("%s[%d:%d]", base, e.Offset, e.Offset+e.Len))
		case *expr.Range:
			parts = append(parts, fmt.Sprintf("in %v-%v", e.FromData, e.ToData))
		case *expr.Lookup:
			parts = append(parts, "in @"+e.SetName)
		case *expr.Verdict:
			parts = append(parts, map[expr.VerdictKind]string{expr.VerdictAccept: "accept", expr.VerdictDrop: "drop"}[e.Kind])
		default:
			parts = append(parts, fmt.Sprintf("%T", e))
		}
	}
	return strings.Join(parts, " ")
}

func TestFilterRules(t *testing.T) {
	tb := filterTable("vrrpkit")
	if tb.Family != nftables.TableFamilyINet || tb.Name != "vrrpkit" {
		t.Errorf("table %+v; want inet vrrpkit", tb)
	}
	v4, v6 := filterSets(tb)
	if v4.KeyType != nftables.TypeIPAddr || v6.KeyType != nftables.TypeIP6Addr {
		t.Errorf("set key types %v, %v", v4.KeyType.Name, v6.KeyType.Name)
	}
	in, out := filterChains(tb)
	for _, c := range []*nftables.Chain{in, out} {
		if c.Type != nftables.ChainTypeFilter || *c.Priority != -1 || *c.Policy != nftables.ChainPolicyAccept {
			t.Errorf("chain %s: type %v priority %d policy %v; want filter, -1 (keepalived's filter - 1), accept", c.Name, c.Type, *c.Priority, *c.Policy)
		}
	}
	if *in.Hooknum != *nftables.ChainHookInput || *out.Hooknum != *nftables.ChainHookOutput {
		t.Errorf("hooks %d, %d; want input, output", *in.Hooknum, *out.Hooknum)
	}
	nd := "nfproto == [10] l4proto == [58] transport[0:1] in [135]-[136] accept"
	for _, tc := range []struct {
		c     *nftables.Chain
		input bool
		want  []string
	}{
		{in, true, []string{nd,
			"nfproto == [2] network[16:20] in @vips4 drop",    // ip daddr
			"nfproto == [10] network[24:40] in @vips6 drop"}}, // ip6 daddr
		{out, false, []string{nd,
			"nfproto == [2] network[12:16] in @vips4 drop",   // ip saddr
			"nfproto == [10] network[8:24] in @vips6 drop"}}, // ip6 saddr
	} {
		rules := filterRules(tc.c, tc.input, v4, v6)
		var got []string
		for _, r := range rules {
			got = append(got, ruleText(r))
			if r.Chain != tc.c || r.Table != tb {
				t.Errorf("rule %q is not in chain %s", ruleText(r), tc.c.Name)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("chain %s rules:\n%s\nwant:\n%s", tc.c.Name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestFilterElements(t *testing.T) {
	e4, e6 := filterElements([]vrrpio.VIP{
		vip4("198.18.0.100/24"), vip4("198.18.0.100/32"), vip4("::ffff:198.18.0.101/120"),
		vip4("fe80::100/64"), vip4("fd00::100/64"), {},
	})
	var got []string
	for _, e := range append(e4, e6...) {
		a, _ := netip.AddrFromSlice(e.Key)
		got = append(got, a.String())
	}
	if want := "198.18.0.100 198.18.0.101 fe80::100 fd00::100"; strings.Join(got, " ") != want {
		t.Errorf("elements %v; want %s (each address once, IPv4 in 4 bytes)", got, want)
	}
	if len(e4) != 2 || len(e4[0].Key) != 4 || len(e6[0].Key) != 16 {
		t.Errorf("element keys %d IPv4 (%d bytes), %d IPv6", len(e4), len(e4[0].Key), len(e6))
	}
}

// testFilter checks Filter and Unfilter in host h1, seen from h2: a TCP
// connection to a filtered VIP is dropped, one to h1's own address is
// not; the table holds one rule of each kind however often Filter is
// called; a Netlink replaces the table a killed process left; Close
// deletes it.
func testFilter(t *testing.T, h1, h2 *netns.Host) {
	const table = "vrrpkit-test"
	n, err := New(Options{Namespace: h1.Path(), FilterTable: table, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer n.Close()
	ctx := context.Background()
	vips := []vrrpio.VIP{vip4("198.18.0.150/24"), vip4("fd00::150/64")}
	if err := n.Bind(ctx, "eth0", vips); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	defer n.Unbind(ctx, "eth0", vips)
	h1.ListenTCP(t, ":7150")
	dial := func(addr string) error {
		return h2.DialTCP(netip.MustParseAddrPort(addr), 700*time.Millisecond)
	}
	reachable := func(want bool) {
		t.Helper()
		for _, a := range []string{"198.18.0.150:7150", "[fd00::150]:7150"} {
			err := dial(a)
			// A first connection may wait for neighbour discovery.
			for deadline := time.Now().Add(3 * time.Second); want && err != nil && time.Now().Before(deadline); {
				err = dial(a)
			}
			if want && err != nil {
				t.Errorf("connecting to %s: %v; want a connection", a, err)
			}
			var ne net.Error
			if !want && (err == nil || !errors.As(err, &ne) || !ne.Timeout()) {
				t.Errorf("connecting to %s: %v; want a timeout (dropped)", a, err)
			}
		}
		if err := dial("198.18.0.1:7150"); err != nil {
			t.Errorf("connecting to h1's own address: %v", err)
		}
	}
	state := func(want string) {
		t.Helper()
		if got := h1.NftablesString(); got != want {
			t.Errorf("nftables:\n%s\nwant:\n%s", got, want)
		}
	}
	filtered := "inet vrrpkit-test: chain in (3 rules) chain out (3 rules) set vips4 {198.18.0.150} set vips6 {fd00::150}"
	empty := "inet vrrpkit-test: chain in (3 rules) chain out (3 rules) set vips4 {} set vips6 {}"

	reachable(true)
	state("")
	for range 2 {
		if err := n.Filter(ctx, "eth0", vips); err != nil {
			t.Fatalf("Filter: %v", err)
		}
		state(filtered)
	}
	reachable(false)
	for range 2 {
		if err := n.Unfilter(ctx, "eth0", vips); err != nil {
			t.Fatalf("Unfilter: %v", err)
		}
		state(empty)
	}
	reachable(true)

	// A table deleted behind its back is made again.
	if err := n.Filter(ctx, "eth0", vips); err != nil {
		t.Fatalf("Filter: %v", err)
	}
	n.nft.DelTable(filterTable(table))
	if err := n.nft.Flush(); err != nil {
		t.Fatalf("deleting the table: %v", err)
	}
	if err := n.Filter(ctx, "eth0", vips[:1]); err != nil {
		t.Fatalf("Filter after the table went: %v", err)
	}
	state("inet vrrpkit-test: chain in (3 rules) chain out (3 rules) set vips4 {198.18.0.150} set vips6 {}")

	// A killed process's table: the next Netlink's first call replaces it.
	n.nft.CloseLasting()
	n.nft, n.filterBuilt = nil, false
	n2, err := New(Options{Namespace: h1.Path(), FilterTable: table, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := n2.Unfilter(ctx, "eth0", vips[1:]); err != nil {
		t.Fatalf("Unfilter: %v", err)
	}
	state(empty)
	if err := n2.Filter(ctx, "eth0", vips); err != nil {
		t.Fatalf("Filter: %v", err)
	}
	state(filtered)
	if err := n2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	state("")
	reachable(true)
	if err := n2.Filter(ctx, "eth0", vips); err == nil {
		t.Error("Filter after Close succeeded")
	}

	// A killed process's table, and a restart that no longer filters:
	// its Close removes the table all the same.
	n3, err := New(Options{Namespace: h1.Path(), FilterTable: table, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = n3.Close() })
	if err := n3.Filter(ctx, "eth0", vips); err != nil {
		t.Fatalf("Filter: %v", err)
	}
	n3.nft.CloseLasting()
	n3.nft, n3.filterBuilt = nil, false
	n4, err := New(Options{Namespace: h1.Path(), FilterTable: table, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	state(filtered)
	if err := n4.Close(); err != nil {
		t.Fatalf("Close of a Netlink that never filtered: %v", err)
	}
	state("")
}
