package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

var _ vrrpio.RouteBinder = (*Netlink)(nil)

// protoKeepalived is the protocol routes and rules get unless they name
// one: 18, "keepalived" in iproute2's rt_protos, as keepalived marks its
// own.
const protoKeepalived = 18

// routeTypes maps vrrpio.Route.Type to the kernel's route types.
var routeTypes = map[string]int{
	"": unix.RTN_UNICAST, "unicast": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "throw": unix.RTN_THROW,
}

// BindRoutes adds routes (replacing one with the same destination, table,
// metric and type), then rules (an identical rule already there is kept).
// Every route and rule is tried; the failures are joined.
func (n *Netlink) BindRoutes(ctx context.Context, routes []vrrpio.Route, rules []vrrpio.Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	var errs []error
	for _, r := range routes {
		nr, err := n.makeRoute(r)
		if err == nil {
			err = n.h.RouteReplace(nr)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: add route %s: %w", routeString(r), err))
			continue
		}
		n.log.Debug("added route", "route", routeString(r))
	}
	for _, r := range rules {
		var err error
		if r.L3MDev {
			err = n.l3mdevRule(r, true)
		} else {
			err = n.h.RuleAdd(makeRule(r))
		}
		if errors.Is(err, unix.EEXIST) {
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vip: add rule %s: %w", ruleString(r), err))
			continue
		}
		n.log.Debug("added rule", "rule", ruleString(r))
	}
	return errors.Join(errs...)
}

// UnbindRoutes removes rules, then routes. One that is not there, or whose
// device is gone, is not an error.
func (n *Netlink) UnbindRoutes(ctx context.Context, routes []vrrpio.Route, rules []vrrpio.Rule) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	var errs []error
	for _, r := range rules {
		var err error
		if r.L3MDev {
			err = n.l3mdevRule(r, false)
		} else {
			err = n.h.RuleDel(makeRule(r))
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("vip: remove rule %s: %w", ruleString(r), err))
		}
	}
	for _, r := range routes {
		nr, err := n.makeRoute(r)
		if errors.Is(err, ErrNoDevice) {
			continue // the route went with its device
		}
		if err == nil {
			err = n.h.RouteDel(nr)
		}
		if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("vip: remove route %s: %w", routeString(r), err))
		}
	}
	return errors.Join(errs...)
}

// makeRoute returns the netlink form of r.
func (n *Netlink) makeRoute(r vrrpio.Route) (*netlink.Route, error) {
	typ, ok := routeTypes[r.Type]
	if !ok || !r.Dst.IsValid() {
		return nil, fmt.Errorf("%w: route type %q, destination %v", ErrInvalidVIP, r.Type, r.Dst)
	}
	dst := r.Dst.Masked()
	nr := &netlink.Route{
		Dst:      &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Table:    r.Table,
		Priority: r.Metric,
		Protocol: netlink.RouteProtocol(cmpInt(r.Protocol, protoKeepalived)),
		Type:     typ,
		Family:   family(dst.Addr()),
	}
	if r.Scope != "" {
		scope, err := parseScope(r.Scope)
		if err != nil {
			return nil, err
		}
		nr.Scope = netlink.Scope(scope)
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.OnLink {
		nr.Flags |= int(netlink.FLAG_ONLINK)
	}
	if r.Dev != "" {
		link, err := n.linkByName(r.Dev)
		if err != nil {
			return nil, err
		}
		nr.LinkIndex = link.Attrs().Index
	}
	return nr, nil
}

// l3mdevRule adds or removes an l3mdev rule, which the netlink library
// cannot express (it has no FRA_L3MDEV): the request is built here, with
// the library's message helpers, and sent from a thread in the Netlink's
// namespace.
func (n *Netlink) l3mdevRule(r vrrpio.Rule, add bool) error {
	typ, flags := unix.RTM_DELRULE, unix.NLM_F_ACK
	if add {
		typ, flags = unix.RTM_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK
	}
	req := nl.NewNetlinkRequest(typ, flags)
	msg := nl.NewRtMsg()
	msg.Family = unix.AF_INET
	if r.IPv6 {
		msg.Family = unix.AF_INET6
	}
	msg.Protocol, msg.Scope, msg.Table = unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RT_TABLE_UNSPEC
	if add {
		msg.Type = unix.RTN_UNICAST
	}
	req.AddData(msg)
	u32 := func(v uint32) []byte {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, v)
		return b
	}
	if r.Priority > 0 {
		req.AddData(nl.NewRtAttr(nl.FRA_PRIORITY, u32(uint32(r.Priority))))
	}
	req.AddData(nl.NewRtAttr(nl.FRA_L3MDEV, []byte{1}))
	req.AddData(nl.NewRtAttr(nl.FRA_PROTOCOL, []byte{uint8(cmpInt(r.Protocol, protoKeepalived))}))
	if r.FWMark != 0 || r.FWMask != 0 {
		req.AddData(nl.NewRtAttr(nl.FRA_FWMARK, u32(r.FWMark)))
		if r.FWMask != 0 {
			req.AddData(nl.NewRtAttr(nl.FRA_FWMASK, u32(r.FWMask)))
		}
	}
	if r.IIf != "" {
		req.AddData(nl.NewRtAttr(nl.FRA_IIFNAME, nl.ZeroTerminated(r.IIf)))
	}
	if r.OIf != "" {
		req.AddData(nl.NewRtAttr(nl.FRA_OIFNAME, nl.ZeroTerminated(r.OIf)))
	}
	return nsthread.Do(n.ns, func() error {
		_, err := req.Execute(unix.NETLINK_ROUTE, 0)
		return err
	})
}

// makeRule returns the netlink form of r (not an l3mdev rule).
func makeRule(r vrrpio.Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = unix.AF_INET
	if r.IPv6 || (r.From.IsValid() && r.From.Addr().Is6()) || (r.To.IsValid() && r.To.Addr().Is6()) {
		nr.Family = unix.AF_INET6
	}
	if r.From.IsValid() {
		p := r.From.Masked()
		nr.Src = &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	}
	if r.To.IsValid() {
		p := r.To.Masked()
		nr.Dst = &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
	}
	nr.Table = r.Table
	if r.Priority > 0 {
		nr.Priority = r.Priority
	}
	nr.IifName, nr.OifName = r.IIf, r.OIf
	if r.FWMark != 0 || r.FWMask != 0 {
		nr.Mark = r.FWMark
		if r.FWMask != 0 {
			mask := r.FWMask
			nr.Mask = &mask
		}
	}
	nr.Protocol = uint8(cmpInt(r.Protocol, protoKeepalived))
	return nr
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// routeString describes r for errors and logs, after ip(8).
func routeString(r vrrpio.Route) string {
	s := r.Dst.String()
	if r.Type != "" && r.Type != "unicast" {
		s = r.Type + " " + s
	}
	if r.Via.IsValid() {
		s += " via " + r.Via.String()
	}
	if r.Dev != "" {
		s += " dev " + r.Dev
	}
	if r.Src.IsValid() {
		s += " src " + r.Src.String()
	}
	if r.Table != 0 {
		s += fmt.Sprintf(" table %d", r.Table)
	}
	if r.Metric != 0 {
		s += fmt.Sprintf(" metric %d", r.Metric)
	}
	return s
}

// ruleString describes r for errors and logs, after ip(8).
func ruleString(r vrrpio.Rule) string {
	s := "from all"
	if r.From.IsValid() {
		s = "from " + r.From.String()
	}
	if r.To.IsValid() {
		s += " to " + r.To.String()
	}
	if r.FWMark != 0 {
		s += fmt.Sprintf(" fwmark %#x", r.FWMark)
	}
	if r.IIf != "" {
		s += " iif " + r.IIf
	}
	if r.OIf != "" {
		s += " oif " + r.OIf
	}
	if r.L3MDev {
		s += " lookup [l3mdev-table]"
	} else {
		s += fmt.Sprintf(" lookup %d", r.Table)
	}
	if r.Priority != 0 {
		s = fmt.Sprintf("%d: %s", r.Priority, s)
	}
	return s
}
