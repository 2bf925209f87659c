package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// State is the state of a virtual router (RFC 5798 section 6.4), plus
// keepalived's FAULT.
type State uint8

// States of a Machine.
const (
	// Init is the Initialize state: not started, or stopped.
	Init State = iota
	// Backup monitors the Master and takes over when it goes silent.
	Backup
	// Master forwards for the virtual router and sends advertisements.
	Master
	// Fault is keepalived's FAULT: a tracked interface or check failed; the
	// router neither sends adverts nor holds the addresses.
	Fault
)

var stateNames = [...]string{"INIT", "BACKUP", "MASTER", "FAULT"}

// String returns the state in keepalived's spelling: INIT, BACKUP, MASTER
// or FAULT.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Reason is the cause of a transition.
type Reason uint8

// Causes of transitions.
const (
	// ReasonNone marks an Effects without a transition.
	ReasonNone Reason = iota
	// ReasonStartup is the Startup event of a non-owner (to Backup).
	ReasonStartup
	// ReasonOwner is the Startup event of the address owner, priority
	// 255 (to Master, RFC 5798 section 6.4.1).
	ReasonOwner
	// ReasonMasterDown is the expiry of the Master_Down_Timer (to Master,
	// RFC 5798 section 6.4.2).
	ReasonMasterDown
	// ReasonPreempted is an advert from a better Master (to Backup, RFC
	// 5798 section 6.4.3).
	ReasonPreempted
	// ReasonShutdown is the Shutdown event (to Init).
	ReasonShutdown
	// ReasonFault is a fault raised (to Fault).
	ReasonFault
	// ReasonFaultCleared is the last fault cleared (from Fault).
	ReasonFaultCleared
	// ReasonSync is a sync group moving a member with another one.
	ReasonSync
)

var reasonNames = [...]string{"none", "startup", "owner", "master-down", "preempted", "shutdown", "fault", "fault-cleared", "sync"}

// String returns a short lower-case name for r.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// DropReason says why a received advertisement was dropped. The Router
// counts drops by reason in Status.
type DropReason uint8

// Reasons for dropping a received advertisement.
const (
	// DropNone means the advertisement was not dropped.
	DropNone DropReason = iota
	// DropTruncated: shorter than its header and addresses (ErrTruncated).
	DropTruncated
	// DropLength: length and address count disagree (ErrLength).
	DropLength
	// DropVersion: not the configured version (RFC 5798 section 7.1).
	DropVersion
	// DropType: a type other than advertisement (RFC 5798 section 5.2.2).
	DropType
	// DropChecksum: no accepted checksum form matched (RFC 5798 section 7.1).
	DropChecksum
	// DropFamily: address family does not fit the message.
	DropFamily
	// DropUnknownVRID: no virtual router with this VRID on the interface.
	DropUnknownVRID
	// DropUnknownPeer: a unicast instance got an advert from an address
	// that is not one of its peers.
	DropUnknownPeer
	// DropTTL: TTL or hop limit below the accepted minimum, 255 by default
	// (RFC 5798 section 7.1).
	DropTTL
	// DropAuthType: VRRPv2 authentication type differs from the local one
	// (RFC 3768 section 7.1).
	DropAuthType
	// DropAuth: VRRPv2 password differs; with AuthAH, the ICV does not
	// verify with the key or the SPI is not the sender's address.
	DropAuth
	// DropInterval: VRRPv2 advert interval differs from the local one (RFC
	// 3768 section 7.1), or a zero interval.
	DropInterval
	// DropNoAddresses: address count 0 (RFC 9568, erratum 8299), unless
	// the instance has no addresses either (VRRPv2 only, as RFC 3768 sets
	// no minimum).
	DropNoAddresses
	// DropAddressList: the addresses differ from the configured ones and
	// the sender is not the owner (RFC 5798 section 7.1).
	DropAddressList
	// DropOwner: the local router owns the addresses (priority 255) (RFC
	// 5798 section 7.1).
	DropOwner
	// DropLowerPriority: discarded by the state machine, a lower priority
	// advert (RFC 5798 sections 6.4.2 and 6.4.3).
	DropLowerPriority
	// DropNotRunning: the virtual router is in Init or Fault.
	DropNotRunning
	// DropLoop: an advert from the instance's own source address, looped
	// back by the network.
	DropLoop
	// DropStale: an advert that arrived before one the virtual router has
	// already handled (by PacketInfo.Time), read after it: a held advert
	// of a DeferredReader read after a priority 0 one. Acting on it would
	// undo the newer one.
	DropStale
	// DropOverflow: adverts the Conn discarded because too many were held
	// for a deferred read (DeferredReader); counted in RouterStats only.
	DropOverflow
	// DropReplay: an AuthAH advert whose sequence number is not greater
	// than the last one sent or accepted (AHCounter.Accept): a replay, or
	// a peer whose count is behind, as keepalived drops it ("sequence
	// number already processed").
	DropReplay
	// NumDropReasons is the number of drop reasons, for arrays of counters.
	NumDropReasons
)

var dropNames = [...]string{"none", "truncated", "length", "version", "type", "checksum", "family",
	"unknown-vrid", "unknown-peer", "ttl", "auth-type", "auth", "interval", "no-addresses",
	"address-list", "owner", "lower-priority", "not-running", "loop", "stale", "overflow", "replay"}

// String returns a short lower-case name for d, as used in metrics.
func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("DropReason(%d)", uint8(d))
}

// MachineConfig is what a Machine needs to know of its virtual router.
type MachineConfig struct {
	// VRID is the virtual router identifier, 1 to 255.
	VRID uint8
	// Version is 2 (RFC 3768) or 3 (RFC 5798).
	Version uint8
	// Priority is the configured priority: 255 for the address owner, else
	// 1 to 254.
	Priority uint8
	// AdvertInterval is the advertisement interval: whole seconds for
	// VRRPv2, a multiple of 10 ms for VRRPv3.
	AdvertInterval time.Duration
	// NoPreempt sets Preempt_Mode False: a higher priority Backup does not
	// take over from a lower priority Master.
	NoPreempt bool
	// PreemptDelay delays preemption after startup, or after first seeing a
	// lower priority Master, as keepalived's preempt_delay.
	PreemptDelay time.Duration
	// Accept is Accept_Mode (RFC 5798 section 6.1), carried for the Router.
	Accept bool
	// AuthType and AuthData are the VRRPv2 authentication (AuthNone or
	// AuthPass and the padded password).
	AuthType uint8
	AuthData [AuthDataLen]byte
	// Addresses are the virtual addresses advertised and expected in
	// received adverts.
	Addresses []netip.Addr
	// LocalAddr is the primary address adverts are sent from; it breaks
	// ties of equal priority (RFC 5798 section 6.4.3).
	LocalAddr netip.Addr
	// MinTTL is the smallest TTL or hop limit accepted; 0 means 255 (RFC
	// 5798 section 7.1). Lower it only for unicast peers behind routers.
	MinTTL uint8
	// PeerTTLs replaces MinTTL for adverts from the sources it lists: such
	// an advert is accepted only with a TTL or hop limit within the
	// source's range (keepalived's unicast_peer min_ttl and max_ttl).
	PeerTTLs []PeerTTL
	// InitialMaster shortens the first Master_Down_Timer of a non-owner
	// after Start to Advertisement_Interval plus the smallest skew
	// (Advertisement_Interval/256 for VRRPv3, 1 s/256 for VRRPv2), as
	// keepalived does for "state MASTER": with no Master to hear, it takes
	// over after about one interval. Later Backup periods (after Fault,
	// Demote or a Master heard) use Master_Down_Interval.
	InitialMaster bool
	// SkipAddressCheck disables the comparison of the received address list
	// with Addresses, which RFC 5798 section 7.1 makes optional.
	SkipAddressCheck bool
	// NoLowerPrioAdvert turns off the immediate advert a Master sends when
	// it hears a lower priority (RFC 9568 section 6.4.3; keepalived's
	// lower_prio_no_advert).
	NoLowerPrioAdvert bool
	// HigherPrioSendAdvert makes a Master that hears a higher priority
	// send one last advert before it becomes Backup (keepalived's
	// higher_prio_send_advert).
	HigherPrioSendAdvert bool
}

// Effects is what a Machine asks its owner to do after an input, in this
// order: send an advert, unbind or bind the addresses, announce them, and
// report the transition.
type Effects struct {
	// Send asks for an advertisement carrying SendPriority.
	Send         bool
	SendPriority uint8
	// Unbind and Bind ask to remove or add the virtual addresses.
	Unbind, Bind bool
	// Announce asks for gratuitous ARP / unsolicited NA for the addresses.
	Announce bool
	// From, To and Reason describe a transition; Reason is ReasonNone when
	// the state did not change.
	From, To State
	Reason   Reason
	// Drop is why a received advert was dropped, DropNone if it was not.
	Drop DropReason
	// Reassert reports a Master that heard a lower priority: its owner
	// announces the addresses again, to correct the learning bridges and
	// neighbour caches that followed the other router.
	Reassert bool
}

// Transitioned reports whether e holds a state change.
func (e Effects) Transitioned() bool { return e.Reason != ReasonNone }

// Machine is the VRRP state machine of one virtual router (RFC 5798 section
// 6.4, RFC 3768 section 6.4) as a plain value. It has no goroutines, reads no
// clock and does no I/O: each input takes the current time, and the returned
// Effects say what to do. Deadline says when Tick must be called next.
type Machine struct {
	state     State
	prio      uint8
	fault     bool
	masterPri uint8
	masterInt time.Duration // Master_Adver_Interval
	deadline  time.Time
	preemptAt time.Time
	master    netip.Addr
	cfg       MachineConfig
}

// NewMachine returns a Machine in Init for cfg. It does not validate cfg:
// the Router's Config.Validate does.
func NewMachine(cfg MachineConfig) *Machine {
	m := &Machine{cfg: cfg, prio: cfg.Priority}
	m.masterInt = cfg.AdvertInterval
	return m
}

// Config returns the machine's configuration.
func (m *Machine) Config() MachineConfig { return m.cfg }

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority.
func (m *Machine) Priority() uint8 { return m.prio }

// Deadline returns when Tick must next be called; the zero Time means no
// timer runs (Init and Fault).
func (m *Machine) Deadline() time.Time { return m.deadline }

// Master returns the address and priority of the Master last accepted, or
// the local address in Master state.
func (m *Machine) Master() (netip.Addr, uint8) {
	if m.state == Master {
		return m.cfg.LocalAddr, m.prio
	}
	return m.master, m.masterPri
}

// MasterAdverInterval returns Master_Adver_Interval: for VRRPv3 the interval
// learned from the Master (RFC 5798 section 6.4.2), else the local one.
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterInt }

// Faulted reports whether a fault is raised.
func (m *Machine) Faulted() bool { return m.fault }

// SkewTime returns Skew_Time for the effective priority, in nanoseconds so
// that it is never rounded to zero: (256-Priority)/256 s for VRRPv2 (RFC
// 3768 section 6.1), ((256-Priority) * Master_Adver_Interval)/256 for VRRPv3
// (RFC 5798 section 6.1).
func (m *Machine) SkewTime() time.Duration {
	base := m.masterInt
	if m.cfg.Version == 2 {
		base = time.Second
	}
	return time.Duration(256-int64(m.prio)) * base / 256
}

// MasterDownInterval returns 3 * Master_Adver_Interval + Skew_Time (RFC 5798
// section 6.1; RFC 3768 uses the local Advertisement_Interval).
func (m *Machine) MasterDownInterval() time.Duration {
	return 3*m.masterInt + m.SkewTime()
}

// FillAdvert sets a to the advertisement this machine sends with priority
// prio. It shares the configured address slice, so it does not allocate.
func (m *Machine) FillAdvert(a *Advertisement, prio uint8) {
	a.Version = m.cfg.Version
	a.Type = TypeAdvertisement
	a.VRID = m.cfg.VRID
	a.Priority = prio
	a.Addresses = m.cfg.Addresses
	a.AuthType, a.AuthData = 0, [AuthDataLen]byte{}
	if m.cfg.Version == 2 {
		a.Interval = uint16(m.cfg.AdvertInterval / time.Second)
		a.AuthType, a.AuthData = m.cfg.AuthType, m.cfg.AuthData
	} else {
		a.Interval = uint16(m.cfg.AdvertInterval / (10 * time.Millisecond))
	}
}

// Start is the Startup event (RFC 5798 section 6.4.1). The owner goes to
// Master at once; others go to Backup with the Master_Down_Timer set to
// Master_Down_Interval, or with InitialMaster to Advertisement_Interval plus
// the smallest skew. A machine with a fault raised goes to Fault instead.
func (m *Machine) Start(now time.Time) Effects {
	if m.state != Init {
		return Effects{}
	}
	if m.cfg.PreemptDelay > 0 {
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
	}
	if m.fault {
		return m.transition(Fault, ReasonFault)
	}
	e := m.enter(now, ReasonStartup)
	if m.cfg.InitialMaster && m.state == Backup {
		// keepalived's "state MASTER": one interval plus the smallest
		// skew, VRRP_TIMER_SKEW_MIN.
		m.deadline = now.Add(m.masterInt + m.minSkew())
	}
	return e
}

// minSkew is the Skew_Time of priority 255, the smallest there is:
// Master_Adver_Interval/256 for VRRPv3, 1 s/256 for VRRPv2.
func (m *Machine) minSkew() time.Duration {
	if m.cfg.Version == 2 {
		return time.Second / 256
	}
	return m.masterInt / 256
}

// enter leaves Init or Fault for Master (owner) or Backup.
func (m *Machine) enter(now time.Time, r Reason) Effects {
	if m.prio == 255 {
		if r == ReasonStartup {
			r = ReasonOwner
		}
		return m.becomeMaster(now, r)
	}
	m.masterInt = m.cfg.AdvertInterval
	m.master, m.masterPri = netip.Addr{}, 0
	m.deadline = now.Add(m.MasterDownInterval())
	return m.transition(Backup, r)
}

// Stop is the Shutdown event. A Master sends an advert with priority 0
// (RFC 5798 section 6.4.3) and releases the addresses.
func (m *Machine) Stop(now time.Time) Effects {
	var e Effects
	if m.state == Master {
		e = Effects{Send: true, SendPriority: 0, Unbind: true}
	}
	if m.state == Init {
		return e
	}
	e.merge(m.transition(Init, ReasonShutdown))
	m.deadline = time.Time{}
	return e
}

// SetFault raises (on) or clears a fault. Raised, a Master sends priority 0
// and releases the addresses, and every running state goes to Fault.
// Cleared, the machine starts again as at Startup.
func (m *Machine) SetFault(now time.Time, on bool) Effects {
	if on == m.fault {
		return Effects{}
	}
	m.fault = on
	switch {
	case on && m.state == Master:
		e := Effects{Send: true, SendPriority: 0, Unbind: true}
		e.merge(m.transition(Fault, ReasonFault))
		m.deadline = time.Time{}
		return e
	case on && m.state == Backup:
		m.deadline = time.Time{}
		return m.transition(Fault, ReasonFault)
	case !on && m.state == Fault:
		return m.enter(now, ReasonFaultCleared)
	}
	return Effects{}
}

// SetPriority changes the effective priority. A Master advertises the new
// priority at once so that Backups see it without waiting an interval.
func (m *Machine) SetPriority(now time.Time, prio uint8) Effects {
	if prio == m.prio {
		return Effects{}
	}
	m.prio = prio
	if m.state == Master {
		return Effects{Send: true, SendPriority: prio}
	}
	return Effects{}
}

// Reconfigure replaces the configuration of a running machine whose VRID and
// version stay the same. The priority change takes effect as SetPriority; a
// new advert interval at the next advert. The caller rebinds changed
// addresses itself.
func (m *Machine) Reconfigure(now time.Time, cfg MachineConfig) Effects {
	old := m.cfg
	m.cfg = cfg
	if m.state != Backup || cfg.Version == 2 {
		// Only a VRRPv3 Backup keeps the interval learned from its Master.
		m.masterInt = cfg.AdvertInterval
	}
	if cfg.Priority != old.Priority {
		return m.SetPriority(now, cfg.Priority)
	}
	return Effects{}
}

// Promote makes a Backup Master at once, as if its Master_Down_Timer had
// expired: a sync group following a member that became Master.
func (m *Machine) Promote(now time.Time) Effects {
	if m.state != Backup {
		return Effects{}
	}
	return m.becomeMaster(now, ReasonSync)
}

// Demote makes a Master Backup at once, releasing the addresses: a sync
// group following a member that lost mastership. It sends no advert; the
// Master_Down_Timer starts anew.
func (m *Machine) Demote(now time.Time) Effects {
	if m.state != Master {
		return Effects{}
	}
	m.masterInt = m.cfg.AdvertInterval
	m.deadline = now.Add(m.MasterDownInterval())
	e := Effects{Unbind: true}
	e.merge(m.transition(Backup, ReasonSync))
	return e
}

// Hold keeps a Backup whose Master_Down_Timer expired in Backup, restarting
// the timer: a sync group whose other members still hear a better Master.
func (m *Machine) Hold(now time.Time) Effects {
	if m.state == Backup {
		// The Master it followed has been silent for Master_Down_Interval.
		m.master, m.masterPri = netip.Addr{}, 0
		m.deadline = now.Add(m.MasterDownInterval())
	}
	return Effects{}
}

// Yields reports whether the machine, a Backup, follows a Master it will
// not take over from: one that outranks it (higher priority, or equal
// priority and a greater address), or any Master with NoPreempt.
func (m *Machine) Yields() bool {
	if m.state != Backup || m.masterPri == 0 {
		return false
	}
	return m.cfg.NoPreempt || m.masterPri > m.prio || (m.masterPri == m.prio && m.master.Compare(m.cfg.LocalAddr) > 0)
}

// Tick handles the expiry of the running timer. It does nothing before
// Deadline.
func (m *Machine) Tick(now time.Time) Effects {
	if m.deadline.IsZero() || now.Before(m.deadline) {
		return Effects{}
	}
	switch m.state {
	case Master:
		// RFC 5798 section 6.4.3 (680)-(690): send and reset Adver_Timer.
		next := m.deadline.Add(m.cfg.AdvertInterval)
		if !next.After(now) {
			next = now.Add(m.cfg.AdvertInterval)
		}
		m.deadline = next
		return Effects{Send: true, SendPriority: m.prio}
	case Backup:
		// RFC 5798 section 6.4.2 (365)-(410).
		return m.becomeMaster(now, ReasonMasterDown)
	}
	m.deadline = time.Time{}
	return Effects{}
}

func (m *Machine) becomeMaster(now time.Time, r Reason) Effects {
	e := Effects{Send: true, SendPriority: m.prio, Bind: true, Announce: true}
	m.masterInt = m.cfg.AdvertInterval // RFC 5798 section 6.4.2 (405)
	m.deadline = now.Add(m.cfg.AdvertInterval)
	m.preemptAt = time.Time{}
	m.master, m.masterPri = netip.Addr{}, 0
	e.merge(m.transition(Master, r))
	return e
}

func (m *Machine) transition(to State, r Reason) Effects {
	e := Effects{From: m.state, To: to, Reason: r}
	m.state = to
	return e
}

func (e *Effects) merge(o Effects) {
	e.Send = e.Send || o.Send
	if o.Send {
		e.SendPriority = o.SendPriority
	}
	e.Unbind = e.Unbind || o.Unbind
	e.Bind = e.Bind || o.Bind
	e.Announce = e.Announce || o.Announce
	e.Reassert = e.Reassert || o.Reassert
	if o.Reason != ReasonNone {
		e.From, e.To, e.Reason = o.From, o.To, o.Reason
	}
	if o.Drop != DropNone {
		e.Drop = o.Drop
	}
}

// Receive handles an advertisement a, already decoded and checksummed,
// received with IP-level information info. It applies the receive checks of
// RFC 5798 section 7.1 and RFC 3768 section 7.1 that need the configuration,
// then the state machine of section 6.4.
func (m *Machine) Receive(now time.Time, a *Advertisement, info PacketInfo) Effects {
	if d := m.check(a, info); d != DropNone {
		return Effects{Drop: d}
	}
	switch m.state {
	case Backup:
		return m.receiveBackup(now, a, info)
	case Master:
		return m.receiveMaster(now, a, info)
	}
	return Effects{Drop: DropNotRunning}
}

func (m *Machine) check(a *Advertisement, info PacketInfo) DropReason {
	switch {
	case m.state != Backup && m.state != Master:
		return DropNotRunning
	case !m.ttlOK(info):
		return DropTTL
	case a.Version != m.cfg.Version:
		return DropVersion
	case a.Type != TypeAdvertisement:
		return DropType
	case a.Interval == 0:
		return DropInterval
	}
	if m.cfg.Version == 2 {
		switch {
		case a.AuthType != m.cfg.AuthType:
			return DropAuthType
		case a.AuthType == AuthPass && a.AuthData != m.cfg.AuthData:
			return DropAuth
		case a.IntervalDuration() != m.cfg.AdvertInterval:
			return DropInterval
		}
	}
	if len(a.Addresses) == 0 && len(m.cfg.Addresses) != 0 {
		return DropNoAddresses
	}
	if !m.cfg.SkipAddressCheck && a.Priority != 255 && !sameAddresses(a.Addresses, m.cfg.Addresses) {
		return DropAddressList
	}
	if m.prio == 255 {
		return DropOwner
	}
	return DropNone
}

// ttlOK reports whether the TTL or hop limit of an advert is acceptable:
// within the range of its source when PeerTTLs lists it, else at least
// MinTTL, 255 by default (RFC 5798 section 7.1).
func (m *Machine) ttlOK(info PacketInfo) bool {
	for i := range m.cfg.PeerTTLs {
		if p := &m.cfg.PeerTTLs[i]; p.Addr == info.Src {
			return p.Accepts(info.TTL)
		}
	}
	minTTL := m.cfg.MinTTL
	if minTTL == 0 {
		minTTL = 255
	}
	return info.TTL >= minTTL
}

// sameAddresses reports whether a and b hold the same addresses in any
// order, as keepalived compares them.
func sameAddresses(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

func (m *Machine) receiveBackup(now time.Time, a *Advertisement, info PacketInfo) Effects {
	if a.Priority == 0 {
		// RFC 5798 section 6.4.2 (425)-(430). The Master is leaving: it is
		// no longer one to follow.
		m.deadline = now.Add(m.SkewTime())
		m.master, m.masterPri = netip.Addr{}, 0
		return Effects{}
	}
	if m.cfg.NoPreempt || a.Priority >= m.prio || m.preemptDelayed(now) {
		// (445)-(460): learn the interval (VRRPv3 only), reset the timer.
		if m.cfg.Version == 3 {
			m.masterInt = a.IntervalDuration()
		}
		m.master, m.masterPri = info.Src, a.Priority
		m.deadline = now.Add(m.MasterDownInterval())
		return Effects{}
	}
	// (465)-(470): discard; the Master_Down_Timer takes us over. The Master
	// followed so far now ranks below us.
	if info.Src == m.master {
		m.masterPri = a.Priority
	}
	return Effects{Drop: DropLowerPriority}
}

// preemptDelayed reports whether preempt_delay still holds back preemption
// of a lower priority Master, starting the delay at the first such advert.
func (m *Machine) preemptDelayed(now time.Time) bool {
	if m.cfg.PreemptDelay <= 0 {
		return false
	}
	if m.preemptAt.IsZero() {
		m.preemptAt = now.Add(m.cfg.PreemptDelay)
	}
	return now.Before(m.preemptAt)
}

func (m *Machine) receiveMaster(now time.Time, a *Advertisement, info PacketInfo) Effects {
	if a.Priority == 0 {
		// RFC 5798 section 6.4.3 (705)-(715).
		m.deadline = now.Add(m.cfg.AdvertInterval)
		return Effects{Send: true, SendPriority: m.prio}
	}
	if a.Priority > m.prio || (a.Priority == m.prio && info.Src.Compare(m.cfg.LocalAddr) > 0) {
		// (725)-(765).
		e := Effects{Unbind: true}
		if m.cfg.HigherPrioSendAdvert {
			// keepalived's last word, before stepping down.
			e.Send, e.SendPriority = true, m.prio
		}
		if m.cfg.Version == 3 {
			m.masterInt = a.IntervalDuration()
		}
		m.master, m.masterPri = info.Src, a.Priority
		m.deadline = now.Add(m.MasterDownInterval())
		e.merge(m.transition(Backup, ReasonPreempted))
		return e
	}
	// (770)-(775); RFC 9568 adds an immediate advert to assert mastership,
	// which restarts the Adver_Timer as any advert sent does (keepalived
	// does the same).
	e := Effects{Drop: DropLowerPriority, Reassert: true}
	if !m.cfg.NoLowerPrioAdvert {
		e.Send, e.SendPriority = true, m.prio
		m.deadline = now.Add(m.cfg.AdvertInterval)
	}
	return e
}
