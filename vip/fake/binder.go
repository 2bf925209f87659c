package fake

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Op is the kind of a Binder call.
type Op uint8

// Binder operations.
const (
	OpBind Op = iota + 1
	OpUnbind
	OpFilter
	OpUnfilter
)

// String returns "bind", "unbind", "filter" or "unfilter".
func (o Op) String() string {
	switch o {
	case OpBind:
		return "bind"
	case OpUnbind:
		return "unbind"
	case OpFilter:
		return "filter"
	case OpUnfilter:
		return "unfilter"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Call is one recorded call to Bind, Unbind, Filter or Unfilter.
type Call struct {
	// Op is the call.
	Op Op
	// Iface is the interface argument.
	Iface string
	// VIPs is a copy of the VIPs argument.
	VIPs []vrrp.VIP
	// Err is the error the call returned.
	Err error
}

// Binder is an in-memory vrrp.Binder and vrrp.FilterBinder. It records
// which VIPs are bound on which interface, the interface being a VIP's
// Device when set and the iface argument otherwise. A VIP is identified on
// its interface by its Prefix: binding a bound prefix again replaces its
// Label and Scope, and unbinding an unbound one does nothing, so both
// calls are idempotent. Filter and Unfilter record which addresses are
// filtered (on every interface, as vip.Netlink filters them).
//
// The zero value is ready to use. A Binder is safe for concurrent use and
// must not be copied after first use.
type Binder struct {
	mu       sync.Mutex
	bound    map[string]map[netip.Prefix]vrrp.VIP
	filtered map[netip.Addr]bool
	routes   map[vrrp.Route]bool
	rules    map[vrrp.Rule]bool
	calls    []Call
	err      error
}

var (
	_ vrrp.Binder       = (*Binder)(nil)
	_ vrrp.FilterBinder = (*Binder)(nil)
	_ vrrp.RouteBinder  = (*Binder)(nil)
)

// BindRoutes records routes and rules as held. It fails as Bind does.
func (b *Binder) BindRoutes(ctx context.Context, routes []vrrp.Route, rules []vrrp.Rule) error {
	return b.doRoutes(ctx, OpBind, routes, rules)
}

// UnbindRoutes forgets routes and rules. It fails as Unbind does.
func (b *Binder) UnbindRoutes(ctx context.Context, routes []vrrp.Route, rules []vrrp.Rule) error {
	return b.doRoutes(ctx, OpUnbind, routes, rules)
}

func (b *Binder) doRoutes(ctx context.Context, op Op, routes []vrrp.Route, rules []vrrp.Rule) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := ctx.Err()
	if err == nil {
		err = b.err
	}
	if err != nil {
		return fmt.Errorf("fake: %v routes: %w", op, err)
	}
	if b.routes == nil {
		b.routes, b.rules = map[vrrp.Route]bool{}, map[vrrp.Rule]bool{}
	}
	for _, r := range routes {
		if op == OpBind {
			b.routes[r] = true
		} else {
			delete(b.routes, r)
		}
	}
	for _, r := range rules {
		if op == OpBind {
			b.rules[r] = true
		} else {
			delete(b.rules, r)
		}
	}
	return nil
}

// HasRoute reports whether r is held.
func (b *Binder) HasRoute(r vrrp.Route) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.routes[r]
}

// HasRule reports whether r is held.
func (b *Binder) HasRule(r vrrp.Rule) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rules[r]
}

// Bind adds vips on iface (or each VIP's Device). It fails, changing
// nothing, with an error wrapping the error given to SetError, or ctx.Err()
// when ctx is done.
func (b *Binder) Bind(ctx context.Context, iface string, vips []vrrp.VIP) error {
	return b.do(ctx, OpBind, iface, vips)
}

// Unbind removes vips from iface (or each VIP's Device). It fails, changing
// nothing, with an error wrapping the error given to SetError, or ctx.Err()
// when ctx is done.
func (b *Binder) Unbind(ctx context.Context, iface string, vips []vrrp.VIP) error {
	return b.do(ctx, OpUnbind, iface, vips)
}

// Filter marks the addresses of vips filtered. It fails as Bind does.
func (b *Binder) Filter(ctx context.Context, iface string, vips []vrrp.VIP) error {
	return b.do(ctx, OpFilter, iface, vips)
}

// Unfilter marks the addresses of vips not filtered. It fails as Bind
// does.
func (b *Binder) Unfilter(ctx context.Context, iface string, vips []vrrp.VIP) error {
	return b.do(ctx, OpUnfilter, iface, vips)
}

// Filtered reports whether addr is filtered.
func (b *Binder) Filtered(addr netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.filtered[addr]
}

func (b *Binder) do(ctx context.Context, op Op, iface string, vips []vrrp.VIP) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := ctx.Err()
	if err == nil {
		err = b.err
	}
	if err != nil {
		err = fmt.Errorf("fake: %v on %s: %w", op, iface, err)
	} else {
		for _, v := range vips {
			dev := cmp.Or(v.Device, iface)
			switch op {
			case OpFilter:
				if b.filtered == nil {
					b.filtered = make(map[netip.Addr]bool)
				}
				b.filtered[v.Prefix.Addr()] = true
				continue
			case OpUnfilter:
				delete(b.filtered, v.Prefix.Addr())
				continue
			}
			if op == OpUnbind {
				delete(b.bound[dev], v.Prefix)
				if len(b.bound[dev]) == 0 {
					delete(b.bound, dev)
				}
				continue
			}
			if b.bound == nil {
				b.bound = make(map[string]map[netip.Prefix]vrrp.VIP)
			}
			if b.bound[dev] == nil {
				b.bound[dev] = make(map[netip.Prefix]vrrp.VIP)
			}
			b.bound[dev][v.Prefix] = v
		}
	}
	b.calls = append(b.calls, Call{Op: op, Iface: iface, VIPs: slices.Clone(vips), Err: err})
	return err
}

// SetError makes every later call fail with an error wrapping
// err, without changing the bound VIPs, until SetError(nil).
func (b *Binder) SetError(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

// Bound returns the VIPs bound on iface, sorted by address then prefix
// length.
func (b *Binder) Bound(iface string) []vrrp.VIP {
	b.mu.Lock()
	defer b.mu.Unlock()
	vips := make([]vrrp.VIP, 0, len(b.bound[iface]))
	for _, v := range b.bound[iface] {
		vips = append(vips, v)
	}
	slices.SortFunc(vips, func(x, y vrrp.VIP) int {
		if c := x.Prefix.Addr().Compare(y.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(x.Prefix.Bits(), y.Prefix.Bits())
	})
	return vips
}

// Interfaces returns the sorted names of the interfaces that have VIPs
// bound.
func (b *Binder) Interfaces() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.bound))
	for name := range b.bound {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Has reports whether prefix is bound on some interface.
func (b *Binder) Has(prefix netip.Prefix) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, vips := range b.bound {
		if _, ok := vips[prefix]; ok {
			return true
		}
	}
	return false
}

// HasAddr reports whether addr is bound, with any prefix length, on some
// interface.
func (b *Binder) HasAddr(addr netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, vips := range b.bound {
		for p := range vips {
			if p.Addr() == addr {
				return true
			}
		}
	}
	return false
}

// Calls returns the history of calls, oldest first.
func (b *Binder) Calls() []Call {
	b.mu.Lock()
	defer b.mu.Unlock()
	calls := slices.Clone(b.calls)
	for i := range calls {
		calls[i].VIPs = slices.Clone(calls[i].VIPs)
	}
	return calls
}
