package kaconf

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The LVS sections are read into their own types for the pool and IPVS
// support. They raise no errors of their own: unknown keywords are
// warnings, as in keepalived, and keywords keepalived knows that are not
// typed here are warnings too.

// virtualServerGroup decodes a virtual_server_group.
func (dc *decoder) virtualServerGroup(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	g := VirtualServerGroup{Pos: n.Pos, Name: n.Words[1]}
	for _, c := range n.Block {
		dc.noBlock(c)
		if c.Keyword() == "fwmark" {
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseUnsigned(c.Words[1], 0, 1<<32-1)
			if msg != "" {
				dc.warnf(c, "%s", joinMsg("("+g.Name+"): fwmark '"+c.Words[1]+"' must be in [0, 4294967295] - ignoring", msg))
				continue
			}
			e := VirtualServerGroupEntry{Pos: c.Pos, FWMark: uint32(v), Family: c.Arg(2)}
			if e.Family != "" && e.Family != "inet" && e.Family != "inet6" {
				dc.warnf(c, "(%s): fwmark '%d' family %s unknown - ignoring", g.Name, v, e.Family)
				continue
			}
			g.Entries = append(g.Entries, e)
			continue
		}
		e, ok := dc.vsgRange(c)
		if !ok {
			continue
		}
		g.Entries = append(g.Entries, e)
	}
	if len(g.Entries) == 0 {
		dc.warnf(n, "virtual server group %s has no entries - removing", g.Name)
		return
	}
	// A fwmark entry without a family takes the group's; keepalived
	// removes a group where that is ambiguous.
	var has4, has6, markNoFamily bool
	for _, e := range g.Entries {
		switch {
		case e.First.IsValid():
			has4, has6 = has4 || e.First.Is4(), has6 || e.First.Is6()
		case e.Family == "inet":
			has4 = true
		case e.Family == "inet6":
			has6 = true
		default:
			markNoFamily = true
		}
	}
	if markNoFamily && has4 && has6 {
		end := n
		if n.End.Line != 0 {
			end = &Node{Pos: n.End}
		}
		dc.warnf(end, "virtual server group %s cannot have IPv4, IPv6 and fwmark without family - removing", g.Name)
		return
	}
	dc.cfg.VirtualServerGroups = append(dc.cfg.VirtualServerGroups, g)
}

// vsgRange decodes an address, a range (a.b.c.d-e or a-b) or a prefix,
// and an optional port.
func (dc *decoder) vsgRange(c *Node) (VirtualServerGroupEntry, bool) {
	e := VirtualServerGroupEntry{Pos: c.Pos}
	s := c.Words[0]
	bad := func() (VirtualServerGroupEntry, bool) {
		dc.warnf(c, "Invalid virtual server group IP address %s - skipping", s)
		return e, false
	}
	switch {
	case strings.Contains(s, "/"):
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return bad()
		}
		if p.Masked() != p {
			dc.warnf(c, "Address mask bits not empty - %s - skipping", s)
			return e, false
		}
		e.First, e.Last = p.Addr(), lastAddr(p)
	case strings.Contains(s, "-"):
		first, last, _ := strings.Cut(s, "-")
		a, ok := parseAddr(first)
		if !ok {
			return bad()
		}
		b, ok := parseAddr(last)
		if !ok {
			// a.b.c.d-e: the last byte (IPv4) or group (IPv6).
			sep := "."
			if a.Is6() {
				sep = ":"
			}
			i := strings.LastIndex(first, sep)
			if i < 0 {
				return bad()
			}
			if b, ok = parseAddr(first[:i+1] + last); !ok {
				dc.warnf(c, "Invalid range end %s - skipping", s)
				return e, false
			}
		}
		if a.Is6() != b.Is6() {
			dc.warnf(c, "Range address families do not match %s - skipping", s)
			return e, false
		}
		if b.Less(a) {
			dc.warnf(c, "Address range end is less than address range start - %s - skipping", s)
			return e, false
		}
		e.First, e.Last = a, b
	default:
		a, ok := parseAddr(s)
		if !ok {
			return bad()
		}
		e.First, e.Last = a, a
	}
	if len(c.Words) > 1 {
		p, msg := parseUnsigned(c.Words[1], 0, 65535)
		if msg != "" {
			dc.warnf(c, "Invalid virtual server group port %s - skipping", c.Words[1])
			return e, false
		}
		e.Port = uint16(p)
	}
	return e, true
}

// virtualServer decodes a virtual_server.
func (dc *decoder) virtualServer(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	vs := VirtualServer{Pos: n.Pos, DelayLoop: defaultDelayLoop, Quorum: 1}
	vs.CheckDefaults.Retry = -1
	switch n.Words[1] {
	case "fwmark":
		if !dc.need(n, 2) {
			return
		}
		v, msg := parseUnsigned(n.Words[2], 0, 1<<32-1)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("virtual server fwmark '"+n.Words[2]+"' must be in [0, 4294967295] - ignoring", msg))
			return
		}
		vs.FWMark = uint32(v)
	case "group":
		if !dc.need(n, 2) {
			return
		}
		vs.Group = n.Words[2]
	default:
		a, ok := parseAddr(n.Words[1])
		if !ok {
			dc.warnf(n, "Invalid virtual server IP address %s - skipping", n.Words[1])
			return
		}
		vs.Addr = a
		vs.Family = family(a)
		if len(n.Words) > 2 {
			p, msg := parseUnsigned(n.Words[2], 0, 65535)
			if msg != "" {
				dc.warnf(n, "Invalid virtual server port %s - skipping", n.Words[2])
				return
			}
			vs.Port = uint16(p)
		}
	}
	x := &vsCtx{vs: &vs}
	for _, c := range n.Block {
		dispatch(dc, virtualServerKeywords, x, c)
	}
	granularity := x.granularity
	if granularity && vs.PersistenceTimeout == 0 {
		vs.PersistenceTimeout = defaultPersistence
	}
	dc.endVirtualServer(n, &vs)
	dc.cfg.VirtualServers = append(dc.cfg.VirtualServers, vs)
}

// vsCtx is what a virtual_server keyword writes into.
type vsCtx struct {
	vs *VirtualServer
	// granularity tells that persistence_granularity was given.
	granularity bool
}

// virtualServerKeywords are the keywords of virtual_server.
var virtualServerKeywords = newTable[*vsCtx]("virtual_server",
	key("lvs_sched", 1, "wlc", vsScheduler),
	key("lb_algo", 1, "wlc", vsScheduler),
	key("lvs_method", 1, "NAT", vsForwarding),
	key("lb_kind", 1, "NAT", vsForwarding),
	key("protocol", 1, "TCP", func(dc *decoder, x *vsCtx, c *Node) {
		switch p := strings.ToUpper(c.Words[1]); p {
		case "TCP", "UDP", "SCTP":
			x.vs.Protocol = p
		default:
			dc.warnf(c, "Unknown protocol %s - ignoring", c.Words[1])
		}
	}),
	key("delay_loop", 0, "60", func(dc *decoder, x *vsCtx, c *Node) {
		if d, ok := dc.timer(c, "virtual server delay loop '%s' invalid - ignoring"); ok {
			x.vs.DelayLoop = d
		}
	}),
	key("quorum", 1, "1", func(dc *decoder, x *vsCtx, c *Node) {
		v, msg := parseUnsigned(c.Words[1], 1, 1<<31-1)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg("Quorum "+c.Words[1]+" must be in [1, 2147483647]. Setting to 1.", msg))
			v = 1
		}
		x.vs.Quorum = int(v)
	}),
	key("hysteresis", 1, "0", func(dc *decoder, x *vsCtx, c *Node) {
		v, msg := parseUnsigned(c.Words[1], 0, 1<<31-1)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg("Hysteresis "+c.Words[1]+" must be in [0, 2147483647] - ignoring", msg))
			return
		}
		x.vs.Hysteresis = int(v)
	}),
	key("inhibit_on_failure", 0, "off; alone: on", func(dc *decoder, x *vsCtx, c *Node) {
		if v, ok := dc.optBool(c, "Invalid inhibit_on_failure parameter %s"); ok {
			x.vs.InhibitOnFailure = v
		}
	}),
	key("persistence_timeout", 0, "none; alone: 360", func(dc *decoder, x *vsCtx, c *Node) {
		// The keyword alone is IPVS's default; an invalid value leaves
		// the timeout as it was.
		v := uint64(defaultPersistence / time.Second)
		if len(c.Words) > 1 {
			var msg string
			if v, msg = parseUnsigned(c.Words[1], 1, uint64(maxPersistence/time.Second)); msg != "" {
				dc.warnf(c, "%s", joinMsg("persistence_timeout invalid", msg))
				return
			}
		}
		x.vs.PersistenceTimeout = time.Duration(v) * time.Second
	}),
	key("persistence_granularity", 0, "255.255.255.255 / 128", func(dc *decoder, x *vsCtx, c *Node) {
		if m, ok := dc.granularity(c, x.vs.Family); ok {
			x.vs.PersistenceGranularity = m
			if x.vs.Family == "" {
				x.vs.Family = family(m)
			}
			x.granularity = true
		}
	}),
	key("persistence_engine", 1, "none", func(dc *decoder, x *vsCtx, c *Node) {
		x.vs.PersistenceEngine = c.Words[1]
		if len(x.vs.PersistenceEngine) > maxPersistenceEngine {
			dc.warnf(c, "persistence_name too long, truncating - %s", c.Words[1])
			x.vs.PersistenceEngine = x.vs.PersistenceEngine[:maxPersistenceEngine]
		}
	}),
	key("ip_family", 1, "the addresses'", func(dc *decoder, x *vsCtx, c *Node) {
		switch f := c.Words[1]; {
		case f != "inet" && f != "inet6":
			dc.warnf(c, "unknown address family %s", f)
		case x.vs.Family != "" && x.vs.Family != f:
			dc.warnf(c, "Virtual server specified family %s conflicts with server family", f)
		default:
			x.vs.Family = f
		}
	}),
	refusedKey[*vsCtx]("ha_suspend", "the checks run whatever the VRRP state"),
	key("alpha", 0, "off", func(_ *decoder, x *vsCtx, _ *Node) { x.vs.Alpha = true }),
	key("omega", 0, "off", func(_ *decoder, x *vsCtx, _ *Node) { x.vs.Omega = true }),
	key("virtualhost", 0, "", func(dc *decoder, x *vsCtx, c *Node) {
		if len(c.Words) < 2 {
			dc.warnf(c, "virtual server virtualhost missing")
			return
		}
		x.vs.VirtualHost = c.Words[1]
	}),
	key("quorum_up", 1, "", func(dc *decoder, x *vsCtx, c *Node) { x.vs.QuorumUp = dc.scriptLine(c, true) }),
	key("quorum_down", 1, "", func(dc *decoder, x *vsCtx, c *Node) { x.vs.QuorumDown = dc.scriptLine(c, true) }),
	key("sorry_server", 0, "", func(dc *decoder, x *vsCtx, c *Node) {
		if rs, ok := dc.realServer(c, false); ok {
			x.vs.SorryServer = &rs
		}
	}).withBlock(optBlock),
	key("real_server", 0, "", func(dc *decoder, x *vsCtx, c *Node) {
		vs := x.vs
		rs, ok := dc.realServer(c, true)
		if !ok {
			return
		}
		// Outside tunnels, a real server must be of the virtual server's
		// family, which the first one sets if need be.
		if cmpOr(rs.Forwarding, vs.Forwarding) != "TUN" {
			if vs.Family == "" {
				vs.Family = family(rs.Addr)
			} else if vs.Family != family(rs.Addr) {
				dc.warnf(c, "Address family of virtual server and real server %s don't match - skipping real server.", rs.Addr)
				return
			}
		}
		vs.RealServers = append(vs.RealServers, rs)
	}).withBlock(optBlock),
	noEffectKey[*vsCtx]("smtp_alert", mailWhy),
	key("connect_timeout", 1, "5", vsCheckDefault),
	key("retry", 1, "1", vsCheckDefault),
	key("delay_before_retry", 1, "1", vsCheckDefault),
	key("warmup", 1, "0", vsCheckDefault),
	refusedKey[*vsCtx]("ops", lvsRefusedWhy),
	refusedKey[*vsCtx]("flag-1", lvsRefusedWhy),
	refusedKey[*vsCtx]("flag-2", lvsRefusedWhy),
	refusedKey[*vsCtx]("flag-3", lvsRefusedWhy),
	refusedKey[*vsCtx]("sh-port", lvsRefusedWhy),
	refusedKey[*vsCtx]("sh-fallback", lvsRefusedWhy),
	refusedKey[*vsCtx]("mh-port", lvsRefusedWhy),
	refusedKey[*vsCtx]("mh-fallback", lvsRefusedWhy),
	refusedKey[*vsCtx]("hashed", lvsRefusedWhy),
	noEffectKey[*vsCtx]("snmp_name", "no SNMP"),
	refusedKey[*vsCtx]("sorry_server_inhibit", lvsRefusedWhy),
	refusedKey[*vsCtx]("sorry_server_lvs_method", lvsRefusedWhy),
)

// lvsRefusedWhy is the reason for the LVS options vrrpd refuses.
const lvsRefusedWhy = "vrrpd's pools and IPVS programming (examples/lvs) do not implement it"

func vsScheduler(dc *decoder, x *vsCtx, c *Node) {
	switch c.Words[1] {
	case "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos":
		x.vs.Scheduler = c.Words[1]
	default:
		dc.warnf(c, "Invalid lvs_scheduler '%s' - ignoring", c.Words[1])
	}
}

func vsForwarding(dc *decoder, x *vsCtx, c *Node) {
	if f, ok := dc.forwarding(c, "virtual"); ok {
		x.vs.Forwarding = f
	}
}

func vsCheckDefault(dc *decoder, x *vsCtx, c *Node) { dc.checkOption(c, &x.vs.CheckDefaults) }

// IPVS's persistence timeouts, as keepalived reads them.
const (
	// defaultPersistence is persistence_timeout without a value, and the
	// timeout persistence_granularity sets when none is given.
	defaultPersistence = 360 * time.Second
	// maxPersistence is the longest persistence_timeout, 31 days.
	maxPersistence = 31 * 24 * time.Hour
	// maxPersistenceEngine is the longest persistence_engine name.
	maxPersistenceEngine = 15
)

// family returns "inet" or "inet6", the address family of a.
func family(a netip.Addr) string {
	if a.Unmap().Is4() {
		return "inet"
	}
	return "inet6"
}

// granularity reads persistence_granularity: for an IPv4 virtual server
// a netmask in any form inet_aton accepts (keepalived takes masks that are
// not contiguous, as IPVS does), for IPv6 a prefix length from 1 to 128,
// returned as a mask. A virtual server whose family is not known yet
// (af "") takes IPv4 when the value has a dot.
func (dc *decoder) granularity(c *Node, af string) (netip.Addr, bool) {
	if !dc.need(c, 1) {
		return netip.Addr{}, false
	}
	v := c.Words[1]
	if af == "" {
		af = "inet6"
		if strings.Contains(v, ".") {
			af = "inet"
		}
	}
	if af == "inet6" {
		bits, msg := parseUnsigned(v, 1, 128)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg("Invalid IPv6 persistence_granularity specified - "+v, msg))
			return netip.Addr{}, false
		}
		var m [16]byte
		for i := range int(bits) {
			m[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom16(m), true
	}
	m, ok := parseInetAton(v)
	if !ok {
		dc.warnf(c, "Invalid IPv4 persistence_granularity specified - %s", v)
		return netip.Addr{}, false
	}
	return m, true
}

// endVirtualServer applies keepalived's checks at the end of a
// virtual_server block: a sorry server of another family (outside
// tunnels) is dropped, and a virtual server whose family is still unknown
// (a fwmark or group whose servers are all tunnelled) takes the sorry
// server's, or its real servers' if they agree, or IPv4.
func (dc *decoder) endVirtualServer(n *Node, vs *VirtualServer) {
	if ss := vs.SorryServer; ss != nil && cmpOr(ss.Forwarding, vs.Forwarding) != "TUN" {
		if vs.Family == "" {
			vs.Family = family(ss.Addr)
		} else if vs.Family != family(ss.Addr) {
			at := n
			if n.End.Line != 0 {
				at = &Node{Pos: n.End}
			}
			dc.warnf(at, "Address family of virtual server and sorry server %s don't match - skipping sorry server.", ss.Addr)
			vs.SorryServer = nil
		}
	}
	if vs.Family != "" {
		return
	}
	switch {
	case vs.SorryServer != nil:
		vs.Family = family(vs.SorryServer.Addr)
	case len(vs.RealServers) > 0:
		vs.Family = family(vs.RealServers[0].Addr)
		for _, rs := range vs.RealServers[1:] {
			if family(rs.Addr) != vs.Family {
				vs.Family = "inet"
				break
			}
		}
	default:
		vs.Family = "inet"
	}
}

// parseInetAton reads an IPv4 address as inet_aton does: one to four
// numbers separated by dots, each decimal, octal (leading 0) or
// hexadecimal (leading 0x), the last filling the remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base != 16 {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(cmpOr(digits, "0"), base, 32)
		if err != nil || strings.ContainsAny(digits, "+-") {
			return netip.Addr{}, false
		}
		nums = append(nums, v)
	}
	var a uint32
	last := len(nums) - 1
	for i, v := range nums[:last] {
		if v > 255 {
			return netip.Addr{}, false
		}
		a |= uint32(v) << (24 - 8*i)
	}
	if nums[last] > math.MaxUint32>>(8*last) {
		return netip.Addr{}, false
	}
	a |= uint32(nums[last])
	return netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), true
}

// cmpOr returns the first of ss that is not empty.
func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// forwarding reads lvs_method / lb_kind.
func (dc *decoder) forwarding(c *Node, which string) (string, bool) {
	if !dc.need(c, 1) {
		return "", false
	}
	switch m := c.Words[1]; m {
	case "NAT", "DR", "TUN":
		if m == "TUN" && len(c.Words) > 2 {
			dc.errorf(c, "tunnel options %s are not supported: examples/lvs sets the forwarding method only", strings.Join(c.Words[2:], " "))
		}
		return m, true
	default:
		dc.warnf(c, "PARSER : unknown [%s] routing method for %s server.", m, which)
		return "", false
	}
}

// timer reads a <TIMER>.
func (dc *decoder) timer(c *Node, invalid string) (time.Duration, bool) {
	if !dc.need(c, 1) {
		return 0, false
	}
	d, msg := parseTimer(c.Words[1], 0, 4294967295*time.Microsecond)
	if msg != "" {
		dc.warnf(c, "%s", joinMsg(sprintf(invalid, c.Words[1]), msg))
		return 0, false
	}
	return d, true
}

// realServer decodes a real_server or sorry_server: <IPADDR> [<PORT>].
func (dc *decoder) realServer(n *Node, real bool) (RealServer, bool) {
	rs := RealServer{Pos: n.Pos, Weight: 1}
	rs.CheckDefaults.Retry = -1
	if !dc.need(n, 1) {
		return rs, false
	}
	a, ok := parseAddr(n.Words[1])
	if !ok {
		dc.warnf(n, "Invalid real server ip address/port %s/%s - skipping", n.Words[1], n.Arg(2))
		return rs, false
	}
	rs.Addr = a
	if len(n.Words) > 2 {
		p, msg := parseUnsigned(n.Words[2], 0, 65535)
		if msg != "" {
			dc.warnf(n, "Invalid real server ip address/port %s/%s - skipping", n.Words[1], n.Words[2])
			return rs, false
		}
		rs.Port = uint16(p)
	}
	if !real {
		dc.noBlock(n)
		return rs, true
	}
	if !dc.block(n) {
		return rs, false
	}
	for _, c := range n.Block {
		dispatch(dc, realServerKeywords, &rs, c)
	}
	return rs, true
}

// realServerKeywords are the keywords of real_server.
var realServerKeywords = newTable[*RealServer]("real_server",
	key("weight", 1, "1", func(dc *decoder, rs *RealServer, c *Node) {
		v, msg := parseInt(c.Words[1], 0, 65535)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg("Real server weight "+c.Words[1]+" is outside range 0-65535", msg))
			return
		}
		rs.Weight = int(v)
	}),
	key("lvs_method", 1, "the virtual server's", rsForwarding),
	key("lb_kind", 1, "the virtual server's", rsForwarding),
	key("inhibit_on_failure", 0, "the virtual server's; alone: on", func(dc *decoder, rs *RealServer, c *Node) {
		if v, ok := dc.optBool(c, "Invalid inhibit_on_failure parameter %s"); ok {
			rs.InhibitOnFailure = v
		}
	}),
	key("notify_up", 1, "", func(dc *decoder, rs *RealServer, c *Node) { rs.NotifyUp = dc.scriptLine(c, true) }),
	key("notify_down", 1, "", func(dc *decoder, rs *RealServer, c *Node) { rs.NotifyDown = dc.scriptLine(c, true) }),
	refusedKey[*RealServer]("uthreshold", thresholdWhy).when(rsThreshold),
	refusedKey[*RealServer]("lthreshold", thresholdWhy).when(rsThreshold),
	key("delay_loop", 0, "the virtual server's", func(dc *decoder, rs *RealServer, c *Node) {
		if d, ok := dc.timer(c, "real server delay_loop '%s' invalid - ignoring"); ok {
			rs.DelayLoop = d
		}
	}),
	noEffectKey[*RealServer]("smtp_alert", mailWhy),
	key("connect_timeout", 1, "the virtual server's", rsCheckDefault),
	key("retry", 1, "the virtual server's", rsCheckDefault),
	key("delay_before_retry", 1, "the virtual server's", rsCheckDefault),
	key("warmup", 1, "the virtual server's", rsCheckDefault),
	key("TCP_CHECK", 0, "", rsChecker).withBlock(needBlock),
	key("HTTP_GET", 0, "", rsChecker).withBlock(needBlock),
	key("SSL_GET", 0, "", rsChecker).withBlock(needBlock),
	key("MISC_CHECK", 0, "", rsChecker).withBlock(needBlock),
	key("SMTP_CHECK", 0, "", rsChecker).withBlock(needBlock),
	refusedKey[*RealServer]("DNS_CHECK", checkerRefusedWhy).withBlock(needBlock),
	refusedKey[*RealServer]("PING_CHECK", checkerRefusedWhy).withBlock(needBlock),
	refusedKey[*RealServer]("UDP_CHECK", checkerRefusedWhy).withBlock(needBlock),
	refusedKey[*RealServer]("BFD_CHECK", checkerRefusedWhy).withBlock(needBlock),
	refusedKey[*RealServer]("FILE_CHECK", checkerRefusedWhy).withBlock(needBlock),
	noEffectKey[*RealServer]("snmp_name", "no SNMP"),
	refusedKey[*RealServer]("virtualhost", lvsRefusedWhy),
	refusedKey[*RealServer]("alpha", lvsRefusedWhy),
)

// checkerRefusedWhy is the reason for the checkers vrrpd's pools lack.
const checkerRefusedWhy = "vrrpd checks with TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK and MISC_CHECK"

func rsForwarding(dc *decoder, rs *RealServer, c *Node) {
	if f, ok := dc.forwarding(c, "real"); ok {
		rs.Forwarding = f
	}
}

// thresholdWhy is why connection thresholds are refused.
const thresholdWhy = "connection thresholds (a pool.Backend has no connection counts)"

// rsThreshold checks an uthreshold / lthreshold value: 0 (none) changes
// nothing.
func rsThreshold(dc *decoder, _ *RealServer, c *Node) bool {
	if !dc.need(c, 1) {
		return false
	}
	v, msg := parseUnsigned(c.Words[1], 0, 1<<32-1)
	if msg != "" {
		dc.warnf(c, "Invalid real_server %s '%s' - ignoring", c.Keyword(), c.Words[1])
		return false
	}
	return v != 0
}

func rsCheckDefault(dc *decoder, rs *RealServer, c *Node) { dc.checkOption(c, &rs.CheckDefaults) }

func rsChecker(dc *decoder, rs *RealServer, c *Node) {
	if ck, ok := dc.checker(c); ok {
		rs.Checkers = append(rs.Checkers, ck)
	}
}

// checker decodes a checker block.
func (dc *decoder) checker(n *Node) (Checker, bool) {
	ck := Checker{Pos: n.Pos, Type: n.Keyword()}
	ck.Retry = -1
	for _, c := range n.Block {
		dispatch(dc, checkerKeywords, &ck, c)
	}
	return ck, true
}

// checkerKeywords are the keywords of the checker blocks (TCP_CHECK,
// HTTP_GET...).
var checkerKeywords = newTable[*Checker]("checker",
	key("connect_ip", 1, "the real server's", checkerOption),
	key("connect_port", 1, "the real server's", checkerOption),
	key("bindto", 1, "", checkerOption),
	key("bind_port", 1, "", checkerOption),
	key("bind_if", 1, "", checkerOption),
	key("fwmark", 1, "", checkerOption),
	key("connect_timeout", 1, "the real server's", checkerOption),
	key("retry", 1, "the real server's; 1 for TCP_CHECK, 3 for HTTP_GET", checkerOption),
	key("delay_before_retry", 1, "the real server's", checkerOption),
	key("warmup", 1, "the real server's", checkerOption),
	key("delay_loop", 1, "the real server's", checkerOption),
	key("nb_get_retry", 1, "", func(dc *decoder, ck *Checker, c *Node) {
		// Only the HTTP checkers still know retry's old name; the
		// others ignore it, leaving the retry count as it was.
		if ck.Type != "HTTP_GET" && ck.Type != "SSL_GET" {
			dc.unknown(c)
			return
		}
		dc.warnf(c, "nb_get_retry is deprecated - please use 'retry'")
		dc.checkOption(c, &ck.CheckOptions)
	}).deprecated("retry (HTTP_GET and SSL_GET only)", false),
	key("url", 0, "", func(dc *decoder, ck *Checker, c *Node) {
		if u, ok := dc.url(c); ok {
			ck.URLs = append(ck.URLs, u)
		}
	}).withBlock(needBlock),
	key("http_protocol", 0, "1.0", func(dc *decoder, ck *Checker, c *Node) {
		if len(c.Words) < 2 {
			dc.warnf(c, "Missing http_protocol version")
			return
		}
		switch p := c.Words[1]; p {
		case "1.0", "1.1", "1.0C", "1.0c":
			ck.HTTPProtocol = strings.ToUpper(p)
		default:
			dc.warnf(c, "Invalid http_protocol %s - ignoring", p)
		}
	}),
	key("virtualhost", 1, "the real server's", func(_ *decoder, ck *Checker, c *Node) { ck.VirtualHost = c.Words[1] }),
	key("enable_sni", 0, "off", func(_ *decoder, ck *Checker, _ *Node) { ck.EnableSNI = true }),
	key("misc_path", 1, "", func(dc *decoder, ck *Checker, c *Node) { ck.MiscPath = dc.scriptLine(c, false) }),
	key("misc_timeout", 1, "delay_loop", func(dc *decoder, ck *Checker, c *Node) {
		v, msg := parseUnsigned(c.Words[1], 0, 4294)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg("Invalid misc_timeout "+c.Words[1]+" - ignoring", msg))
			return
		}
		ck.MiscTimeout = time.Duration(v) * time.Second
	}),
	refusedKey[*Checker]("misc_dynamic", "a pool.Pool backend has a fixed weight"),
	noEffectKey[*Checker]("log_all_failures", "logging only"),
	key("helo_name", 0, DefaultHeloName+" (SMTP_CHECK)", func(dc *decoder, ck *Checker, c *Node) {
		if ck.Type != "SMTP_CHECK" {
			dc.unknown(c)
			return
		}
		if len(c.Words) < 2 {
			dc.warnf(c, "SMTP_CHECK helo name missing")
			return
		}
		ck.HeloName = c.Words[1]
	}),
	key("host", 0, "", func(dc *decoder, ck *Checker, c *Node) {
		if ck.Type != "SMTP_CHECK" {
			dc.unknown(c)
			return
		}
		dc.infof(c, "The SMTP_CHECK host block is deprecated. Please define additional checkers.")
		h := &hostCtx{ck: ck, host: SMTPHost{Pos: c.Pos, CheckOptions: ck.CheckOptions}}
		for _, k := range c.Block {
			dispatch(dc, smtpHostKeywords, h, k)
		}
		ck.Hosts = append(ck.Hosts, h.host)
	}).withBlock(needBlock).deprecated("one SMTP_CHECK per host (SMTP_CHECK only)", false),
	checkerRefused("alpha"), checkerRefused("fast_recovery"),
	checkerRefused("regex"), checkerRefused("regex_no_match"), checkerRefused("regex_options"),
	checkerRefused("regex_min_offset"), checkerRefused("regex_max_offset"), checkerRefused("regex_stack"),
	checkerRefused("type"), checkerRefused("name"), checkerRefused("payload"),
	checkerRefused("require_reply"), checkerRefused("min_reply_length"), checkerRefused("max_reply_length"),
	checkerRefused("track_file"), checkerRefused("dynamic"), checkerRefused("weight"), checkerRefused("user"),
)

// hostCtx is what a keyword of an SMTP_CHECK host block writes into.
type hostCtx struct {
	ck   *Checker
	host SMTPHost
}

// smtpHostKeywords are the keywords of an SMTP_CHECK's host block:
// keepalived's checker keywords, the connection options applying to the
// host and the others to the whole checker.
var smtpHostKeywords = newTable[*hostCtx]("host",
	key("connect_ip", 1, "the SMTP_CHECK's", hostOption),
	key("connect_port", 1, "the SMTP_CHECK's", hostOption),
	key("bindto", 1, "the SMTP_CHECK's", hostOption),
	key("bind_port", 1, "the SMTP_CHECK's", hostOption),
	key("bind_if", 1, "the SMTP_CHECK's", hostOption),
	key("fwmark", 1, "the SMTP_CHECK's", hostOption),
	key("connect_timeout", 1, "the SMTP_CHECK's", hostOption),
	key("retry", 1, "the SMTP_CHECK's; sets the SMTP_CHECK's", hostCheckerOption),
	key("delay_before_retry", 1, "the SMTP_CHECK's; sets the SMTP_CHECK's", hostCheckerOption),
	key("warmup", 1, "the SMTP_CHECK's; sets the SMTP_CHECK's", hostCheckerOption),
	key("delay_loop", 1, "the SMTP_CHECK's; sets the SMTP_CHECK's", hostCheckerOption),
	noEffectKey[*hostCtx]("log_all_failures", "logging only"),
	refusedKey[*hostCtx]("alpha", lvsRefusedWhy),
)

func hostOption(dc *decoder, h *hostCtx, c *Node) { dc.checkOption(c, &h.host.CheckOptions) }

func hostCheckerOption(dc *decoder, h *hostCtx, c *Node) { dc.checkOption(c, &h.ck.CheckOptions) }

func checkerRefused(name string) kw[*Checker] { return refusedKey[*Checker](name, lvsRefusedWhy) }

func checkerOption(dc *decoder, ck *Checker, c *Node) { dc.checkOption(c, &ck.CheckOptions) }

// checkOption decodes a connection option of a checker (or its default on
// a virtual or real server).
func (dc *decoder) checkOption(c *Node, o *CheckOptions) {
	if !dc.need(c, 1) {
		return
	}
	v := c.Words[1]
	switch kw := c.Keyword(); kw {
	case "connect_ip", "bindto":
		a, ok := parseAddr(v)
		if !ok {
			dc.warnf(c, "Invalid %s address %s - ignoring", kw, v)
			return
		}
		if kw == "connect_ip" {
			o.ConnectIP = a
		} else {
			o.BindTo = a
		}
	case "connect_port", "bind_port":
		p, msg := parseUnsigned(v, 0, 65535)
		if msg != "" {
			dc.warnf(c, "Invalid checker %s '%s'", kw, v)
			return
		}
		if kw == "connect_port" {
			o.ConnectPort = uint16(p)
		} else {
			o.BindPort = uint16(p)
		}
	case "bind_if":
		if len(v) > maxIfNameLen {
			dc.warnf(c, "Interface name %s is too long - ignoring", v)
			return
		}
		o.BindIf = v
	case "fwmark":
		m, msg := parseUnsigned(v, 0, 1<<32-1)
		if msg != "" {
			dc.warnf(c, "Invalid fwmark connection value '%s'", v)
			return
		}
		o.FWMark = uint32(m)
	case "retry", "nb_get_retry":
		r, msg := parseUnsigned(v, 0, 1<<32-1)
		if msg != "" {
			dc.warnf(c, "Invalid retry connection value '%s'", v)
			return
		}
		o.Retry = int(r)
	case "connect_timeout", "delay_before_retry", "warmup", "delay_loop":
		d, msg := parseTimer(v, 0, 4294967295*time.Microsecond)
		if msg != "" {
			dc.warnf(c, "%s", joinMsg(kw+" "+v+" invalid - ignoring", msg))
			return
		}
		switch kw {
		case "connect_timeout":
			o.ConnectTimeout = d
		case "delay_before_retry":
			o.DelayBeforeRetry = d
		case "warmup":
			o.Warmup = d
		default:
			o.DelayLoop = d
		}
	}
}

// url decodes a url block of an HTTP check.
func (dc *decoder) url(n *Node) (URL, bool) {
	u := URL{Pos: n.Pos}
	for _, c := range n.Block {
		dispatch(dc, urlKeywords, &u, c)
	}
	return u, true
}

// urlKeywords are the keywords of an HTTP_GET / SSL_GET url block.
var urlKeywords = newTable[*URL]("url",
	key("path", 1, "", func(_ *decoder, u *URL, c *Node) { u.Path = c.Words[1] }),
	key("digest", 1, "", func(_ *decoder, u *URL, c *Node) { u.Digest = c.Words[1] }),
	key("virtualhost", 1, "the checker's", func(_ *decoder, u *URL, c *Node) { u.VirtualHost = c.Words[1] }),
	key("status_code", 0, "200-299", func(dc *decoder, u *URL, c *Node) {
		for _, w := range c.Words[1:] {
			lo, hi, isRange := strings.Cut(w, "-")
			a, m1 := parseUnsigned(lo, 100, 599)
			b := a
			var m2 string
			if isRange {
				b, m2 = parseUnsigned(hi, 100, 599)
			}
			if m1 != "" || m2 != "" || b < a {
				dc.warnf(c, "Invalid HTTP_GET status code %s - ignoring", w)
				continue
			}
			u.StatusCodes = append(u.StatusCodes, [2]int{int(a), int(b)})
		}
	}),
	refusedKey[*URL]("regex", lvsRefusedWhy), refusedKey[*URL]("regex_no_match", lvsRefusedWhy),
	refusedKey[*URL]("regex_options", lvsRefusedWhy), refusedKey[*URL]("regex_min_offset", lvsRefusedWhy),
	refusedKey[*URL]("regex_max_offset", lvsRefusedWhy), refusedKey[*URL]("regex_stack", lvsRefusedWhy),
)
