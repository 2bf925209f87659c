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
	w := n.Words
	ok := true
	for i := 0; i < len(w); i++ {
		opt := w[i]
		param := func() (string, bool) {
			if i+1 >= len(w) {
				dc.warnf(n, "No %s parameter specified for route", opt)
				ok = false
				return "", false
			}
			i++
			return w[i], true
		}
		switch {
		case routeTypeWords[opt] && !r.Dst.IsValid():
			r.Type = opt
		case opt == "src":
			if p, good := param(); good {
				if a, good := parseAddr(p); good {
					r.Src = a
				} else {
					dc.warnf(n, "Invalid route src address %s", p)
					ok = false
				}
			}
		case opt == "via" || opt == "gw":
			if p, good := param(); good {
				if a, good := parseAddr(p); good {
					r.Via = a
				} else {
					dc.warnf(n, "Invalid route via address %s", p)
					ok = false
				}
			}
		case opt == "dev" || opt == "oif":
			if p, good := param(); good {
				r.Dev = p
			}
		case opt == "table":
			if p, good := param(); good {
				if t, good := dc.table(n, p); good {
					r.Table = t
				} else {
					ok = false
				}
			}
		case opt == "metric" || opt == "priority" || opt == "preference":
			if p, good := param(); good {
				v, msg := parseUnsigned(p, 0, 1<<32-1)
				if msg != "" {
					dc.warnf(n, "%s", joinMsg("Invalid metric "+p, msg))
					ok = false
				} else {
					r.Metric = int(v)
				}
			}
		case opt == "scope":
			if p, good := param(); good {
				switch p {
				case "global", "universe", "site", "link", "host", "nowhere":
					r.Scope = p
					if p == "universe" {
						r.Scope = "global"
					}
				default:
					dc.warnf(n, "Invalid route scope %s", p)
					ok = false
				}
			}
		case opt == "proto" || opt == "protocol":
			if p, good := param(); good {
				if v, good := routeProtocol(p); good {
					r.Protocol = v
				} else {
					dc.warnf(n, "Invalid route protocol %s", p)
					ok = false
				}
			}
		case opt == "onlink":
			r.OnLink = true
		case opt == "no_track":
			r.NoTrack = true
		case opt == "to" && !r.Dst.IsValid():
			// "to" before the destination is optional.
		case routeRefused[opt] != "":
			param()
			dc.errorf(n, "route option %s is not supported: %s", opt, routeRefused[opt])
			ok = false
		case !r.Dst.IsValid():
			d, good := routeDst(opt)
			if !good {
				dc.warnf(n, "Invalid route destination %s", opt)
				return r, false
			}
			r.Dst = d
		default:
			dc.warnf(n, "Unknown route option %s", opt)
			ok = false
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
	return r, ok
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
	w := n.Words
	ok := true
	for i := 0; i < len(w); i++ {
		opt := w[i]
		param := func() (string, bool) {
			if i+1 >= len(w) {
				dc.warnf(n, "No %s parameter specified for rule", opt)
				ok = false
				return "", false
			}
			i++
			return w[i], true
		}
		switch opt {
		case "from", "to":
			p, good := param()
			if !good {
				continue
			}
			if p == "all" {
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
			if p, good := param(); good {
				if t, good := dc.table(n, p); good {
					r.Table = t
				} else {
					ok = false
				}
			}
		case "priority", "preference", "pref", "prio":
			if p, good := param(); good {
				v, msg := parseUnsigned(p, 0, 1<<32-1)
				if msg != "" {
					dc.warnf(n, "%s", joinMsg("Invalid rule preference "+p, msg))
					ok = false
				} else {
					r.Priority = int(v)
				}
			}
		case "iif", "dev":
			if p, good := param(); good {
				r.IIf = p
			}
		case "oif":
			if p, good := param(); good {
				r.OIf = p
			}
		case "fwmark":
			if p, good := param(); good {
				m, mask, hasMask := strings.Cut(p, "/")
				v, err := strconv.ParseUint(m, 0, 32)
				var mv uint64
				if hasMask && err == nil {
					mv, err = strconv.ParseUint(mask, 0, 32)
				}
				if err != nil {
					dc.warnf(n, "Invalid rule fwmark %s", p)
					ok = false
					continue
				}
				r.FWMark, r.FWMask = uint32(v), uint32(mv)
			}
		case "protocol", "proto":
			if p, good := param(); good {
				if v, good := routeProtocol(p); good {
					r.Protocol = v
				} else {
					dc.warnf(n, "Invalid rule protocol %s", p)
					ok = false
				}
			}
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
			dc.warnf(n, "Unknown rule option %s", opt)
			ok = false
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
	if ok && r.Priority == 0 {
		dc.warnf(n, "Rule has no preference specified - setting to %d. This is probably not what you want.", dc.rulePref)
		r.Priority = dc.rulePref
		dc.rulePref--
	}
	return r, ok
}
