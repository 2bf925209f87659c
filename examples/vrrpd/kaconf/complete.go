package kaconf

import (
	"fmt"
	"net/netip"
	"time"
)

// complete applies keepalived's vrrp_complete_instance to every instance:
// the defaults that depend on other settings, and the corrections it makes
// with a warning. It runs after the whole configuration is read, as
// keepalived's does.
func (dc *decoder) complete() {
	for i := range dc.cfg.Instances {
		dc.completeInstance(&dc.cfg.Instances[i], dc.inst[i])
	}
	dc.completeFIFO(&dc.cfg.Global.NotifyFIFO, "notify_fifo")
	dc.completeFIFO(&dc.cfg.Global.VRRPNotifyFIFO, "vrrp_notify_fifo")
}

// completeFIFO drops a FIFO script without its FIFO, which keepalived
// never runs.
func (dc *decoder) completeFIFO(f *NotifyFIFO, kw string) {
	if f.Script != nil && f.Path == "" {
		dc.diags.warnf(f.Script.Pos, "%s_script %s is never run: keepalived runs it only with %s", kw, f.Script.Command[0], kw)
		f.Script = nil
	}
}

// Maximum VIPs in an advert on a 1500-byte Ethernet link, as keepalived
// computes them from the interface MTU (capped at 255).
const (
	maxVIPs4 = 255                       // (1500-14-20-8-8)/4 > 255
	maxVIPs6 = (1500 - 14 - 40 - 8) / 16 // 89
)

// completion is keepalived's vrrp_complete_instance, one rule per step,
// in its order: each step may depend on the ones before it.
var completion = []func(dc *decoder, in *Instance, st *instanceState){
	completeVersion,
	completeNoVIP,
	completePriorityState,
	completeAuth,
	completeMinimum,
	completeVIPCount,
	completePreempt,
	completeAccept,
	completeInherited,
	completeAdvertInterval,
	completeMulticast,
	completeVMAC,
	completeOwnInterface,
	completeOwner,
}

func (dc *decoder) completeInstance(in *Instance, st *instanceState) {
	for _, step := range completion {
		step(dc, in, st)
	}
}

// completeVersion takes the strict mode and the version from global_defs,
// and version 3 for IPv6.
func completeVersion(dc *decoder, in *Instance, st *instanceState) {
	g := &dc.cfg.Global
	n := st.node
	name := in.Name
	if !st.strictSet {
		in.Strict = g.Strict
	}
	in.IPv6 = st.family == 6
	if in.IPv6 {
		switch {
		case in.Version == 2 && in.Strict:
			dc.warnf(n, "(%s) cannot use IPv6 with VRRP version 2; setting version 3", name)
			in.Version = 3
		case in.Version == 2:
			dc.errorf(n, "(%s) IPv6 with VRRP version 2 is not supported: VRRPv2 carries IPv4 only", name)
		case !st.versionSet:
			in.Version = 3
		}
	}
	if in.Version == 0 {
		in.Version = g.VRRPVersion
	}
}

// completeNoVIP reports an instance without addresses.
func completeNoVIP(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if len(in.VIPs) == 0 {
		if in.Version == 3 || in.IPv6 || in.Strict {
			dc.errorf(n, "(%s) No VIP specified; at least one is required", name)
		} else {
			// keepalived runs it: the cloud pattern, where a notify
			// script moves the address through the provider's API.
			dc.warnf(n, "(%s) No VIP specified; at least one is sensible", name)
		}
	}
}

// completePriorityState derives the priority from the state, and the
// state from the priority.
func completePriorityState(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if !st.prioSet {
		if st.stateSet && in.State == StateMaster {
			in.Priority = ownerPriority
			dc.infof(n, "(%s) no priority given with state MASTER: keepalived makes the instance the address owner, priority 255", name)
		} else {
			in.Priority = defaultPriority
		}
	}
	if !st.stateSet {
		in.State = StateBackup
		if in.Priority == ownerPriority {
			in.State = StateMaster
		}
	} else if in.Strict && (in.State == StateMaster) != (in.Priority == ownerPriority) {
		dc.warnf(n, "(%s) State MASTER must match being address owner", name)
		in.State = StateBackup
		if in.Priority == ownerPriority {
			in.State = StateMaster
		}
	}
}

// completeAuth drops the authentication where keepalived drops it.
func completeAuth(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	switch {
	case in.AuthType == AuthNone:
	case in.Strict:
		dc.warnf(n, "(%s) Strict mode does not support authentication. Ignoring.", name)
		in.AuthType, in.AuthPass = AuthNone, ""
	case in.Version == 3:
		dc.warnf(n, "(%s) VRRP version 3 does not support authentication. Ignoring.", name)
		in.AuthType, in.AuthPass = AuthNone, ""
	case in.AuthPass == "":
		dc.warnf(n, "(%s) Authentication specified but no password given. Ignoring", name)
		in.AuthType = AuthNone
	case in.IPv6 && in.AuthType == AuthAH:
		dc.warnf(n, "(%s) Cannot use AH authentication with IPv6. ignoring", name)
		in.AuthType, in.AuthPass = AuthNone, ""
	case in.AuthType == AuthAH && in.State == StateMaster && in.Priority != ownerPriority:
		dc.warnf(n, "(%s) Initial state master is incompatible with AH authentication - clearing", name)
		in.State = StateBackup
	}
}

// completeMinimum is keepalived's chk_min_cfg, plus the source and
// unicast checks.
func completeMinimum(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if in.VRID == 0 {
		dc.errorf(n, "(%s) the virtual router id must be set", name)
	}
	if in.Interface == "" {
		if len(in.UnicastPeers) == 0 {
			dc.errorf(n, "(%s) Unknown interface!", name)
		} else {
			dc.errorf(n, "(%s) an instance without an interface is not supported: vrrpkit binds each instance to an interface", name)
		}
	}
	if a := in.SourceAddr; a.IsValid() && (a.IsMulticast() || a.IsUnspecified()) {
		dc.diags.errorf(st.srcPos, "(%s) source address %v is not a unicast address: vrrpkit sends adverts from a unicast address (keepalived would try to send from it)", name, a)
	}
	// keepalived refuses unicast peers in strict mode on an interface
	// with IFF_MULTICAST, but 2.2.7 has not read the interfaces' flags
	// when it checks: it runs them (measured, -t and running).
	if in.IPv6 && len(in.UnicastPeers) == 0 && len(in.VIPs) > 0 && !in.VIPs[0].Prefix.Addr().IsLinkLocalUnicast() {
		if in.Strict {
			dc.errorf(n, "(%s) the first IPv6 VIP address must be link local", name)
		} else {
			dc.diags.remarkf(n.Pos, "(%s) the first IPv6 VIP address should be link local", name)
		}
	}
}

// completeVIPCount moves the addresses that do not fit in an advert to
// the excluded ones.
func completeVIPCount(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	maxVIPs := maxVIPs4
	if in.IPv6 {
		maxVIPs = maxVIPs6
	}
	if len(in.VIPs) > maxVIPs {
		dc.warnf(n, "(%s) Number of VIPs (%d) exceeds maximum/space available in packet (max %d addresses) - excess moved to eVIPs", name, len(in.VIPs), maxVIPs)
		in.ExcludedVIPs = append(in.ExcludedVIPs, in.VIPs[maxVIPs:]...)
		in.VIPs = in.VIPs[:maxVIPs]
	}
}

// completePreempt clears the preemption settings that cannot apply.
func completePreempt(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if in.Priority == ownerPriority && in.NoPreempt {
		dc.warnf(n, "(%s) nopreempt is incompatible with priority %d. resetting nopreempt", name, ownerPriority)
		in.NoPreempt = false
	}
	if in.State == StateMaster {
		if in.NoPreempt {
			dc.warnf(n, "(%s) Warning - nopreempt will not work with initial state MASTER - clearing", name)
			in.NoPreempt = false
		}
		if in.PreemptDelay != 0 {
			dc.warnf(n, "(%s) Warning - preempt delay will not work with initial state MASTER - clearing", name)
			in.PreemptDelay = 0
		}
	}
	if in.PreemptDelay != 0 {
		if in.Strict {
			dc.warnf(n, "(%s) preempt_delay is incompatible with strict mode - resetting", name)
			in.PreemptDelay = 0
		}
		if in.NoPreempt {
			dc.warnf(n, "(%s) preempt_delay is incompatible with nopreempt mode - resetting", name)
			in.PreemptDelay = 0
		}
	}
}

// completeAccept settles accept mode: off by default in strict mode, and
// reset for VRRP version 2 there. An instance without it is filtered while
// Master (unless it is the address owner), as keepalived filters it with
// nftables.
func completeAccept(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if !st.acceptSet {
		in.Accept = !in.Strict
	}
	if in.Accept && in.Priority != ownerPriority && in.Strict && in.Version == 2 {
		dc.warnf(n, "(%s) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting", name)
		in.Accept = false
	}
}

// completeInherited takes the settings not given from global_defs.
func completeInherited(dc *decoder, in *Instance, st *instanceState) {
	g := &dc.cfg.Global
	n := st.node
	name := in.Name
	if !st.lowerPrioSet {
		in.LowerPrioNoAdvert = in.Strict || g.LowerPrioNoAdvert
	} else if in.Strict && !in.LowerPrioNoAdvert {
		dc.warnf(n, "(%s) Strict mode requires no lower priority advert. resetting", name)
		in.LowerPrioNoAdvert = true
	}
	if !st.checkUnicastSet {
		in.CheckUnicastSrc = g.CheckUnicastSrc
	}
	if !st.skipCheckSet {
		in.SkipCheckAdvAddr = g.SkipCheckAdvAddr
	}
	if !st.garpDelaySet {
		in.GARPMasterDelay = g.GARPMasterDelay
	}
	if !st.garpRepSet {
		in.GARPMasterRepeat = g.GARPMasterRepeat
	}
	if !st.garpRefreshSet {
		in.GARPMasterRefresh = g.GARPMasterRefresh
	}
	if !st.garpRefreshRepSet {
		in.GARPMasterRefreshRepeat = g.GARPMasterRefreshRepeat
	}
	switch {
	case st.lowerPrioRepSet:
	case g.GARPLowerPrioRepeat >= 0:
		in.GARPLowerPrioRepeat = g.GARPLowerPrioRepeat
	default:
		in.GARPLowerPrioRepeat = in.GARPMasterRepeat
	}
	switch {
	case st.lowerPrioDelaySet:
	case g.GARPLowerPrioDelay >= 0:
		in.GARPLowerPrioDelay = g.GARPLowerPrioDelay
	default:
		in.GARPLowerPrioDelay = in.GARPMasterDelay
	}
	if !st.higherPrioSet {
		in.HigherPrioSendAdvert = g.HigherPrioSendAdvert
	}
}

// completeAdvertInterval rounds the advert interval as keepalived rounds it.
func completeAdvertInterval(dc *decoder, in *Instance, st *instanceState) {
	n := st.node
	name := in.Name
	if !st.advertSet {
		in.AdvertInterval = defaultAdvertInterval
	}
	us := int64(in.AdvertInterval / time.Microsecond)
	if in.Version == 2 {
		switch {
		case us >= 256e6:
			dc.warnf(n, "(%s) VRRPv2 advertisement interval %.2fs is out of range. Must be less than %ds. Setting to %ds", name, float32(us)/1e6, 256, 255)
			us = 255e6
		case us%1e6 != 0:
			dc.warnf(n, "(%s) VRRPv2 advertisement interval %fs must be an integer. rounding", name, float32(us)/1e6)
			us += 5e5
			us -= us % 1e6
			if us == 0 {
				us = 1e6
			}
		}
	} else {
		switch {
		case us >= 4096*1e4:
			dc.warnf(n, "(%s) VRRPv3 advertisement interval %.2fs is out of range. Must be less than %.2fs. Setting to %.2fs", name, float32(us)/1e6, 40.96, 40.95)
			us = 4095 * 1e4
		case us%1e4 != 0:
			dc.warnf(n, "(%s) VRRPv3 advertisement interval %fs must be in units of 10ms - rounding", name, float32(us)/1e6)
			us += 5e3
			us -= us % 1e4
			if us == 0 {
				us = 1e4
			}
		}
	}
	in.AdvertInterval = time.Duration(us) * time.Microsecond
}

// completeMulticast picks the multicast group.
func completeMulticast(dc *decoder, in *Instance, st *instanceState) {
	g := &dc.cfg.Global
	n := st.node
	name := in.Name
	if st.mcastDstSet && len(in.UnicastPeers) > 0 {
		dc.warnf(n, "(%s) multicast destination specified with unicast - ignoring", name)
		in.MulticastGroup = netip.Addr{}
	}
	if !in.MulticastGroup.IsValid() && len(in.UnicastPeers) == 0 {
		in.MulticastGroup = g.MulticastGroup4
		if in.IPv6 {
			in.MulticastGroup = g.MulticastGroup6
		}
	}
}

// completeVMAC settles the VMAC settings.
func completeVMAC(dc *decoder, in *Instance, st *instanceState) {
	g := &dc.cfg.Global
	n := st.node
	name := in.Name
	if in.VMACXmitBase && !in.UseVMAC {
		dc.warnf(n, "(%s) vmac_xmit_base is only valid with a vmac", name)
		in.VMACXmitBase = false
	}
	if in.UseVMAC {
		if in.Strict && in.VMACXmitBase {
			dc.warnf(n, "(%s) xmit_base is incompatible with strict mode - resetting", name)
			in.VMACXmitBase = false
		}
		if in.PromoteSecondaries {
			dc.warnf(n, "(%s) promote_secondaries is automatically set for vmacs - ignoring", name)
			in.PromoteSecondaries = false
		}
		if in.VMACName == "" && in.VRID != 0 {
			in.VMACName = fmt.Sprintf("%s.%d", g.VMACPrefix, in.VRID)
		}
	}
}

// completeOwnInterface drops a track of the instance's own interface,
// which it tracks anyway.
func completeOwnInterface(dc *decoder, in *Instance, st *instanceState) {
	name := in.Name
	kept := in.TrackInterfaces[:0]
	for _, t := range in.TrackInterfaces {
		if t.Name == in.Interface {
			dc.diags.warnf(t.Pos, "(%s) Ignoring track_interface %s since own interface", name, t.Name)
			continue
		}
		kept = append(kept, t)
	}
	in.TrackInterfaces = kept
}

// completeOwner drops the weighted tracks of an address owner, whose
// priority cannot move.
func completeOwner(dc *decoder, in *Instance, st *instanceState) {
	if in.Priority == ownerPriority {
		dc.dropWeighted(in, "address owner")
	}
}

// dropWeighted applies keepalived's rule that weighted tracks cannot move
// an address owner, nor a member of a sync group without
// sync_group_tracking_weight: a weighted interface becomes unweighted (or
// is dropped for an address owner), a weighted script is dropped, a
// weighted file becomes unweighted when its weight is the default 1 and is
// dropped otherwise.
func (dc *decoder) dropWeighted(in *Instance, why string) {
	ifs := in.TrackInterfaces[:0]
	for _, t := range in.TrackInterfaces {
		if t.Weight != 0 {
			if why == "address owner" {
				dc.diags.warnf(t.Pos, "(%s) ignoring tracked interface %s due to %s", in.Name, t.Name, why)
				continue
			}
			dc.diags.warnf(t.Pos, "(%s) ignoring weight of tracked interface %s due to %s", in.Name, t.Name, why)
			t.Weight = 0
		}
		ifs = append(ifs, t)
	}
	in.TrackInterfaces = ifs
	scripts := in.TrackScripts[:0]
	for _, t := range in.TrackScripts {
		if t.Weight != 0 {
			dc.diags.warnf(t.Pos, "(%s) ignoring tracked script %s with weights due to %s", in.Name, t.Name, why)
			continue
		}
		scripts = append(scripts, t)
	}
	in.TrackScripts = scripts
	files := in.TrackFiles[:0]
	for _, t := range in.TrackFiles {
		switch {
		case t.Weight == 1:
			dc.diags.warnf(t.Pos, "(%s) ignoring weight from tracked file %s due to %s - specify weight 0", in.Name, t.Name, why)
			t.Weight = 0
		case t.Weight != 0:
			dc.diags.warnf(t.Pos, "(%s) ignoring tracked file %s with weight %d due to %s", in.Name, t.Name, t.Weight, why)
			continue
		}
		files = append(files, t)
	}
	in.TrackFiles = files
	procs := in.TrackProcesses[:0]
	for _, t := range in.TrackProcesses {
		if t.Weight != 0 {
			dc.diags.warnf(t.Pos, "(%s) ignoring tracked process %s with weight %d due to %s", in.Name, t.Name, t.Weight, why)
			continue
		}
		procs = append(procs, t)
	}
	in.TrackProcesses = procs
}

// syncWeights applies dropWeighted to the members of sync groups without
// sync_group_tracking_weight, once the groups are known.
func (dc *decoder) syncWeights() {
	for _, g := range dc.cfg.SyncGroups {
		if g.TrackingWeight {
			continue
		}
		for _, m := range g.Members {
			if in := dc.cfg.instance(m.Name); in != nil && in.Priority != ownerPriority {
				dc.dropWeighted(in, "SYNC group")
			}
		}
	}
}

// instance returns the named instance, or nil.
func (c *Config) instance(name string) *Instance {
	for i := range c.Instances {
		if c.Instances[i].Name == name {
			return &c.Instances[i]
		}
	}
	return nil
}
