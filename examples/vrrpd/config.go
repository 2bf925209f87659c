package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// processInterval is how often a vrrp_track_process is polled: keepalived
// learns of processes from kernel events, vrrpkit scans /proc.
const processInterval = 500 * time.Millisecond

// fileInterval is how often a track_file is read (keepalived uses
// inotify).
const fileInterval = time.Second

// daemonConfig is a keepalived configuration converted to what vrrpd runs:
// the Router's instances and sync groups, the Tracker's checks and the
// notify scripts.
type daemonConfig struct {
	// RouterID is global_defs router_id.
	RouterID string
	// StartupDelay is vrrp_startup_delay: how long the daemon waits after
	// it starts before it starts the instances.
	StartupDelay time.Duration
	// NetNamespace is net_namespace: the name of the network namespace
	// (/run/netns/NAME) the instances, addresses, announcements, link
	// monitor and vrrp_script checks work in; empty means vrrpd's own.
	NetNamespace string
	// LogUnknownVRIDs is global_defs log_unknown_vrids.
	LogUnknownVRIDs bool
	// FilterTable is the nftables table of the no_accept filter (global_defs
	// nftables); empty means vip.DefaultFilterTable.
	FilterTable string
	// Instances and SyncGroups configure the vrrp.Router.
	Instances  []vrrp.InstanceConfig
	SyncGroups []vrrp.SyncGroup
	// Static is static_ipaddress, static_routes and static_rules.
	Static vrrp.Static
	// Checks, Tracks, Files and FileTracks configure the health.Tracker.
	Checks     []health.Check
	Tracks     map[string][]health.Track
	Files      []health.File
	FileTracks map[string][]health.FileTrack
	// Notify and GroupNotify are the notify scripts, by instance and by
	// sync group name.
	Notify      map[string]NotifyScripts
	GroupNotify map[string]NotifyScripts
	// GroupOf is the sync group of each member instance.
	GroupOf map[string]string
	// Priorities are the configured priorities by instance.
	Priorities map[string]uint8
	// Warnings are the settings vrrpd runs differently from keepalived.
	Warnings []string
	// LVSWarnings are keepalived's warnings for the virtual servers it
	// corrects, which keepalived -t counts.
	LVSWarnings kaconf.Diagnostics
	// LVS are the virtual_server sections, as health pools for IPVS.
	LVS []lvsService
	// FIFOs are the notify FIFOs (notify_fifo, then vrrp_notify_fifo):
	// both get a line for every state change of an instance or sync
	// group.
	FIFOs []FIFOConfig
}

// hasHealth reports whether the configuration needs a health.Tracker.
func (d *daemonConfig) hasHealth() bool {
	return len(d.Checks) > 0 || len(d.Files) > 0
}

// tracker returns a new Tracker for d moving target.
func (d *daemonConfig) tracker(target health.Target, log *slog.Logger) *health.Tracker {
	return &health.Tracker{Target: target, Checks: d.Checks, Tracks: d.Tracks, Files: d.Files,
		FileTracks: d.FileTracks, Logger: log}
}

// trackerConfig returns d's health checks, for health.Tracker.Reload.
func (d *daemonConfig) trackerConfig() health.TrackerConfig {
	return health.TrackerConfig{Checks: d.Checks, Tracks: d.Tracks, Files: d.Files, FileTracks: d.FileTracks}
}

// convert turns a loaded keepalived configuration into a daemonConfig. A
// configuration whose diagnostics hold errors is refused with those errors
// (kaconf.Diagnostics.Err); so is one the vrrp package rejects.
func convert(cfg *kaconf.Config, diags kaconf.Diagnostics) (*daemonConfig, error) {
	if err := diags.Err(); err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("vrrpd: no configuration")
	}
	g := &cfg.Global
	d := &daemonConfig{
		RouterID:        g.RouterID,
		StartupDelay:    g.StartupDelay,
		NetNamespace:    g.NetNamespace,
		LogUnknownVRIDs: g.LogUnknownVRIDs,
		FilterTable:     g.NftablesTable,
		Tracks:          map[string][]health.Track{},
		FileTracks:      map[string][]health.FileTrack{},
		Notify:          map[string]NotifyScripts{},
		GroupNotify:     map[string]NotifyScripts{},
		GroupOf:         map[string]string{},
		Priorities:      map[string]uint8{},
	}
	script := func(ns *kaconf.NotifyScript) *health.Script {
		if ns == nil || len(ns.Command) == 0 {
			return nil
		}
		s := &health.Script{Path: ns.Command[0], Args: append([]string(nil), ns.Command[1:]...),
			User: ns.User, Group: ns.Group, Security: g.EnableScriptSecurity}
		if s.User == "" {
			s.User, s.Group = g.DefaultScriptUser, g.ScriptGroup
		}
		return s
	}
	notify := func(n kaconf.Notify) NotifyScripts {
		return NotifyScripts{Master: script(n.Master), Backup: script(n.Backup), Fault: script(n.Fault),
			Stop: script(n.Stop), Any: script(n.Any), MasterRxLowerPri: script(n.MasterRxLowerPri)}
	}

	for _, f := range []struct {
		kind string
		f    kaconf.NotifyFIFO
	}{{"notify_fifo", g.NotifyFIFO}, {"vrrp_notify_fifo", g.VRRPNotifyFIFO}} {
		if f.f.Path == "" {
			continue
		}
		fc := FIFOConfig{Kind: f.kind, Path: f.f.Path, User: f.f.User, Group: f.f.Group, Script: script(f.f.Script)}
		if fc.User == "" {
			fc.User, fc.Group = g.ScriptUser, g.ScriptGroup
		}
		d.FIFOs = append(d.FIFOs, fc)
	}

	// Health checks: vrrp_script, vrrp_track_process, track_file.
	for _, s := range cfg.Scripts {
		if len(s.Command) == 0 {
			continue
		}
		hs := health.Script{Path: s.Command[0], Args: append([]string(nil), s.Command[1:]...),
			User: s.User, Group: s.Group, Security: g.EnableScriptSecurity}
		if hs.User == "" {
			hs.User, hs.Group = g.DefaultScriptUser, g.ScriptGroup
		}
		d.Checks = append(d.Checks, health.Check{Name: s.Name, Checker: hs, Interval: s.Interval,
			Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail})
	}
	for _, p := range cfg.TrackProcesses {
		hp := &health.Process{Name: p.Process, FullCommand: p.FullCommand,
			Args: append([]string(nil), p.Params...), Quorum: p.Quorum,
			ForkDelay: p.ForkDelay, TerminateDelay: p.TerminateDelay}
		switch p.ParamMatch {
		case kaconf.ParamMatchExact:
			hp.ParamMatch = health.ParamMatchExact
		case kaconf.ParamMatchPartial:
			hp.ParamMatch = health.ParamMatchPartial
		case kaconf.ParamMatchInitial:
			hp.ParamMatch = health.ParamMatchInitial
		}
		switch {
		case p.QuorumMax < 0:
			hp.QuorumMax = 0 // no limit
		case p.QuorumMax == 0:
			hp.QuorumMax = health.QuorumMaxNone
		default:
			hp.QuorumMax = p.QuorumMax
		}
		d.Checks = append(d.Checks, health.Check{Name: p.Name, Checker: hp, Interval: processInterval})
	}
	for _, f := range cfg.TrackFiles {
		d.Files = append(d.Files, health.File{Name: f.Name, Path: f.Path, Weight: f.Weight,
			Reverse: f.WeightReverse, Interval: fileInterval, Init: f.InitFile, InitValue: f.InitValue,
			Overwrite: f.InitOverwrite})
	}

	// Sync groups, and the tracks they give their members.
	groupOf := map[string]*kaconf.SyncGroup{}
	for i := range cfg.SyncGroups {
		sg := &cfg.SyncGroups[i]
		vg := vrrp.SyncGroup{Name: sg.Name, TrackingWeight: sg.TrackingWeight}
		for _, m := range sg.Members {
			vg.Members = append(vg.Members, m.Name)
			groupOf[m.Name] = sg
		}
		if len(vg.Members) == 0 {
			continue
		}
		for _, m := range vg.Members {
			d.GroupOf[m] = sg.Name
		}
		d.SyncGroups = append(d.SyncGroups, vg)
		d.GroupNotify[sg.Name] = notify(sg.Notify)
	}

	for i := range cfg.Instances {
		in := &cfg.Instances[i]
		c, err := convertInstance(g, in)
		if err != nil {
			return nil, err
		}
		warn := func(format string, args ...any) {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: (%s) ", in.Pos, in.Name)+fmt.Sprintf(format, args...))
		}
		scripts, procs, files, ifaces := in.TrackScripts, in.TrackProcesses, in.TrackFiles, in.TrackInterfaces
		if sg := groupOf[in.Name]; sg != nil {
			scripts = append(append([]kaconf.Track(nil), scripts...), sg.TrackScripts...)
			procs = append(append([]kaconf.Track(nil), procs...), sg.TrackProcesses...)
			files = append(append([]kaconf.Track(nil), files...), sg.TrackFiles...)
			ifaces = append(append([]kaconf.TrackInterface(nil), ifaces...), sg.TrackInterfaces...)
		}
		for _, t := range ifaces {
			w := t.Weight
			if t.Reverse {
				w = -w // approximation: vrrp.TrackInterface has no reverse
				warn("track_interface %s reverse: applied as weight %d", t.Name, w)
			}
			c.TrackInterfaces = append(c.TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: w})
		}
		for _, t := range append(append([]kaconf.Track(nil), scripts...), procs...) {
			d.Tracks[in.Name] = append(d.Tracks[in.Name], health.Track{Check: t.Name, Weight: t.Weight, Reverse: t.Reverse})
		}
		for _, t := range files {
			w, r := t.Weight, t.Reverse
			d.FileTracks[in.Name] = append(d.FileTracks[in.Name], health.FileTrack{File: t.Name, Weight: &w, Reverse: &r})
		}
		d.Instances = append(d.Instances, c)
		d.Notify[in.Name] = notify(in.Notify)
		d.Priorities[in.Name] = c.Priority
	}
	lvsServices, lvsWarnings, err := convertLVSDiags(cfg)
	if err != nil {
		return nil, err
	}
	if ns := cfg.Global.NetNamespace; ns != "" && len(lvsServices) > 0 {
		// keepalived's checker runs in the namespace; vrrpd's pools would
		// probe the real servers, and run their scripts, from its own.
		return nil, fmt.Errorf("vrrpd: %s: virtual_server %s with net_namespace %s is not supported: its checks would run in vrrpd's own namespace, not in %s",
			lvsServices[0].Pos, lvsServices[0].Name, ns, ns)
	}
	d.LVS = lvsServices
	for _, v := range cfg.StaticAddresses {
		d.Static.Addresses = append(d.Static.Addresses, vrrp.VIP{Prefix: v.Prefix, Device: v.Device, Label: v.Label,
			Scope: v.Scope, Broadcast: v.Broadcast})
	}
	d.Static.Routes, d.Static.Rules = convertRoutes(cfg.StaticRoutes), convertRules(cfg.StaticRules)
	d.LVSWarnings = lvsWarnings
	if err := d.validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// validate checks d as the vrrp package and the Tracker will, without
// opening anything.
func (d *daemonConfig) validate() error {
	vc := vrrp.Config{Instances: d.Instances, SyncGroups: d.SyncGroups, Static: d.Static,
		Transport: &transport.Linux{}, Binder: (*vip.Netlink)(nil)}
	if err := vc.Validate(); err != nil {
		return fmt.Errorf("vrrpd: %w", err)
	}
	var errs []error
	for _, c := range d.Checks {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range d.Files {
		if err := f.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("vrrpd: health checks: %w", err)
	}
	return nil
}

// convertInstance converts one vrrp_instance (without its health tracks).
// convertRoutes and convertRules turn kaconf's routes and rules into the
// vrrp package's.
func convertRoutes(rs []kaconf.Route) []vrrp.Route {
	var out []vrrp.Route
	for _, r := range rs {
		out = append(out, vrrp.Route{Dst: r.Dst, Src: r.Src, Via: r.Via, Dev: r.Dev, Table: r.Table, Metric: r.Metric,
			Scope: r.Scope, Protocol: r.Protocol, OnLink: r.OnLink, Type: r.Type, NoTrack: r.NoTrack})
	}
	return out
}

func convertRules(rs []kaconf.Rule) []vrrp.Rule {
	var out []vrrp.Rule
	for _, r := range rs {
		out = append(out, vrrp.Rule{From: r.From, To: r.To, IPv6: r.IPv6, Table: r.Table, Priority: r.Priority,
			IIf: r.IIf, OIf: r.OIf, FWMark: r.FWMark, FWMask: r.FWMask, Protocol: r.Protocol, L3MDev: r.L3MDev})
	}
	return out
}

func convertInstance(g *kaconf.GlobalDefs, in *kaconf.Instance) (vrrp.InstanceConfig, error) {
	version := in.Version
	if version == 0 {
		version = g.VRRPVersion
	}
	if version == 0 {
		version = 2 // keepalived's default
	}
	c := vrrp.InstanceConfig{
		Name:              in.Name,
		Interface:         in.Interface,
		VRID:              in.VRID,
		Version:           uint8(version),
		Priority:          in.Priority,
		AdvertInterval:    in.AdvertInterval,
		NoPreempt:         in.NoPreempt,
		PreemptDelay:      in.PreemptDelay,
		Accept:            in.Accept,
		NoAccept:          !in.Accept,
		SourceAddr:        in.SourceAddr,
		SkipAddressCheck:  in.SkipCheckAdvAddr,
		NoLowerPrioAdvert: in.LowerPrioNoAdvert,
		GARPMasterRepeat:  in.GARPMasterRepeat,
		GARPMasterDelay:   in.GARPMasterDelay,
		GARPMasterRefresh: in.GARPMasterRefresh,
		UseVMAC:           in.UseVMAC,
		VMACName:          in.VMACName,
		VMACXmitBase:      in.VMACXmitBase,
		DontTrackPrimary:  in.DontTrackPrimary,
	}
	c.GARPMasterRefreshRepeat = in.GARPMasterRefreshRepeat
	if in.GARPMasterDelay == 0 {
		c.GARPMasterDelay = -1 // keepalived: 0 sends no second burst
	}
	if in.GARPMasterRepeat == 0 {
		c.GARPMasterRepeat = vrrp.DefaultGARPMasterRepeat
	}
	// kaconf resolved keepalived's defaults; 0 sends none.
	c.GARPLowerPrioRepeat, c.GARPLowerPrioDelay = in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay
	if c.GARPLowerPrioRepeat == 0 {
		c.GARPLowerPrioRepeat = -1
	}
	if c.GARPLowerPrioDelay == 0 {
		c.GARPLowerPrioDelay = -1
	}
	c.HigherPrioSendAdvert = in.HigherPrioSendAdvert
	c.VirtualRoutes, c.VirtualRules = convertRoutes(in.VirtualRoutes), convertRules(in.VirtualRules)
	if in.IPv6 {
		c.GARPInterval = g.GNAInterval
	} else {
		c.GARPInterval = g.GARPInterval
	}
	switch in.AuthType {
	case kaconf.AuthPass:
		if version == 2 {
			c.AuthPass = in.AuthPass
		}
	case kaconf.AuthAH:
		// kaconf kept it for VRRPv2 over IPv4 with a password only,
		// and cleared an initial MASTER state, as keepalived.
		c.AuthPass, c.AuthAH = in.AuthPass, true
	}
	seen := map[netip.Addr]bool{}
	for _, v := range in.VIPs {
		// keepalived keeps one of a repeated address; so does vrrpd (the
		// first).
		if seen[v.Prefix.Addr()] {
			continue
		}
		seen[v.Prefix.Addr()] = true
		c.VIPs = append(c.VIPs, vrrp.VIP{Prefix: v.Prefix, Device: v.Device, Label: v.Label, Scope: v.Scope, Broadcast: v.Broadcast})
	}
	for _, v := range in.ExcludedVIPs {
		// An address in both lists is a VIP (keepalived keeps the first).
		if seen[v.Prefix.Addr()] {
			continue
		}
		seen[v.Prefix.Addr()] = true
		c.ExcludedVIPs = append(c.ExcludedVIPs, vrrp.VIP{Prefix: v.Prefix, Device: v.Device, Label: v.Label, Scope: v.Scope, Broadcast: v.Broadcast})
	}
	// state MASTER: keepalived starts in BACKUP with a first
	// Master_Down_Interval of one advert interval.
	c.InitialMaster = in.State == kaconf.StateMaster
	for _, p := range in.UnicastPeers {
		c.UnicastPeers = append(c.UnicastPeers, p.Addr)
		if p.MinTTL > p.MaxTTL {
			return c, fmt.Errorf("vrrpd: %s: instance %s: unicast_peer %s has min_ttl %d > max_ttl %d, which discards every advert from it; vrrpd refuses it",
				p.Pos, in.Name, p.Addr, p.MinTTL, p.MaxTTL)
		}
		if p.MinTTL != 0 || (p.MaxTTL != 0 && p.MaxTTL != 255) {
			c.PeerTTLs = append(c.PeerTTLs, vrrp.PeerTTL{Addr: p.Addr, Min: uint8(p.MinTTL), Max: uint8(p.MaxTTL)})
		}
	}
	if len(c.UnicastPeers) > 0 {
		// keepalived checks the TTL of multicast adverts only: unicast
		// ones may cross routers (min_ttl/max_ttl bound them per peer).
		c.MinTTL = 1
	}
	if len(c.UnicastPeers) == 0 {
		grp := in.MulticastGroup
		if !grp.IsValid() {
			if in.IPv6 {
				grp = g.MulticastGroup6
			} else {
				grp = g.MulticastGroup4
			}
		}
		c.Group = grp
	}
	return c, nil
}
