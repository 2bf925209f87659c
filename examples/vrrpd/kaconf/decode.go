package kaconf

import (
	"net/netip"
	"strings"
	"time"
)

// decoder turns statements into a Config, with keepalived's checks.
type decoder struct {
	diags *diagSink
	cfg   *Config
	opts  *LoadOptions
	// per-instance settings that completion needs to tell apart from
	// defaults, parallel to cfg.Instances.
	inst []*instanceState
	// all are the top-level statements.
	all []*Node
	// seenNetNS and seenInstance report net_namespace and instance.
	seenNetNS, seenInstance bool
	// blockFlagged holds the nodes whose unexpected block was reported.
	blockFlagged map[*Node]bool
	// rulePref is the preference keepalived gives the next rule without
	// one: 16384, then down.
	rulePref int
}

// Defaults of keepalived 2.2.7 (global_data.c, vrrp_data.c).
const (
	defaultVRRPVersion      = 2
	defaultPriority         = 100
	ownerPriority           = 255
	defaultAdvertInterval   = time.Second
	defaultGARPMasterDelay  = 5 * time.Second
	defaultGARPMasterRepeat = 5
	defaultGARPRefreshRep   = 1
	defaultScriptInterval   = time.Second
	defaultDelayLoop        = 60 * time.Second
	maxIfNameLen            = 15
	authPassLen             = 8
)

func newDecoder(opts *LoadOptions, diags *diagSink) *decoder {
	return &decoder{
		diags:        diags,
		opts:         opts,
		blockFlagged: map[*Node]bool{},
		rulePref:     16384,
		cfg: &Config{Global: GlobalDefs{
			DefaultInterface:        "eth0",
			VRRPVersion:             defaultVRRPVersion,
			MulticastGroup4:         netip.MustParseAddr("224.0.0.18"),
			MulticastGroup6:         netip.MustParseAddr("ff02::12"),
			GARPMasterDelay:         defaultGARPMasterDelay,
			GARPMasterRepeat:        defaultGARPMasterRepeat,
			GARPMasterRefreshRepeat: defaultGARPRefreshRep,
			VMACPrefix:              "vrrp",
			GARPLowerPrioRepeat:     -1,
			GARPLowerPrioDelay:      -1,
		}},
	}
}

// errorf, warnf and infof report at a node.
func (dc *decoder) errorf(n *Node, format string, args ...any) {
	dc.diags.errorf(n.Pos, format, args...)
}

func (dc *decoder) warnf(n *Node, format string, args ...any) {
	dc.diags.warnf(n.Pos, format, args...)
}

func (dc *decoder) infof(n *Node, format string, args ...any) {
	dc.diags.infof(n.Pos, format, args...)
}

// need checks that n has at least k words after the keyword; keepalived
// stops with this message when a parameter is missing.
func (dc *decoder) need(n *Node, k int) bool {
	if len(n.Words) > k {
		return true
	}
	dc.errorf(n, "*** Configuration line starting `%s` is missing a parameter after keyword `%s` at word position %d",
		n.Words[0], n.Words[len(n.Words)-1], len(n.Words)+1)
	return false
}

// noBlock reports a block after a keyword that takes none. keepalived
// would say "Unexpected '{'" and read the block's lines as keywords of the
// enclosing block.
func (dc *decoder) noBlock(n *Node) {
	if n.HasBlock && !dc.blockFlagged[n] {
		dc.blockFlagged[n] = true
		dc.errorf(n, "Unexpected '{' - %s takes no block", n.Keyword())
	}
}

// block checks that n has a block.
func (dc *decoder) block(n *Node) bool {
	if n.HasBlock {
		return true
	}
	dc.errorf(n, "Missing '{' at beginning of configuration block %s", n.Keyword())
	return false
}

// unknown reports a keyword keepalived does not know where it stands.
// keepalived ignores it; a block after it would make keepalived read the
// block's lines as keywords of the enclosing block, which we do not mirror:
// that is an error.
func (dc *decoder) unknown(n *Node) {
	msg := "Unknown keyword '" + n.Keyword() + "'"
	if hint := unknownHint(n.Keyword()); hint != "" {
		msg += " (" + hint + ")"
	}
	dc.warnf(n, "%s", msg)
	if n.HasBlock && !dc.blockFlagged[n] {
		dc.blockFlagged[n] = true
		dc.errorf(n, "Unexpected '{' after unknown keyword %s: keepalived would read the block's lines as keywords of the enclosing block", n.Keyword())
	}
}

func unknownHint(kw string) string {
	switch kw {
	case "lvs_id":
		return "keepalived 1.x's name for router_id; keepalived 2.2.7 ignores it, and so does this daemon"
	case "v3_checksum_as_v2":
		return "not in keepalived 2.2.7"
	case "include", "includer", "includem", "includew", "includeb", "includea":
		return "an include takes exactly one file name"
	}
	if strings.HasSuffix(kw, `\`) {
		return "keepalived has no line continuation"
	}
	return ""
}

// noEffect reports a keyword keepalived knows that does nothing in a
// VRRP-only daemon.
func (dc *decoder) noEffect(n *Node, why string) {
	if why != "" {
		dc.diags.remarkf(n.Pos, "keyword %s has no effect here (%s)", n.Keyword(), why)
	} else {
		dc.diags.remarkf(n.Pos, "keyword %s has no effect here", n.Keyword())
	}
}

// unsupported reports a keyword that would change behaviour and that
// vrrpkit does not support.
func (dc *decoder) unsupported(n *Node, why string) {
	if why != "" {
		dc.errorf(n, "%s is not supported: %s", n.Keyword(), why)
	} else {
		dc.errorf(n, "%s is not supported", n.Keyword())
	}
}

// decode decodes the top-level statements.
func (dc *decoder) decode(nodes []*Node) {
	for _, n := range nodes {
		dc.top(n)
	}
}

func (dc *decoder) top(n *Node) {
	dispatch(dc, topKeywords, dc.cfg, n)
}

// topKeywords are the top-level keywords.
var topKeywords = newTable[*Config]("",
	key("global_defs", 0, "", func(dc *decoder, c *Config, n *Node) {
		if !c.Global.Pos.IsValid() {
			c.Global.Pos = n.Pos
		}
		for _, k := range n.Block {
			dispatch(dc, globalKeywords, &c.Global, k)
		}
	}).withBlock(needBlock),
	// Daemon keywords keepalived also reads at the top level.
	asGlobal("net_namespace"),
	asGlobal("instance"),
	asGlobal("use_pid_dir"),
	asGlobal("linkbeat_use_polling"),
	asGlobal("namespace_with_ipsets"),
	asGlobal("child_wait_time"),
	asGlobal("net_namespace_ipvs"),
	key("vrrp_instance", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.instance(n) }).withBlock(optBlock),
	key("vrrp_script", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.script(n) }).withBlock(optBlock),
	key("vrrp_track_process", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.trackProcess(n) }).withBlock(optBlock),
	key("track_file", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.trackFile(n) }).withBlock(optBlock),
	key("vrrp_track_file", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.trackFile(n) }).withBlock(optBlock).deprecated("track_file", true),
	key("vrrp_sync_group", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.syncGroup(n) }).withBlock(optBlock),
	key("virtual_server_group", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.virtualServerGroup(n) }).withBlock(optBlock),
	key("virtual_server", 0, "", func(dc *decoder, _ *Config, n *Node) { dc.virtualServer(n) }).withBlock(optBlock),
	key("static_ipaddress", 0, "", func(dc *decoder, c *Config, n *Node) {
		for _, k := range n.Block {
			dc.noBlock(k)
			if v, ok := dc.vip(k); ok {
				if v.Device == "" {
					v.Device = c.Global.DefaultInterface
				}
				c.StaticAddresses = append(c.StaticAddresses, v)
			}
		}
	}).withBlock(needBlock),
	key("static_routes", 0, "", func(dc *decoder, c *Config, n *Node) {
		for _, k := range n.Block {
			dc.noBlock(k)
			if r, ok := dc.route(k); ok {
				c.StaticRoutes = append(c.StaticRoutes, r)
			}
		}
	}).withBlock(needBlock),
	key("static_rules", 0, "", func(dc *decoder, c *Config, n *Node) {
		for _, k := range n.Block {
			dc.noBlock(k)
			if r, ok := dc.rule(k); ok {
				c.StaticRules = append(c.StaticRules, r)
			}
		}
	}).withBlock(needBlock),
	refusedKey[*Config]("track_group", "track groups of static addresses, routes and rules").withBlock(optBlock),
	refusedKey[*Config]("garp_group", "per-interface gratuitous ARP delays; use vrrp_garp_interval / vrrp_gna_interval").withBlock(optBlock),
	noEffectKey[*Config]("linkbeat_interfaces", "link state comes from netlink").withBlock(optBlock),
	refusedKey[*Config]("interface_up_down_delays", "interface state changes take effect at once in vrrpkit").withBlock(optBlock),
	refusedKey[*Config]("bfd_instance", "BFD").withBlock(optBlock),
	noEffectKey[*Config]("SSL", "SSL_GET checkers use the system's TLS defaults").withBlock(optBlock),
)

// asGlobal is a global_defs keyword keepalived also reads at the top
// level.
func asGlobal(name string) kw[*Config] {
	k := key(name, 0, "", topGlobal)
	k.Reason = "as in global_defs"
	return k
}

// topGlobal reads a daemon keyword given at the top level as in
// global_defs.
func topGlobal(dc *decoder, c *Config, n *Node) {
	dispatch(dc, globalKeywords, &c.Global, n)
}

// globalKeywords are the keywords of global_defs.
var globalKeywords = newTable[*GlobalDefs]("global_defs",
	key("router_id", 0, "the host name", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "routerid name missing - ignoring")
			return
		}
		g.RouterID = n.Words[1]
	}),
	key("net_namespace", 0, "", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "net_namespace name missing - ignoring")
			return
		}
		if dc.seenNetNS {
			dc.warnf(n, "Duplicate net_namespace definition %s - ignoring", n.Words[1])
			return
		}
		dc.seenNetNS = true
		g.NetNamespace = n.Words[1]
	}),
	key("instance", 0, "", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "instance name missing - ignoring")
			return
		}
		if dc.seenInstance {
			dc.warnf(n, "Duplicate instance definition %s - ignoring", n.Words[1])
			return
		}
		dc.seenInstance = true
		g.Instance = n.Words[1]
	}),
	key("default_interface", 0, "eth0", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "default_interface requires interface name")
			return
		}
		g.DefaultInterface = n.Words[1]
	}),
	key("dynamic_interfaces", 0, "", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) > 1 && n.Words[1] != "allow_if_changes" {
			dc.warnf(n, "Unknown dynamic_interfaces option '%s'", n.Words[1])
		}
		g.DynamicInterfaces = true
	}),
	key("enable_script_security", 0, "off", func(_ *decoder, g *GlobalDefs, _ *Node) { g.EnableScriptSecurity = true }),
	key("script_user", 0, "keepalived_script if it exists, else root", func(dc *decoder, g *GlobalDefs, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "No script username specified")
			return
		}
		g.ScriptUser, g.ScriptGroup = n.Words[1], n.Arg(2)
	}),
	key("vrrp_version", 1, "2", func(dc *decoder, g *GlobalDefs, n *Node) {
		v, msg := parseUnsigned(n.Words[1], 2, 3)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("VRRP Error: Version must be either 2 or 3", msg))
			return
		}
		g.VRRPVersion = int(v)
	}),
	key("vrrp_mcast_group4", 1, "224.0.0.18", mcastGroup),
	key("vrrp_mcast_group6", 1, "ff02::12", mcastGroup),
	key("vrrp_garp_master_delay", 0, "5", func(dc *decoder, g *GlobalDefs, n *Node) {
		if d, ok := dc.seconds(n, n.Keyword()+" '%s' invalid - ignoring"); ok {
			g.GARPMasterDelay = d
		}
	}),
	key("vrrp_garp_master_repeat", 0, "5", func(dc *decoder, g *GlobalDefs, n *Node) {
		kw := n.Keyword()
		if v, ok := dc.repeat(n, kw+" '%s' invalid - ignoring", kw+" must be greater than 0, setting to 1"); ok {
			g.GARPMasterRepeat = v
		}
	}),
	key("vrrp_garp_master_refresh", 0, "0 (none)", func(dc *decoder, g *GlobalDefs, n *Node) {
		if d, ok := dc.seconds(n, "Invalid vrrp_garp_master_refresh '%s' - ignoring"); ok {
			g.GARPMasterRefresh = d
		}
	}),
	key("vrrp_garp_master_refresh_repeat", 0, "1", func(dc *decoder, g *GlobalDefs, n *Node) {
		kw := n.Keyword()
		if v, ok := dc.repeat(n, kw+" '%s' invalid - ignoring", kw+" must be greater than 0, setting to 1"); ok {
			g.GARPMasterRefreshRepeat = v
		}
	}),
	key("vrrp_garp_interval", 1, "0", garpInterval),
	key("vrrp_gna_interval", 1, "0", garpInterval),
	key("vrrp_min_garp", 0, "off; alone: on", func(dc *decoder, g *GlobalDefs, n *Node) {
		on := true
		if len(n.Words) > 1 {
			var ok bool
			if on, ok = parseBool(n.Words[1]); !ok {
				dc.warnf(n, "Invalid value for vrrp_min_garp specified")
				return
			}
		}
		if on {
			g.GARPMasterRepeat, g.GARPMasterDelay, g.GARPMasterRefreshRepeat = 1, 0, 1
		}
	}),
	key("vrrp_strict", 0, "off", func(_ *decoder, g *GlobalDefs, _ *Node) { g.Strict = true }),
	key("vrrp_check_unicast_src", 0, "off", func(_ *decoder, g *GlobalDefs, _ *Node) { g.CheckUnicastSrc = true }),
	key("vrrp_skip_check_adv_addr", 0, "off", func(_ *decoder, g *GlobalDefs, _ *Node) { g.SkipCheckAdvAddr = true }),
	key("vrrp_lower_prio_no_advert", 0, "off; alone: on", func(dc *decoder, g *GlobalDefs, n *Node) {
		if v, ok := dc.optBool(n, "Invalid value for vrrp_lower_prio_no_advert specified"); ok {
			g.LowerPrioNoAdvert = v
		}
	}),
	key("vrrp_higher_prio_send_advert", 0, "off; alone: on", func(dc *decoder, g *GlobalDefs, n *Node) {
		if v, ok := dc.optBool(n, "Invalid value for vrrp_higher_prio_send_advert specified"); ok {
			g.HigherPrioSendAdvert = v
		}
	}),
	key("log_unknown_vrids", 0, "off", func(_ *decoder, g *GlobalDefs, _ *Node) { g.LogUnknownVRIDs = true }),
	key("vrrp_startup_delay", 1, "0", func(dc *decoder, g *GlobalDefs, n *Node) {
		d, msg := parseTimer(n.Words[1], 0, 4294967295*time.Microsecond)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("vrrp_startup_delay '"+n.Words[1]+"' is invalid", msg))
			return
		}
		g.StartupDelay = d
	}),
	key("vmac_prefix", 1, "vrrp", func(_ *decoder, g *GlobalDefs, n *Node) { g.VMACPrefix = n.Words[1] }),
	key("vrrp_garp_lower_prio_delay", 1, "vrrp_garp_master_delay", func(dc *decoder, g *GlobalDefs, n *Node) {
		if v, ok := lowerPrioGARP(dc, n, ""); ok {
			g.GARPLowerPrioDelay = time.Duration(v) * time.Second
		}
	}),
	key("vrrp_garp_lower_prio_repeat", 1, "vrrp_garp_master_repeat", func(dc *decoder, g *GlobalDefs, n *Node) {
		if v, ok := lowerPrioGARP(dc, n, ""); ok {
			g.GARPLowerPrioRepeat = v
		}
	}),
	refusedKey[*GlobalDefs]("vrrp_down_timer_adverts", downTimerWhy).when(globalCheck(downTimer("Invalid vrrp_down_timer_adverts"))),
	refusedKey[*GlobalDefs]("vrrp_garp_extra_if", "periodic gratuitous ARPs on other interfaces"),
	refusedKey[*GlobalDefs]("vrrp_vmac_garp_intvl", "periodic gratuitous ARPs on other interfaces"),
	refusedKey[*GlobalDefs]("startup_script", "scripts run when the daemon starts or stops"),
	refusedKey[*GlobalDefs]("shutdown_script", "scripts run when the daemon starts or stops"),
	key("notify_fifo", 0, "none", notifyFIFO),
	key("notify_fifo_script", 0, "none", notifyFIFOScript),
	key("vrrp_notify_fifo", 0, "none", notifyFIFO),
	key("vrrp_notify_fifo_script", 0, "none", notifyFIFOScript),
	noEffectKey[*GlobalDefs]("notification_email", mailWhy).withBlock(optBlock),
	key("vrrp_iptables", 0, "nftables", func(dc *decoder, g *GlobalDefs, n *Node) {
		// keepalived 2.2.7 as Debian builds it has no iptables: it
		// says so and uses nftables (measured).
		dc.warnf(n, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option")
	}),
	noEffectKey[*GlobalDefs]("lvs_sync_daemon", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_timeouts", ipvsWhy),
	noEffectKey[*GlobalDefs]("random_seed", "${_RANDOM} is seeded by the reader's options"),
	noEffectKey[*GlobalDefs]("notification_email_from", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_server", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_helo_name", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_connect_timeout", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_alert", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_alert_vrrp", mailWhy),
	noEffectKey[*GlobalDefs]("smtp_alert_checker", mailWhy),
	noEffectKey[*GlobalDefs]("no_email_faults", mailWhy),
	noEffectKey[*GlobalDefs]("checker_log_all_failures", ""),
	noEffectKey[*GlobalDefs]("rs_init_notifies", ""),
	noEffectKey[*GlobalDefs]("no_checker_emails", ""),
	noEffectKey[*GlobalDefs]("process_names", oneProcessWhy),
	noEffectKey[*GlobalDefs]("process_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("vrrp_process_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("checker_process_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("lvs_process_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("bfd_process_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("use_pid_dir", oneProcessWhy),
	noEffectKey[*GlobalDefs]("child_wait_time", oneProcessWhy),
	noEffectKey[*GlobalDefs]("umask", oneProcessWhy),
	noEffectKey[*GlobalDefs]("instance_name", oneProcessWhy),
	noEffectKey[*GlobalDefs]("max_auto_priority", schedWhy),
	noEffectKey[*GlobalDefs]("min_auto_priority_delay", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_priority", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_no_swap", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_rt_priority", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_cpu_affinity", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_rlimit_rttime", schedWhy),
	noEffectKey[*GlobalDefs]("vrrp_rlimit_rtime", schedWhy),
	noEffectKey[*GlobalDefs]("checker_priority", schedWhy),
	noEffectKey[*GlobalDefs]("checker_no_swap", schedWhy),
	noEffectKey[*GlobalDefs]("checker_rt_priority", schedWhy),
	noEffectKey[*GlobalDefs]("checker_cpu_affinity", schedWhy),
	noEffectKey[*GlobalDefs]("checker_rlimit_rttime", schedWhy),
	noEffectKey[*GlobalDefs]("checker_rlimit_rtime", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_priority", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_no_swap", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_rt_priority", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_cpu_affinity", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_rlimit_rttime", schedWhy),
	noEffectKey[*GlobalDefs]("bfd_rlimit_rtime", schedWhy),
	noEffectKey[*GlobalDefs]("snmp_socket", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_traps", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_vrrp", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_keepalived", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_rfc", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_rfcv2", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_rfcv3", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_snmp_checker", snmpWhy),
	noEffectKey[*GlobalDefs]("enable_dbus", snmpWhy),
	noEffectKey[*GlobalDefs]("dbus_service_name", snmpWhy),
	noEffectKey[*GlobalDefs]("vrrp_netlink_cmd_rcv_bufs", bufsWhy),
	noEffectKey[*GlobalDefs]("vrrp_netlink_cmd_rcv_bufs_force", bufsWhy),
	noEffectKey[*GlobalDefs]("vrrp_netlink_monitor_rcv_bufs", bufsWhy),
	noEffectKey[*GlobalDefs]("vrrp_netlink_monitor_rcv_bufs_force", bufsWhy),
	noEffectKey[*GlobalDefs]("process_monitor_rcv_bufs", bufsWhy),
	noEffectKey[*GlobalDefs]("process_monitor_rcv_bufs_force", bufsWhy),
	noEffectKey[*GlobalDefs]("lvs_netlink_cmd_rcv_bufs", bufsWhy),
	noEffectKey[*GlobalDefs]("lvs_netlink_cmd_rcv_bufs_force", bufsWhy),
	noEffectKey[*GlobalDefs]("lvs_netlink_monitor_rcv_bufs", bufsWhy),
	noEffectKey[*GlobalDefs]("lvs_netlink_monitor_rcv_bufs_force", bufsWhy),
	noEffectKey[*GlobalDefs]("vrrp_rx_bufs_policy", bufsWhy),
	noEffectKey[*GlobalDefs]("vrrp_rx_bufs_multiplier", bufsWhy),
	noEffectKey[*GlobalDefs]("reload_check_config", ""),
	noEffectKey[*GlobalDefs]("reload_time_file", ""),
	noEffectKey[*GlobalDefs]("reload_repeat", ""),
	noEffectKey[*GlobalDefs]("reload_file", ""),
	noEffectKey[*GlobalDefs]("include_check", ""),
	noEffectKey[*GlobalDefs]("config_save_dir", ""),
	noEffectKey[*GlobalDefs]("tmp_config_directory", ""),
	noEffectKey[*GlobalDefs]("data_use_instance", ""),
	noEffectKey[*GlobalDefs]("fifo_write_vrrp_states_on_reload", ""),
	noEffectKey[*GlobalDefs]("linkbeat_use_polling", "link state comes from netlink"),
	noEffectKey[*GlobalDefs]("namespace_with_ipsets", "no ipsets (keepalived 2.2.7 as Debian builds it has none either)"),
	key("nftables", 0, "keepalived; table inet vrrpkit without it", func(dc *decoder, g *GlobalDefs, n *Node) {
		g.NftablesTable = "keepalived"
		if len(n.Words) > 1 {
			g.NftablesTable = n.Words[1]
		}
	}),
	refusedKey[*GlobalDefs]("nftables_priority", "the no_accept filter's chains have keepalived's default priority, filter - 1; only -1 is accepted").when(func(dc *decoder, _ *GlobalDefs, n *Node) bool {
		if !dc.need(n, 1) {
			return false
		}
		v, msg := parseInt(n.Words[1], -1<<31, 1<<31-1)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("Invalid nftables_priority "+n.Words[1], msg))
			return false
		}
		return v != -1
	}),
	noEffectKey[*GlobalDefs]("nftables_ifindex", "the no_accept filter matches the VIPs on every interface"),
	noEffectKey[*GlobalDefs]("nftables_counters", "the no_accept filter's rules have no counters"),
	noEffectKey[*GlobalDefs]("nftables_ipvs", ipvsWhy),
	noEffectKey[*GlobalDefs]("nftables_ipvs_priority", ipvsWhy),
	noEffectKey[*GlobalDefs]("nftables_ipvs_start_fwmark", ipvsWhy),
	noEffectKey[*GlobalDefs]("disable_local_igmp", "no firewall rules for the IGMP of VMACs"),
	noEffectKey[*GlobalDefs]("vrrp_notify_priority_changes", priorityChangesWhy).when(globalCheck(priorityChanges("", "global "))),
	noEffectKey[*GlobalDefs]("net_namespace_ipvs", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_flush", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_flush_on_stop", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_flush_onstop", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_notify_fifo", ipvsWhy),
	noEffectKey[*GlobalDefs]("lvs_notify_fifo_script", ipvsWhy),
	noEffectKey[*GlobalDefs]("vmac_addr_prefix", ""),
	noEffectKey[*GlobalDefs]("startup_script_timeout", ""),
	noEffectKey[*GlobalDefs]("shutdown_script_timeout", ""),
)

// Reasons shared by several keywords.
const (
	mailWhy       = "no e-mail is sent"
	oneProcessWhy = "a single process"
	schedWhy      = "process scheduling is the Go runtime's"
	snmpWhy       = "no SNMP or D-Bus"
	bufsWhy       = "socket buffers are sized by vrrpkit"
	ipvsWhy       = "IPVS settings are not managed"
	downTimerWhy  = "the Master_Down_Interval is 3 advert intervals (RFC 5798); only 3 is accepted"
	// priorityChangesWhy: the Router reports state changes, not changes of
	// the effective priority, so no MASTER_PRIORITY / BACKUP_PRIORITY line
	// can be written.
	priorityChangesWhy = "the notify FIFOs get state changes only, no MASTER_PRIORITY or BACKUP_PRIORITY lines"
)

// fifoOf returns the FIFO a notify_fifo keyword names, and the prefix
// keepalived puts in its messages ("" or "vrrp_").
func fifoOf(g *GlobalDefs, kw string) (*NotifyFIFO, string) {
	if strings.HasPrefix(kw, "vrrp_") {
		return &g.VRRPNotifyFIFO, "vrrp_"
	}
	return &g.NotifyFIFO, ""
}

// notifyFIFO reads notify_fifo / vrrp_notify_fifo NAME [USER [GROUP]];
// keepalived keeps the first.
func notifyFIFO(dc *decoder, g *GlobalDefs, n *Node) {
	f, typ := fifoOf(g, n.Keyword())
	if len(n.Words) < 2 {
		dc.warnf(n, "No %snotify_fifo name specified", typ)
		return
	}
	if f.Path != "" {
		dc.warnf(n, "%snotify_fifo already specified - ignoring %s", typ, n.Words[1])
		return
	}
	f.Pos, f.Path, f.User, f.Group = n.Pos, n.Words[1], n.Arg(2), n.Arg(3)
	if len(n.Words) > 4 {
		dc.warnf(n, "%s: the words after the group (%s) are ignored, as keepalived ignores them", n.Keyword(), strings.Join(n.Words[4:], " "))
	}
}

// notifyFIFOScript reads notify_fifo_script / vrrp_notify_fifo_script
// SCRIPT [USER [GROUP]]; keepalived keeps the first.
func notifyFIFOScript(dc *decoder, g *GlobalDefs, n *Node) {
	f, typ := fifoOf(g, n.Keyword())
	if len(n.Words) < 2 {
		dc.warnf(n, "No %snotify_fifo_script specified", typ)
		return
	}
	if f.Script != nil {
		dc.warnf(n, "%snotify_fifo_script already specified - ignoring %s", typ, n.Words[1])
		return
	}
	f.Script = dc.scriptLine(n, true)
}

// priorityChanges checks the <BOOL> of vrrp_notify_priority_changes and
// notify_priority_changes with keepalived's message, which starts with
// prefix ("(VI_1) ") and names the block with where ("global ", "sync
// group "); only an enabling value has the keyword's diagnostic.
func priorityChanges(prefix, where string) func(*decoder, *Node) bool {
	return func(dc *decoder, n *Node) bool {
		if len(n.Words) < 2 {
			return true
		}
		v, ok := parseBool(n.Words[1])
		if !ok {
			dc.warnf(n, "%sInvalid value '%s' for %s%s specified", prefix, n.Words[1], where, n.Keyword())
			return false
		}
		return v
	}
}

func mcastGroup(dc *decoder, g *GlobalDefs, n *Node) {
	kw := n.Keyword()
	a, ok := parseAddr(n.Words[1])
	want6 := kw == "vrrp_mcast_group6"
	switch {
	case !ok || a.Is6() != want6:
		dc.warnf(n, "Can't parse %s [%s]. Skipping", kw, n.Words[1])
	case !a.IsMulticast():
		dc.warnf(n, "%s [%s] is not multicast. Skipping", kw, n.Words[1])
	case want6:
		g.MulticastGroup6 = a
	default:
		g.MulticastGroup4 = a
	}
}

func garpInterval(dc *decoder, g *GlobalDefs, n *Node) {
	kw := n.Keyword()
	d, msg := parseTimer(n.Words[1], time.Microsecond, 4294967295*time.Microsecond)
	if msg != "" {
		dc.warnf(n, "%s", joinMsg(kw+" '"+n.Words[1]+"' is invalid", msg))
		return
	}
	if kw == "vrrp_garp_interval" {
		g.GARPInterval = d
	} else {
		g.GNAInterval = d
	}
}

// globalCheck adapts a value check to the global_defs table.
func globalCheck(f func(*decoder, *Node) bool) func(*decoder, *GlobalDefs, *Node) bool {
	return func(dc *decoder, _ *GlobalDefs, n *Node) bool { return f(dc, n) }
}

// lowerPrioGARP reads a garp_lower_prio_delay (seconds) or
// garp_lower_prio_repeat value; prefix names the instance in keepalived's
// message.
func lowerPrioGARP(dc *decoder, n *Node, prefix string) (int, bool) {
	v, msg := parseUnsigned(n.Words[1], 0, 1<<31-1)
	if msg != "" {
		dc.warnf(n, "%s", joinMsg(prefix+n.Keyword()+" '"+n.Words[1]+"' invalid - ignoring", msg))
		return 0, false
	}
	return int(v), true
}

// downTimer checks a down_timer_adverts value: only 3 is supported.
func downTimer(invalid string) func(*decoder, *Node) bool {
	return func(dc *decoder, n *Node) bool {
		if !dc.need(n, 1) {
			return false
		}
		v, msg := parseUnsigned(n.Words[1], 1, 100)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg(invalid+" [1:100] '"+n.Words[1]+"'", msg))
			return false
		}
		return v != 3
	}
}

// seconds reads a whole number of seconds, as keepalived's garp delays.
func (dc *decoder) seconds(n *Node, invalid string) (time.Duration, bool) {
	if !dc.need(n, 1) {
		return 0, false
	}
	v, msg := parseUnsigned(n.Words[1], 0, 4294)
	if msg != "" {
		dc.warnf(n, "%s", joinMsg(sprintf(invalid, n.Words[1]), msg))
		return 0, false
	}
	return time.Duration(v) * time.Second, true
}

// repeat reads a repeat count of at least 1, taking 0 as 1 as keepalived
// does.
func (dc *decoder) repeat(n *Node, invalid, zero string) (int, bool) {
	if !dc.need(n, 1) {
		return 0, false
	}
	v, msg := parseUnsigned(n.Words[1], 0, 1<<32-1)
	if msg != "" {
		dc.warnf(n, "%s", joinMsg(sprintf(invalid, n.Words[1]), msg))
		return 0, false
	}
	if v == 0 {
		dc.warnf(n, "%s", zero)
		v = 1
	}
	return int(v), true
}

// optBool reads an optional <BOOL>; the keyword alone means true.
func (dc *decoder) optBool(n *Node, invalid string) (bool, bool) {
	if len(n.Words) < 2 {
		return true, true
	}
	v, ok := parseBool(n.Words[1])
	if !ok {
		dc.warnf(n, "%s", sprintf(invalid, n.Words[1]))
		return false, false
	}
	return v, true
}
