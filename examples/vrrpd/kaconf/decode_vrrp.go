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
	unicastTTL                               int
	authTypePos, noAcceptPos, srcPos         Pos
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
	for _, c := range n.Block {
		dc.instanceKeyword(&in, st, c)
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

func (dc *decoder) instanceKeyword(in *Instance, st *instanceState, n *Node) {
	kw := n.Keyword()
	switch kw {
	case "authentication", "virtual_ipaddress", "virtual_ipaddress_excluded", "unicast_peer",
		"track_interface", "track_script", "track_file", "track_process", "virtual_routes",
		"virtual_rules", "track_bfd":
		if !dc.block(n) {
			return
		}
	default:
		dc.noBlock(n)
	}
	name := in.Name
	switch kw {
	case "state":
		if !dc.need(n, 1) {
			return
		}
		switch s := n.Words[1]; s {
		case "MASTER":
			in.State = StateMaster
		case "BACKUP":
			if st.stateSet && in.State == StateMaster {
				dc.warnf(n, "(%s) state previously set as MASTER - ignoring BACKUP", name)
				return
			}
			in.State = StateBackup
		default:
			dc.warnf(n, "(%s) unknown state '%s', defaulting to BACKUP", name, s)
			in.State = StateBackup
		}
		st.stateSet = true
	case "interface":
		if !dc.need(n, 1) {
			return
		}
		if len(n.Words[1]) > maxIfNameLen {
			dc.warnf(n, "Interface name '%s' too long - ignoring", n.Words[1])
			return
		}
		in.Interface = n.Words[1]
	case "virtual_router_id":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseUnsigned(n.Words[1], 1, 255)
		if msg != "" {
			dc.errorf(n, "%s", joinMsg("("+name+"): VRID '"+n.Words[1]+"' not valid - must be between 1 & 255", msg))
			return
		}
		in.VRID = uint8(v)
	case "priority":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseUnsigned(n.Words[1], 1, ownerPriority)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+") Priority not valid! must be between 1 & 255. Using default 100", msg))
			v = defaultPriority
		}
		in.Priority, st.prioSet = uint8(v), true
	case "advert_int":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseDecimal(n.Words[1], 10000, 255e6)
		if msg != "" || v == 0 {
			dc.warnf(n, "%s", joinMsg("("+name+") Advert interval ("+n.Words[1]+") not valid! Must be > 0 - ignoring", msg))
			return
		}
		in.AdvertInterval, st.advertSet = time.Duration(v)*time.Microsecond, true
	case "version":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseInt(n.Words[1], 2, 3)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+"): Version must be either 2 or 3", msg))
			return
		}
		if (st.versionSet && in.Version != int(v)) || (v == 2 && st.family == 6) {
			dc.warnf(n, "(%s) vrrp_version %d conflicts with configured or deduced version %d; ignoring.", name, v, in.Version)
			return
		}
		in.Version, st.versionSet = int(v), true
	case "native_ipv6":
		if st.family == 4 {
			dc.warnf(n, "(%s) Cannot specify native_ipv6 with IPv4 addresses", name)
			return
		}
		st.family, in.Version, st.versionSet = 6, 3, true
	case "nopreempt":
		in.NoPreempt = true
	case "preempt":
		in.NoPreempt = false
	case "preempt_delay":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseDecimal(n.Words[1], 0, 1000e6)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+") Preempt_delay not valid! must be between 0-1000", msg))
			in.PreemptDelay = 0
			return
		}
		in.PreemptDelay = time.Duration(v) * time.Microsecond
	case "accept":
		in.Accept, st.acceptSet = true, true
	case "no_accept":
		in.Accept, st.acceptSet = false, true
		st.noAcceptPos = n.Pos
	case "strict_mode":
		if v, ok := dc.optBool(n, "("+name+") invalid strict_mode %s specified"); ok {
			in.Strict, st.strictSet = v, true
		}
	case "skip_check_adv_addr":
		if v, ok := dc.optBool(n, "("+name+") invalid skip_check_adv_addr %s specified"); ok {
			in.SkipCheckAdvAddr, st.skipCheckSet = v, true
		}
	case "check_unicast_src":
		in.CheckUnicastSrc, st.checkUnicastSet = true, true
	case "lower_prio_no_advert":
		if v, ok := dc.optBool(n, "("+name+") invalid lower_prio_no_advert %s specified"); ok {
			in.LowerPrioNoAdvert, st.lowerPrioSet = v, true
		}
	case "higher_prio_send_advert":
		if v, ok := dc.optBool(n, "("+name+") invalid higher_prio_send_advert %s specified"); ok && v {
			dc.unsupported(n, "a Master hearing a higher priority steps down without a last advert")
		}
	case "dont_track_primary":
		in.DontTrackPrimary = true
	case "promote_secondaries":
		in.PromoteSecondaries = true
	case "mcast_src_ip", "unicast_src_ip":
		if !dc.need(n, 1) {
			return
		}
		a, ok := parseAddr(n.Words[1])
		if !ok {
			dc.warnf(n, "Configuration error: VRRP instance[%s] malformed src address[%s]. Skipping...", name, n.Words[1])
			return
		}
		if !setFamily(st, a) {
			dc.warnf(n, "Configuration error: VRRP instance[%s] and src address[%s] MUST be of the same family !!! Skipping...", name, n.Words[1])
			return
		}
		in.SourceAddr, st.srcPos = a, n.Pos
	case "mcast_dst_ip":
		if !dc.need(n, 1) {
			return
		}
		a, ok := parseAddr(n.Words[1])
		switch {
		case !ok:
			dc.warnf(n, "(%s) malformed mcast dest address %s. Skipping...", name, n.Words[1])
		case !setFamily(st, a):
			dc.warnf(n, "(%s) mcast dest address %s MUST match VRRP instance family. Skipping...", name, n.Words[1])
		case !a.IsMulticast() || (a.Is6() && !a.IsLinkLocalMulticast()):
			ll := ""
			if a.Is6() {
				ll = " link-local"
			}
			dc.warnf(n, "(%s) mcast_dst_ip %s not%s multicast. Skipping...", name, n.Words[1], ll)
		default:
			in.MulticastGroup, st.mcastDstSet = a, true
		}
	case "unicast_ttl":
		if !dc.need(n, 1) {
			return
		}
		v, msg := parseUnsigned(n.Words[1], 0, 255)
		if msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+"): TTL '"+n.Words[1]+"' not valid - must be between 0 & 255", msg))
			return
		}
		st.unicastTTL = int(v)
	case "use_vmac":
		in.UseVMAC = true
		if len(n.Words) >= 2 {
			v := n.Words[1]
			if !devNameValid(v) {
				dc.warnf(n, "VMAC interface name '%s' too long or invalid characters - ignoring", v)
				break
			}
			for _, o := range dc.cfg.Instances {
				if o.VMACName == v {
					dc.warnf(n, "(%s) VRRP instance %s is already using %s - ignoring name", name, o.Name, v)
					return
				}
			}
			in.VMACName = v
		}
		if len(n.Words) >= 3 {
			dc.errorf(n, "(%s) use_vmac with a MAC address (%s) is not supported: the VMAC has the RFC 5798 virtual router MAC", name, n.Words[2])
		}
	case "vmac_xmit_base":
		in.VMACXmitBase = true
	case "garp_master_delay":
		if d, ok := dc.seconds(n, "("+name+"): garp_master_delay '%s' invalid - ignoring"); ok {
			in.GARPMasterDelay, st.garpDelaySet = d, true
		}
	case "garp_master_repeat":
		if v, ok := dc.repeat(n, "("+name+"): garp_master_repeat '%s' invalid - ignoring", "("+name+"): garp_master_repeat must be greater than 0, setting to 1"); ok {
			in.GARPMasterRepeat, st.garpRepSet = v, true
		}
	case "garp_master_refresh":
		if d, ok := dc.seconds(n, "("+name+"): Invalid garp_master_refresh '%s' - ignoring"); ok {
			in.GARPMasterRefresh, st.garpRefreshSet = d, true
		} else {
			in.GARPMasterRefresh, st.garpRefreshSet = 0, true
		}
	case "garp_master_refresh_repeat":
		if v, ok := dc.repeat(n, "("+name+"): garp_master_refresh_repeat '%s' invalid - ignoring", "("+name+"): garp_master_refresh_repeat must be greater than 0, setting to 1"); ok {
			in.GARPMasterRefreshRepeat, st.garpRefreshRepSet = v, true
		}
	case "garp_lower_prio_delay", "garp_lower_prio_repeat":
		if !dc.need(n, 1) {
			return
		}
		if v, msg := parseUnsigned(n.Words[1], 0, 1<<31-1); msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+"): "+kw+" '"+n.Words[1]+"' invalid - ignoring", msg))
		} else if v != 0 {
			dc.unsupported(n, "vrrpkit sends no gratuitous ARPs on hearing a lower priority advert; only 0 is accepted")
		}
	case "down_timer_adverts":
		if !dc.need(n, 1) {
			return
		}
		if v, msg := parseUnsigned(n.Words[1], 1, 100); msg != "" {
			dc.warnf(n, "%s", joinMsg("("+name+"): Invalid down_timer_adverts [1:100] '"+n.Words[1]+"'", msg))
		} else if v != 3 {
			dc.unsupported(n, "the Master_Down_Interval is 3 advert intervals (RFC 5798); only 3 is accepted")
		}
	case "authentication":
		for _, c := range n.Block {
			dc.noBlock(c)
			switch c.Keyword() {
			case "auth_type":
				if !dc.need(c, 1) {
					continue
				}
				switch c.Words[1] {
				case "PASS":
					in.AuthType = AuthPass
				case "AH":
					in.AuthType = AuthAH
					st.authTypePos = c.Pos
				default:
					dc.warnf(c, "(%s) unknown authentication type '%s'", name, c.Words[1])
				}
			case "auth_pass":
				if !dc.need(c, 1) {
					continue
				}
				p := c.Words[1]
				if len(p) > authPassLen {
					dc.warnf(c, "Truncating auth_pass to %d characters", authPassLen)
					p = p[:authPassLen]
				}
				in.AuthPass = p
			default:
				dc.unknown(c)
			}
		}
	case "virtual_ipaddress", "virtual_ipaddress_excluded":
		for _, c := range n.Block {
			dc.noBlock(c)
			v, ok := dc.vip(c)
			if !ok {
				continue
			}
			if kw == "virtual_ipaddress" && !setFamily(st, v.Prefix.Addr()) {
				dc.warnf(c, "(%s): address family must match VRRP instance [%s] - ignoring", name, c.Words[0])
				continue
			}
			if kw == "virtual_ipaddress" {
				in.VIPs = append(in.VIPs, v)
			} else {
				in.ExcludedVIPs = append(in.ExcludedVIPs, v)
			}
		}
	case "unicast_peer":
		for _, c := range n.Block {
			dc.noBlock(c)
			dc.unicastPeer(in, st, c)
		}
	case "track_interface":
		in.TrackInterfaces = dc.trackInterfaces(name, in.TrackInterfaces, n)
	case "track_script":
		in.TrackScripts = dc.tracks(name, in.TrackScripts, n, trackScriptKind)
	case "track_process":
		in.TrackProcesses = dc.tracks(name, in.TrackProcesses, n, trackProcessKind)
	case "track_file":
		in.TrackFiles = dc.tracks(name, in.TrackFiles, n, trackFileKind)
	case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
		dc.notify(n, "("+name+")", &in.Notify)
	case "smtp_alert":
		if _, ok := dc.optBool(n, "Invalid vrrp_instance smtp_alert parameter %s"); ok {
			dc.noEffect(n, "no e-mail is sent")
		}
	case "debug":
		dc.noEffect(n, "not implemented in keepalived either")
	case "notify_priority_changes", "kernel_rx_buf_size":
		dc.noEffect(n, "")
	case "linkbeat_use_polling":
		dc.warnf(n, "(%s) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block; keyword linkbeat_use_polling has no effect here (link state comes from netlink)", name)
	case "lvs_sync_daemon_interface":
		dc.warnf(n, "(%s) Specifying lvs_sync_daemon_interface against a vrrp is deprecated; keyword lvs_sync_daemon_interface has no effect here (IPVS settings are not managed)", name)
	case "virtual_routes", "virtual_rules":
		dc.unsupported(n, "vrrpkit adds and removes addresses only, not routes or rules")
		if kw == "virtual_routes" {
			for _, c := range n.Block {
				dc.noBlock(c)
				if len(c.Words) > 0 && !hasWord(c.Words, "dev") && !hasWord(c.Words, "no_track") {
					dc.warnf(c, "Warning - cannot track route %s with no interface specified, not tracking", routeDest(c.Words))
				}
			}
		}
	case "track_bfd":
		dc.unsupported(n, "BFD")
	case "track_src_ip":
		dc.unsupported(n, "a removed unicast_src_ip does not put the instance in FAULT")
	case "use_vmac_addr":
		dc.unsupported(n, "VMACs on the interfaces of VIPs")
	case "use_ipvlan":
		dc.unsupported(n, "ipvlan interfaces")
	case "vrf":
		dc.unsupported(n, "VRF interfaces")
	case "unicast_fault_no_peer":
		dc.unsupported(n, "an instance without unicast peers runs multicast")
	case "old_unicast_checksum":
		dc.unsupported(n, "adverts are sent with the current VRRPv3 checksum (all forms are accepted)")
	case "notify_master_rx_lower_pri":
		dc.unsupported(n, "no callback when a Master hears a lower priority")
	case "notify_deleted":
		dc.unsupported(n, "instances deleted by a reload are notified as FAULT")
	case "garp_extra_if", "vmac_garp_intvl":
		dc.unsupported(n, "periodic gratuitous ARPs on other interfaces")
	default:
		dc.unknown(n)
	}
}

func hasWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
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
			unsupported = append(unsupported, opt)
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
		dc.errorf(n, "address option %s of %s is not supported by vrrpkit's address binder (dev, label, scope, -nodad and no_track are)", strings.Join(unsupported, ", "), s)
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
		dc.warnf(n, "%s: the words after the command (%s) are ignored, as keepalived ignores them; quote the command and its arguments", n.Keyword(), strings.Join(extra, " "))
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
		dc.noBlock(c)
		switch kw := c.Keyword(); kw {
		case "script":
			if ns := dc.scriptLine(c, false); ns != nil {
				s.Command = ns.Command
			}
		case "interval", "timeout":
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseUnsigned(c.Words[1], 0, 4294)
			if msg != "" {
				if kw == "interval" {
					dc.warnf(c, "%s", joinMsg("("+s.Name+"): vrrp script interval '"+c.Words[1]+"' must be between 1 and 4294 - ignoring", msg))
				} else {
					dc.warnf(c, "%s", joinMsg("("+s.Name+"): vrrp script timeout '"+c.Words[1]+"' invalid - ignoring", msg))
				}
				continue
			}
			if v == 0 {
				dc.warnf(c, "(%s): vrrp script %s must be greater than 0, setting to 1", s.Name, kw)
				v = 1
			}
			if kw == "interval" {
				s.Interval = time.Duration(v) * time.Second
			} else {
				s.Timeout = time.Duration(v) * time.Second
			}
		case "weight":
			if !dc.need(c, 1) {
				continue
			}
			w, msg := parseInt(c.Words[1], -253, 253)
			if msg != "" {
				dc.warnf(c, "%s", joinMsg("vrrp_script "+s.Name+" weight "+c.Words[1]+" must be in [-253, 253]", msg))
				// keepalived keeps the out-of-range value; it is clamped here.
				w = max(-253, min(253, w))
			}
			s.Weight = int(w)
			if len(c.Words) >= 3 {
				if c.Words[2] == "reverse" {
					s.WeightReverse = true
				} else {
					dc.warnf(c, "vrrp_script %s unknown weight option %s", s.Name, c.Words[2])
				}
			}
		case "rise", "fall":
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseUnsigned(c.Words[1], 1, 1<<31-1)
			if msg != "" {
				dc.warnf(c, "%s", joinMsg("("+s.Name+"): vrrp script "+kw+" value '"+c.Words[1]+"' invalid, defaulting to 1", msg))
				v = 1
			}
			if kw == "rise" {
				s.Rise = int(v)
			} else {
				s.Fall = int(v)
			}
		case "user":
			if !dc.need(c, 1) {
				continue
			}
			s.User, s.Group = c.Words[1], c.Arg(2)
		case "init_fail":
			s.InitFail = true
		default:
			dc.unknown(c)
		}
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

// trackProcess decodes a vrrp_track_process.
func (dc *decoder) trackProcess(n *Node) {
	if !dc.need(n, 1) || !dc.block(n) {
		return
	}
	p := TrackProcess{Pos: n.Pos, Name: n.Words[1], Quorum: 1, QuorumMax: -1}
	weightSet := false
	for _, c := range n.Block {
		dc.noBlock(c)
		switch kw := c.Keyword(); kw {
		case "process":
			if !dc.need(c, 1) {
				continue
			}
			if p.Process != "" {
				dc.warnf(c, "Process already set for track process %s - ignoring %s", p.Name, c.Words[1])
				continue
			}
			p.Process = c.Words[1]
			if len(c.Words) > 2 {
				p.Params = append([]string(nil), c.Words[2:]...)
				if p.ParamMatch == ParamMatchNone {
					p.ParamMatch = ParamMatchExact
				}
				p.FullCommand = true
			}
		case "param_match":
			switch c.Arg(1) {
			case "":
				p.ParamMatch = ParamMatchExact
			case "initial":
				p.ParamMatch = ParamMatchInitial
			case "partial":
				p.ParamMatch = ParamMatchPartial
			default:
				dc.warnf(c, "Invalid param_match type %s - ignoring", c.Words[1])
				continue
			}
			p.FullCommand = true
		case "weight":
			w, reverse, ok := dc.trackerWeight(c, "track process", "vrrp_track_process", p.Name, weightSet && p.Weight != 0)
			if !ok {
				continue
			}
			p.WeightReverse = p.WeightReverse || reverse
			p.Weight, weightSet = w, true
		case "quorum":
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseUnsigned(c.Words[1], 1, 65535)
			if msg != "" {
				dc.warnf(c, "%s", joinMsg("Quorum ("+c.Words[1]+") for vrrp_track_process "+p.Name+" must be between [1..65535] inclusive. Ignoring...", msg))
				continue
			}
			if p.QuorumMax >= 0 && int(v) > p.QuorumMax {
				dc.warnf(c, "Quorum is greater than quorum_max - ignoring")
				continue
			}
			p.Quorum = int(v)
		case "quorum_max":
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseUnsigned(c.Words[1], 0, 65535)
			if msg != "" {
				dc.warnf(c, "%s", joinMsg("quorum_max ("+c.Words[1]+") for vrrp_track_process "+p.Name+" must be between [0..65535] inclusive. Ignoring...", msg))
				continue
			}
			if (v != 0 || p.Quorum > 1) && int(v) < p.Quorum {
				dc.warnf(c, "quorum_max is less than quorum - ignoring")
				continue
			}
			p.QuorumMax = int(v)
			if v == 0 {
				p.Quorum = 0
			} else if p.Quorum == 0 {
				p.Quorum = 1
			}
		case "delay", "terminate_delay", "fork_delay":
			if !dc.need(c, 1) {
				continue
			}
			v, msg := parseDecimal(c.Words[1], 1, 3600e6)
			if msg != "" {
				prefix := strings.TrimSuffix(kw, "delay")
				dc.warnf(c, "%s", joinMsg(prefix+"delay ("+c.Words[1]+") for vrrp_track_process "+p.Name+" must be between [0.000001..3600] inclusive. Ignoring...", msg))
				continue
			}
			d := time.Duration(v) * time.Microsecond
			if kw != "fork_delay" {
				p.TerminateDelay = d
			}
			if kw != "terminate_delay" {
				p.ForkDelay = d
			}
		case "full_command":
			p.FullCommand = true
		default:
			dc.unknown(c)
		}
	}
	if p.Process == "" {
		dc.warnf(n, "track process '%s' process name not specified", p.Name)
		return
	}
	dc.cfg.TrackProcesses = append(dc.cfg.TrackProcesses, p)
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
	f := TrackFile{Pos: n.Pos, Name: n.Words[1], Weight: 1}
	weightSet := false
	for _, c := range n.Block {
		dc.noBlock(c)
		switch c.Keyword() {
		case "file":
			if len(c.Words) < 2 {
				dc.warnf(c, "track file file name missing")
				continue
			}
			if f.Path != "" {
				dc.warnf(c, "File already set for track file %s - ignoring %s", f.Name, c.Words[1])
				continue
			}
			f.Path = c.Words[1]
		case "weight":
			w, reverse, ok := dc.trackerWeight(c, "track file", "track_file", f.Name, weightSet)
			if !ok {
				continue
			}
			f.WeightReverse = f.WeightReverse || reverse
			f.Weight, weightSet = w, true
		case "init_file":
			f.InitFile = true
			for _, w := range c.Words[1:] {
				if w == "overwrite" {
					f.InitOverwrite = true
					continue
				}
				v, msg := parseInt(w, -254, 254)
				if msg != "" {
					dc.warnf(c, "Track file %s init value %s is invalid", f.Name, w)
					continue
				}
				f.InitValue = int(v)
			}
		default:
			dc.unknown(c)
		}
	}
	if f.Path == "" {
		dc.warnf(n, "No file set for track_file %s - ignoring", f.Name)
		return
	}
	dc.cfg.TrackFiles = append(dc.cfg.TrackFiles, f)
}

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
	g := SyncGroup{Pos: n.Pos, Name: name}
	haveGroup := false
	for _, c := range n.Block {
		switch kw := c.Keyword(); kw {
		case "group", "track_interface", "track_script", "track_file", "track_process", "track_bfd":
			if !dc.block(c) {
				continue
			}
		default:
			dc.noBlock(c)
		}
		switch kw := c.Keyword(); kw {
		case "group":
			if haveGroup {
				dc.warnf(c, "Group list already specified for sync group %s", name)
				continue
			}
			haveGroup = true
			for _, m := range c.Block {
				dc.noBlock(m)
				for _, w := range m.Words {
					g.Members = append(g.Members, Member{Pos: m.Pos, Name: w})
				}
			}
			if len(g.Members) == 0 {
				dc.warnf(c, "Warning - sync group %s has empty group block", name)
			}
		case "track_interface":
			g.TrackInterfaces = dc.trackInterfaces(name, g.TrackInterfaces, c)
		case "track_script":
			g.TrackScripts = dc.tracks(name, g.TrackScripts, c, trackScriptKind)
		case "track_process":
			g.TrackProcesses = dc.tracks(name, g.TrackProcesses, c, trackProcessKind)
		case "track_file":
			g.TrackFiles = dc.tracks(name, g.TrackFiles, c, trackFileKind)
		case "track_bfd":
			dc.unsupported(c, "BFD")
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			dc.notify(c, name, &g.Notify)
		case "smtp_alert":
			if _, ok := dc.optBool(c, "Invalid vrrp_group smtp_alert parameter %s"); ok {
				dc.noEffect(c, "no e-mail is sent")
			}
		case "global_tracking":
			dc.warnf(c, "(%s) global_tracking is deprecated. Use track_interface/script/file on the sync group", name)
			g.TrackingWeight = true
		case "sync_group_tracking_weight":
			g.TrackingWeight = true
		case "notify_priority_changes":
			dc.noEffect(c, "")
		default:
			dc.unknown(c)
		}
	}
	dc.cfg.SyncGroups = append(dc.cfg.SyncGroups, g)
}
