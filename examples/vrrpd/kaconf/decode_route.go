package kaconf

import (
	"net/netip"
	"strconv"
	"strings"
)

// The routes and rules of static_routes, static_rules, virtual_routes and
// virtual_rules, with ip(8)'s syntax as keepalived 2.2.7 reads it.

// routeTypeWords are the route types keepalived reads before the
// destination.
var routeTypeWords = map[string]bool{"blackhole": true, "unreachable": true, "prohibit": true, "throw": true}

// routeRefused are the route options keepalived knows that vrrpkit does
// not set, with the reason.
var routeRefused = map[string]string{
	"or":          "multipath routes",
	"mtu":         "route metrics other than metric",
	"advmss":      "route metrics other than metric",
	"rtt":         "route metrics other than metric",
	"rttvar":      "route metrics other than metric",
	"reordering":  "route metrics other than metric",
	"window":      "route metrics other than metric",
	"cwnd":        "route metrics other than metric",
	"ssthresh":    "route metrics other than metric",
	"realms":      "route realms",
	"expires":     "route expiry",
	"initcwnd":    "route metrics other than metric",
	"initrwnd":    "route metrics other than metric",
	"features":    "route metrics other than metric",
	"quickack":    "route metrics other than metric",
	"congctl":     "route metrics other than metric",
	"pref":        "IPv6 router preference",
	"encap":       "route encapsulation",
	"nexthop":     "multipath routes",
	"track_group": "track groups",
	"local":       "route types other than unicast, blackhole, unreachable, prohibit and throw",
	"broadcast":   "route types other than unicast, blackhole, unreachable, prohibit and throw",
	"anycast":     "route types other than unicast, blackhole, unreachable, prohibit and throw",
	"multicast":   "route types other than unicast, blackhole, unreachable, prohibit and throw",
	"nat":         "route types other than unicast, blackhole, unreachable, prohibit and throw",
}

// route decodes a route line, or reports why it cannot.
func (dc *decoder) route(n *Node) (Route, bool) {
	r := Route{Pos: n.Pos}
	l := &lineWords{dc: dc, n: n, what: "route", ok: true}
	for ; l.i < len(n.Words); l.i++ {
		switch opt := n.Words[l.i]; {
		case routeTypeWords[opt] && !r.Dst.IsValid():
			r.Type = opt
		case opt == "src":
			l.addr(&r.Src, "src")
		case opt == "via" || opt == "gw":
			l.addr(&r.Via, "via")
		case opt == "dev" || opt == "oif":
			l.word(&r.Dev)
		case opt == "table":
			l.table(&r.Table)
		case opt == "metric" || opt == "priority" || opt == "preference":
			l.number(&r.Metric, "Invalid metric")
		case opt == "scope":
			if p, good := l.param(); good {
				switch p {
				case "global", "universe", "site", "link", "host", "nowhere":
					r.Scope = p
					if p == "universe" {
						r.Scope = "global"
					}
				default:
					l.invalid("Invalid route scope %s", p)
				}
			}
		case opt == "proto" || opt == "protocol":
			l.protocol(&r.Protocol)
		case opt == "onlink":
			r.OnLink = true
		case opt == "no_track":
			r.NoTrack = true
		case opt == "to" && !r.Dst.IsValid():
			// "to" before the destination is optional.
		case routeRefused[opt] != "":
			l.param()
			dc.errorf(n, "route option %s is not supported: %s", opt, routeRefused[opt])
			l.ok = false
		case !r.Dst.IsValid():
			d, good := routeDst(opt)
			if !good {
				dc.warnf(n, "Invalid route destination %s", opt)
				return r, false
			}
			r.Dst = d
		default:
			l.invalid("Unknown route option %s", opt)
		}
	}
	if !r.Dst.IsValid() {
		dc.warnf(n, "No destination specified for route")
		return r, false
	}
	is4 := r.Dst.Addr().Is4()
	switch {
	case r.Src.IsValid() && r.Src.Is4() != is4, r.Via.IsValid() && r.Via.Is4() != is4:
		dc.warnf(n, "Route %s has addresses of different families - ignoring", r.Dst)
		return r, false
	case r.Type != "" && (r.Via.IsValid() || r.Dev != ""):
		dc.warnf(n, "%s route %s cannot have a gateway or device - ignoring", r.Type, r.Dst)
		return r, false
	}
	return r, l.ok
}

// routeDst reads a destination: a prefix, an address (a host route), or
// default / default6.
func routeDst(s string) (netip.Prefix, bool) {
	switch s {
	case "default":
		return netip.MustParsePrefix("0.0.0.0/0"), true
	case "default6":
		return netip.MustParsePrefix("::/0"), true
	}
	if p, err := netip.ParsePrefix(s); err == nil && p.Addr().Zone() == "" {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()), !p.Addr().Is4In6()
	}
	if a, ok := parseAddr(s); ok {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// routeProtocol reads a route or rule protocol: a number or one of
// iproute2's names.
func routeProtocol(s string) (int, bool) {
	names := map[string]int{"redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16, "keepalived": 18,
		"babel": 42, "bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192}
	if v, ok := names[s]; ok {
		return v, true
	}
	v, err := strconv.ParseUint(s, 0, 8)
	return int(v), err == nil
}

// table reads a routing table: a number, or main, local or default.
func (dc *decoder) table(n *Node, s string) (int, bool) {
	switch s {
	case "main":
		return 254, true
	case "local":
		return 255, true
	case "default":
		return 253, true
	}
	v, err := strconv.ParseUint(s, 0, 32)
	if err != nil {
		dc.errorf(n, "table %s: only numbered tables and main, local and default are read (names from rt_tables are not)", s)
		return 0, false
	}
	return int(v), true
}

// ruleRefused are the rule options keepalived knows that vrrpkit does not
// set, with the reason.
var ruleRefused = map[string]string{
	"not":                   "inverted rules",
	"tos":                   "rules on the TOS",
	"dsfield":               "rules on the TOS",
	"realms":                "route realms",
	"goto":                  "goto rules",
	"uidrange":              "rules on user IDs",
	"ipproto":               "rules on the IP protocol",
	"sport":                 "rules on ports",
	"dport":                 "rules on ports",
	"suppress_prefixlength": "suppressing rules",
	"suppress_ifgroup":      "suppressing rules",
	"blackhole":             "rule actions other than a table lookup",
	"unreachable":           "rule actions other than a table lookup",
	"prohibit":              "rule actions other than a table lookup",
	"nat":                   "rule actions other than a table lookup",
	"track_group":           "track groups",
}

// rule decodes a rule line, or reports why it cannot.
func (dc *decoder) rule(n *Node) (Rule, bool) {
	r := Rule{Pos: n.Pos}
	l := &lineWords{dc: dc, n: n, what: "rule", ok: true}
	for ; l.i < len(n.Words); l.i++ {
		switch opt := n.Words[l.i]; opt {
		case "from", "to":
			p, good := l.param()
			if !good || p == "all" {
				continue
			}
			pr, good := routeDst(p)
			if !good {
				dc.warnf(n, "VRRP parsed invalid IP %s. skipping IP...", p)
				dc.warnf(n, "Invalid rule %s address %s", opt, p)
				return r, false
			}
			if opt == "from" {
				r.From = pr
			} else {
				r.To = pr
			}
		case "table", "lookup":
			l.table(&r.Table)
		case "priority", "preference", "pref", "prio":
			l.number(&r.Priority, "Invalid rule preference")
		case "iif", "dev":
			l.word(&r.IIf)
		case "oif":
			l.word(&r.OIf)
		case "fwmark":
			if p, good := l.param(); good {
				m, mask, hasMask := strings.Cut(p, "/")
				v, err := strconv.ParseUint(m, 0, 32)
				var mv uint64
				if hasMask && err == nil {
					mv, err = strconv.ParseUint(mask, 0, 32)
				}
				if err != nil {
					l.invalid("Invalid rule fwmark %s", p)
					continue
				}
				r.FWMark, r.FWMask = uint32(v), uint32(mv)
			}
		case "protocol", "proto":
			l.protocol(&r.Protocol)
		case "l3mdev":
			r.L3MDev = true
		case "inet6":
			r.IPv6 = true
		case "inet":
		case "no_track":
			r.NoTrack = true
		default:
			if why, known := ruleRefused[opt]; known {
				dc.errorf(n, "rule option %s is not supported: %s", opt, why)
				return r, false
			}
			l.invalid("Unknown rule option %s", opt)
		}
	}
	if r.From.IsValid() && r.To.IsValid() && r.From.Addr().Is4() != r.To.Addr().Is4() {
		dc.warnf(n, "Rule from and to addresses are of different families - ignoring")
		return r, false
	}
	if r.Table == 0 && !r.L3MDev {
		dc.errorf(n, "rule without table is not supported: vrrpkit's rules look a table up (or l3mdev)")
		return r, false
	}
	if l.ok && r.Priority == 0 {
		dc.warnf(n, "Rule has no preference specified - setting to %d. This is probably not what you want.", dc.rulePref)
		r.Priority = dc.rulePref
		dc.rulePref--
	}
	return r, l.ok
}

// lineWords walks the words of a route or rule line (what is "route" or
// "rule", for the messages): the option at i, and the words it takes. ok
// turns false at the first problem it reports.
type lineWords struct {
	dc   *decoder
	n    *Node
	what string
	i    int
	ok   bool
}

// invalid reports a problem of the line.
func (l *lineWords) invalid(format string, args ...any) {
	l.dc.warnf(l.n, format, args...)
	l.ok = false
}

// param returns the word after the option at i, and moves past it.
func (l *lineWords) param() (string, bool) {
	w := l.n.Words
	if l.i+1 >= len(w) {
		l.invalid("No %s parameter specified for %s", w[l.i], l.what)
		return "", false
	}
	l.i++
	return w[l.i], true
}

// word reads the option's word into s.
func (l *lineWords) word(s *string) {
	if p, ok := l.param(); ok {
		*s = p
	}
}

// addr reads the option's address into a; name names it in the message
// of a bad one.
func (l *lineWords) addr(a *netip.Addr, name string) {
	if p, ok := l.param(); ok {
		if v, ok := parseAddr(p); ok {
			*a = v
		} else {
			l.invalid("Invalid %s %s address %s", l.what, name, p)
		}
	}
}

// table reads the option's routing table into t.
func (l *lineWords) table(t *int) {
	if p, ok := l.param(); ok {
		if v, ok := l.dc.table(l.n, p); ok {
			*t = v
		} else {
			l.ok = false
		}
	}
}

// number reads the option's unsigned 32-bit number into v; invalid begins
// the message of a bad one.
func (l *lineWords) number(v *int, invalid string) {
	if p, ok := l.param(); ok {
		x, msg := parseUnsigned(p, 0, 1<<32-1)
		if msg != "" {
			l.invalid("%s", joinMsg(invalid+" "+p, msg))
		} else {
			*v = int(x)
		}
	}
}

// protocol reads the option's protocol, a number or an iproute2 name.
func (l *lineWords) protocol(v *int) {
	if p, ok := l.param(); ok {
		if x, ok := routeProtocol(p); ok {
			*v = x
		} else {
			l.invalid("Invalid %s protocol %s", l.what, p)
		}
	}
}
