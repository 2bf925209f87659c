//go:build linux

package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	vnetns "github.com/vishvananda/netns"
)

// ListenTCP listens on TCP addr in host h's namespace and accepts and
// closes every connection, until the test ends; addr must be one of the
// lab's (198.18.0.0/15 or fd00::/8; an unspecified address with a port
// listens on every address of the host). It fails the test when it cannot
// listen.
func (h *Host) ListenTCP(t testing.TB, addr string) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("netns: listening on %s in host %d: %v", addr, h.Index, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
}

// DialTCP reports whether a TCP connection from host h to addr is
// established within timeout: nil, or the error (a timeout when the SYN
// or its answer is dropped, refused when nothing listens).
func (h *Host) DialTCP(addr netip.AddrPort, timeout time.Duration) error {
	if !InLab(addr.Addr()) {
		return fmt.Errorf("netns: %v is not a lab address", addr)
	}
	return h.Do(func() error {
		c, err := net.DialTimeout("tcp", addr.String(), timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// InLab reports whether a is an address the lab may use: 198.18.0.0/15,
// fd00::/8 or link-local.
func InLab(a netip.Addr) bool {
	a = a.Unmap()
	return netip.MustParsePrefix("198.18.0.0/15").Contains(a) || netip.MustParsePrefix("fd00::/8").Contains(a) ||
		a.IsLinkLocalUnicast()
}

// NftTable is what Nftables reports of one nftables table.
type NftTable struct {
	// Family is "ip", "ip6", "inet", ...; Name the table's name.
	Family, Name string
	// Chains maps each chain to the number of its rules.
	Chains map[string]int
	// Sets maps each set to its elements: addresses for address sets,
	// hex keys otherwise, sorted.
	Sets map[string][]string
}

// String describes t on one line, chains and sets sorted.
func (t NftTable) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", t.Family, t.Name)
	for _, c := range sortedKeys(t.Chains) {
		fmt.Fprintf(&b, " chain %s (%d rules)", c, t.Chains[c])
	}
	for _, s := range sortedKeys(t.Sets) {
		fmt.Fprintf(&b, " set %s {%s}", s, strings.Join(t.Sets[s], ", "))
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Nftables returns the nftables tables of host h's namespace, sorted by
// family and name, with their chains' rule counts and their sets'
// elements: what "nft list ruleset" would show in outline, read through
// netlink (no nft command needed).
func (h *Host) Nftables() ([]NftTable, error) {
	ns, err := vnetns.GetFromPath(h.Path())
	if err != nil {
		return nil, fmt.Errorf("netns: opening %s: %w", h.Path(), err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)), nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("netns: nftables in host %d: %w", h.Index, err)
	}
	defer c.CloseLasting()
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("netns: nftables tables in host %d: %w", h.Index, err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("netns: nftables chains in host %d: %w", h.Index, err)
	}
	var out []NftTable
	var errs []error
	for _, t := range tables {
		nt := NftTable{Family: familyName(t.Family), Name: t.Name, Chains: map[string]int{}, Sets: map[string][]string{}}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := c.GetRules(t, ch)
			errs = append(errs, err)
			nt.Chains[ch.Name] = len(rules)
		}
		sets, err := c.GetSets(t)
		errs = append(errs, err)
		for _, s := range sets {
			if s.Anonymous {
				continue
			}
			elems, err := c.GetSetElements(s)
			errs = append(errs, err)
			var keys []string
			for _, e := range elems {
				keys = append(keys, elementString(s, e))
			}
			slices.Sort(keys)
			nt.Sets[s.Name] = keys
		}
		out = append(out, nt)
	}
	slices.SortFunc(out, func(a, b NftTable) int {
		return strings.Compare(a.Family+" "+a.Name, b.Family+" "+b.Name)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("netns: nftables in host %d: %w", h.Index, err)
	}
	return out, nil
}

// NftablesString is Nftables as text, one table a line; an error is the
// text.
func (h *Host) NftablesString() string {
	tables, err := h.Nftables()
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, t := range tables {
		lines = append(lines, t.String())
	}
	return strings.Join(lines, "\n")
}

func elementString(s *nftables.Set, e nftables.SetElement) string {
	if (s.KeyType.Name == nftables.TypeIPAddr.Name || s.KeyType.Name == nftables.TypeIP6Addr.Name) && !s.Concatenation {
		if a, ok := netip.AddrFromSlice(e.Key); ok {
			return a.String()
		}
	}
	return fmt.Sprintf("%x", e.Key)
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family(%d)", f)
}
