package kaconf

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// Routes and rules as keepalived 2.2.7 reads them (ip(8)'s syntax), each
// option once, with its messages.
func TestRoutesAndRules(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	src := `static_routes {
  src 198.18.0.1 198.19.1.0/24 via 198.18.0.254 dev eth0 table 100 metric 5 scope link proto static onlink
  to 198.19.2.0/24 gw 198.18.0.253
  blackhole 198.19.3.0/24
  default via 198.18.0.252 table main
  default6 via fd00::1 dev eth0 no_track
  198.19.4.1 dev eth0
  198.19.5.0/24 via 198.18.0.254 mtu 1400
  198.19.6.0/24 via fd00::1
  unreachable 198.19.7.0/24 dev eth0
}
static_rules {
  from 198.19.10.0/24 table 100 priority 10
  to 198.19.11.0/24 lookup 101
  from all fwmark 7/0xff iif eth0 oif eth1 table 102 pref 12 protocol 4
  l3mdev preference 13
  inet6 iif eth0 table 103 prio 14
  to 198.19.12./24 table 1
  from 198.19.13.0/24 goto 3
  from 198.19.14.0/24
}
`
	c, ds := LoadBytes("r.conf", []byte(src), LoadOptions{})
	wantRoutes := []Route{
		{Pos: Pos{"r.conf", 2}, Dst: p("198.19.1.0/24"), Src: a("198.18.0.1"), Via: a("198.18.0.254"), Dev: "eth0",
			Table: 100, Metric: 5, Scope: "link", Protocol: 4, OnLink: true},
		{Pos: Pos{"r.conf", 3}, Dst: p("198.19.2.0/24"), Via: a("198.18.0.253")},
		{Pos: Pos{"r.conf", 4}, Dst: p("198.19.3.0/24"), Type: "blackhole"},
		{Pos: Pos{"r.conf", 5}, Dst: p("0.0.0.0/0"), Via: a("198.18.0.252"), Table: 254},
		{Pos: Pos{"r.conf", 6}, Dst: p("::/0"), Via: a("fd00::1"), Dev: "eth0", NoTrack: true},
		{Pos: Pos{"r.conf", 7}, Dst: p("198.19.4.1/32"), Dev: "eth0"},
	}
	if !reflect.DeepEqual(c.StaticRoutes, wantRoutes) {
		t.Errorf("routes\n%+v\nwant\n%+v", c.StaticRoutes, wantRoutes)
	}
	wantRules := []Rule{
		{Pos: Pos{"r.conf", 13}, From: p("198.19.10.0/24"), Table: 100, Priority: 10},
		{Pos: Pos{"r.conf", 14}, To: p("198.19.11.0/24"), Table: 101, Priority: 16384},
		{Pos: Pos{"r.conf", 15}, FWMark: 7, FWMask: 0xff, IIf: "eth0", OIf: "eth1", Table: 102, Priority: 12, Protocol: 4},
		{Pos: Pos{"r.conf", 16}, L3MDev: true, Priority: 13},
		{Pos: Pos{"r.conf", 17}, IPv6: true, IIf: "eth0", Table: 103, Priority: 14},
	}
	if !reflect.DeepEqual(c.StaticRules, wantRules) {
		t.Errorf("rules\n%+v\nwant\n%+v", c.StaticRules, wantRules)
	}
	checkDiags(t, ds, []want{
		{Error, 8, "route option mtu is not supported: route metrics other than metric"},
		{Warning, 9, "Route 198.19.6.0/24 has addresses of different families - ignoring"},
		{Warning, 10, "unreachable route 198.19.7.0/24 cannot have a gateway or device - ignoring"},
		{Warning, 14, "Rule has no preference specified - setting to 16384. This is probably not what you want."},
		{Warning, 18, "VRRP parsed invalid IP 198.19.12./24. skipping IP..."},
		{Warning, 18, "Invalid rule to address 198.19.12./24"},
		{Error, 19, "rule option goto is not supported: goto rules"},
		{Error, 20, "rule without table is not supported"},
	})
	if s := ds.String(); strings.Contains(s, "16383") {
		t.Errorf("an invalid rule took a preference:\n%s", s)
	}
}
