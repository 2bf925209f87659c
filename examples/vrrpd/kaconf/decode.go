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
		cfg: &Config{Global: GlobalDefs{
			DefaultInterface:        "eth0",
			VRRPVersion:             defaultVRRPVersion,
			MulticastGroup4:         netip.MustParseAddr("224.0.0.18"),
			MulticastGroup6:         netip.MustParseAddr("ff02::12"),
			GARPMasterDelay:         defaultGARPMasterDelay,
			GARPMasterRepeat:        defaultGARPMasterRepeat,
			GARPMasterRefreshRepeat: defaultGARPRefreshRep,
			VMACPrefix:              "vrrp",
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
		dc.warnf(n, "keyword %s has no effect here (%s)", n.Keyword(), why)
	} else {
		dc.warnf(n, "keyword %s has no effect here", n.Keyword())
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
	g := &dc.cfg.Global
	switch kw := n.Keyword(); kw {
	case "global_defs":
		if dc.block(n) {
			if !g.Pos.IsValid() {
				g.Pos = n.Pos
			}
			for _, c := range n.Block {
				dc.globalDef(c)
			}
		}
	case "net_namespace", "instance", "use_pid_dir", "linkbeat_use_polling",
		"namespace_with_ipsets", "child_wait_time", "net_namespace_ipvs":
		dc.noBlock(n)
		dc.globalDef(n)
	case "vrrp_instance":
		dc.instance(n)
	case "vrrp_script":
		dc.script(n)
	case "vrrp_track_process":
		dc.trackProcess(n)
	case "track_file", "vrrp_track_file":
		if kw == "vrrp_track_file" {
			dc.warnf(n, `"vrrp_track_file" is deprecated, please use "track_file"`)
		}
		dc.trackFile(n)
	case "vrrp_sync_group":
		dc.syncGroup(n)
	case "virtual_server_group":
		dc.virtualServerGroup(n)
	case "virtual_server":
		dc.virtualServer(n)
	case "static_ipaddress":
		dc.unsupported(n, "static addresses are not configured by vrrpkit")
	case "static_routes", "static_rules":
		dc.unsupported(n, "static routes and rules are not configured by vrrpkit")
	case "track_group":
		dc.unsupported(n, "track groups of static addresses, routes and rules")
	case "garp_group":
		dc.unsupported(n, "per-interface gratuitous ARP delays; use vrrp_garp_interval / vrrp_gna_interval")
	case "linkbeat_interfaces":
		dc.noEffect(n, "link state comes from netlink")
	case "interface_up_down_delays":
		dc.unsupported(n, "interface state changes take effect at once in vrrpkit")
	case "bfd_instance":
		dc.unsupported(n, "BFD")
	case "SSL":
		dc.noEffect(n, "SSL_GET checkers use the system's TLS defaults")
	default:
		dc.unknown(n)
	}
}

// globalDef decodes a keyword of global_defs (or a daemon keyword at the
// top level).
func (dc *decoder) globalDef(n *Node) {
	g := &dc.cfg.Global
	kw := n.Keyword()
	if kw != "notification_email" {
		dc.noBlock(n)
	}
	switch kw {
	case "router_id":
		if len(n.Words) < 2 {
			dc.warnf(n, "routerid name missing - ignoring")
			return
		}
		g.RouterID = n.Words[1]
	case "net_namespace":
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
	case "instance":
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
	case "default_interface":
		if len(n.Words) < 2 {
			dc.warnf(n, "default_interface requires interface name")
			return
		}
		g.DefaultInterface = n.Words[1]
	case "dynamic_interfaces":
		if len(n.Words) > 1 && n.Words[1] != "allow_if_changes" {
			dc.warnf(n, "Unknown dynamic_interfaces option '%s'", n.Words[1])
		}
		g.DynamicInterfaces = true
	case "enable_script_security":
		g.EnableScriptSecurity = true
	case "script_user":
		if len(n.Words) < 2 {
			dc.warnf(n, "No script username specified")
			return
		}
		g.ScriptUser = n.Words[1]
		g.ScriptGroup = n.Arg(2)
	case "vrrp_version":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseUnsigned(n.Words[1], 2, 3)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("VRRP Error: Version must be either 2 or 3", msg))
			return
		}
		g.VRRPVersion = int(v)
	case "vrrp_mcast_group4", "vrrp_mcast_group6":
		if !dc.need(n, 1) {
			return
		}
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
	case "vrrp_garp_master_delay":
		if d, ok := dc.seconds(n, kw+" '%s' invalid - ignoring"); ok {
			g.GARPMasterDelay = d
		}
	case "vrrp_garp_master_repeat":
		if v, ok := dc.repeat(n, kw+" '%s' invalid - ignoring", kw+" must be greater than 0, setting to 1"); ok {
			g.GARPMasterRepeat = v
		}
	case "vrrp_garp_master_refresh":
		if d, ok := dc.seconds(n, "Invalid vrrp_garp_master_refresh '%s' - ignoring"); ok {
			g.GARPMasterRefresh = d
		}
	case "vrrp_garp_master_refresh_repeat":
		if v, ok := dc.repeat(n, kw+" '%s' invalid - ignoring", kw+" must be greater than 0, setting to 1"); ok {
			g.GARPMasterRefreshRepeat = v
		}
	case "vrrp_garp_interval", "vrrp_gna_interval":
		if !dc.need(n, 1) {
			return
		}
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
	case "vrrp_min_garp":
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
	case "vrrp_strict":
		g.Strict = true
	case "vrrp_check_unicast_src":
		g.CheckUnicastSrc = true
	case "vrrp_skip_check_adv_addr":
		g.SkipCheckAdvAddr = true
	case "vrrp_lower_prio_no_advert":
		if v, ok := dc.optBool(n, "Invalid value for vrrp_lower_prio_no_advert specified"); ok {
			g.LowerPrioNoAdvert = v
		}
	case "vrrp_higher_prio_send_advert":
		if v, ok := dc.optBool(n, "Invalid value for vrrp_higher_prio_send_advert specified"); ok && v {
			dc.unsupported(n, "a Master hearing a higher priority steps down without a last advert")
		}
	case "log_unknown_vrids":
		g.LogUnknownVRIDs = true
	case "vrrp_startup_delay":
		if !dc.need(n, 1) {
			return
		}
		d, msg := parseTimer(n.Words[1], 0, 4294967295*time.Microsecond)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("vrrp_startup_delay '"+n.Words[1]+"' is invalid", msg))
			return
		}
		g.StartupDelay = d
	case "vmac_prefix":
		if !dc.need(n, 1) {
			return
		}
		g.VMACPrefix = n.Words[1]
	case "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat":
		if !dc.need(n, 1) {
			return
		}
		if v, msg := parseUnsigned(n.Words[1], 0, 1<<31-1); msg != "" {
			dc.warnf(n, "%s", joinMsg(kw+" '"+n.Words[1]+"' invalid - ignoring", msg))
		} else if v != 0 {
			dc.unsupported(n, "vrrpkit sends no gratuitous ARPs on hearing a lower priority advert; only 0 is accepted")
		}
	case "vrrp_down_timer_adverts":
		if !dc.need(n, 1) {
			return
		}
		if v, msg := parseUnsigned(n.Words[1], 1, 100); msg != "" {
			dc.warnf(n, "%s", joinMsg("Invalid vrrp_down_timer_adverts [1:100] '"+n.Words[1]+"'", msg))
		} else if v != 3 {
			dc.unsupported(n, "the Master_Down_Interval is 3 advert intervals (RFC 5798); only 3 is accepted")
		}
	case "vrrp_garp_extra_if", "vrrp_vmac_garp_intvl":
		dc.unsupported(n, "periodic gratuitous ARPs on other interfaces")
	case "startup_script", "shutdown_script":
		dc.unsupported(n, "scripts run when the daemon starts or stops")
	case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script":
		dc.unsupported(n, "notify FIFOs; use notify scripts")
	case "notification_email":
		dc.noEffect(n, "no e-mail is sent")
	case "vrrp_iptables", "vrrp_ipsets":
		dc.warnf(n, "%s: iptables not supported, and keyword %s has no effect here (no firewall rules are managed; no_accept mode is refused)", kw, kw)
	case "lvs_sync_daemon", "lvs_timeouts":
		dc.warnf(n, "keyword %s has no effect here (IPVS settings are not managed)", kw)
	case "random_seed":
		dc.noEffect(n, "${_RANDOM} is seeded by the reader's options")
	default:
		if why, ok := globalNoEffect(kw); ok {
			dc.noEffect(n, why)
			return
		}
		dc.unknown(n)
	}
}

// globalNoEffect lists the global keywords of keepalived 2.2.7 that do
// nothing in a VRRP-only daemon, with the reason.
func globalNoEffect(kw string) (string, bool) {
	switch kw {
	case "notification_email_from", "smtp_server", "smtp_helo_name", "smtp_connect_timeout",
		"smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults":
		return "no e-mail is sent", true
	case "checker_log_all_failures", "rs_init_notifies", "no_checker_emails":
		return "", true
	case "process_names", "process_name", "vrrp_process_name", "checker_process_name",
		"lvs_process_name", "bfd_process_name", "use_pid_dir", "child_wait_time", "umask",
		"instance_name":
		return "a single process", true
	case "max_auto_priority", "min_auto_priority_delay",
		"vrrp_priority", "vrrp_no_swap", "vrrp_rt_priority", "vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime",
		"checker_priority", "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity", "checker_rlimit_rttime", "checker_rlimit_rtime",
		"bfd_priority", "bfd_no_swap", "bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime":
		return "process scheduling is the Go runtime's", true
	case "snmp_socket", "enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_rfc",
		"enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker", "enable_dbus", "dbus_service_name":
		return "no SNMP or D-Bus", true
	case "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
		"vrrp_netlink_monitor_rcv_bufs_force", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
		"lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
		"lvs_netlink_monitor_rcv_bufs_force", "vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier":
		return "socket buffers are sized by vrrpkit", true
	case "reload_check_config", "reload_time_file", "reload_repeat", "reload_file", "include_check",
		"config_save_dir", "tmp_config_directory", "data_use_instance", "fifo_write_vrrp_states_on_reload":
		return "", true
	case "linkbeat_use_polling":
		return "link state comes from netlink", true
	case "namespace_with_ipsets", "nftables", "nftables_priority", "nftables_ifindex", "nftables_counters",
		"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "disable_local_igmp":
		return "no firewall rules are managed", true
	case "vrrp_notify_priority_changes":
		return "no notify FIFO", true
	case "net_namespace_ipvs", "lvs_flush", "lvs_flush_on_stop", "lvs_flush_onstop", "lvs_notify_fifo",
		"lvs_notify_fifo_script":
		return "IPVS settings are not managed", true
	case "vmac_addr_prefix", "startup_script_timeout", "shutdown_script_timeout":
		return "", true
	}
	return "", false
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
