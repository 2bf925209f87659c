//go:build linux

package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// DefaultFilterTable is the nftables table Filter works in unless
// Options.FilterTable names another.
const DefaultFilterTable = "vrrpkit"

// FilterPriority is the priority of the filter's input and output chains:
// just before the usual filter chains (priority 0), as keepalived's
// (filter - 1), so that an accept there does not let the traffic of a
// no_accept Master through.
const FilterPriority = -1

// The names of the filter's sets and chains.
const (
	filterSet4   = "vips4"
	filterSet6   = "vips6"
	filterChainI = "in"
	filterChainO = "out"
)

// filterTable is the table of the filter: family inet, both IP versions.
func filterTable(name string) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
}

// filterSets returns the sets of VIP addresses in t: IPv4 and IPv6.
func filterSets(t *nftables.Table) (v4, v6 *nftables.Set) {
	return &nftables.Set{Table: t, Name: filterSet4, KeyType: nftables.TypeIPAddr},
		&nftables.Set{Table: t, Name: filterSet6, KeyType: nftables.TypeIP6Addr}
}

// filterChains returns the input and output chains of t, base chains at
// FilterPriority whose policy is accept.
func filterChains(t *nftables.Table) (in, out *nftables.Chain) {
	accept := nftables.ChainPolicyAccept
	prio := nftables.ChainPriority(FilterPriority)
	in = &nftables.Chain{Table: t, Name: filterChainI, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: &accept}
	out = &nftables.Chain{Table: t, Name: filterChainO, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: &prio, Policy: &accept}
	return in, out
}

// Offsets of the addresses in the IPv4 and IPv6 headers.
const (
	ip4Src, ip4Dst = 12, 16
	ip6Src, ip6Dst = 8, 24
)

// ICMPv6 types let through: neighbour solicitation and advertisement,
// without which a Master cannot answer for an IPv6 VIP (keepalived lets
// the same through).
const (
	icmp6NS = 135
	icmp6NA = 136
)

// filterRules returns the rules of chain c (the input chain when input,
// else the output chain): neighbour discovery is accepted; packets whose
// destination (input) or source (output) is in set v4 or v6 are dropped:
//
//	meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type 135-136 accept
//	meta nfproto ipv4 ip daddr @vips4 drop    (ip saddr for output)
//	meta nfproto ipv6 ip6 daddr @vips6 drop   (ip6 saddr for output)
func filterRules(c *nftables.Chain, input bool, v4, v6 *nftables.Set) []*nftables.Rule {
	off4, off6 := uint32(ip4Src), uint32(ip6Src)
	if input {
		off4, off6 = ip4Dst, ip6Dst
	}
	nfproto := func(p byte) []expr.Any {
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		}
	}
	lookup := func(off, n uint32, s *nftables.Set) []expr.Any {
		return []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}
	}
	nd := slices.Concat(nfproto(unix.NFPROTO_IPV6), []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{icmp6NS}, ToData: []byte{icmp6NA}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	})
	return []*nftables.Rule{
		{Table: c.Table, Chain: c, Exprs: nd},
		{Table: c.Table, Chain: c, Exprs: slices.Concat(nfproto(unix.NFPROTO_IPV4), lookup(off4, 4, v4))},
		{Table: c.Table, Chain: c, Exprs: slices.Concat(nfproto(unix.NFPROTO_IPV6), lookup(off6, 16, v6))},
	}
}

// filterElements returns the set elements of vips: the IPv4 and the IPv6
// addresses, each once.
func filterElements(vips []vrrpio.VIP) (v4, v6 []nftables.SetElement) {
	seen := make(map[netip.Addr]bool, len(vips))
	for _, v := range vips {
		a := v.Prefix.Addr().Unmap()
		if !a.IsValid() || seen[a] {
			continue
		}
		seen[a] = true
		if a.Is4() {
			b := a.As4()
			v4 = append(v4, nftables.SetElement{Key: b[:]})
		} else {
			b := a.As16()
			v6 = append(v6, nftables.SetElement{Key: b[:]})
		}
	}
	return v4, v6
}

// buildFilter queues, on c, the creation of the filter in table name
// afresh: a table of that name, and what is in it, is replaced in the
// same transaction, so that what a killed process left goes.
func buildFilter(c *nftables.Conn, name string) {
	t := filterTable(name)
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	v4, v6 := filterSets(t)
	// AddSet fails only on a set without a name or a key type.
	_ = c.AddSet(v4, nil)
	_ = c.AddSet(v6, nil)
	in, out := filterChains(t)
	c.AddChain(in)
	c.AddChain(out)
	for _, r := range slices.Concat(filterRules(in, true, v4, v6), filterRules(out, false, v4, v6)) {
		c.AddRule(r)
	}
}

// errNoFilter is returned by Filter and Unfilter when nftables could not
// be reached when the Netlink was made.
var errNoFilter = errors.New("vip: no nftables connection")

// Filter drops the packets this host receives addressed to the addresses
// of vips, and those it sends from them, with nftables rules in the
// table Options.FilterTable (family inet; DefaultFilterTable by default),
// but for IPv6 neighbour solicitations and advertisements. This is
// RFC 5798's Accept_Mode False, as keepalived's no_accept does it. It is
// idempotent; iface is not used (the addresses are filtered on every
// interface, as keepalived filters IPv4 ones).
//
// The table belongs to this Netlink: the first Filter or Unfilter call
// replaces a table of that name (so that what a killed process left goes),
// later calls add and remove set elements, and Close deletes it.
func (n *Netlink) Filter(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return n.filter(ctx, vips, true)
}

// Unfilter removes the addresses of vips from the filter; one that is not
// filtered is no error. See Filter.
func (n *Netlink) Unfilter(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return n.filter(ctx, vips, false)
}

func (n *Netlink) filter(ctx context.Context, vips []vrrpio.VIP, add bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return errClosed
	case n.nft == nil:
		return fmt.Errorf("%w: %w", errNoFilter, n.nftErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vip: filter: %w", err)
	}
	op := "filter"
	if !add {
		op = "unfilter"
	}
	err := n.filterOnce(vips, add)
	if err != nil && n.filterBuilt && errors.Is(err, unix.ENOENT) {
		// The table went (nft flush ruleset): build it again.
		n.filterBuilt = false
		err = n.filterOnce(vips, add)
	}
	if err != nil {
		return fmt.Errorf("vip: %s in nftables table inet %s: %w", op, n.filterTable, err)
	}
	n.log.Debug(op, "table", n.filterTable, "vips", len(vips))
	return nil
}

// filterOnce builds the filter if this Netlink has not yet, and adds or
// removes the elements of vips.
func (n *Netlink) filterOnce(vips []vrrpio.VIP, add bool) error {
	c := n.nft
	if !n.filterBuilt {
		buildFilter(c, n.filterTable)
		if err := c.Flush(); err != nil {
			return err
		}
		n.filterBuilt = true
	}
	s4, s6 := filterSets(filterTable(n.filterTable))
	e4, e6 := filterElements(vips)
	for _, x := range []struct {
		s  *nftables.Set
		es []nftables.SetElement
	}{{s4, e4}, {s6, e6}} {
		if len(x.es) == 0 {
			continue
		}
		if add {
			if err := c.SetAddElements(x.s, x.es); err != nil {
				return err
			}
			continue
		}
		// Deleting an element that is not there fails the whole
		// transaction: delete only those that are.
		have, err := c.GetSetElements(x.s)
		if err != nil {
			return err
		}
		present := slices.DeleteFunc(slices.Clone(x.es), func(e nftables.SetElement) bool {
			return !slices.ContainsFunc(have, func(h nftables.SetElement) bool { return string(h.Key) == string(e.Key) })
		})
		if len(present) > 0 {
			if err := c.SetDeleteElements(x.s, present); err != nil {
				return err
			}
		}
	}
	return c.Flush()
}

// closeFilter deletes the filter table, whether this Netlink built it or
// a killed process left it (a restart whose instances no longer filter
// would keep its drops until then), and closes the nftables connection.
func (n *Netlink) closeFilter() error {
	if n.nft == nil {
		return nil
	}
	// Added then deleted in one transaction: gone, whether it was there
	// or not.
	t := filterTable(n.filterTable)
	n.nft.AddTable(t)
	n.nft.DelTable(t)
	err := n.nft.Flush()
	if err != nil && n.filterBuilt {
		err = fmt.Errorf("vip: delete nftables table inet %s: %w", n.filterTable, err)
	} else {
		err = nil // nothing of ours to delete (or no nftables here)
	}
	return errors.Join(err, n.nft.CloseLasting())
}
