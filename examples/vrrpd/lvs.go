package main

// The LVS part of vrrpd: keepalived's virtual_server and
// virtual_server_group blocks run as health.Pools that keep an IPVS table
// (examples/lvs) in step, as keepalived's checker process does.
//
// convertLVS turns the sections read by kaconf into lvsServices, refusing
// with FILE:LINE errors every setting that would change behaviour and that
// vrrpd cannot honour; runLVS (or an lvsRunner, for reloads) runs them.

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/examples/lvs"
	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
)

// keepalived's checker defaults (keepalived 2.2.7, check/check_api.c and
// check/check_data.c); delay_loop's 60 s is filled in by kaconf.
const (
	lvsDefaultConnectTimeout   = 5 * time.Second
	lvsDefaultRetry            = 1 // TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK
	lvsDefaultMiscRetry        = 0 // MISC_CHECK
	lvsDefaultDelayBeforeRetry = time.Second
)

const (
	// lvsMaxGroupServices bounds the IPVS services one virtual_server
	// of a virtual_server_group may expand to.
	lvsMaxGroupServices = 1024
	// lvsProbeSlack is added to a check's Timeout beyond its attempts'
	// own timeouts and delays, so that those fire first.
	lvsProbeSlack = time.Second
	// lvsRemoveTimeout bounds the removal of the services on stop.
	lvsRemoveTimeout = 10 * time.Second
	// lvsScriptTimeout bounds one notify_up, notify_down, quorum_up or
	// quorum_down script.
	lvsScriptTimeout = 30 * time.Second
)

// lvsDefaultPersistence is the persistence keepalived gives a service on
// port 0 that sets none (IPVS's default timeout).
const lvsDefaultPersistence = 360 * time.Second

// errLVSConfig is wrapped by the error of convertLVS.
var errLVSConfig = errors.New("vrrpd: LVS configuration not supported")

// lvsService is one virtual_server, converted: the IPVS services it
// programs and the pool that health-checks its real servers.
type lvsService struct {
	// Name identifies the virtual server in logs: "TCP 192.0.2.1:80", or
	// "group NAME" for a virtual_server_group.
	Name string
	// Pos is the virtual_server line.
	Pos kaconf.Pos
	// Services are the IPVS virtual services that hold the pool's
	// members: one, or one per address of a virtual_server_group.
	Services []pool.Service
	// Pool configures the pool.Pool; runLVS sets OnChange and Logger.
	// Each check's Checker is an *lvsCheck.
	Pool pool.Config
	// QuorumUp and QuorumDown are quorum_up and quorum_down.
	QuorumUp, QuorumDown *health.Script
	// NotifyUp and NotifyDown are the real servers' notify_up and
	// notify_down, by backend name.
	NotifyUp, NotifyDown map[string]*health.Script
	// Omega runs quorum_down and the live servers' notify_down when the
	// service stops (omega).
	Omega bool
}

// lvsCheck is one keepalived checker with keepalived's retry logic
// (check_tcp.c's tcp_epilog and its siblings): an attempt runs Attempts in
// order, each within AttemptTimeout; while the checker is up, a failed
// attempt is retried Retry times, DelayBeforeRetry apart, before the probe
// fails; while it is down, or before its first success, one failure is
// enough. The Pool runs it with Rise and Fall 1, so that the probe's
// result is the checker's state.
type lvsCheck struct {
	// Type is the checker's keyword (TCP_CHECK, HTTP_GET, SSL_GET,
	// SMTP_CHECK, MISC_CHECK) and Pos its line.
	Type string
	Pos  kaconf.Pos
	// Attempts are run in order: one TCP, SMTP or Script, or one HTTP
	// per url.
	Attempts []health.Checker
	// AttemptTimeout bounds each of Attempts (connect_timeout, or
	// misc_timeout; for SMTP_CHECK, whose connect_timeout bounds each
	// step, health.SMTPSteps times connect_timeout).
	AttemptTimeout time.Duration
	// Retry and DelayBeforeRetry are retry and delay_before_retry.
	Retry            int
	DelayBeforeRetry time.Duration

	up atomic.Bool // the last probe succeeded: retries are allowed
}

// clone returns a copy of c with a fresh state.
func (c *lvsCheck) clone() *lvsCheck {
	return &lvsCheck{Type: c.Type, Pos: c.Pos, Attempts: c.Attempts, AttemptTimeout: c.AttemptTimeout,
		Retry: c.Retry, DelayBeforeRetry: c.DelayBeforeRetry}
}

// probeTimeout is the longest a probe of c can take.
func (c *lvsCheck) probeTimeout() time.Duration {
	attempt := time.Duration(len(c.Attempts)) * c.AttemptTimeout
	return time.Duration(c.Retry+1)*attempt + time.Duration(c.Retry)*c.DelayBeforeRetry + lvsProbeSlack
}

// Check runs one probe: an attempt, and its retries if the checker is up.
func (c *lvsCheck) Check(ctx context.Context) error {
	retries := 0
	if c.up.Load() {
		retries = c.Retry
	}
	var err error
	for i := 0; ; i++ {
		if err = c.attempt(ctx); err == nil || i >= retries || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(c.DelayBeforeRetry)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	c.up.Store(err == nil)
	if err != nil && retries > 0 {
		return fmt.Errorf("%s failed after %d retries: %w", c.Type, retries, err)
	}
	return err
}

func (c *lvsCheck) attempt(ctx context.Context) error {
	for _, a := range c.Attempts {
		actx, cancel := context.WithTimeout(ctx, c.AttemptTimeout)
		err := a.Check(actx)
		if err == nil && actx.Err() != nil {
			err = actx.Err()
		}
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// lvsConv collects the errors and warnings of a conversion.
type lvsConv struct {
	cfg  *kaconf.Config
	errs []string
	// warns are keepalived's warnings for what it corrects: -t counts
	// them, as keepalived -t does.
	warns kaconf.Diagnostics
}

func (c *lvsConv) errorf(pos kaconf.Pos, format string, args ...any) {
	c.errs = append(c.errs, posMsg(pos, fmt.Sprintf(format, args...)))
}

func (c *lvsConv) warnf(pos kaconf.Pos, format string, args ...any) {
	c.warns = append(c.warns, kaconf.Diagnostic{File: pos.File, Line: pos.Line, Severity: kaconf.Warning,
		Message: fmt.Sprintf(format, args...)})
}

func posMsg(pos kaconf.Pos, msg string) string {
	if p := pos.String(); p != "" {
		return p + ": " + msg
	}
	return msg
}

// convertLVS turns the virtual_server blocks of cfg into lvsServices, with
// keepalived's defaults and corrections (the latter reported as warnings,
// as keepalived logs them).
//
// Firewall-mark services and group entries and persistence
// (persistence_timeout, persistence_granularity, persistence_engine) map
// onto pool.Service's FWMark, IPv6 and Persistence fields.
//
// A setting that would change behaviour and that vrrpd cannot honour is an
// error naming its FILE:LINE: fwmark 0, ha_suspend, real server weight 0, uthreshold / lthreshold,
// misc_dynamic, and checkers other than TCP_CHECK, HTTP_GET, SSL_GET,
// SMTP_CHECK and MISC_CHECK. The LVS keywords kaconf reads but does not type (regex,
// sorry_server_inhibit, scheduler flags, tunnel options...) are errors of
// kaconf's already (Refused in its keyword table). A configuration whose
// diagnostics hold errors must be refused before (see convert).
//
// It returns nil services when cfg has no virtual servers.
func convertLVS(cfg *kaconf.Config) ([]lvsService, []string, error) {
	services, warns, err := convertLVSDiags(cfg)
	var out []string
	for _, w := range warns {
		out = append(out, posMsg(w.Pos(), w.Message))
	}
	return services, out, err
}

// convertLVSDiags is convertLVS with the warnings as diagnostics.
func convertLVSDiags(cfg *kaconf.Config) ([]lvsService, kaconf.Diagnostics, error) {
	if cfg == nil {
		return nil, nil, nil
	}
	c := &lvsConv{cfg: cfg}
	groups := map[string]*kaconf.VirtualServerGroup{}
	for i := range cfg.VirtualServerGroups {
		g := &cfg.VirtualServerGroups[i]
		if _, dup := groups[g.Name]; dup {
			c.errorf(g.Pos, "virtual_server_group %s is defined twice", g.Name)
			continue
		}
		groups[g.Name] = g
	}
	var out []lvsService
	seen := map[string]kaconf.Pos{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		s, ok := c.virtualServer(vs, groups)
		if !ok {
			continue
		}
		dup := false
		for _, svc := range s.Services {
			if p, ok := seen[svc.String()]; ok {
				c.errorf(vs.Pos, "virtual server %s: service %s is already defined at %s", s.Name, svc, p)
				dup = true
				continue
			}
			seen[svc.String()] = vs.Pos
		}
		if !dup {
			out = append(out, s)
		}
	}
	if len(c.errs) > 0 {
		return nil, c.warns, fmt.Errorf("%w:\n%s", errLVSConfig, strings.Join(c.errs, "\n"))
	}
	return out, c.warns, nil
}

// lvsProtocol returns the protocol of a virtual server; none is UDP, as
// keepalived sets it (validate_check_config: the kernel's default).
func lvsProtocol(s string) pool.Protocol {
	switch s {
	case "", "UDP":
		return pool.ProtocolUDP
	case "SCTP":
		return pool.ProtocolSCTP
	}
	return pool.ProtocolTCP
}

func lvsForwarding(s string) pool.Forwarding {
	switch s {
	case "NAT":
		return pool.ForwardNAT
	case "DR":
		return pool.ForwardDR
	case "TUN":
		return pool.ForwardTUN
	}
	return pool.ForwardDefault
}

// virtualServer converts one virtual_server; false means it is left out
// (with a warning, as keepalived leaves it out) or has errors.
func (c *lvsConv) virtualServer(vs *kaconf.VirtualServer, groups map[string]*kaconf.VirtualServerGroup) (lvsService, bool) {
	nerr := len(c.errs)
	s := lvsService{Pos: vs.Pos, Omega: vs.Omega}

	// The services.
	proto := lvsProtocol(vs.Protocol)
	fwd := lvsForwarding(vs.Forwarding)
	if fwd == pool.ForwardDefault {
		fwd = pool.ForwardNAT // keepalived's default
	}
	svc := pool.Service{Protocol: proto, Scheduler: vs.Scheduler, Forwarding: fwd,
		Persistence: vs.PersistenceTimeout, PersistenceEngine: vs.PersistenceEngine}
	if svc.Persistence > 0 {
		// kaconf gives it in the service's family.
		svc.PersistenceMask = vs.PersistenceGranularity
	}
	if svc.Scheduler == "" {
		svc.Scheduler = pool.DefaultScheduler // keepalived's too
	}
	var group *kaconf.VirtualServerGroup
	switch {
	case vs.Group != "":
		s.Name = "group " + vs.Group
		group = groups[vs.Group]
		if group == nil {
			c.warnf(vs.Pos, "virtual server group %s specified but not configured - ignoring virtual server", vs.Group)
			return s, false
		}
		n := 0
		for _, e := range group.Entries {
			if !e.First.IsValid() {
				if e.FWMark == 0 {
					c.errorf(e.Pos, "virtual_server_group %s: fwmark 0 marks nothing (IPVS takes 0 as no mark)", group.Name)
					continue
				}
				x := svc
				x.FWMark, x.IPv6 = e.FWMark, cmpOr(e.Family, vs.Family) == "inet6"
				if n++; n > lvsMaxGroupServices {
					c.errorf(e.Pos, "virtual_server_group %s expands to more than %d services", group.Name, lvsMaxGroupServices)
					continue
				}
				s.Services = append(s.Services, x)
				continue
			}
			if e.Port == 0 && vs.PersistenceTimeout == 0 {
				c.errorf(e.Pos, "virtual_server_group %s: an entry without a port is valid for a persistent virtual server only; set persistence_timeout on it (how keepalived makes the entry persistent is not reproduced)", group.Name)
				continue
			}
			for a := e.First; ; a = a.Next() {
				if n++; n > lvsMaxGroupServices {
					c.errorf(e.Pos, "virtual_server_group %s expands to more than %d services", group.Name, lvsMaxGroupServices)
					break
				}
				x := svc
				x.Addr = netip.AddrPortFrom(a, e.Port)
				s.Services = append(s.Services, x)
				if a == e.Last {
					break
				}
			}
		}
	case vs.Addr.IsValid():
		svc.Addr = netip.AddrPortFrom(vs.Addr, vs.Port)
		s.Name = svc.String()
		if vs.Port == 0 && svc.Persistence == 0 {
			// IPVS's catch-all port is for persistent services.
			c.warnf(vs.Pos, "Virtual server %s: zero port only valid for persistent services - setting", svc.String())
			svc.Persistence = lvsDefaultPersistence
		}
		s.Services = []pool.Service{svc}
	default:
		svc.FWMark, svc.IPv6 = vs.FWMark, vs.Family == "inet6"
		s.Name = svc.String()
		if vs.FWMark == 0 {
			c.errorf(vs.Pos, "virtual_server fwmark 0 marks nothing (IPVS takes 0 as no mark, and keepalived 2.2.7 misreads it)")
			return s, false
		}
		s.Services = []pool.Service{svc}
		if vs.Protocol != "" {
			c.warnf(vs.Pos, "Warning: Virtual server %s: protocol specified for fwmark - protocol will be ignored", s.Name)
		}
	}
	for _, x := range s.Services {
		if err := x.Validate(); err != nil {
			c.errorf(vs.Pos, "virtual server %s: %v", s.Name, err)
			return s, false
		}
	}
	if vs.Protocol == "" && vs.FWMark == 0 {
		c.warnf(vs.Pos, "virtual server %s: no protocol set - defaulting to UDP, as keepalived does", s.Name)
	}

	// What vrrpd cannot do.
	if vs.HASuspend {
		c.errorf(vs.Pos, "virtual server %s: ha_suspend is not supported (the checks run whatever the VRRP state)", s.Name)
	}
	if len(vs.RealServers) == 0 {
		c.warnf(vs.Pos, "Virtual server %s has no real servers - ignoring", s.Name)
		return s, false
	}

	// The real servers.
	g := &c.cfg.Global
	s.QuorumUp, s.QuorumDown = lvsScript(vs.QuorumUp, g), lvsScript(vs.QuorumDown, g)
	s.NotifyUp, s.NotifyDown = map[string]*health.Script{}, map[string]*health.Script{}
	pc := pool.Config{Name: s.Name, Interval: vs.DelayLoop}
	if vs.DelayLoop <= 0 {
		c.errorf(vs.Pos, "virtual server %s: delay_loop 0 is not supported", s.Name)
	}
	used := map[netip.AddrPort]kaconf.Pos{}
	weights, checks := 0, 0
	for i := range vs.RealServers {
		rs := &vs.RealServers[i]
		b, ok := c.backend(vs, rs, s.Services, group != nil, fwd, "real server")
		if !ok {
			continue
		}
		if p, dup := used[b.Addr]; dup {
			c.errorf(rs.Pos, "real server %s is already defined at %s", b.Addr, p)
			continue
		}
		used[b.Addr] = rs.Pos
		if rs.Weight == 0 {
			c.errorf(rs.Pos, "real server %s: weight 0 is not supported (a pool.Backend's weight is 1 or more)", b.Addr)
		}
		if rs.UThreshold != 0 || rs.LThreshold != 0 {
			c.errorf(rs.Pos, "real server %s: uthreshold and lthreshold are not supported (examples/lvs sets no connection thresholds)", b.Addr)
		}
		b.InhibitOnFailure = rs.InhibitOnFailure || vs.InhibitOnFailure
		index := 0
		for j := range rs.Checkers {
			for _, kc := range lvsCheckers(&rs.Checkers[j]) {
				ck, ok := c.check(vs, rs, b.Addr, kc, index)
				if ok {
					b.Checks = append(b.Checks, ck)
				}
				index++
			}
		}
		if sc := lvsScript(rs.NotifyUp, g); sc != nil {
			s.NotifyUp[b.Name] = sc
		}
		if sc := lvsScript(rs.NotifyDown, g); sc != nil {
			s.NotifyDown[b.Name] = sc
		}
		weights += b.Weight
		checks += len(b.Checks)
		pc.Backends = append(pc.Backends, b)
	}
	if ss := vs.SorryServer; ss != nil {
		if b, ok := c.backend(vs, ss, s.Services, group != nil, fwd, "sorry server"); ok {
			if p, dup := used[b.Addr]; dup {
				c.errorf(ss.Pos, "sorry server %s is also the real server at %s", b.Addr, p)
			}
			b.Weight = max(b.Weight, 1)
			pc.Sorry = &b
		}
	}

	// keepalived's corrections of the quorum (validate_check_config).
	pc.Quorum, pc.Hysteresis = vs.Quorum, vs.Hysteresis
	if pc.Quorum > weights && weights > 0 {
		c.warnf(vs.Pos, "Warning - quorum %d for %s exceeds total weight of real servers %d, reducing quorum to %d", pc.Quorum, s.Name, weights, weights)
		pc.Quorum = weights
	}
	if pc.Quorum > 0 && pc.Hysteresis >= pc.Quorum {
		c.warnf(vs.Pos, "Virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d", s.Name, pc.Hysteresis, pc.Quorum, pc.Quorum-1)
		pc.Hysteresis = pc.Quorum - 1
	}
	// A probe blocked in delay_before_retry holds a worker: give every
	// check one, so that retries never delay other checks.
	pc.Workers = max(pool.DefaultWorkers, checks)
	s.Pool = pc
	if len(c.errs) > nerr {
		return s, false
	}
	if err := pc.Validate(); err != nil {
		c.errorf(vs.Pos, "virtual server %s: %v", s.Name, err)
		return s, false
	}
	return s, true
}

// backend converts a real_server or sorry_server, without its checks.
func (c *lvsConv) backend(vs *kaconf.VirtualServer, rs *kaconf.RealServer, services []pool.Service, group bool, vsFwd pool.Forwarding, what string) (pool.Backend, bool) {
	fwd := lvsForwarding(rs.Forwarding)
	if fwd == pool.ForwardDefault {
		fwd = vsFwd
	}
	port := rs.Port
	if !group {
		// keepalived's corrections: the virtual server's port when none
		// is given, and always unless NAT; a fwmark service has no port.
		switch {
		case vs.FWMark != 0 && fwd != pool.ForwardNAT && port != 0:
			c.warnf(rs.Pos, "WARNING - fwmark virtual server FWM %d, %s %s has port specified - clearing", vs.FWMark, what, netip.AddrPortFrom(rs.Addr, rs.Port))
			port = 0
		case port == 0:
			port = vs.Port
		case fwd != pool.ForwardNAT && port != vs.Port:
			c.warnf(rs.Pos, "WARNING - virtual server %s and %s %s ports don't match - resetting", netip.AddrPortFrom(vs.Addr, vs.Port), what, netip.AddrPortFrom(rs.Addr, rs.Port))
			port = vs.Port
		}
	}
	addr := netip.AddrPortFrom(rs.Addr, port)
	ok := true
	if fwd != pool.ForwardTUN {
		for _, svc := range services {
			if lvsServiceIPv6(svc) != rs.Addr.Unmap().Is6() {
				c.errorf(rs.Pos, "%s %s and virtual service %s are of different address families, which IPVS allows with TUN only", what, rs.Addr, svc)
				ok = false
				break
			}
		}
	}
	w := rs.Weight
	if w > pool.MaxWeight {
		c.errorf(rs.Pos, "%s %s: weight %d is over %d", what, addr, w, pool.MaxWeight)
		ok = false
	}
	return pool.Backend{Name: addr.String(), Addr: addr, Weight: w, Forwarding: fwd}, ok
}

// lvsServiceIPv6 reports whether svc takes IPv6 packets.
func lvsServiceIPv6(svc pool.Service) bool {
	if svc.FWMark != 0 {
		return svc.IPv6
	}
	return svc.Addr.Addr().Unmap().Is6()
}

// lvsScript converts a notify script, with the global script user and
// security, as config.go does for the VRRP scripts.
func lvsScript(ns *kaconf.NotifyScript, g *kaconf.GlobalDefs) *health.Script {
	if ns == nil || len(ns.Command) == 0 {
		return nil
	}
	s := &health.Script{Path: ns.Command[0], Args: slices.Clone(ns.Command[1:]), User: ns.User, Group: ns.Group,
		Security: g.EnableScriptSecurity}
	if s.User == "" {
		s.User, s.Group = g.DefaultScriptUser, g.ScriptGroup
	}
	return s
}

// firstDur returns the first of ds that is set (non-zero).
func firstDur(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d != 0 {
			return d
		}
	}
	return 0
}

// check converts one checker of real server rs (at addr), with the
// defaults keepalived takes from the real server, the virtual server and
// the checker's type.
func (c *lvsConv) check(vs *kaconf.VirtualServer, rs *kaconf.RealServer, addr netip.AddrPort, ck *kaconf.Checker, index int) (health.Check, bool) {
	retry := lvsDefaultRetry
	if ck.Type == "MISC_CHECK" {
		retry = lvsDefaultMiscRetry
	}
	for _, r := range []int{ck.Retry, rs.CheckDefaults.Retry, vs.CheckDefaults.Retry} {
		if r >= 0 {
			retry = r
			break
		}
	}
	interval := firstDur(ck.DelayLoop, rs.DelayLoop, vs.DelayLoop)
	timeout := firstDur(ck.ConnectTimeout, rs.CheckDefaults.ConnectTimeout, vs.CheckDefaults.ConnectTimeout, lvsDefaultConnectTimeout)
	delay := firstDur(ck.DelayBeforeRetry, rs.CheckDefaults.DelayBeforeRetry, vs.CheckDefaults.DelayBeforeRetry, lvsDefaultDelayBeforeRetry)
	if interval <= 0 {
		c.errorf(ck.Pos, "%s: delay_loop 0 is not supported", ck.Type)
		return health.Check{}, false
	}
	if w := firstDur(ck.Warmup, rs.CheckDefaults.Warmup, vs.CheckDefaults.Warmup); w != 0 && w != interval {
		c.warnf(ck.Pos, "%s: warmup %v: the first probes are spread evenly over delay_loop (%v) instead of at random within warmup", ck.Type, w, interval)
	}
	lc := &lvsCheck{Type: ck.Type, Pos: ck.Pos, AttemptTimeout: timeout, Retry: retry, DelayBeforeRetry: delay}

	target := addr
	if ck.ConnectIP.IsValid() {
		target = netip.AddrPortFrom(ck.ConnectIP, target.Port())
	}
	if ck.ConnectPort != 0 {
		target = netip.AddrPortFrom(target.Addr(), ck.ConnectPort)
	}
	nerr := len(c.errs)
	switch ck.Type {
	case "TCP_CHECK":
		c.needPort(ck, target)
		lc.Attempts = []health.Checker{health.TCP{Address: target.String(), Dialer: c.dialer(ck, target.Addr())}}
	case "HTTP_GET", "SSL_GET":
		c.needPort(ck, target)
		if ck.HTTPProtocol == "1.0" || ck.HTTPProtocol == "1.0C" {
			c.warnf(ck.Pos, "%s: http_protocol %s: requests are HTTP/1.1 with Connection: close", ck.Type, ck.HTTPProtocol)
		}
		if len(ck.URLs) == 0 {
			c.errorf(ck.Pos, "%s has no url block", ck.Type)
		}
		d := c.dialer(ck, target.Addr())
		for _, u := range ck.URLs {
			if h, ok := c.httpURL(vs, ck, &u, target, d); ok {
				lc.Attempts = append(lc.Attempts, h)
			}
		}
	case "SMTP_CHECK":
		c.needPort(ck, target)
		// connect_timeout bounds each step of the exchange, as in
		// keepalived: the attempt, all of them.
		sc := health.SMTP{Address: target.String(), HeloName: ck.HeloName, Dialer: c.dialer(ck, target.Addr()),
			StepTimeout: timeout}
		if err := sc.Validate(); err != nil {
			c.errorf(ck.Pos, "SMTP_CHECK: %v", err)
			break
		}
		lc.Attempts = []health.Checker{sc}
		lc.AttemptTimeout = health.SMTPSteps * timeout
	case "MISC_CHECK":
		if ck.MiscDynamic {
			c.errorf(ck.Pos, "MISC_CHECK: misc_dynamic is not supported (a pool.Pool backend has a fixed weight)")
		}
		sc := lvsScript(ck.MiscPath, &c.cfg.Global)
		if sc == nil {
			c.errorf(ck.Pos, "MISC_CHECK has no misc_path")
			break
		}
		lc.Attempts = []health.Checker{*sc}
		// keepalived's misc_timeout defaults to the delay loop.
		lc.AttemptTimeout = firstDur(ck.MiscTimeout, interval)
	default:
		c.errorf(ck.Pos, "%s is not supported (vrrpd checks with TCP_CHECK, HTTP_GET, SSL_GET, SMTP_CHECK and MISC_CHECK)", ck.Type)
	}
	if len(c.errs) > nerr {
		return health.Check{}, false
	}
	return health.Check{
		Name:     fmt.Sprintf("%s#%d", ck.Type, index),
		Checker:  lc,
		Interval: interval,
		Timeout:  lc.probeTimeout(),
		Rise:     1,
		Fall:     1,
		// alpha: every checker starts failed.
		InitFail: vs.Alpha,
	}, true
}

// lvsCheckers returns the checkers keepalived 2.2.7 runs for ck: ck
// itself, except for an SMTP_CHECK with host blocks, which runs one
// checker per host, with the SMTP_CHECK's helo_name, retry and timers,
// and one for its own target when it sets a connection option of its own
// (connect_ip, connect_port, bindto, bind_port, bind_if, fwmark or
// connect_timeout; measured with keepalived -t, whose link-local address
// check runs on the checkers it keeps).
func lvsCheckers(ck *kaconf.Checker) []*kaconf.Checker {
	if ck.Type != "SMTP_CHECK" || len(ck.Hosts) == 0 {
		return []*kaconf.Checker{ck}
	}
	var out []*kaconf.Checker
	o := ck.CheckOptions
	if o.ConnectIP.IsValid() || o.ConnectPort != 0 || o.BindTo.IsValid() || o.BindPort != 0 || o.BindIf != "" ||
		o.FWMark != 0 || o.ConnectTimeout != 0 {
		own := *ck
		own.Hosts = nil
		out = append(out, &own)
	}
	for _, h := range ck.Hosts {
		hc := *ck
		hc.Pos, hc.Hosts = h.Pos, nil
		hc.ConnectIP, hc.ConnectPort = h.ConnectIP, h.ConnectPort
		hc.BindTo, hc.BindPort, hc.BindIf = h.BindTo, h.BindPort, h.BindIf
		hc.FWMark, hc.ConnectTimeout = h.FWMark, h.ConnectTimeout
		out = append(out, &hc)
	}
	return out
}

func (c *lvsConv) needPort(ck *kaconf.Checker, target netip.AddrPort) {
	if target.Port() == 0 {
		c.errorf(ck.Pos, "%s would connect to %s, port 0: set connect_port or the real server's port", ck.Type, target.Addr())
	}
}

// dialer returns the dialer of a checker's connections: bindto, bind_port,
// bind_if (SO_BINDTODEVICE) and fwmark (SO_MARK).
func (c *lvsConv) dialer(ck *kaconf.Checker, target netip.Addr) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1}
	if ck.BindTo.IsValid() || ck.BindPort != 0 {
		la := &net.TCPAddr{Port: int(ck.BindPort)}
		if ck.BindTo.IsValid() {
			if ck.BindTo.Unmap().Is4() != target.Unmap().Is4() {
				c.errorf(ck.Pos, "%s: bindto %s and %s are of different address families", ck.Type, ck.BindTo, target)
			}
			la.IP = ck.BindTo.AsSlice()
		}
		d.LocalAddr = la
	}
	if ck.BindIf != "" || ck.FWMark != 0 {
		d.Control = lvsSocketOptions(ck.BindIf, ck.FWMark)
	}
	return d
}

// lvsSocketOptions returns a net.Dialer Control function that binds the
// socket to an interface and marks its packets.
func lvsSocketOptions(ifname string, mark uint32) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if ifname != "" {
				if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
					serr = fmt.Errorf("bind_if %s: %w", ifname, err)
					return
				}
			}
			if mark != 0 {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
					serr = fmt.Errorf("fwmark %d: %w", mark, err)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// httpURL converts one url block of an HTTP_GET or SSL_GET.
func (c *lvsConv) httpURL(vs *kaconf.VirtualServer, ck *kaconf.Checker, u *kaconf.URL, target netip.AddrPort, d *net.Dialer) (health.HTTP, bool) {
	if !strings.HasPrefix(u.Path, "/") {
		c.errorf(u.Pos, "%s: url path %q must start with /", ck.Type, u.Path)
		return health.HTTP{}, false
	}
	scheme := "http"
	if ck.Type == "SSL_GET" {
		scheme = "https"
	}
	h := health.HTTP{
		URL:    scheme + "://" + target.String() + u.Path,
		Host:   cmpOr(u.VirtualHost, ck.VirtualHost, vs.VirtualHost),
		Digest: strings.ToLower(u.Digest),
		Dialer: d,
	}
	for _, r := range u.StatusCodes {
		h.StatusCodes = append(h.StatusCodes, health.StatusRange(r[0], r[1])...)
	}
	if ck.Type == "SSL_GET" {
		// keepalived's SSL_GET does not verify the server's certificate;
		// without enable_sni it sends no server name (an IP address as
		// ServerName sends none).
		tc := &tls.Config{InsecureSkipVerify: true}
		if !ck.EnableSNI {
			tc.ServerName = target.Addr().String()
		}
		h.TLS = tc
	}
	if err := h.Validate(); err != nil {
		c.errorf(u.Pos, "%s: %v", ck.Type, err)
		return health.HTTP{}, false
	}
	return h, true
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// newIPVSBalancer returns the kernel's IPVS table as a pool.Balancer, in
// the network namespace bound at nsPath ("" means the current one, such as
// /var/run/netns/NAME for keepalived's net_namespace NAME). Close it after
// runLVS has returned.
func newIPVSBalancer(nsPath string) (*lvs.IPVS, error) {
	return lvs.NewIn(nsPath)
}

// runLVS runs services on bal until ctx ends: a pool.Pool per virtual
// server, whose memberships BalancerSyncs apply to every IPVS service of
// it, and the notify_up, notify_down, quorum_up and quorum_down scripts.
// When ctx ends, it stops the pools, runs the omega scripts, removes the
// services from bal (as keepalived does when it stops) and returns once
// every goroutine it started has ended. The error is for services that
// cannot run.
func runLVS(ctx context.Context, services []lvsService, bal pool.Balancer, log *slog.Logger) error {
	r := newLVSRunner(bal, log)
	if err := r.start(ctx, services); err != nil {
		return err
	}
	<-ctx.Done()
	r.stop()
	return nil
}

// lvsRunner runs a set of lvsServices and replaces it on reload. Its
// methods are called from one goroutine.
type lvsRunner struct {
	bal pool.Balancer
	log *slog.Logger

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	pools   []*lvsPool
	scripts *scriptQueue
}

// newLVSRunner returns a runner programming bal; log nil discards.
func newLVSRunner(bal pool.Balancer, log *slog.Logger) *lvsRunner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &lvsRunner{bal: bal, log: log}
}

// lvsPool is one running virtual server.
type lvsPool struct {
	svc     lvsService
	pool    *pool.Pool
	syncs   []*pool.BalancerSync
	scripts *scriptQueue
	log     *slog.Logger
	// notified counts the events at the head of the next delivery whose
	// scripts have run: those of a delivery that failed and is retried.
	// Only the pool's dispatcher goroutine uses it.
	notified int
}

// start runs services, replacing the running ones, if any: services that
// are in both keep their IPVS service (the new pool reconciles its
// destinations) and real servers that were down stay down until their
// checks pass; services that are gone are removed. Invalid services leave
// the running ones in place.
func (r *lvsRunner) start(ctx context.Context, services []lvsService) error {
	if r.bal == nil && len(services) > 0 {
		return errors.New("vrrpd: LVS: no balancer")
	}
	down := r.downBackends()
	pools := make([]*lvsPool, 0, len(services))
	for _, s := range services {
		p, err := r.newPool(s, down)
		if err != nil {
			return fmt.Errorf("vrrpd: LVS %s (%s): %w", s.Name, s.Pos, err)
		}
		pools = append(pools, p)
	}
	r.halt()
	keep := map[string]bool{}
	for _, p := range pools {
		for _, s := range p.syncs {
			keep[s.Service.String()] = true
		}
	}
	r.remove(keep)
	r.pools = pools
	if r.scripts == nil {
		r.scripts = newScriptQueue()
	}
	for _, p := range pools {
		p.scripts = r.scripts
	}
	ctx, r.cancel = context.WithCancel(ctx)
	for _, p := range pools {
		r.wg.Go(func() {
			if err := p.pool.Run(ctx); err != nil {
				p.log.Error("LVS pool stopped", "err", err)
			}
		})
	}
	if len(pools) > 0 {
		r.log.Info("LVS started", "virtual_servers", len(pools))
	}
	return nil
}

// downBackends returns the backends that are down in the running pools,
// by service and backend name.
func (r *lvsRunner) downBackends() map[string]map[string]bool {
	down := map[string]map[string]bool{}
	for _, p := range r.pools {
		m := map[string]bool{}
		for _, b := range p.pool.Status().Backends {
			if !b.Healthy {
				m[b.Name] = true
			}
		}
		down[p.svc.Services[0].String()] = m
	}
	return down
}

// newPool builds the pool of s, with fresh checker state.
func (r *lvsRunner) newPool(s lvsService, down map[string]map[string]bool) (*lvsPool, error) {
	if len(s.Services) == 0 {
		return nil, errors.New("no IPVS service")
	}
	log := r.log.With("virtual_server", s.Name)
	p := &lvsPool{svc: s, log: log}
	for _, svc := range s.Services {
		p.syncs = append(p.syncs, &pool.BalancerSync{Balancer: r.bal, Service: svc, Logger: log})
	}
	cfg := s.Pool
	wasDown := down[s.Services[0].String()]
	cfg.Backends = slices.Clone(cfg.Backends)
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		b.Checks = slices.Clone(b.Checks)
		for j := range b.Checks {
			ch := &b.Checks[j]
			if lc, ok := ch.Checker.(*lvsCheck); ok {
				ch.Checker = lc.clone()
			}
			if wasDown[b.Name] {
				ch.InitFail = true
			}
		}
	}
	cfg.OnChange = p.onChange
	cfg.Logger = log
	pl, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	p.pool = pl
	return p, nil
}

// halt stops the running pools and waits for them.
func (r *lvsRunner) halt() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.wg.Wait()
	r.cancel = nil
}

// stop stops the pools, runs the omega scripts and every queued script,
// and removes the services from the balancer.
func (r *lvsRunner) stop() {
	r.halt()
	for _, p := range r.pools {
		if p.svc.Omega {
			p.omega()
		}
	}
	if r.scripts != nil {
		r.scripts.close()
		r.scripts = nil
	}
	r.remove(nil)
	r.pools = nil
}

// remove deletes the services of the running pools that keep does not
// hold.
func (r *lvsRunner) remove(keep map[string]bool) {
	ctx, cancel := context.WithTimeout(context.Background(), lvsRemoveTimeout)
	defer cancel()
	for _, p := range r.pools {
		for _, s := range p.syncs {
			if keep[s.Service.String()] {
				continue
			}
			if err := s.Remove(ctx); err != nil {
				p.log.Error("removing the virtual service", "service", s.Service.String(), "err", err)
			} else {
				p.log.Info("virtual service removed", "service", s.Service.String())
			}
		}
	}
}

// onChange is the pool's OnChange: it applies m to every service, then
// runs the scripts of its events, once each even when a failed delivery is
// retried.
func (p *lvsPool) onChange(ctx context.Context, m pool.Membership) error {
	var errs []error
	for _, s := range p.syncs {
		if err := s.Apply(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	events := m.Events[min(p.notified, len(m.Events)):]
	p.notified = 0
	for _, e := range events {
		p.notify(e)
	}
	err := errors.Join(errs...)
	if err != nil {
		p.notified = len(m.Events)
	}
	return err
}

// runScript queues script sc for event what.
func (p *lvsPool) runScript(sc health.Script, what string) {
	log, vs := p.log, p.svc.Name
	p.scripts.push(func() { lvsRun(log, sc, vs, what) })
}

// notify queues the script of one event, if any.
func (p *lvsPool) notify(e pool.Event) {
	var s *health.Script
	what := e.Kind.String()
	switch e.Kind {
	case pool.BackendUp:
		s, what = p.svc.NotifyUp[e.Backend], "notify_up "+e.Backend
	case pool.BackendDown:
		s, what = p.svc.NotifyDown[e.Backend], "notify_down "+e.Backend
	case pool.QuorumUp:
		s, what = p.svc.QuorumUp, "quorum_up"
	case pool.QuorumDown:
		s, what = p.svc.QuorumDown, "quorum_down"
	}
	if s != nil {
		p.runScript(*s, what)
	}
}

// omega queues keepalived's omega scripts: notify_down of every live real
// server, and quorum_down if the quorum is up.
func (p *lvsPool) omega() {
	st := p.pool.Status()
	for _, b := range st.Backends {
		if s := p.svc.NotifyDown[b.Name]; s != nil && b.Healthy {
			p.runScript(*s, "notify_down "+b.Name+" (omega)")
		}
	}
	if s := p.svc.QuorumDown; s != nil && st.Quorum {
		p.runScript(*s, "quorum_down (omega)")
	}
}

// lvsRun runs a notify_up, notify_down, quorum_up or quorum_down
// script of virtual server vs, for event what, and logs the outcome. The
// scripts run on a scriptQueue, in order.
func lvsRun(log *slog.Logger, sc health.Script, vs, what string) {
	ctx, cancel := context.WithTimeout(context.Background(), lvsScriptTimeout)
	err := sc.Check(ctx)
	cancel()
	if err != nil {
		log.Warn("LVS notify script failed", "virtual_server", vs, "event", what, "script", sc.String(), "err", err)
		return
	}
	log.Info("LVS notify script ran", "virtual_server", vs, "event", what, "script", sc.String())
}
