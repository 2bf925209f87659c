package vrrp

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Node is the pure multi-instance core of a Router, one level above
// Machine, as etcd-io/raft's RawNode is the core of its node: it owns the
// virtual routers of one host and their Machines, and every rule that spans
// instances or outlives one advert. That is the one effective priority of
// each instance (configured, SetPriority, tracked sources), its faults and
// their causes, sync groups, tracked interfaces, reload, the announcement,
// lease and bind schedules, the results of binds, and OnMaster calls one at
// a time.
//
// A Node has no goroutine, clock, lock or I/O. Every input carries the
// time; what the owner must do comes back from Effects, in order. Next says
// when Tick must be called. Router is the owner that carries the effects
// out on real sockets and netlink; internal/sim drives a Node directly.
//
// Instances are named by an ID, the small integer Add returns; an ID is
// never reused, so that a late result for a removed instance (a bind, an
// OnMaster call's return) cannot reach another.
type Node struct {
	log    *slog.Logger
	opts   NodeOptions
	insts  []*nodeInst // by ID; nil for a free slot
	byName map[string]*nodeInst
	groups []*group
	links  map[string]LinkState
	timers timerHeap

	// Each output is double-buffered: the owner reads one while the
	// inputs fill the other.
	effects, effectsOut []Effect
	sends, sendsOut     []Outgoing
	arena, arenaOut     []byte // the messages of sends
	adv                 Advertisement
	trans, transOut     []Transition
	groupTrans, gtOut   []GroupTransition
	changed, changedOut []int
	gone, forget        []int // removed instances, forgotten by the second Changed after
	syncing             bool
	seq                 uint64
}

// NodeOptions configure a Node.
type NodeOptions struct {
	// SyncGroups are the sync groups.
	SyncGroups []SyncGroup
	// Lease is how long bound addresses live unless bound again (a
	// LeaseBinder's Lease): a Master binds them again every third of it.
	// Zero means they do not expire.
	Lease time.Duration
	// NoBinds says that nothing binds addresses (a Router without a
	// Binder): a bind counts as done as soon as it is asked for.
	NoBinds bool
	// MasterCalls says that the owner makes OnMaster calls and reports
	// each one's return with MasterReturned.
	MasterCalls bool
	// Logger receives the Node's logs; nil discards them.
	Logger *slog.Logger
}

// EffectKind is what an Effect asks for.
type EffectKind uint8

// Kinds of effects.
const (
	// EffectSend asks to send an advert of instance ID with Priority, one
	// effect for each of its destinations: Outgoing(Ref) holds the message,
	// encoded, with its source and destination (a nil Msg if it could not
	// be encoded).
	EffectSend EffectKind = iota + 1
	// EffectBind asks to add VIPs on Iface; the owner reports the result
	// with BindDone and Seq.
	EffectBind
	// EffectUnbind asks to remove VIPs from Iface.
	EffectUnbind
	// EffectAnnounce asks for gratuitous ARP / unsolicited NA for Addrs on
	// Iface.
	EffectAnnounce
	// EffectTransition reports a state change: Transition(Ref).
	EffectTransition
	// EffectGroupTransition reports a sync group's state change:
	// GroupTransition(Ref).
	EffectGroupTransition
	// EffectStartMaster asks for an OnMaster call of instance ID. The
	// owner reports its return with MasterReturned.
	EffectStartMaster
	// EffectStopMaster asks to cancel the context of instance ID's
	// OnMaster call.
	EffectStopMaster
	// EffectLowerPriority reports that instance ID, Master, heard an
	// advert of Priority from Addrs[0].
	EffectLowerPriority
)

var effectNames = [...]string{"", "send", "bind", "unbind", "announce", "transition", "group-transition", "start-master", "stop-master", "lower-priority"}

// String returns a short name for k.
func (k EffectKind) String() string {
	if int(k) < len(effectNames) {
		return effectNames[k]
	}
	return fmt.Sprintf("effect(%d)", k)
}

// Effect is one thing a Node asks its owner to do.
type Effect struct {
	Kind     EffectKind
	Priority uint8
	// ID is the instance.
	ID int
	// Ref indexes Transition or GroupTransition.
	Ref int
	// Seq identifies a bind, for BindDone.
	Seq uint64
	// Iface is where VIPs go and announcements leave.
	Iface string
	// VIPs are the addresses to bind or unbind.
	VIPs []VIP
	// Routes and Rules are bound after VIPs, and unbound before them.
	Routes []Route
	Rules  []Rule
	// Filter, on EffectBind, asks to filter VIPs before binding them,
	// and on EffectUnbind to remove their filter once they are removed:
	// the instance is in NoAccept mode and not the address owner.
	Filter bool
	// Addrs are the addresses to announce.
	Addrs []netip.Addr
}

// Addressing is what the owner learned of an instance's sockets when it set
// them up: the address adverts leave from (the Conn's, or the VMAC's
// link-local one for IPv6), unless the configuration names one, and the
// multicast group.
type Addressing struct {
	Source netip.Addr
	Group  netip.Addr
}

// TrackState is what one tracked source (a health check, a track file,
// an interface) says of an instance. While weights apply to the instance
// and Weight is not 0, Delta is added to its priority (a Delta at or below
// TrackFaultDelta is a FAULT); otherwise (Weight 0, or a member of a sync
// group without TrackingWeight, as in keepalived) the instance is in FAULT
// while Down. See Effect.
type TrackState struct {
	// Source names the source, unique for the instance ("check:chk_web").
	Source string
	// Weight is the track's configured weight.
	Weight int
	// Delta is the priority change while weights apply.
	Delta int
	// Down reports that the source is down.
	Down bool
}

// TrackFaultDelta is the Delta at or below which a weighted track puts
// its instance in FAULT: keepalived's mark for a track file whose value
// times weight reaches -254.
const TrackFaultDelta = -254

// Effect returns what t means for an instance, given whether weights apply
// to it (they do not to a member of a sync group without TrackingWeight):
// a priority delta, or a fault. It is the one place of the rule; a Node
// applies it to every report, and test doubles of a Router may call it.
func (t TrackState) Effect(weights bool) (delta int, fault bool) {
	switch {
	case t.Weight == 0 || !weights:
		return 0, t.Down
	case t.Delta <= TrackFaultDelta:
		return 0, true
	}
	return t.Delta, false
}

// Received is an advert read for an instance, as Receive takes it.
type Received struct {
	// Adv is the decoded advert; valid when Err is nil.
	Adv *Advertisement
	// Info is what the transport said of the packet; Info.Time, when set,
	// dates the advert.
	Info PacketInfo
	// Err is the decoding error.
	Err error
	// Form is the checksum form the advert matched.
	Form ChecksumForm
	// Untimed says not to date the advert by Info.Time (the wall clock
	// stepped since the last read).
	Untimed bool
	// Packet is the whole IPv4 datagram of an advert read on an AH Conn
	// (Endpoint.Protocol 51), whose message Adv decodes; nil for an advert
	// read on a VRRP Conn. An AuthAH instance checks its ICV, SPI and
	// sequence number. It is not retained.
	Packet []byte
}

// ReceiveResult is what became of a Received advert.
type ReceiveResult struct {
	// Drop is why it was dropped; DropNone if it was not.
	Drop DropReason
	// Counted reports that it passed the checks before the Machine's, and
	// counts as received.
	Counted bool
}

// bindTimeoutFloor is the least time a new Master waits for its bind to
// be confirmed before it takes the bind as failed: one advert interval, but
// not less than this, since adding addresses at a takeover of many
// instances at once takes longer than a short interval.
const bindTimeoutFloor = time.Second

// bindRetry and bindRetryMax bound the time an instance stays in FAULT
// after a failed bind before it contends again: bindRetry, doubling with
// each failure in a row up to bindRetryMax.
const (
	bindRetry    = time.Second
	bindRetryMax = time.Minute
)

// Fault and priority sources the Node raises itself.
const (
	faultInterface = "interface"
	faultBind      = "bind"
	trackPrefix    = "track:"
	routePrefix    = "route:"
)

// maxQueued bounds how long before now an advert's arrival time may be and
// still date it, beyond the Master_Down_Interval of a deferred read: an
// older time is implausible (a wall clock step the owner did not see).
const maxQueued = time.Second

type bindState uint8

const (
	unbound bindState = iota
	binding           // a takeover bind asked for, not confirmed
	bound
)

// nodeInst is one virtual router of a Node.
type nodeInst struct {
	// The fields a tick reads come first: due, the heap index and the
	// machine (held in place, so that a tick loads one object each).
	due  time.Time // earliest of the machine's and the schedules' deadlines
	hidx int
	m    Machine
	ann  announcing
	id   int

	leaseAt  time.Time
	bindBy   time.Time // a bind of addresses not held yet, not confirmed by then, failed
	retryAt  time.Time // the bind fault clears then
	awaitBy  time.Time // the earliest deadline in awaiting
	cfg      InstanceConfig
	src      netip.Addr
	group    netip.Addr
	dsts     []netip.Addr
	vips     []VIP        // cfg.VIPs then cfg.ExcludedVIPs, on the VMAC when one is used
	vipAddrs []netip.Addr // the addresses of vips, for announcements
	vipIface string       // the interface VIPs and announcements go on
	routes   []Route      // cfg.VirtualRoutes, held with vips
	rules    []Rule       // cfg.VirtualRules, held with vips

	override uint8
	deltas   map[string]int
	faults   map[string]string     // source -> cause
	tracks   map[string]TrackState // the last report of each SetTrack source
	awaiting map[string]time.Time
	started  bool // Start was called
	running  bool // the Machine was started
	bind     bindState
	bindSeq  uint64
	bindErrs int          // binds failed in a row
	bindHold time.Time    // after a failed bind, no preempting a live Master before
	announce []netip.Addr // addresses added by Reconfigure, announced once bound
	calling  bool         // an OnMaster call runs
	called   bool         // an OnMaster call was started in this Master term
	since    time.Time
	recvAt   time.Time  // the time the last advert was dated by
	keptAt   time.Time  // the arrival time (PacketInfo.Time) of the last advert handled
	keptSrc  netip.Addr // its source
	heardAt  time.Time  // when a Master was last heard, even a lower one
	dirty    bool
	ah       AHCounter // the AH sequence number (AuthAH)
	ipID     uint16    // the IPv4 identification of the last AH advert
	removed  bool
	shown    visible
}

// NewNode returns a Node with no instances.
func NewNode(opts NodeOptions) *Node {
	n := &Node{opts: opts, log: opts.Logger, byName: map[string]*nodeInst{}, links: map[string]LinkState{}}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.setGroups(opts.SyncGroups)
	return n
}

// Effects returns the effects of the inputs since the last call, in order,
// and forgets them. The slice is valid until the next call.
func (n *Node) Effects() []Effect {
	n.effectsOut, n.effects = n.effects, n.effectsOut[:0]
	if cap(n.effects) > 256 && cap(n.effects) > 4*len(n.effectsOut) {
		// Far larger than the batches of late (a takeover of many
		// instances at once): let it go.
		n.effects = nil
	}
	n.sendsOut, n.sends = n.sends, n.sendsOut[:0]
	n.arenaOut, n.arena = n.arena, n.arenaOut[:0]
	if cap(n.sends) > 256 && cap(n.sends) > 4*len(n.sendsOut) {
		n.sends, n.arena = nil, nil
	}
	n.transOut, n.trans = n.trans, n.transOut[:0]
	if cap(n.trans) > 64 && cap(n.trans) > 4*len(n.transOut) {
		n.trans = nil
	}
	n.gtOut, n.groupTrans = n.groupTrans, n.gtOut[:0]
	return n.effectsOut
}

// Outgoing returns the advert an EffectSend refers to. Its message is
// valid until the next Effects call after the one that returned the effect.
func (n *Node) Outgoing(ref int) Outgoing { return n.sendsOut[ref] }

// Transition returns the transition an EffectTransition refers to. It is
// valid until the next Effects call after the one that returned the effect.
func (n *Node) Transition(ref int) Transition { return n.transOut[ref] }

// GroupTransition returns the transition an EffectGroupTransition refers
// to, as Transition.
func (n *Node) GroupTransition(ref int) GroupTransition { return n.gtOut[ref] }

// Changed returns the IDs of instances whose Status may have changed since
// the last call, and forgets them, and the instances removed before the
// last call. Status reads a removed instance until the next call.
func (n *Node) Changed() []int {
	for _, id := range n.forget {
		n.insts[id] = nil
	}
	n.forget, n.gone = n.gone, n.forget[:0]
	n.changedOut, n.changed = n.changed, n.changedOut[:0]
	for _, id := range n.changedOut {
		if inst := n.inst(id); inst != nil {
			inst.dirty = false
		}
	}
	return n.changedOut
}

// Next returns when Tick must next be called; the zero Time means never.
func (n *Node) Next() time.Time { return n.timers.next() }

// NextInterval returns the advert interval of the instance due next, or 0.
func (n *Node) NextInterval() time.Duration {
	if inst := n.timers.top(); inst != nil {
		return inst.m.MasterAdverInterval()
	}
	return 0
}

// inst returns instance id, nil once removed.
func (n *Node) inst(id int) *nodeInst {
	if id < 0 || id >= len(n.insts) || n.insts[id] == nil || n.insts[id].removed {
		return nil
	}
	return n.insts[id]
}

// ID returns the ID of the named instance.
func (n *Node) ID(name string) (int, bool) {
	inst := n.byName[name]
	if inst == nil {
		return 0, false
	}
	return inst.id, true
}

// Names returns the names of the instances, sorted.
func (n *Node) Names() []string {
	names := make([]string, 0, len(n.byName))
	for name := range n.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Config returns the configuration of instance id.
func (n *Node) Config(id int) InstanceConfig { return n.insts[id].cfg }

// State returns the state of instance id.
func (n *Node) State(id int) State { return n.insts[id].m.State() }

// Machine returns the Machine of instance id, to read.
func (n *Node) Machine(id int) *Machine { return &n.insts[id].m }

// Faults returns the fault sources of instance id with their causes, a
// copy.
func (n *Node) Faults(id int) map[string]string { return maps.Clone(n.insts[id].faults) }

// Status returns the Status of instance id, less its Stats.
func (n *Node) Status(id int) Status {
	inst := n.insts[id]
	inst.shown = inst.visible()
	master, mprio := inst.m.Master()
	c := &inst.cfg
	s := Status{
		Name: c.Name, Interface: c.Interface, VRID: c.VRID,
		Version: c.Version, Family: c.Family(), State: inst.m.State(),
		Priority: c.Priority, EffectivePriority: inst.m.Priority(),
		Master: master, MasterPriority: mprio, MasterAdverInterval: inst.m.MasterAdverInterval(),
		Since: inst.since,
	}
	if len(inst.faults) > 0 {
		s.Faults = sortedKeys(inst.faults)
	}
	return s
}

// visible is what a Status shows of an instance beside its counters and
// faults: the owner publishes again only when it changes.
type visible struct {
	state          State
	prio, mprio    uint8
	master         netip.Addr
	interval       time.Duration
	since          time.Time
	configPriority uint8
}

func (inst *nodeInst) visible() visible {
	master, mprio := inst.m.Master()
	return visible{state: inst.m.State(), prio: inst.m.Priority(), mprio: mprio, master: master,
		interval: inst.m.MasterAdverInterval(), since: inst.since, configPriority: inst.cfg.Priority}
}

func (n *Node) markDirty(inst *nodeInst) {
	if !inst.dirty {
		inst.dirty = true
		n.changed = append(n.changed, inst.id)
	}
}

// Add adds an instance, validated and with its defaults applied, whose
// sockets the owner has set up; Start starts it. It asks to remove its
// addresses, and their filter (NoAccept): those a crashed predecessor left
// behind belong to nobody, and a starting instance is not Master.
func (n *Node) Add(c InstanceConfig, a Addressing) int {
	id := len(n.insts)
	n.insts = append(n.insts, nil)
	inst := &nodeInst{id: id, cfg: c, hidx: -1, deltas: map[string]int{}, faults: map[string]string{}}
	n.insts[id] = inst
	n.byName[c.Name] = inst
	n.setAddressing(inst, a)
	inst.m = *NewMachine(n.machineConfig(inst))
	n.emit(Effect{Kind: EffectUnbind, ID: id, Iface: inst.vipIface, VIPs: inst.vips, Routes: inst.routes, Rules: inst.rules, Filter: c.filters()})
	for name, ls := range n.links {
		n.trackLink(inst, ls, name)
	}
	n.markDirty(inst)
	return id
}

// machineConfig is the Machine configuration of inst, with its effective
// priority: the Machine holds no other.
func (n *Node) machineConfig(inst *nodeInst) MachineConfig {
	mc := inst.cfg.machineConfig(inst.src)
	mc.Priority = n.effective(inst)
	return mc
}

// setAddressing derives where inst sends from and to, and where its
// addresses go.
func (n *Node) setAddressing(inst *nodeInst, a Addressing) {
	c := &inst.cfg
	inst.group = a.Group
	inst.src = c.SourceAddr
	if !inst.src.IsValid() {
		inst.src = a.Source
	}
	if len(c.UnicastPeers) > 0 {
		inst.dsts = c.UnicastPeers
	} else {
		inst.dsts = []netip.Addr{a.Group}
	}
	inst.vipIface = c.Interface
	if c.UseVMAC {
		inst.vipIface = c.vmacName()
	}
	// The excluded VIPs are bound, released and announced with the VIPs;
	// only the adverts (the Machine's Addresses) leave them out.
	inst.vips = slices.Concat(c.VIPs, c.ExcludedVIPs)
	if c.UseVMAC {
		for i := range inst.vips {
			if inst.vips[i].Device == "" {
				inst.vips[i].Device = inst.vipIface
			}
		}
	}
	inst.vipAddrs = addrsOf(inst.vips)
	inst.routes, inst.rules = c.VirtualRoutes, c.VirtualRules
}

// missing returns the elements of a that b lacks.
func missing[T comparable](a, b []T) []T {
	var out []T
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func addrsOf(vips []VIP) []netip.Addr {
	addrs := make([]netip.Addr, len(vips))
	for i, v := range vips {
		addrs[i] = v.Prefix.Addr()
	}
	return addrs
}

// Start starts instance id: its Machine starts now, or once every source
// it awaits has reported (see Await).
func (n *Node) Start(now time.Time, id int) {
	inst := n.insts[id]
	if inst.started {
		return
	}
	inst.started = true
	// Adverts queued before the start are dated by it, not before.
	inst.recvAt = now
	n.startMachine(inst, now)
}

// startMachine starts the Machine of a started instance once it awaits
// nothing.
func (n *Node) startMachine(inst *nodeInst, now time.Time) {
	if !inst.started || inst.running || len(inst.awaiting) > 0 {
		n.timers.update(inst)
		return
	}
	inst.running = true
	inst.m.SetPriority(now, n.effective(inst))
	inst.m.SetFault(now, len(inst.faults) > 0)
	n.apply(inst, inst.m.Start(now), now)
}

// Remove stops instance id as at shutdown (a Master sends priority 0 and
// releases its addresses) and forgets it.
func (n *Node) Remove(now time.Time, id int) {
	inst := n.insts[id]
	n.apply(inst, inst.m.Stop(now), now)
	if inst.bind != unbound {
		n.unbind(inst, inst.vips, inst.routes, inst.rules)
	}
	n.timers.remove(inst)
	// Its last Status is still to be read: Changed forgets it.
	n.markDirty(inst)
	inst.removed = true
	n.gone = append(n.gone, id)
	delete(n.byName, inst.cfg.Name)
}

// Stop removes every instance, as Remove, without moving the others of a
// sync group as each member goes: the group stops as a whole.
func (n *Node) Stop(now time.Time) {
	n.syncing = true
	for _, name := range n.Names() {
		n.Remove(now, n.byName[name].id)
	}
	n.syncing = false
}

// Reconfigure changes instance id in place to c, which keeps its
// interface, VRID, version, family and group: priority, interval,
// addresses, peers... A Master binds added addresses and announces them,
// and releases removed ones, without a failover.
func (n *Node) Reconfigure(now time.Time, id int, c InstanceConfig, a Addressing) {
	inst := n.insts[id]
	oldVIPs, oldRoutes, oldRules := inst.vips, inst.routes, inst.rules
	inst.cfg = c
	n.setAddressing(inst, a)
	if inst.bind != unbound {
		gone, goneRoutes, goneRules := missing(oldVIPs, inst.vips), missing(oldRoutes, inst.routes), missing(oldRules, inst.rules)
		if len(gone)+len(goneRoutes)+len(goneRules) > 0 {
			// A pending bind still counts: no new bind sequence.
			n.emit(Effect{Kind: EffectUnbind, ID: inst.id, Iface: inst.vipIface, VIPs: gone, Routes: goneRoutes, Rules: goneRules, Filter: inst.cfg.filters()})
		}
		var added []netip.Addr
		for _, v := range missing(inst.vips, oldVIPs) {
			added = append(added, v.Prefix.Addr())
		}
		if len(added) > 0 || len(missing(inst.routes, oldRoutes))+len(missing(inst.rules, oldRules)) > 0 {
			// Announced once bound.
			inst.announce = added
			n.bindNew(inst, now)
		}
	}
	// The links are tracked anew: an interface or route no longer tracked
	// leaves no fault or delta behind.
	for src := range inst.faults {
		if src == faultInterface || strings.HasPrefix(src, trackPrefix) || strings.HasPrefix(src, routePrefix) {
			delete(inst.faults, src)
		}
	}
	for src := range inst.deltas {
		if strings.HasPrefix(src, trackPrefix) {
			delete(inst.deltas, src)
		}
	}
	for name, ls := range n.links {
		n.trackLink(inst, ls, name)
	}
	n.faultsChanged(inst, now)
	n.reconfigureMachine(inst, now)
	n.markDirty(inst)
}

// reconfigureMachine hands inst's Machine its configuration, with the
// effective priority: never the configured one first, and the priority in
// force compared, not the one of the Machine's previous configuration.
func (n *Node) reconfigureMachine(inst *nodeInst, now time.Time) {
	n.apply(inst, inst.m.Reconfigure(now, n.machineConfig(inst)), now)
	n.priorityChanged(inst, now)
}

// SetGroups replaces the sync groups; a group that keeps its name keeps its
// state.
func (n *Node) SetGroups(now time.Time, groups []SyncGroup) {
	n.opts.SyncGroups = groups
	n.setGroups(groups)
	for _, name := range n.Names() {
		inst := n.byName[name]
		n.retrack(inst, now)
		// A member of a group that is gone loses the group's fault.
		for _, src := range sortedKeys(inst.faults) {
			if g, ok := strings.CutPrefix(src, syncPrefix); ok && !slices.ContainsFunc(n.groups, func(x *group) bool { return x.name == g && slices.Contains(x.members, name) }) {
				n.setFault(inst, src, false, "", now)
			}
		}
	}
	for _, g := range n.groups {
		n.syncFaults(g, now)
		n.reconcile(g, now)
		n.groupState(g, now)
	}
}

func (n *Node) setGroups(groups []SyncGroup) {
	states := map[string]State{}
	for _, g := range n.groups {
		states[g.name] = g.state
	}
	n.groups = nil
	for _, g := range groups {
		n.groups = append(n.groups, &group{name: g.Name, members: g.Members, weights: g.TrackingWeight, state: states[g.Name]})
	}
}

// SetPriority sets the priority of instance id in place of the configured
// one; 0 returns to the configured one. An address owner keeps 255.
func (n *Node) SetPriority(now time.Time, id int, prio uint8) {
	inst := n.insts[id]
	inst.override = prio
	n.priorityChanged(inst, now)
}

// AdjustPriority sets the priority change contributed by source to delta;
// 0 removes it. The effective priority is the configured one (or
// SetPriority's) plus every delta, clamped to 1-254.
func (n *Node) AdjustPriority(now time.Time, id int, source string, delta int) {
	inst := n.insts[id]
	setDelta(inst.deltas, source, delta)
	n.priorityChanged(inst, now)
	n.reported(inst, source, now)
}

// SetFault raises (on) or clears the fault named source of instance id.
// While any source is faulted the instance is in FAULT: it sends no
// adverts and holds no addresses.
func (n *Node) SetFault(now time.Time, id int, source string, on bool) {
	inst := n.insts[id]
	n.setFault(inst, source, on, "", now)
	n.reported(inst, source, now)
}

// SetTrack applies what a tracked source says of instance id (see
// TrackState): the one place where a weighted track of a sync group
// member acts as weight 0.
func (n *Node) SetTrack(now time.Time, id int, t TrackState) {
	inst := n.insts[id]
	if inst.tracks == nil {
		inst.tracks = map[string]TrackState{}
	}
	inst.tracks[t.Source] = t
	delta, fault := n.trackEffect(inst, t)
	setDelta(inst.deltas, t.Source, delta)
	n.priorityChanged(inst, now)
	n.setFault(inst, t.Source, fault, "", now)
	n.reported(inst, t.Source, now)
}

// retrack applies the weight rule again to every tracked source of inst
// (its sync group, and with it whether weights apply, may have changed).
func (n *Node) retrack(inst *nodeInst, now time.Time) {
	for src, t := range inst.tracks {
		delta, fault := n.trackEffect(inst, t)
		setDelta(inst.deltas, src, delta)
		setFaultCause(inst.faults, src, fault, "")
	}
	for name, ls := range n.links {
		n.trackLink(inst, ls, name)
	}
	n.priorityChanged(inst, now)
	n.faultsChanged(inst, now)
	n.markDirty(inst)
}

// trackEffect returns what t means for inst: a priority delta, or a fault.
func (n *Node) trackEffect(inst *nodeInst, t TrackState) (delta int, fault bool) {
	return t.Effect(n.weights(inst))
}

// Await makes instance id wait for a first report (SetTrack, AdjustPriority
// or SetFault) from source, for at most within, before it contends for
// Master: a Machine not started yet starts once every source it awaits
// has reported; a Backup does not take over before. A Master carries on.
func (n *Node) Await(now time.Time, id int, source string, within time.Duration) {
	inst := n.insts[id]
	if inst.m.State() == Master {
		return
	}
	if inst.awaiting == nil {
		inst.awaiting = map[string]time.Time{}
	}
	inst.awaiting[source] = now.Add(within)
	n.awaitChanged(inst, now)
}

// reported ends the wait for source, once its report is applied.
func (n *Node) reported(inst *nodeInst, source string, now time.Time) {
	if _, ok := inst.awaiting[source]; ok {
		delete(inst.awaiting, source)
		n.awaitChanged(inst, now)
	}
}

// awaitChanged drops the waits that are over, and starts the Machine when
// none is left.
func (n *Node) awaitChanged(inst *nodeInst, now time.Time) {
	inst.awaitBy = time.Time{}
	for src, by := range inst.awaiting {
		if !by.After(now) {
			n.log.Warn(fmt.Sprintf("(%s) no first report from %s; contending without it", inst.cfg.Name, src),
				"instance", inst.cfg.Name, "source", src)
			delete(inst.awaiting, src)
			continue
		}
		if inst.awaitBy.IsZero() || by.Before(inst.awaitBy) {
			inst.awaitBy = by
		}
	}
	n.startMachine(inst, now)
}

func setDelta(m map[string]int, source string, delta int) {
	if delta == 0 {
		delete(m, source)
	} else {
		m[source] = delta
	}
}

// effective returns the effective priority of inst: the configured one, or
// SetPriority's, plus every delta, clamped to 1-254; an owner keeps 255.
func (n *Node) effective(inst *nodeInst) uint8 {
	if inst.cfg.Priority == 255 {
		return 255
	}
	p := int(inst.cfg.Priority)
	if inst.override != 0 {
		p = int(inst.override)
	}
	for _, d := range inst.deltas {
		p += d
	}
	return uint8(min(max(p, 1), 254))
}

func (n *Node) priorityChanged(inst *nodeInst, now time.Time) {
	if p := n.effective(inst); p != inst.m.Priority() {
		n.apply(inst, inst.m.SetPriority(now, p), now)
	}
}

// setFault raises or clears the fault of source on inst, with cause for
// the log and Status.
func (n *Node) setFault(inst *nodeInst, source string, on bool, cause string, now time.Time) {
	_, was := inst.faults[source]
	if on == was && (!on || inst.faults[source] == cause) {
		return
	}
	if on {
		inst.faults[source] = cause
		if cause != "" {
			n.log.Error(fmt.Sprintf("(%s) fault %s: %s", inst.cfg.Name, source, cause), "instance", inst.cfg.Name, "source", source, "cause", cause)
		}
	} else {
		delete(inst.faults, source)
	}
	n.markDirty(inst) // the list of faults shows in Status
	n.faultsChanged(inst, now)
}

// faultsChanged hands the faults of inst to its Machine and its sync group.
func (n *Node) faultsChanged(inst *nodeInst, now time.Time) {
	if inst.running {
		n.apply(inst, inst.m.SetFault(now, len(inst.faults) > 0), now)
	}
	n.groupFaultsChanged(inst, now)
}

// Receive handles an advert read for instance id at now: the checks that
// need no Machine (decoding, checksum, our own advert looped back, unicast
// peers, a held advert read after a newer one), its date (its arrival time
// when it is known and plausible), then the Machine's.
func (n *Node) Receive(now time.Time, id int, r *Received) ReceiveResult {
	inst := n.insts[id]
	switch {
	case r.Err != nil:
		return ReceiveResult{Drop: dropFor(r.Err)}
	case r.Form == ChecksumBad:
		return ReceiveResult{Drop: DropChecksum}
	case r.Info.Src == inst.src:
		return ReceiveResult{Drop: DropLoop}
	case len(inst.cfg.UnicastPeers) > 0 && !slices.Contains(inst.cfg.UnicastPeers, r.Info.Src):
		// Known peers go on to the Machine, which checks their TTL
		// against their PeerTTLs range or MinTTL.
		return ReceiveResult{Drop: DropUnknownPeer}
	}
	var ah AH
	if inst.cfg.AuthAH {
		var d DropReason
		if ah, d = n.checkAH(inst, r); d != DropNone {
			return ReceiveResult{Drop: d, Counted: true}
		}
	}
	kernel := r.Info.Time
	if r.Untimed {
		kernel = time.Time{}
	}
	at, dated := arrival(now, kernel, inst.m.MasterDownInterval()+maxQueued)
	// Compared by the Conn's own arrival times: the dates derived from
	// them carry the jitter of reading two clocks at once.
	if dated && kernel.Before(inst.keptAt) {
		// Read after a newer advert: a held one after a priority 0 read
		// at once. From the Master that sent the newer one, it says
		// nothing new and is no drop.
		if r.Info.Src == inst.keptSrc {
			return ReceiveResult{}
		}
		return ReceiveResult{Drop: DropStale}
	}
	// Never before the previous advert, so that the machine sees time
	// move forward.
	at = later(at, inst.recvAt)
	master := inst.m.State() == Master
	e := inst.m.Receive(at, r.Adv, r.Info)
	if inst.cfg.AuthAH {
		switch {
		case master && e.Drop == DropLowerPriority:
			// keepalived's Master goes on from the lower sender's
			// count, its answer included.
			inst.ah.LowerPriority(ah.Seq)
		case !master:
			inst.ah.Cycled = false
		}
	}
	if e.Drop == DropNone || e.Drop == DropLowerPriority {
		// Only an advert that passed the checks marks the time: a
		// forged one must not make the live Master's look stale.
		inst.recvAt = at
		if r.Adv.Priority != 0 {
			inst.heardAt = at
		}
		if dated {
			inst.keptAt, inst.keptSrc = kernel, r.Info.Src
		}
	}
	n.apply(inst, e, now)
	if e.Reassert {
		n.emit(Effect{Kind: EffectLowerPriority, ID: inst.id, Priority: r.Adv.Priority, Addrs: []netip.Addr{r.Info.Src}})
	}
	return ReceiveResult{Drop: e.Drop, Counted: true}
}

// checkAH applies keepalived's AH checks to an advert for the AuthAH
// instance inst, in its order: an Authentication Header must be there, its
// ICV must verify with the key, its SPI must be the source address, and
// its sequence number must be greater than the counter, which it then
// becomes.
func (n *Node) checkAH(inst *nodeInst, r *Received) (AH, DropReason) {
	if r.Packet == nil {
		return AH{}, DropAuthType
	}
	ah, _, err := ParseAH(r.Packet)
	if err != nil {
		return ah, DropAuthType
	}
	if !VerifyAH(r.Packet, PasswordData(inst.cfg.AuthPass), len(inst.cfg.UnicastPeers) > 0) {
		return ah, DropAuth
	}
	if src := AHSource(r.Packet); ah.SPI != binary.BigEndian.Uint32(src.AsSlice()) {
		return ah, DropAuth
	}
	if !inst.ah.Accept(ah.Seq) {
		return ah, DropReplay
	}
	return ah, DropNone
}

// ClockStepped tells the Node that the wall clock was stepped: the arrival
// times before the step do not compare with those after.
func (n *Node) ClockStepped() {
	for _, inst := range n.insts {
		if inst != nil {
			inst.keptAt = time.Time{}
		}
	}
}

// HoldExpired keeps instance id, a Backup whose Master_Down_Timer has
// expired, in Backup for another Master_Down_Interval: the advert that
// would have kept it may be among adverts the owner lost.
func (n *Node) HoldExpired(now time.Time, id int) {
	inst := n.insts[id]
	if inst.m.State() != Backup {
		return
	}
	if d := inst.m.Deadline(); !d.IsZero() && !d.After(now) {
		n.apply(inst, inst.m.Hold(now), now)
	}
}

// arrival dates an advert read at now by the kernel's arrival time when it
// is known and plausible (in the past, by less than maxAge), so that the
// time it waited in the socket and the owner's queue does not delay the
// Backup's deadline; dated reports that it did. Otherwise it returns now.
func arrival(now, kernel time.Time, maxAge time.Duration) (at time.Time, dated bool) {
	if kernel.IsZero() {
		return now, false
	}
	// now carries a monotonic reading and kernel none: Sub compares their
	// wall clocks, and Add keeps now's monotonic reading.
	if age := now.Sub(kernel); age >= 0 && age < maxAge {
		return now.Add(-age), true
	}
	return now, false
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// Tick runs every instance whose Machine timer or schedule is due at now.
func (n *Node) Tick(now time.Time) {
	for i := 0; i < 2*len(n.byName)+1; i++ {
		inst := n.timers.top()
		if inst == nil || inst.due.After(now) {
			break
		}
		applied := false
		if d := inst.m.Deadline(); !d.IsZero() && !d.After(now) {
			if n.holds(inst, now) {
				n.apply(inst, inst.m.Hold(now), now)
			} else {
				n.apply(inst, inst.m.Tick(now), now)
			}
			applied = true
		}
		// apply placed inst in the heap; place it again only if the
		// schedules moved a time, or if nothing did (a stale due).
		if n.runSchedules(inst, now) || !applied {
			n.timers.update(inst)
		}
	}
}

// holds reports whether a Backup whose timer expired must stay Backup:
// another member of its sync group follows a Master it yields to; it still
// awaits a first report from a source; or its last bind failed recently
// and a Master, even a lower one, was heard within Master_Down_Interval (it
// would take the addresses from a Master that holds them, likely to fail
// again).
func (n *Node) holds(inst *nodeInst, now time.Time) bool {
	if inst.m.State() != Backup {
		return false
	}
	if len(inst.awaiting) > 0 || n.groupHolds(inst) {
		return true
	}
	return now.Before(inst.bindHold) && !inst.heardAt.IsZero() && now.Sub(inst.heardAt) < inst.m.MasterDownInterval()
}

// BindDone reports the result of the bind with seq of instance id. A
// Master whose addresses cannot be bound goes to FAULT (source "bind"),
// and contends again after a while, when it no longer preempts a live
// Master until a bind succeeds.
func (n *Node) BindDone(now time.Time, id int, seq uint64, err error) {
	inst := n.inst(id)
	if inst == nil || seq != inst.bindSeq || inst.m.State() != Master {
		return
	}
	if err != nil {
		n.bindFailed(inst, err.Error(), now)
		return
	}
	inst.bindErrs, inst.bindHold = 0, time.Time{}
	n.bindConfirmed(inst, now)
}

// bindConfirmed follows a bind that succeeded: a takeover's starts what a
// Master does; one of addresses added by Reconfigure announces them.
func (n *Node) bindConfirmed(inst *nodeInst, now time.Time) {
	inst.bindBy = time.Time{}
	if inst.bind == binding {
		n.confirmed(inst, now)
	}
	if len(inst.announce) > 0 && inst.bind == bound {
		n.emit(Effect{Kind: EffectAnnounce, ID: inst.id, Iface: inst.vipIface, Addrs: inst.announce})
	}
	inst.announce = nil
	n.timers.update(inst)
}

// confirmed starts what a Master does once its addresses are bound: the
// announcements, the lease, the OnMaster call.
func (n *Node) confirmed(inst *nodeInst, now time.Time) {
	inst.bind = bound
	n.startAnnouncing(inst, now)
	n.startLease(inst, now)
	n.startMaster(inst)
	n.markDirty(inst)
}

// startMaster asks for the OnMaster call of a bound Master, unless one
// was made in this term or the previous one has not returned.
func (n *Node) startMaster(inst *nodeInst) {
	if !n.opts.MasterCalls || inst.calling || inst.called || inst.bind != bound || inst.m.State() != Master {
		return
	}
	inst.calling, inst.called = true, true
	n.emit(Effect{Kind: EffectStartMaster, ID: inst.id})
}

// MasterReturned reports that the OnMaster call of instance id returned.
// A call that the instance is Master again for starts now.
func (n *Node) MasterReturned(now time.Time, id int) {
	inst := n.inst(id)
	if inst == nil {
		return
	}
	inst.calling = false
	n.startMaster(inst)
}

// bindFailed puts a Master whose bind failed in FAULT for a backoff (1 s,
// doubling with each failure in a row up to bindRetryMax); back in
// Backup, it takes over at once when no Master is heard, but preempts a
// live Master only after another backoff, so that a binder that keeps
// failing moves the addresses away from a working Master at most once per
// two backoffs.
func (n *Node) bindFailed(inst *nodeInst, cause string, now time.Time) {
	inst.bindErrs++
	retry := min(bindRetry<<min(inst.bindErrs-1, 10), bindRetryMax)
	inst.retryAt = now.Add(retry)
	inst.bindHold = now.Add(2 * retry)
	n.setFault(inst, faultBind, true, fmt.Sprintf("cannot bind the virtual addresses: %s; contending again in %v", cause, retry), now)
	n.timers.update(inst)
}

// bindNew asks to bind addresses inst does not hold yet (at a takeover, or
// added by a reload): a result must come within an advert interval, at
// least bindTimeoutFloor.
func (n *Node) bindNew(inst *nodeInst, now time.Time) {
	// A reload during a takeover's bind does not give it more time.
	if by := now.Add(max(inst.cfg.AdvertInterval, bindTimeoutFloor)); inst.bindBy.IsZero() || by.Before(inst.bindBy) {
		inst.bindBy = by
	}
	n.bindVIPs(inst, now)
}

// bindVIPs asks to bind every address of inst.
func (n *Node) bindVIPs(inst *nodeInst, now time.Time) {
	n.seq++
	inst.bindSeq = n.seq
	if n.opts.NoBinds || len(inst.vips)+len(inst.routes)+len(inst.rules) == 0 {
		// Nothing to wait for.
		n.bindConfirmed(inst, now)
		return
	}
	n.emit(Effect{Kind: EffectBind, ID: inst.id, Seq: inst.bindSeq, Iface: inst.vipIface, VIPs: inst.vips,
		Routes: inst.routes, Rules: inst.rules, Filter: inst.cfg.filters()})
}

func (n *Node) unbind(inst *nodeInst, vips []VIP, routes []Route, rules []Rule) {
	n.seq++
	inst.bindSeq = n.seq // a result of an earlier bind no longer matters
	n.emit(Effect{Kind: EffectUnbind, ID: inst.id, Iface: inst.vipIface, VIPs: vips, Routes: routes, Rules: rules, Filter: inst.cfg.filters()})
}

func (n *Node) emit(e Effect) { n.effects = append(n.effects, e) }

// send encodes an advert of inst with priority prio for each of its
// destinations, while inst is at hand, so that its owner only writes.
func (n *Node) send(inst *nodeInst, prio uint8) {
	inst.m.FillAdvert(&n.adv, prio)
	if inst.cfg.AuthAH {
		n.sendAH(inst, prio)
		return
	}
	for _, dst := range inst.dsts {
		psrc, pdst := inst.src, dst
		if inst.cfg.ChecksumNoPseudo && inst.cfg.Family() == IPv4 {
			psrc, pdst = netip.Addr{}, netip.Addr{}
		}
		out := Outgoing{Src: inst.src, Dst: dst}
		start := len(n.arena)
		if b, err := n.adv.Append(n.arena, psrc, pdst); err != nil {
			n.log.Error("cannot encode an advert", "instance", inst.cfg.Name, "err", err)
		} else {
			n.arena = b
			out.Msg = b[start:len(b):len(b)]
		}
		n.sends = append(n.sends, out)
		n.emit(Effect{Kind: EffectSend, ID: inst.id, Priority: prio, Ref: len(n.sends) - 1})
	}
}

// sendAH encodes an advert of an AuthAH instance as whole IPv4 datagrams,
// one for each destination, with one IP identification and one sequence
// number for them all, as keepalived does.
func (n *Node) sendAH(inst *nodeInst, prio uint8) {
	inst.ipID++
	if inst.ipID == 0 {
		inst.ipID++ // the kernel would replace 0
	}
	f := AHFields{Src: inst.src, ID: inst.ipID, Seq: inst.ah.Next(), Unicast: len(inst.cfg.UnicastPeers) > 0}
	key := PasswordData(inst.cfg.AuthPass)
	for _, dst := range inst.dsts {
		f.Dst = dst
		out := Outgoing{Src: inst.src, Dst: dst}
		start := len(n.arena)
		b, err := n.adv.Append(n.arena, netip.Addr{}, netip.Addr{})
		// The datagram follows the message it is built from.
		pstart := len(b)
		if err == nil {
			b, err = AppendAH(b, f, b[start:pstart], key)
		}
		if err != nil {
			n.log.Error("cannot encode an advert", "instance", inst.cfg.Name, "err", err)
		} else {
			n.arena = b
			out.Msg = b[pstart:len(b):len(b)]
		}
		n.sends = append(n.sends, out)
		n.emit(Effect{Kind: EffectSend, ID: inst.id, Priority: prio, Ref: len(n.sends) - 1})
	}
}

// apply carries out the effects of one Machine input, in order.
func (n *Node) apply(inst *nodeInst, e Effects, now time.Time) {
	if e.Transitioned() && e.To == Master {
		// Before the takeover's advert.
		inst.ah.BecomeMaster()
	}
	if e.Send {
		n.send(inst, e.SendPriority)
	}
	if e.Unbind || (e.Transitioned() && e.From == Master) {
		if inst.calling {
			n.emit(Effect{Kind: EffectStopMaster, ID: inst.id})
		}
		inst.called = false
		inst.ann, inst.announce = announcing{}, nil
		inst.leaseAt, inst.bindBy = time.Time{}, time.Time{}
		if inst.bind != unbound {
			inst.bind = unbound
			n.unbind(inst, inst.vips, inst.routes, inst.rules)
		}
	}
	if e.Bind {
		// A takeover's advert leaves before the addresses are bound and
		// announced (RFC 5798 section 6.4.2), not after; the
		// announcements and OnMaster wait for the bind to be confirmed.
		inst.bind = binding
		n.bindNew(inst, now)
	}
	if e.Transitioned() {
		n.transitioned(inst, e, now)
	}
	if e.Reassert {
		n.reassert(inst, now)
	}
	n.timers.update(inst)
	if inst.visible() != inst.shown {
		n.markDirty(inst)
	}
	if e.Transitioned() {
		n.synced(inst, e, now)
	}
}

func (n *Node) transitioned(inst *nodeInst, e Effects, now time.Time) {
	inst.since = now
	master, _ := inst.m.Master()
	n.trans = append(n.trans, Transition{
		Instance: inst.cfg.Name, From: e.From, To: e.To, Reason: e.Reason, Time: now,
		Priority: inst.m.Priority(), Master: master,
	})
	n.emit(Effect{Kind: EffectTransition, ID: inst.id, Ref: len(n.trans) - 1})
}

// FaultList describes the faults of instance id for a log line: each source
// with its cause, sorted.
func (n *Node) FaultList(id int) string { return faultList(n.insts[id].faults) }

// faultList describes faults for a log line.
func faultList(faults map[string]string) string {
	var b []byte
	for i, src := range sortedKeys(faults) {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, src...)
		if c := faults[src]; c != "" {
			b = append(b, ": "...)
			b = append(b, c...)
		}
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
