package kaconf

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// instanceState is what completion needs to know about an instance beyond
// its Instance: which settings were given.
type instanceState struct {
	node                                     *Node
	stateSet, prioSet, versionSet, advertSet bool
	family                                   int // 0 (not yet known), 4 or 6
	acceptSet, strictSet, lowerPrioSet       bool
	checkUnicastSet, skipCheckSet            bool
	garpDelaySet, garpRepSet, garpRefreshSet bool
	garpRefreshRepSet, mcastDstSet           bool
	lowerPrioRepSet, lowerPrioDelaySet       bool
	higherPrioSet                            bool
	unicastTTL                               int
	srcPos                                   Pos
}

// instance decodes a vrrp_instance.
func (dc *decoder) instance(n *Node) {
	if len(n.Words) != 2 {
		dc.warnf(n, "vrrp_instance must have a name")
		return
	}
	name := n.Words[1]
	for _, o := range dc.cfg.Instances {
		if o.Name == name {
			dc.warnf(n, "vrrp instance %s already defined", name)
			return
		}
	}
	if !dc.block(n) {
		return
	}
	in := Instance{Pos: n.Pos, Name: name}
	st := &instanceState{node: n, unicastTTL: -1}
	x := &instCtx{in: &in, st: st}
	for _, c := range n.Block {
		dispatch(dc, instanceKeywords, x, c)
	}
	// keepalived's vrrp_end_handler.
	if len(in.UnicastPeers) > 0 && in.UseVMAC {
		if in.Interface == "" {
			dc.warnf(n, "(%s): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac", name)
			in.UseVMAC, in.VMACName = false, ""
		} else if !in.VMACXmitBase {
			dc.warnf(n, "(%s) unicast with use_vmac requires vmac_xmit_base - setting", name)
			in.VMACXmitBase = true
		}
	}
	if len(in.UnicastPeers) == 0 && st.unicastTTL >= 0 {
		dc.warnf(n, "(%s): Cannot use unicast_ttl without unicast peers - resetting", name)
		st.unicastTTL = -1
	}
	if st.unicastTTL >= 0 && st.unicastTTL != 255 {
		dc.diags.errorf(n.Pos, "(%s) unicast_ttl %d is not supported: vrrpkit sends adverts with TTL 255", name, st.unicastTTL)
	}
	dc.cfg.Instances = append(dc.cfg.Instances, in)
	dc.inst = append(dc.inst, st)
}

// setFamily records the address family an address implies, as keepalived
// takes it from the first address of an instance. It reports whether a
// matches it.
func setFamily(st *instanceState, a netip.Addr) bool {
	f := 4
	if a.Is6() {
		f = 6
	}
	if st.family == 0 {
		st.family = f
	}
	return st.family == f
}

// instCtx is what an instance keyword writes into.
type instCtx struct {
	in *Instance
	st *instanceState
}

// instanceKeywords are the keywords of vrrp_instance.
var instanceKeywords = newTable[*instCtx]("vrrp_instance",
	key("state", 1, "BACKUP; MASTER when the priority is 255", func(dc *decoder, x *instCtx, n *Node) {
		in, name := x.in, x.in.Name
		switch s := n.Words[1]; s {
		case "MASTER":
			in.State = StateMaster
		case "BACKUP":
			if x.st.stateSet && in.State == StateMaster {
				dc.warnf(n, "(%s) state previously set as MASTER - ignoring BACKUP", name)
				return
			}
			in.State = StateBackup
		default:
			dc.warnf(n, "(%s) unknown state '%s', defaulting to BACKUP", name, s)
			in.State = StateBackup
		}
		x.st.stateSet = true
	}),
	key("interface", 1, "", func(dc *decoder, x *instCtx, n *Node) {
		if len(n.Words[1]) > maxIfNameLen {
			dc.warnf(n, "Interface name '%s' too long - ignoring", n.Words[1])
			return
		}
		x.in.Interface = n.Words[1]
	}),
	key("virtual_router_id", 1, "none: required", func(dc *decoder, x *instCtx, n *Node) {
		v, msg := parseUnsigned(n.Words[1], 1, 255)
		if msg != "" {
			dc.errorf(n, "%s", joinMsg("("+x.in.Name+"): VRID '"+n.Words[1]+"' not valid - must be between 1 & 255", msg))
			return
		}
		x.in.VRID = uint8(v)
	}),
	key("priority", 1, "100; 255 with state MASTER alone", func(dc *decoder, x *instCtx, n *Node) {
		v, msg := parseUnsigned(n.Words[1], 1, ownerPriority)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+x.in.Name+") Priority not valid! must be between 1 & 255. Using default 100", msg))
			v = defaultPriority
		}
		x.in.Priority, x.st.prioSet = uint8(v), true
	}),
	key("advert_int", 1, "1", func(dc *decoder, x *instCtx, n *Node) {
		v, msg := parseDecimal(n.Words[1], 10000, 255e6)
		if msg != "" || v == 0 {
			dc.warnf(n, "%s", joinMsg("("+x.in.Name+") Advert interval ("+n.Words[1]+") not valid! Must be > 0 - ignoring", msg))
			return
		}
		x.in.AdvertInterval, x.st.advertSet = time.Duration(v)*time.Microsecond, true
	}),
	key("version", 1, "vrrp_version; 3 for IPv6", func(dc *decoder, x *instCtx, n *Node) {
		in, st := x.in, x.st
		v, msg := parseInt(n.Words[1], 2, 3)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+in.Name+"): Version must be either 2 or 3", msg))
			return
		}
		if (st.versionSet && in.Version != int(v)) || (v == 2 && st.family == 6) {
			dc.warnf(n, "(%s) vrrp_version %d conflicts with configured or deduced version %d; ignoring.", in.Name, v, in.Version)
			return
		}
		in.Version, st.versionSet = int(v), true
	}),
	key("native_ipv6", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		if x.st.family == 4 {
			dc.warnf(n, "(%s) Cannot specify native_ipv6 with IPv4 addresses", x.in.Name)
			return
		}
		x.st.family, x.in.Version, x.st.versionSet = 6, 3, true
	}),
	key("nopreempt", 0, "preempt", func(_ *decoder, x *instCtx, _ *Node) { x.in.NoPreempt = true }),
	key("preempt", 0, "preempt", func(_ *decoder, x *instCtx, _ *Node) { x.in.NoPreempt = false }),
	key("preempt_delay", 1, "0", func(dc *decoder, x *instCtx, n *Node) {
		v, msg := parseDecimal(n.Words[1], 0, 1000e6)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+x.in.Name+") Preempt_delay not valid! must be between 0-1000", msg))
			x.in.PreemptDelay = 0
			return
		}
		x.in.PreemptDelay = time.Duration(v) * time.Microsecond
	}),
	key("accept", 0, "accept; no_accept in strict mode", func(_ *decoder, x *instCtx, _ *Node) {
		x.in.Accept, x.st.acceptSet = true, true
	}),
	key("no_accept", 0, "", func(_ *decoder, x *instCtx, n *Node) {
		x.in.Accept, x.st.acceptSet = false, true
	}),
	key("strict_mode", 0, "vrrp_strict; alone: on", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := dc.optBool(n, "("+x.in.Name+") invalid strict_mode %s specified"); ok {
			x.in.Strict, x.st.strictSet = v, true
		}
	}),
	key("skip_check_adv_addr", 0, "vrrp_skip_check_adv_addr; alone: on", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := dc.optBool(n, "("+x.in.Name+") invalid skip_check_adv_addr %s specified"); ok {
			x.in.SkipCheckAdvAddr, x.st.skipCheckSet = v, true
		}
	}),
	key("check_unicast_src", 0, "vrrp_check_unicast_src", func(_ *decoder, x *instCtx, _ *Node) {
		x.in.CheckUnicastSrc, x.st.checkUnicastSet = true, true
	}),
	key("lower_prio_no_advert", 0, "vrrp_lower_prio_no_advert; alone: on", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := dc.optBool(n, "("+x.in.Name+") invalid lower_prio_no_advert %s specified"); ok {
			x.in.LowerPrioNoAdvert, x.st.lowerPrioSet = v, true
		}
	}),
	key("higher_prio_send_advert", 0, "vrrp_higher_prio_send_advert; alone: on", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := dc.optBool(n, "("+x.in.Name+") invalid higher_prio_send_advert %s specified"); ok {
			x.in.HigherPrioSendAdvert, x.st.higherPrioSet = v, true
		}
	}),
	key("dont_track_primary", 0, "off", func(_ *decoder, x *instCtx, _ *Node) { x.in.DontTrackPrimary = true }),
	key("promote_secondaries", 0, "off", func(_ *decoder, x *instCtx, _ *Node) { x.in.PromoteSecondaries = true }),
	key("mcast_src_ip", 1, "the interface's first address", srcIP),
	key("unicast_src_ip", 1, "the interface's first address", srcIP),
	key("mcast_dst_ip", 1, "vrrp_mcast_group4 / vrrp_mcast_group6", func(dc *decoder, x *instCtx, n *Node) {
		name := x.in.Name
		a, ok := parseAddr(n.Words[1])
		switch {
		case !ok:
			dc.warnf(n, "(%s) malformed mcast dest address %s. Skipping...", name, n.Words[1])
		case !setFamily(x.st, a):
			dc.warnf(n, "(%s) mcast dest address %s MUST match VRRP instance family. Skipping...", name, n.Words[1])
		case !a.IsMulticast() || (a.Is6() && !a.IsLinkLocalMulticast()):
			ll := ""
			if a.Is6() {
				ll = " link-local"
			}
			dc.warnf(n, "(%s) mcast_dst_ip %s not%s multicast. Skipping...", name, n.Words[1], ll)
		default:
			x.in.MulticastGroup, x.st.mcastDstSet = a, true
		}
	}),
	key("unicast_ttl", 1, "255", func(dc *decoder, x *instCtx, n *Node) {
		v, msg := parseUnsigned(n.Words[1], 0, 255)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+x.in.Name+"): TTL '"+n.Words[1]+"' not valid - must be between 0 & 255", msg))
			return
		}
		x.st.unicastTTL = int(v)
	}),
	key("use_vmac", 0, "off; alone: vmac_prefix.VRID", func(dc *decoder, x *instCtx, n *Node) {
		in := x.in
		in.UseVMAC = true
		if len(n.Words) >= 2 {
			v := n.Words[1]
			if devNameValid(v) {
				for _, o := range dc.cfg.Instances {
					if o.VMACName == v {
						dc.warnf(n, "(%s) VRRP instance %s is already using %s - ignoring name", in.Name, o.Name, v)
						return
					}
				}
				in.VMACName = v
			} else {
				dc.warnf(n, "VMAC interface name '%s' too long or invalid characters - ignoring", v)
			}
		}
		if len(n.Words) >= 3 {
			dc.errorf(n, "(%s) use_vmac with a MAC address (%s) is not supported: the VMAC has the RFC 5798 virtual router MAC", in.Name, n.Words[2])
		}
	}),
	key("vmac_xmit_base", 0, "off", func(_ *decoder, x *instCtx, _ *Node) { x.in.VMACXmitBase = true }),
	key("garp_master_delay", 0, "vrrp_garp_master_delay", func(dc *decoder, x *instCtx, n *Node) {
		if d, ok := dc.seconds(n, "("+x.in.Name+"): garp_master_delay '%s' invalid - ignoring"); ok {
			x.in.GARPMasterDelay, x.st.garpDelaySet = d, true
		}
	}),
	key("garp_master_repeat", 0, "vrrp_garp_master_repeat", func(dc *decoder, x *instCtx, n *Node) {
		name := x.in.Name
		if v, ok := dc.repeat(n, "("+name+"): garp_master_repeat '%s' invalid - ignoring", "("+name+"): garp_master_repeat must be greater than 0, setting to 1"); ok {
			x.in.GARPMasterRepeat, x.st.garpRepSet = v, true
		}
	}),
	key("garp_master_refresh", 0, "vrrp_garp_master_refresh", func(dc *decoder, x *instCtx, n *Node) {
		d, ok := dc.seconds(n, "("+x.in.Name+"): Invalid garp_master_refresh '%s' - ignoring")
		if !ok {
			d = 0
		}
		x.in.GARPMasterRefresh, x.st.garpRefreshSet = d, true
	}),
	key("garp_master_refresh_repeat", 0, "vrrp_garp_master_refresh_repeat", func(dc *decoder, x *instCtx, n *Node) {
		name := x.in.Name
		if v, ok := dc.repeat(n, "("+name+"): garp_master_refresh_repeat '%s' invalid - ignoring", "("+name+"): garp_master_refresh_repeat must be greater than 0, setting to 1"); ok {
			x.in.GARPMasterRefreshRepeat, x.st.garpRefreshRepSet = v, true
		}
	}),
	key("garp_lower_prio_delay", 1, "vrrp_garp_lower_prio_delay, else garp_master_delay", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := lowerPrioGARP(dc, n, "("+x.in.Name+"): "); ok {
			x.in.GARPLowerPrioDelay, x.st.lowerPrioDelaySet = time.Duration(v)*time.Second, true
		}
	}),
	key("garp_lower_prio_repeat", 1, "vrrp_garp_lower_prio_repeat, else garp_master_repeat", func(dc *decoder, x *instCtx, n *Node) {
		if v, ok := lowerPrioGARP(dc, n, "("+x.in.Name+"): "); ok {
			x.in.GARPLowerPrioRepeat, x.st.lowerPrioRepSet = v, true
		}
	}),
	refusedKey[*instCtx]("down_timer_adverts", downTimerWhy).when(func(dc *decoder, x *instCtx, n *Node) bool {
		return downTimer("("+x.in.Name+"): Invalid down_timer_adverts")(dc, n)
	}),
	key("authentication", 0, "none", func(dc *decoder, x *instCtx, n *Node) {
		for _, c := range n.Block {
			dispatch(dc, authKeywords, x, c)
		}
	}).withBlock(needBlock),
	key("virtual_ipaddress", 0, "none", vips).withBlock(needBlock),
	key("virtual_ipaddress_excluded", 0, "none", vips).withBlock(needBlock),
	key("unicast_peer", 0, "none: multicast", func(dc *decoder, x *instCtx, n *Node) {
		for _, c := range n.Block {
			dc.noBlock(c)
			dc.unicastPeer(x.in, x.st, c)
		}
	}).withBlock(needBlock),
	key("track_interface", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		x.in.TrackInterfaces = dc.trackInterfaces(x.in.Name, x.in.TrackInterfaces, n)
	}).withBlock(needBlock),
	key("track_script", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		x.in.TrackScripts = dc.tracks(x.in.Name, x.in.TrackScripts, n, trackScriptKind)
	}).withBlock(needBlock),
	key("track_process", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		x.in.TrackProcesses = dc.tracks(x.in.Name, x.in.TrackProcesses, n, trackProcessKind)
	}).withBlock(needBlock),
	key("track_file", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		x.in.TrackFiles = dc.tracks(x.in.Name, x.in.TrackFiles, n, trackFileKind)
	}).withBlock(needBlock),
	key("notify", 0, "", instNotify),
	key("notify_master", 0, "", instNotify),
	key("notify_backup", 0, "", instNotify),
	key("notify_fault", 0, "", instNotify),
	key("notify_stop", 0, "", instNotify),
	noEffectKey[*instCtx]("smtp_alert", mailWhy).when(func(dc *decoder, _ *instCtx, n *Node) bool {
		_, ok := dc.optBool(n, "Invalid vrrp_instance smtp_alert parameter %s")
		return ok
	}),
	noEffectKey[*instCtx]("debug", "not implemented in keepalived either"),
	noEffectKey[*instCtx]("notify_priority_changes", priorityChangesWhy).when(func(dc *decoder, x *instCtx, n *Node) bool {
		return priorityChanges("("+x.in.Name+") ", "")(dc, n)
	}),
	noEffectKey[*instCtx]("kernel_rx_buf_size", ""),
	noEffectKey[*instCtx]("linkbeat_use_polling", "link state comes from netlink").deprecated("linkbeat_interfaces", false).when(func(dc *decoder, x *instCtx, n *Node) bool {
		dc.warnf(n, "(%s) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block", x.in.Name)
		return true
	}),
	noEffectKey[*instCtx]("lvs_sync_daemon_interface", ipvsWhy).deprecated("global_defs lvs_sync_daemon", false).when(func(dc *decoder, x *instCtx, n *Node) bool {
		dc.warnf(n, "(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated", x.in.Name)
		return true
	}),
	key("virtual_routes", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		for _, c := range n.Block {
			dc.noBlock(c)
			r, ok := dc.route(c)
			if !ok {
				continue
			}
			if r.Dev == "" && !r.NoTrack {
				dc.warnf(c, "Warning - cannot track route %s with no interface specified, not tracking", routeDest(c.Words))
			}
			x.in.VirtualRoutes = append(x.in.VirtualRoutes, r)
		}
	}).withBlock(needBlock),
	key("virtual_rules", 0, "", func(dc *decoder, x *instCtx, n *Node) {
		for _, c := range n.Block {
			dc.noBlock(c)
			if r, ok := dc.rule(c); ok {
				x.in.VirtualRules = append(x.in.VirtualRules, r)
			}
		}
	}).withBlock(needBlock),
	refusedKey[*instCtx]("track_bfd", "BFD").withBlock(needBlock),
	refusedKey[*instCtx]("track_src_ip", "a removed unicast_src_ip does not put the instance in FAULT"),
	refusedKey[*instCtx]("use_vmac_addr", "VMACs on the interfaces of VIPs"),
	refusedKey[*instCtx]("use_ipvlan", "ipvlan interfaces"),
	refusedKey[*instCtx]("vrf", "VRF interfaces"),
	refusedKey[*instCtx]("unicast_fault_no_peer", "an instance without unicast peers runs multicast"),
	refusedKey[*instCtx]("old_unicast_checksum", "adverts are sent with the current VRRPv3 checksum (all forms are accepted)"),
	key("notify_master_rx_lower_pri", 0, "", instNotify),
	refusedKey[*instCtx]("notify_deleted", "instances deleted by a reload are notified as FAULT"),
	refusedKey[*instCtx]("garp_extra_if", "periodic gratuitous ARPs on other interfaces"),
	refusedKey[*instCtx]("vmac_garp_intvl", "periodic gratuitous ARPs on other interfaces"),
)

// authKeywords are the keywords of an instance's authentication block.
var authKeywords = newTable[*instCtx]("authentication",
	key("auth_type", 1, "none", func(dc *decoder, x *instCtx, n *Node) {
		switch n.Words[1] {
		case "PASS":
			x.in.AuthType = AuthPass
		case "AH":
			x.in.AuthType = AuthAH
		default:
			dc.warnf(n, "(%s) unknown authentication type '%s'", x.in.Name, n.Words[1])
		}
	}),
	key("auth_pass", 1, "", func(dc *decoder, x *instCtx, n *Node) {
		p := n.Words[1]
		if len(p) > authPassLen {
			dc.warnf(n, "Truncating auth_pass to %d characters", authPassLen)
			p = p[:authPassLen]
		}
		x.in.AuthPass = p
	}),
)

func srcIP(dc *decoder, x *instCtx, n *Node) {
	name := x.in.Name
	a, ok := parseAddr(n.Words[1])
	if !ok {
		dc.warnf(n, "Configuration error: VRRP instance[%s] malformed src address[%s]. Skipping...", name, n.Words[1])
		return
	}
	if !setFamily(x.st, a) {
		dc.warnf(n, "Configuration error: VRRP instance[%s] and src address[%s] MUST be of the same family !!! Skipping...", name, n.Words[1])
		return
	}
	x.in.SourceAddr, x.st.srcPos = a, n.Pos
}

func vips(dc *decoder, x *instCtx, n *Node) {
	kw := n.Keyword()
	for _, c := range n.Block {
		dc.noBlock(c)
		v, ok := dc.vip(c)
		if !ok {
			continue
		}
		if kw == "virtual_ipaddress" && !setFamily(x.st, v.Prefix.Addr()) {
			dc.warnf(c, "(%s): address family must match VRRP instance [%s] - ignoring", x.in.Name, c.Words[0])
			continue
		}
		if kw == "virtual_ipaddress" {
			x.in.VIPs = append(x.in.VIPs, v)
		} else {
			x.in.ExcludedVIPs = append(x.in.ExcludedVIPs, v)
		}
	}
}

func instNotify(dc *decoder, x *instCtx, n *Node) {
	dc.notify(n, "("+x.in.Name+")", &x.in.Notify)
}

// routeDest returns the destination of a virtual_routes line: the first
// word that is an address or prefix.
func routeDest(words []string) string {
	for _, w := range words {
		if _, err := netip.ParsePrefix(w); err == nil {
			return w
		}
		if _, ok := parseAddr(w); ok {
			return w
		}
	}
	return words[0]
}

// devNameValid is the kernel's dev_valid_name, which keepalived applies to
// VMAC names.
func devNameValid(s string) bool {
	if s == "" || len(s) > maxIfNameLen || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\f\v")
}

// vip decodes a virtual_ipaddress line: <IPADDR>[/<MASK>] [brd <IPADDR>]
// [dev <STRING>] [scope <SCOPE>] [label <LABEL>] [peer <IPADDR>] [home]
// [-nodad] [mngtmpaddr] [noprefixroute] [autojoin] [no_track]
// [preferred_lft nn|forever].
func (dc *decoder) vip(n *Node) (VIP, bool) {
	v := VIP{Pos: n.Pos}
	s := n.Words[0]
	as, ps, hasLen := strings.Cut(s, "/")
	a, ok := parseAddr(as)
	if !ok {
		dc.warnf(n, "VRRP parsed invalid IP %s. skipping IP...", s)
		return v, false
	}
	bits := a.BitLen()
	if hasLen {
		l, msg := parseUnsigned(ps, 0, uint64(a.BitLen()))
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("Invalid address prefix len "+ps+" for address "+s+" - using "+strconv.Itoa(a.BitLen()), msg))
		} else {
			bits = int(l)
		}
	}
	v.Prefix = netip.PrefixFrom(a, bits)
	var unsupported []string
	for i := 1; i < len(n.Words); i++ {
		opt := n.Words[i]
		param := func() (string, bool) {
			if i+1 >= len(n.Words) {
				dc.warnf(n, "No %s parameter specified for %s", opt, s)
				return "", false
			}
			i++
			return n.Words[i], true
		}
		switch opt {
		case "dev":
			if p, ok := param(); ok {
				if v.Device != "" {
					dc.warnf(n, "Cannot specify ipaddress device more than once for %s", s)
					continue
				}
				v.Device = p
			}
		case "scope":
			p, ok := param()
			if !ok {
				continue
			}
			if a.Is6() {
				dc.warnf(n, "Cannot specify scope for IPv6 addresses (%s) - ignoring scope", s)
				continue
			}
			switch p {
			case "site", "link", "host", "nowhere", "global":
				v.Scope = p
			default:
				dc.warnf(n, "Invalid scope '%s' specified for %s - ignoring", p, s)
			}
		case "broadcast", "brd":
			p, ok := param()
			if !ok {
				continue
			}
			if a.Is6() {
				dc.warnf(n, "VRRP is trying to assign a broadcast %s to the IPv6 address %s !!?? WTF... skipping VIP...", p, s)
				return v, false
			}
			switch p {
			case "-":
				v.Broadcast = v.Prefix.Masked().Addr()
			case "+":
				v.Broadcast = lastAddr(v.Prefix)
			default:
				b, ok := parseAddr(p)
				if !ok || !b.Is4() {
					dc.warnf(n, "VRRP is trying to assign invalid broadcast %s. skipping VIP...", p)
					return v, false
				}
				v.Broadcast = b
			}
		case "label":
			p, ok := param()
			if !ok {
				continue
			}
			if a.Is6() {
				dc.warnf(n, "Cannot specify label for IPv6 addresses (%s) - ignoring label", s)
				continue
			}
			if len(p) > maxIfNameLen {
				dc.warnf(n, "Address label %s is longer than maximum length %d - removing address", p, maxIfNameLen)
				return v, false
			}
			v.Label = p
		case "peer":
			p, ok := param()
			if !ok {
				continue
			}
			pa, pl, hasPL := strings.Cut(p, "/")
			b, ok := parseAddr(pa)
			if !ok {
				dc.warnf(n, "Invalid peer address %s", p)
				continue
			}
			if b.Is6() != a.Is6() {
				dc.warnf(n, "Peer address %s does not match address family", p)
				continue
			}
			pbits := b.BitLen()
			if hasPL {
				if l, msg := parseUnsigned(pl, 0, uint64(b.BitLen())); msg == "" {
					pbits = int(l)
				}
			}
			v.Peer = netip.PrefixFrom(b, pbits)
			unsupported = append(unsupported, opt)
		case "home", "mngtmpaddr", "noprefixroute", "autojoin":
			v.Flags = append(v.Flags, opt)
			unsupported = append(unsupported, opt)
		case "-nodad":
			v.Flags = append(v.Flags, opt)
		case "use_vmac":
			v.Flags = append(v.Flags, opt)
			unsupported = append(unsupported, opt)
		case "no_track":
			v.NoTrack = true
		case "preferred_lft":
			p, ok := param()
			if !ok {
				continue
			}
			if p == "forever" {
				v.PreferredLifetime = -1
			} else if l, msg := parseUnsigned(p, 0, 1<<32-1); msg != "" {
				dc.warnf(n, "preferred_lft %s is invalid", p)
				continue
			} else {
				v.PreferredLifetime = time.Duration(l) * time.Second
			}
			unsupported = append(unsupported, opt)
		case "track_group":
			param()
			dc.warnf(n, "track_group only applies to static addresses - ignoring")
		default:
			dc.warnf(n, "Unknown configuration entry '%s' for ip address - ignoring", opt)
		}
	}
	if len(unsupported) > 0 {
		dc.errorf(n, "address option %s of %s is not supported by vrrpkit's address binder (dev, brd, label, scope, -nodad and no_track are)", strings.Join(unsupported, ", "), s)
	}
	return v, true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// unicastPeer decodes a unicast_peer line: <IPADDR> [min_ttl N] [max_ttl N].
func (dc *decoder) unicastPeer(in *Instance, st *instanceState, n *Node) {
	a, ok := parseAddr(n.Words[0])
	if !ok {
		dc.warnf(n, "Configuration error: VRRP instance[%s] malformed unicast peer address[%s]. Skipping...", in.Name, n.Words[0])
		return
	}
	if !setFamily(st, a) {
		dc.warnf(n, "Configuration error: VRRP instance[%s] and unicast peer address[%s] MUST be of the same family !!! Skipping...", in.Name, n.Words[0])
		return
	}
	p := UnicastPeer{Pos: n.Pos, Addr: a, MinTTL: 0, MaxTTL: 255}
	for i := 1; i < len(n.Words); i++ {
		opt := n.Words[i]
		if opt != "min_ttl" && opt != "max_ttl" {
			dc.warnf(n, "(%s) unknown unicast_peer option %s", in.Name, opt)
			continue
		}
		if i+1 >= len(n.Words) {
			dc.warnf(n, "(%s) %s is missing a value", in.Name, opt)
			continue
		}
		i++
		v, msg := parseUnsigned(n.Words[i], 0, 255)
		if msg != "" {
			dc.warnf(n, "(%s) %s", in.Name, msg)
			continue
		}
		if opt == "min_ttl" {
			p.MinTTL = int(v)
		} else {
			p.MaxTTL = int(v)
		}
	}
	if p.MinTTL > p.MaxTTL {
		dc.warnf(n, "(%s) min_ttl %d > max_ttl %d - all packets will be discarded", in.Name, p.MinTTL, p.MaxTTL)
	}
	in.UnicastPeers = append(in.UnicastPeers, p)
}

// trackInterfaces decodes a track_interface block: <IFACE> [weight W [reverse]].
func (dc *decoder) trackInterfaces(owner string, list []TrackInterface, n *Node) []TrackInterface {
	for _, c := range n.Block {
		dc.noBlock(c)
		name := c.Words[0]
		dup := false
		for _, t := range list {
			dup = dup || t.Name == name
		}
		if dup {
			dc.warnf(c, "(%s) duplicate track_interface %s - ignoring", owner, name)
			continue
		}
		t := TrackInterface{Pos: c.Pos, Name: name}
		if len(c.Words) >= 2 {
			if c.Words[1] != "weight" {
				dc.warnf(c, "(%s) unknown track_interface %s option %s - ignoring", owner, name, c.Words[1])
				continue
			}
			if len(c.Words) == 2 {
				dc.warnf(c, "(%s) weight without value specified for track_interface %s - ignoring", owner, name)
				continue
			}
			w, msg := parseInt(c.Words[2], -254, 254)
			switch {
			case msg != "":
				dc.warnf(c, "%s", joinMsg("("+owner+") weight "+c.Words[2]+" for "+name+" must be between [-253..253] inclusive. Ignoring...", msg))
				w = 0
			case w == -254 || w == 254:
				dc.warnf(c, "(%s) weight for %s cannot be +/-254. Setting to +/-253", owner, name)
				w = w / 254 * 253
			}
			t.Weight = int(w)
			if len(c.Words) >= 4 {
				if c.Words[3] == "reverse" {
					t.Reverse = true
				} else {
					dc.warnf(c, "(%s) unknown track_interace %s weight option %s - ignoring", owner, name, c.Words[3])
				}
			}
		}
		if t.Reverse {
			dc.errorf(c, "(%s) track_interface %s weight %d reverse is not supported: vrrpkit applies interface weights in one direction only", owner, name, t.Weight)
		}
		list = append(list, t)
	}
	return list
}

// trackKind is what a track block refers to.
type trackKind int

const (
	trackScriptKind trackKind = iota
	trackProcessKind
	trackFileKind
)

// tracks decodes a track_script, track_process or track_file block. As in
// keepalived, an entry resolves against the objects defined before it; an
// unknown name is ignored.
func (dc *decoder) tracks(owner string, list []Track, n *Node, kind trackKind) []Track {
	for _, c := range n.Block {
		dc.noBlock(c)
		name := c.Words[0]
		var weight int
		var reverse, found bool
		switch kind {
		case trackScriptKind:
			for _, s := range dc.cfg.Scripts {
				if s.Name == name {
					weight, reverse, found = s.Weight, s.WeightReverse, true
					break
				}
			}
		case trackProcessKind:
			for _, p := range dc.cfg.TrackProcesses {
				if p.Name == name {
					weight, reverse, found = p.Weight, p.WeightReverse, true
					break
				}
			}
		case trackFileKind:
			for _, f := range dc.cfg.TrackFiles {
				if f.Name == name {
					weight, reverse, found = f.Weight, f.WeightReverse, true
					break
				}
			}
		}
		label := [...]string{"track script", "track process", "track file"}[kind]
		key := [...]string{"track_script", "track_process", "track_file"}[kind]
		if !found {
			if dc.defined(kind, name) {
				dc.warnf(c, "(%s) %s %s not found, ignoring... (it is defined further down: keepalived needs it defined before use)", owner, label, name)
			} else {
				dc.warnf(c, "(%s) %s %s not found, ignoring...", owner, label, name)
			}
			continue
		}
		dup := false
		for _, t := range list {
			dup = dup || t.Name == name
		}
		if dup {
			dc.warnf(c, "(%s) duplicate %s %s - ignoring", owner, key, name)
			continue
		}
		lo, hi := int64(-254), int64(254)
		if len(c.Words) >= 2 {
			if c.Words[1] != "weight" {
				dc.warnf(c, "(%s) unknown %s option %s - ignoring", owner, label, c.Words[1])
				continue
			}
			if len(c.Words) == 2 {
				dc.warnf(c, "(%s) weight without value specified for %s %s - ignoring", owner, label, name)
				continue
			}
			w, msg := parseInt(c.Words[2], lo, hi)
			switch {
			case msg != "" && kind == trackScriptKind:
				dc.warnf(c, "%s", joinMsg("("+owner+") track script "+name+": weight must be between [-253..253] inclusive, ignoring...", msg))
			case msg != "":
				dc.warnf(c, "%s", joinMsg("("+owner+") weight for "+label+" "+name+" must be in [-254..254] inclusive. Ignoring...", msg))
			case kind == trackScriptKind && (w == -254 || w == 254):
				dc.warnf(c, "(%s) weight for %s cannot be +/-254. Setting to +/-253", owner, name)
				weight = int(w / 254 * 253)
			default:
				weight = int(w)
			}
			if len(c.Words) >= 4 {
				switch c.Words[3] {
				case "reverse":
					reverse = true
				case "noreverse":
					reverse = false
				default:
					dc.warnf(c, "(%s) unknown %s %s weight option %s - ignoring", owner, key, name, c.Words[3])
				}
			}
		}
		list = append(list, Track{Pos: c.Pos, Name: name, Weight: weight, Reverse: reverse})
	}
	return list
}

// defined reports whether a script, process or file of that name is
// defined anywhere (used to explain an order problem).
func (dc *decoder) defined(kind trackKind, name string) bool {
	for _, n := range dc.all {
		switch {
		case kind == trackScriptKind && n.Keyword() == "vrrp_script",
			kind == trackProcessKind && n.Keyword() == "vrrp_track_process",
			kind == trackFileKind && (n.Keyword() == "track_file" || n.Keyword() == "vrrp_track_file"):
			if n.Arg(1) == name {
				return true
			}
		}
	}
	return false
}

// notify decodes a notify script line into notify.
func (dc *decoder) notify(n *Node, owner string, nt *Notify) {
	var slot **NotifyScript
	switch n.Keyword() {
	case "notify":
		slot = &nt.Any
	case "notify_master":
		slot = &nt.Master
	case "notify_backup":
		slot = &nt.Backup
	case "notify_fault":
		slot = &nt.Fault
	case "notify_stop":
		slot = &nt.Stop
	case "notify_master_rx_lower_pri":
		slot = &nt.MasterRxLowerPri
	}
	if !dc.need(n, 1) {
		return
	}
	if *slot != nil {
		if strings.HasPrefix(owner, "(") {
			dc.warnf(n, "%s %s script already specified - ignoring %s", owner, n.Keyword(), n.Words[1])
		} else {
			dc.warnf(n, "vrrp group %s: %s script already specified - ignoring %s", owner, n.Keyword(), n.Words[1])
		}
		return
	}
	if s := dc.scriptLine(n, true); s != nil {
		*slot = s
	}
}

// scriptLine reads the command of a script keyword as keepalived does:
// the line is split again with quotes and escapes, the first word after
// the keyword is itself split into the argument vector, and, when
// withUser, the next words are the user and group.
func (dc *decoder) scriptLine(n *Node, withUser bool) *NotifyScript {
	words, err := splitQuoted(n.Raw)
	if err != nil {
		dc.warnf(n, "%s", err.Error())
		return nil
	}
	if len(words) < 2 {
		dc.need(n, len(n.Words))
		return nil
	}
	args, err := splitQuoted(words[1])
	if err != nil || len(args) == 0 {
		if err != nil {
			dc.warnf(n, "%s", err.Error())
		}
		dc.warnf(n, "Unable to parse script '%s' - ignoring", words[1])
		return nil
	}
	s := &NotifyScript{Pos: n.Pos, Command: args}
	extra := words[2:]
	if withUser && len(extra) > 0 {
		s.User = extra[0]
		if len(extra) > 1 {
			s.Group = extra[1]
		}
		extra = extra[min(len(extra), 2):]
	}
	if len(extra) > 0 {
		dc.diags.remarkf(n.Pos, "%s: the words after the command (%s) are ignored, as keepalived ignores them; quote the command and its arguments", n.Keyword(), strings.Join(extra, " "))
	}
	return s
}

// script decodes a vrrp_script.
func (dc *decoder) script(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	s := Script{Pos: n.Pos, Name: n.Words[1], Interval: defaultScriptInterval, Rise: 1, Fall: 1}
	for _, c := range n.Block {
		dispatch(dc, scriptKeywords, &s, c)
	}
	if len(s.Command) == 0 {
		dc.warnf(n, "No script set for vrrp_script %s - removing", s.Name)
		return
	}
	for _, o := range dc.cfg.Scripts {
		if o.Name == s.Name {
			dc.warnf(n, "vrrp_script %s already defined at %s - this one is never used", s.Name, o.Pos)
			return
		}
	}
	dc.cfg.Scripts = append(dc.cfg.Scripts, s)
}

// scriptKeywords are the keywords of vrrp_script.
var scriptKeywords = newTable[*Script]("vrrp_script",
	key("script", 0, "none: required", func(dc *decoder, s *Script, n *Node) {
		if ns := dc.scriptLine(n, false); ns != nil {
			s.Command = ns.Command
		}
	}),
	key("interval", 1, "1", scriptSeconds),
	key("timeout", 1, "the interval", scriptSeconds),
	key("weight", 1, "0", func(dc *decoder, s *Script, n *Node) {
		w, msg := parseInt(n.Words[1], -253, 253)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("vrrp_script "+s.Name+" weight "+n.Words[1]+" must be in [-253, 253]", msg))
			// keepalived keeps the out-of-range value; it is clamped here.
			w = max(-253, min(253, w))
		}
		s.Weight = int(w)
		if len(n.Words) >= 3 {
			if n.Words[2] == "reverse" {
				s.WeightReverse = true
			} else {
				dc.warnf(n, "vrrp_script %s unknown weight option %s", s.Name, n.Words[2])
			}
		}
	}),
	key("rise", 1, "1", scriptCount),
	key("fall", 1, "1", scriptCount),
	key("user", 1, "script_user", func(_ *decoder, s *Script, n *Node) {
		s.User, s.Group = n.Words[1], n.Arg(2)
	}),
	key("init_fail", 0, "off", func(_ *decoder, s *Script, _ *Node) { s.InitFail = true }),
)

func scriptSeconds(dc *decoder, s *Script, n *Node) {
	kw := n.Keyword()
	v, msg := parseUnsigned(n.Words[1], 0, 4294)
	if msg != "" {
		if kw == "interval" {
			dc.warnf(n, "%s", joinMsg("("+s.Name+"): vrrp script interval '"+n.Words[1]+"' must be between 1 and 4294 - ignoring", msg))
		} else {
			dc.warnf(n, "%s", joinMsg("("+s.Name+"): vrrp script timeout '"+n.Words[1]+"' invalid - ignoring", msg))
		}
		return
	}
	if v == 0 {
		dc.warnf(n, "(%s): vrrp script %s must be greater than 0, setting to 1", s.Name, kw)
		v = 1
	}
	if kw == "interval" {
		s.Interval = time.Duration(v) * time.Second
	} else {
		s.Timeout = time.Duration(v) * time.Second
	}
}

func scriptCount(dc *decoder, s *Script, n *Node) {
	kw := n.Keyword()
	v, msg := parseUnsigned(n.Words[1], 1, 1<<31-1)
	if msg != "" {
		dc.warnf(n, "%s", joinMsg("("+s.Name+"): vrrp script "+kw+" value '"+n.Words[1]+"' invalid, defaulting to 1", msg))
		v = 1
	}
	if kw == "rise" {
		s.Rise = int(v)
	} else {
		s.Fall = int(v)
	}
}

// trackProcess decodes a vrrp_track_process.
func (dc *decoder) trackProcess(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	x := &trackProcessCtx{p: TrackProcess{Pos: n.Pos, Name: n.Words[1], Quorum: 1, QuorumMax: -1}}
	for _, c := range n.Block {
		dispatch(dc, trackProcessKeywords, x, c)
	}
	p := x.p
	if p.Process == "" {
		dc.warnf(n, "track process '%s' process name not specified", p.Name)
		return
	}
	dc.cfg.TrackProcesses = append(dc.cfg.TrackProcesses, p)
}

// trackProcessCtx is what a vrrp_track_process keyword writes into.
type trackProcessCtx struct {
	p         TrackProcess
	weightSet bool
}

// trackProcessKeywords are the keywords of vrrp_track_process.
var trackProcessKeywords = newTable[*trackProcessCtx]("vrrp_track_process",
	key("process", 1, "none: required", func(dc *decoder, x *trackProcessCtx, n *Node) {
		p := &x.p
		if p.Process != "" {
			dc.warnf(n, "Process already set for track process %s - ignoring %s", p.Name, n.Words[1])
			return
		}
		p.Process = n.Words[1]
		if len(n.Words) > 2 {
			p.Params = append([]string(nil), n.Words[2:]...)
			if p.ParamMatch == ParamMatchNone {
				p.ParamMatch = ParamMatchExact
			}
			p.FullCommand = true
		}
	}),
	key("param_match", 0, "exact", func(dc *decoder, x *trackProcessCtx, n *Node) {
		p := &x.p
		switch n.Arg(1) {
		case "":
			p.ParamMatch = ParamMatchExact
		case "initial":
			p.ParamMatch = ParamMatchInitial
		case "partial":
			p.ParamMatch = ParamMatchPartial
		default:
			dc.warnf(n, "Invalid param_match type %s - ignoring", n.Words[1])
			return
		}
		p.FullCommand = true
	}),
	key("weight", 0, "0", func(dc *decoder, x *trackProcessCtx, n *Node) {
		p := &x.p
		w, reverse, ok := dc.trackerWeight(n, "track process", "vrrp_track_process", p.Name, x.weightSet && p.Weight != 0)
		if !ok {
			return
		}
		p.WeightReverse = p.WeightReverse || reverse
		p.Weight, x.weightSet = w, true
	}),
	key("quorum", 1, "1", func(dc *decoder, x *trackProcessCtx, n *Node) {
		p := &x.p
		v, msg := parseUnsigned(n.Words[1], 1, 65535)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("Quorum ("+n.Words[1]+") for vrrp_track_process "+p.Name+" must be between [1..65535] inclusive. Ignoring...", msg))
			return
		}
		if p.QuorumMax >= 0 && int(v) > p.QuorumMax {
			dc.warnf(n, "Quorum is greater than quorum_max - ignoring")
			return
		}
		p.Quorum = int(v)
	}),
	key("quorum_max", 1, "none", func(dc *decoder, x *trackProcessCtx, n *Node) {
		p := &x.p
		v, msg := parseUnsigned(n.Words[1], 0, 65535)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("quorum_max ("+n.Words[1]+") for vrrp_track_process "+p.Name+" must be between [0..65535] inclusive. Ignoring...", msg))
			return
		}
		if (v != 0 || p.Quorum > 1) && int(v) < p.Quorum {
			dc.warnf(n, "quorum_max is less than quorum - ignoring")
			return
		}
		p.QuorumMax = int(v)
		if v == 0 {
			p.Quorum = 0
		} else if p.Quorum == 0 {
			p.Quorum = 1
		}
	}),
	key("delay", 1, "0", processDelay),
	key("terminate_delay", 1, "0", processDelay),
	key("fork_delay", 1, "0", processDelay),
	key("full_command", 0, "off", func(_ *decoder, x *trackProcessCtx, _ *Node) { x.p.FullCommand = true }),
)

func processDelay(dc *decoder, x *trackProcessCtx, n *Node) {
	kw := n.Keyword()
	v, msg := parseDecimal(n.Words[1], 1, 3600e6)
	if msg != "" {
		prefix := strings.TrimSuffix(kw, "delay")
		dc.warnf(n, "%s", joinMsg(prefix+"delay ("+n.Words[1]+") for vrrp_track_process "+x.p.Name+" must be between [0.000001..3600] inclusive. Ignoring...", msg))
		return
	}
	d := time.Duration(v) * time.Microsecond
	if kw != "fork_delay" {
		x.p.TerminateDelay = d
	}
	if kw != "terminate_delay" {
		x.p.ForkDelay = d
	}
}

// trackerWeight decodes the "weight N [reverse]" of a track process or
// track file, with keepalived's messages: what names the tracker in prose
// ("track process"), kw by its keyword ("vrrp_track_process"), name is
// its name and set whether a weight was already given. ok is false when
// the line is ignored.
func (dc *decoder) trackerWeight(c *Node, what, kw, name string, set bool) (w int, reverse, ok bool) {
	if len(c.Words) < 2 {
		dc.warnf(c, "No weight specified for %s %s - ignoring", what, name)
		return 0, false, false
	}
	if set {
		dc.warnf(c, "Weight already set for %s %s - ignoring %s", what, name, c.Words[1])
		return 0, false, false
	}
	v, msg := parseInt(c.Words[1], -254, 254)
	if msg != "" {
		dc.warnf(c, "%s", joinMsg("Weight ("+c.Words[1]+") for "+kw+" "+name+" must be between [-254..254] inclusive. Ignoring...", msg))
		return 0, false, false
	}
	if len(c.Words) >= 3 {
		if c.Words[2] == "reverse" {
			reverse = true
		} else {
			dc.warnf(c, "%s %s unknown weight option %s", kw, name, c.Words[2])
		}
	}
	return int(v), reverse, true
}

// trackFile decodes a track_file.
func (dc *decoder) trackFile(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	x := &trackFileCtx{f: TrackFile{Pos: n.Pos, Name: n.Words[1], Weight: 1}}
	for _, c := range n.Block {
		dispatch(dc, trackFileKeywords, x, c)
	}
	f := x.f
	if f.Path == "" {
		dc.warnf(n, "No file set for track_file %s - ignoring", f.Name)
		return
	}
	dc.cfg.TrackFiles = append(dc.cfg.TrackFiles, f)
}

// trackFileCtx is what a track_file keyword writes into.
type trackFileCtx struct {
	f         TrackFile
	weightSet bool
}

// trackFileKeywords are the keywords of track_file.
var trackFileKeywords = newTable[*trackFileCtx]("track_file",
	key("file", 0, "none: required", func(dc *decoder, x *trackFileCtx, n *Node) {
		if len(n.Words) < 2 {
			dc.warnf(n, "track file file name missing")
			return
		}
		if x.f.Path != "" {
			dc.warnf(n, "File already set for track file %s - ignoring %s", x.f.Name, n.Words[1])
			return
		}
		x.f.Path = n.Words[1]
	}),
	key("weight", 0, "1", func(dc *decoder, x *trackFileCtx, n *Node) {
		w, reverse, ok := dc.trackerWeight(n, "track file", "track_file", x.f.Name, x.weightSet)
		if !ok {
			return
		}
		x.f.WeightReverse = x.f.WeightReverse || reverse
		x.f.Weight, x.weightSet = w, true
	}),
	key("init_file", 0, "off", func(dc *decoder, x *trackFileCtx, n *Node) {
		f := &x.f
		f.InitFile = true
		for _, w := range n.Words[1:] {
			if w == "overwrite" {
				f.InitOverwrite = true
				continue
			}
			v, msg := parseInt(w, -254, 254)
			if msg != "" {
				dc.warnf(n, "Track file %s init value %s is invalid", f.Name, w)
				continue
			}
			f.InitValue = int(v)
		}
	}),
)

// syncGroup decodes a vrrp_sync_group.
func (dc *decoder) syncGroup(n *Node) {
	if len(n.Words) != 2 {
		dc.warnf(n, "vrrp_sync_group must have a name - skipping")
		return
	}
	name := n.Words[1]
	for _, g := range dc.cfg.SyncGroups {
		if g.Name == name {
			dc.warnf(n, "vrrp sync group %s already defined", name)
			return
		}
	}
	if !dc.block(n) {
		return
	}
	x := &syncGroupCtx{g: SyncGroup{Pos: n.Pos, Name: name}}
	for _, c := range n.Block {
		dispatch(dc, syncGroupKeywords, x, c)
	}
	g := x.g
	dc.cfg.SyncGroups = append(dc.cfg.SyncGroups, g)
}

// syncGroupCtx is what a vrrp_sync_group keyword writes into.
type syncGroupCtx struct {
	g         SyncGroup
	haveGroup bool
}

// syncGroupKeywords are the keywords of vrrp_sync_group.
var syncGroupKeywords = newTable[*syncGroupCtx]("vrrp_sync_group",
	key("group", 0, "none: required", func(dc *decoder, x *syncGroupCtx, n *Node) {
		g := &x.g
		if x.haveGroup {
			dc.warnf(n, "Group list already specified for sync group %s", g.Name)
			return
		}
		x.haveGroup = true
		for _, m := range n.Block {
			dc.noBlock(m)
			for _, w := range m.Words {
				g.Members = append(g.Members, Member{Pos: m.Pos, Name: w})
			}
		}
		if len(g.Members) == 0 {
			dc.warnf(n, "Warning - sync group %s has empty group block", g.Name)
		}
	}).withBlock(needBlock),
	key("track_interface", 0, "", func(dc *decoder, x *syncGroupCtx, n *Node) {
		x.g.TrackInterfaces = dc.trackInterfaces(x.g.Name, x.g.TrackInterfaces, n)
	}).withBlock(needBlock),
	key("track_script", 0, "", func(dc *decoder, x *syncGroupCtx, n *Node) {
		x.g.TrackScripts = dc.tracks(x.g.Name, x.g.TrackScripts, n, trackScriptKind)
	}).withBlock(needBlock),
	key("track_process", 0, "", func(dc *decoder, x *syncGroupCtx, n *Node) {
		x.g.TrackProcesses = dc.tracks(x.g.Name, x.g.TrackProcesses, n, trackProcessKind)
	}).withBlock(needBlock),
	key("track_file", 0, "", func(dc *decoder, x *syncGroupCtx, n *Node) {
		x.g.TrackFiles = dc.tracks(x.g.Name, x.g.TrackFiles, n, trackFileKind)
	}).withBlock(needBlock),
	refusedKey[*syncGroupCtx]("track_bfd", "BFD").withBlock(needBlock),
	key("notify", 0, "", groupNotify),
	key("notify_master", 0, "", groupNotify),
	key("notify_backup", 0, "", groupNotify),
	key("notify_fault", 0, "", groupNotify),
	key("notify_stop", 0, "", groupNotify),
	noEffectKey[*syncGroupCtx]("smtp_alert", mailWhy).when(func(dc *decoder, _ *syncGroupCtx, n *Node) bool {
		_, ok := dc.optBool(n, "Invalid vrrp_group smtp_alert parameter %s")
		return ok
	}),
	key("global_tracking", 0, "", func(dc *decoder, x *syncGroupCtx, n *Node) {
		dc.warnf(n, "(%s) global_tracking is deprecated. Use track_interface/script/file on the sync group", x.g.Name)
		x.g.TrackingWeight = true
	}).deprecated("sync_group_tracking_weight", false),
	key("sync_group_tracking_weight", 0, "off", func(_ *decoder, x *syncGroupCtx, _ *Node) { x.g.TrackingWeight = true }),
	noEffectKey[*syncGroupCtx]("notify_priority_changes", priorityChangesWhy).when(func(dc *decoder, x *syncGroupCtx, n *Node) bool {
		return priorityChanges("("+x.g.Name+") ", "sync group ")(dc, n)
	}),
)

func groupNotify(dc *decoder, x *syncGroupCtx, n *Node) {
	dc.notify(n, x.g.Name, &x.g.Notify)
}
