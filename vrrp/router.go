package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by Router methods.
var (
	// ErrRunning is returned by Run when the Router is already running.
	ErrRunning = errors.New("vrrp: router already running")
	// ErrUnknownInstance is returned when an API call names no configured
	// instance.
	ErrUnknownInstance = errors.New("vrrp: unknown instance")
	// ErrStopped is returned by Reload when the Router stopped before the
	// new configuration was applied.
	ErrStopped = errors.New("vrrp: router stopped")
	// ErrPriority is returned by SetPriority for a priority outside 1-254.
	ErrPriority = errors.New("vrrp: priority must be 1 to 254")
)

// Transition is a state change of one instance, as passed to OnTransition.
type Transition struct {
	// Instance is the instance name.
	Instance string
	// From and To are the states before and after.
	From, To State
	// Reason is the cause.
	Reason Reason
	// Time is when the transition happened, by the Router's clock.
	Time time.Time
	// Priority is the effective priority at the time.
	Priority uint8
	// Master is the address of the Master known after the transition (the
	// local source address when To is Master).
	Master netip.Addr
}

// Stats are the counters of one instance, after the VRRPv3 MIB (RFC 6527).
type Stats struct {
	// AdvertsSent and AdvertsReceived count advertisements; received ones
	// count once decoded and checksummed, before the receive checks.
	AdvertsSent, AdvertsReceived uint64
	// BecameMaster counts transitions to Master.
	BecameMaster uint64
	// Transitions counts all state changes.
	Transitions uint64
	// PriorityZeroSent and PriorityZeroReceived count priority 0 adverts.
	PriorityZeroSent, PriorityZeroReceived uint64
	// Drops counts dropped adverts by reason.
	Drops [NumDropReasons]uint64
	// Checksums counts received adverts by the checksum form they matched.
	Checksums [numChecksumForms]uint64
	// SendErrors, BindErrors and AnnounceErrors count failed operations.
	SendErrors, BindErrors, AnnounceErrors uint64
}

// Status is a snapshot of one instance.
type Status struct {
	// Name, Interface, VRID, Version and Family identify the instance.
	Name      string
	Interface string
	VRID      uint8
	Version   uint8
	Family    Family
	// State is the current state.
	State State
	// Priority is the configured priority; EffectivePriority the one
	// advertised, after SetPriority.
	Priority, EffectivePriority uint8
	// Master and MasterPriority are the current Master's address and
	// priority, when known.
	Master         netip.Addr
	MasterPriority uint8
	// MasterAdverInterval is the interval learned from the Master (VRRPv3)
	// or the local one.
	MasterAdverInterval time.Duration
	// Faults lists the sources of raised faults, sorted.
	Faults []string
	// Since is the time of the last transition.
	Since time.Time
	// Stats are the counters.
	Stats Stats
}

// ChecksumsSeen reports the count of received adverts that matched form.
func (s *Stats) ChecksumsSeen(form ChecksumForm) uint64 {
	if int(form) < len(s.Checksums) {
		return s.Checksums[form]
	}
	return 0
}

// RouterStats counts packets that reached no instance.
type RouterStats struct {
	// Received counts every packet read from the Transport.
	Received uint64
	// Drops counts packets dropped before any instance, by reason
	// (unknown VRID, or malformed with no VRID of ours).
	Drops [NumDropReasons]uint64
	// ReadErrors counts failed reads.
	ReadErrors uint64
}

// Router runs virtual routers: it owns their Machines, sockets, timer and
// callbacks. NewRouter validates and starts nothing; Run runs it. Its other
// methods are safe for concurrent use.
type Router struct {
	clock Clock
	log   *slog.Logger
	cfg   Config

	mu      sync.Mutex
	running bool
	names   map[string]bool
	cmds    []command
	status  map[string]*published // each written in place by publishDirty
	wake    chan struct{}
	rstats  routerCounters

	// Owned by the Run goroutine.
	ctx     context.Context
	insts   map[string]*instance
	conns   map[connKey]*conn
	byOpen  []*conn // the conns in the order they were opened, for determinism
	timers  timerHeap
	in      chan *inbatch
	free    sync.Pool
	dirty   []*instance
	quit    chan struct{}
	readers sync.WaitGroup
	masters sync.WaitGroup
	// onMaster are the OnMaster calls of the current event, started by
	// release.
	onMaster []masterCall
	disp     *dispatcher
	buf      []byte
	adv      Advertisement

	// Link states: pending ones under mu, from the LinkMonitor; applied
	// ones owned by the Run goroutine.
	links      map[string]LinkState
	linkState  map[string]LinkState
	linkCancel context.CancelFunc
	linkDone   chan struct{}

	// Sync groups, and whether a sync move is under way.
	groups  []*group
	syncing bool

	// Deferred reads (router_defer.go): conns whose mode may have to
	// change, and the wall clock's offset from the monotonic one at the
	// last read, to notice steps.
	modeq   []*conn
	wallRef time.Time
	wallOff time.Duration
	stepped bool      // the wall clock stepped since the read before this one
	stepNow time.Time // the time checkStep last looked at
	// offsetOf returns the wall clock's offset from the monotonic one
	// at now, since Run began; nil means wallOffset's own reading. Tests
	// set it to step the wall clock, which no time.Time they can make
	// does.
	offsetOf func(now time.Time) time.Duration

	// Batched sends, while ticking.
	batching bool
	pending  []pendingOut
	arena    []byte
	batch    []Outgoing
	rank     map[Conn]int
	starts   []int
	cursor   []int
	order    []int
}

type pendingOut struct {
	c    Conn
	inst *instance
	out  Outgoing
	prio uint8
	rank int // order of c's first advert in the tick
}

type connKey struct {
	iface string
	fam   Family
}

type conn struct {
	key    connKey
	conn   Conn
	group  netip.Addr
	vrids  [256]*instance
	users  int
	closed bool
	// unknown rate-limits the log of adverts for unknown VRIDs.
	unknown dropLog

	// Deferred reads (router_defer.go).
	dr         DeferredReader // nil when the Conn cannot hold adverts back
	deferred   bool           // the mode set on dr
	eagerUntil time.Time      // no deferring before, after an overflow
	queued     bool           // in Router.modeq
	overflow   dropLog        // rate-limits the log of overflows
}

type instance struct {
	// The fields a timer tick reads come first: due, the heap index and
	// the machine (held in place, not behind a pointer, so that a tick
	// over many instances loads one object each).
	due      time.Time // earliest of the machine's and the schedules' deadlines
	hidx     int
	m        Machine
	ann      announcing
	leaseAt  time.Time
	cfg      InstanceConfig
	c        *conn
	out      Conn // the Conn adverts leave by: c.conn, or the VMAC's
	vmacConn Conn
	src      netip.Addr
	dsts     []netip.Addr
	vips     []VIP        // cfg.VIPs then cfg.ExcludedVIPs, on the VMAC when one is used
	vipAddrs []netip.Addr // the addresses of vips, for announcements
	vipIface string       // the interface VIPs and announcements go on
	override uint8
	deltas   map[string]int
	faults   map[string]bool
	bound    bool
	cancel   context.CancelFunc
	since    time.Time
	recvAt   time.Time // the time the last advert was dated by
	keptAt   time.Time // the arrival time (PacketInfo.Time) of the last advert handled
	stats    *counters
	dropLog  [NumDropReasons]dropLog
	dirty    bool       // changed since the last publish
	pub      *published // where publishDirty writes its Status; nil when removed
	shown    visible    // what the last publish showed
}

// counters are the Stats of one instance: the owner loop adds to them,
// Status reads them, without a lock, so that an advert costs no status
// copy.
type counters struct {
	advertsSent, advertsReceived           atomic.Uint64
	becameMaster, transitions              atomic.Uint64
	priorityZeroSent, priorityZeroReceived atomic.Uint64
	sendErrors, bindErrors, announceErrors atomic.Uint64
	drops                                  [NumDropReasons]atomic.Uint64
	checksums                              [numChecksumForms]atomic.Uint64
}

func (c *counters) load() Stats {
	s := Stats{
		AdvertsSent: c.advertsSent.Load(), AdvertsReceived: c.advertsReceived.Load(),
		BecameMaster: c.becameMaster.Load(), Transitions: c.transitions.Load(),
		PriorityZeroSent: c.priorityZeroSent.Load(), PriorityZeroReceived: c.priorityZeroReceived.Load(),
		SendErrors: c.sendErrors.Load(), BindErrors: c.bindErrors.Load(), AnnounceErrors: c.announceErrors.Load(),
	}
	for i := range s.Drops {
		s.Drops[i] = c.drops[i].Load()
	}
	for i := range s.Checksums {
		s.Checksums[i] = c.checksums[i].Load()
	}
	return s
}

// published is what Status and InstanceStatus read of one instance, under
// Router.mu: the Status as of the last change of what it shows, and the
// live counters.
type published struct {
	s Status
	c *counters
}

func (p *published) status() Status {
	s := p.s
	s.Faults = slices.Clone(s.Faults)
	if p.c != nil {
		s.Stats = p.c.load()
	}
	return s
}

// visible is what a Status shows of an instance beside its counters and
// faults: the owner loop publishes again only when it changes.
type visible struct {
	state          State
	prio, mprio    uint8
	master         netip.Addr
	interval       time.Duration
	since          time.Time
	configPriority uint8
}

func (inst *instance) visible() visible {
	master, mprio := inst.m.Master()
	return visible{state: inst.m.State(), prio: inst.m.Priority(), mprio: mprio, master: master,
		interval: inst.m.MasterAdverInterval(), since: inst.since, configPriority: inst.cfg.Priority}
}

// routerCounters are the RouterStats, updated by the readers and the owner
// loop without a lock.
type routerCounters struct {
	received   atomic.Uint64
	readErrors atomic.Uint64
	drops      [NumDropReasons]atomic.Uint64
}

// dropLog rate-limits the log lines of one drop reason.
type dropLog struct {
	last       time.Time
	suppressed uint64
}

// dropLogEvery is the least time between two log lines of one drop reason
// of one instance; drops in between are counted and summed in the next.
const dropLogEvery = 10 * time.Second

type cmdKind uint8

const (
	cmdPriority cmdKind = iota
	cmdAdjust
	cmdFault
	cmdReload
)

type command struct {
	kind   cmdKind
	name   string
	prio   uint8
	delta  int
	source string
	on     bool
	insts  []InstanceConfig
	done   chan error
}

// maxMessage bounds a received VRRP message: 255 IPv6 addresses need 4088
// bytes; a read that fills the buffer is too long and fails to decode.
const maxMessage = 4160

// readBatch is how many messages a reader reads with one system call
// (BatchReader) and hands to the owner loop at once.
const readBatch = 16

// inbound is one received message, decoded and checksummed by the reader.
type inbound struct {
	info PacketInfo
	n    int
	err  error
	form ChecksumForm
	adv  Advertisement
	buf  [maxMessage]byte
}

// inbatch is what a reader hands to the owner loop: the messages of one
// read.
type inbatch struct {
	c  *conn
	n  int
	ps [readBatch]inbound
	in [readBatch]Incoming
}

func newInbatch() any {
	b := new(inbatch)
	for i := range b.in {
		b.in[i].Buf = b.ps[i].buf[:]
	}
	return b
}

// NewRouter validates cfg and returns a Router that has started nothing.
// It returns every configuration problem at once (see Config.Validate).
func NewRouter(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Instances = cloneInstances(cfg.Instances)
	r := &Router{
		cfg:    cfg,
		clock:  cfg.Clock,
		log:    cfg.Logger,
		status: map[string]*published{},
		wake:   make(chan struct{}, 1),
	}
	if r.clock == nil {
		r.clock = SystemClock{}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.free.New = newInbatch
	r.setNames(cfg.Instances)
	for i := range cfg.Instances {
		c := cfg.Instances[i]
		r.status[c.Name] = &published{s: initialStatus(&c)}
	}
	return r, nil
}

func cloneInstances(in []InstanceConfig) []InstanceConfig {
	out := make([]InstanceConfig, len(in))
	for i, c := range in {
		c = c.withDefaults()
		c.VIPs = slices.Clone(c.VIPs)
		c.ExcludedVIPs = slices.Clone(c.ExcludedVIPs)
		c.UnicastPeers = slices.Clone(c.UnicastPeers)
		c.PeerTTLs = slices.Clone(c.PeerTTLs)
		out[i] = c
	}
	return out
}

func initialStatus(c *InstanceConfig) Status {
	return Status{
		Name: c.Name, Interface: c.Interface, VRID: c.VRID, Version: c.Version, Family: c.Family(),
		Priority: c.Priority, EffectivePriority: c.Priority, MasterAdverInterval: c.AdvertInterval,
	}
}

func (r *Router) setNames(insts []InstanceConfig) {
	r.names = make(map[string]bool, len(insts))
	for _, c := range insts {
		r.names[c.Name] = true
	}
}

// Status returns a snapshot of every instance, sorted by name.
func (r *Router) Status() []Status {
	r.mu.Lock()
	out := make([]Status, 0, len(r.status))
	for _, p := range r.status {
		out = append(out, p.status())
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// InstanceStatus returns the snapshot of one instance.
func (r *Router) InstanceStatus(name string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.status[name]
	if !ok {
		return Status{}, false
	}
	return p.status(), true
}

// Stats returns the counters of packets that reached no instance.
func (r *Router) Stats() RouterStats {
	s := RouterStats{Received: r.rstats.received.Load(), ReadErrors: r.rstats.readErrors.Load()}
	for i := range s.Drops {
		s.Drops[i] = r.rstats.drops[i].Load()
	}
	return s
}

// SetPriority sets the effective priority of an instance, 1 to 254, in place
// of the configured one. An address owner (priority 255) keeps 255.
func (r *Router) SetPriority(name string, prio uint8) error {
	if prio == 0 || prio == 255 {
		return fmt.Errorf("%w: %d", ErrPriority, prio)
	}
	return r.post(command{kind: cmdPriority, name: name, prio: prio})
}

// ResetPriority returns an instance to its configured priority.
func (r *Router) ResetPriority(name string) error {
	return r.post(command{kind: cmdPriority, name: name})
}

// AdjustPriority sets the priority change contributed by source (a health
// check, a tracked interface...) to delta; 0 removes it. The effective
// priority is the configured one (or SetPriority's) plus every delta,
// clamped to 1-254. An address owner keeps 255.
func (r *Router) AdjustPriority(name, source string, delta int) error {
	return r.post(command{kind: cmdAdjust, name: name, source: source, delta: delta})
}

// SetFault raises (faulted true) or clears the fault named source on an
// instance. While any source is faulted the instance is in FAULT: it sends
// no adverts and holds no addresses.
func (r *Router) SetFault(name, source string, faulted bool) error {
	return r.post(command{kind: cmdFault, name: name, source: source, on: faulted})
}

func (r *Router) post(c command) error {
	r.mu.Lock()
	if !r.names[c.name] {
		r.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownInstance, c.name)
	}
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	r.signal()
	return nil
}

func (r *Router) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Reload replaces the set of instances. It validates first and, on error,
// changes nothing. Instances whose name, interface, VRID, version, family
// and group are unchanged keep their state: other changes apply in place
// (priority, interval, addresses, peers...) without a failover. Removed
// instances stop as at shutdown; added ones start. When the Router runs,
// Reload returns once the change is applied.
//
// Reload keeps the sync groups, less the members that no longer exist;
// ReloadGroups replaces them too.
func (r *Router) Reload(ctx context.Context, instances []InstanceConfig) error {
	r.mu.Lock()
	old := r.cfg.SyncGroups
	r.mu.Unlock()
	names := map[string]bool{}
	for _, c := range instances {
		names[c.Name] = true
	}
	var groups []SyncGroup
	for _, g := range old {
		var members []string
		for _, m := range g.Members {
			if names[m] {
				members = append(members, m)
			}
		}
		if len(members) > 0 {
			g.Members = members
			groups = append(groups, g)
		}
	}
	return r.ReloadGroups(ctx, instances, groups)
}

// ReloadGroups is Reload that also replaces the sync groups. A group that
// keeps its name keeps its state.
func (r *Router) ReloadGroups(ctx context.Context, instances []InstanceConfig, groups []SyncGroup) error {
	errs := validateInstances(instances)
	errs = append(errs, validateGroups(groups, instances)...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	insts := cloneInstances(instances)
	groups = slices.Clone(groups)
	c := command{kind: cmdReload, insts: insts, done: make(chan error, 1)}
	r.mu.Lock()
	r.setNames(insts)
	r.cfg.SyncGroups = groups
	if !r.running {
		r.cfg.Instances = insts
		r.status = map[string]*published{}
		for i := range insts {
			r.status[insts[i].Name] = &published{s: initialStatus(&insts[i])}
		}
		r.mu.Unlock()
		return nil
	}
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	r.signal()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run runs the virtual routers until ctx is cancelled, then stops them
// gracefully: a Master sends priority 0 and every instance releases its
// addresses. It returns only when every goroutine it started has ended,
// with nil after a graceful stop, or an error if it could not start.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return ErrRunning
	}
	r.running = true
	insts := r.cfg.Instances
	r.mu.Unlock()

	r.ctx = ctx
	r.insts = map[string]*instance{}
	r.conns = map[connKey]*conn{}
	r.byOpen = nil
	r.timers = nil
	r.in = make(chan *inbatch, 16)
	r.quit = make(chan struct{})
	r.disp = newDispatcher(r.cfg.OnTransition, r.cfg.OnGroupTransition)
	go r.disp.run()
	r.linkState = map[string]LinkState{}
	r.groups = nil
	r.modeq = nil
	r.wallRef, r.wallOff, r.stepped, r.stepNow = r.clock.Now(), 0, false, time.Time{}
	r.mu.Lock()
	for _, g := range r.cfg.SyncGroups {
		r.groups = append(r.groups, &group{name: g.Name, members: g.Members})
	}
	r.mu.Unlock()
	r.startLinks(ctx)

	startErr := r.addInstances(insts)
	r.publishDirty()
	if startErr == nil {
		r.loop(ctx)
	}
	r.shutdown()
	return startErr
}

// addInstances sets up every instance of cs (sockets, stale addresses
// removed), then reads the clock and starts them all, so that the time the
// set-up took does not count against the first Master_Down_Interval.
func (r *Router) addInstances(cs []InstanceConfig) error {
	var (
		errs  error
		added []*instance
	)
	for i := range cs {
		inst, err := r.addInstance(cs[i])
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		added = append(added, inst)
	}
	now := r.clock.Now()
	for _, inst := range added {
		r.startInstance(inst, now)
	}
	return errs
}

func (r *Router) loop(ctx context.Context) {
	timer, timerC, closeTimer := r.loopTimer()
	defer closeTimer()
	var armed time.Time
	for {
		// Re-arm when the earliest deadline moved earlier, or the timer
		// is idle. When it moved later (a Backup's deadline pushed back
		// by an advert, the common case), re-arm only once the timer
		// would fire within an advert interval of the earliest instance:
		// until then, another advert is due first and moves it again.
		// That saves a re-arm per advert read and the wake-up of a timer
		// that fires early.
		if next := r.timers.next(); !next.IsZero() && next != armed {
			now := r.clock.Now()
			if armed.IsZero() || next.Before(armed) || armed.Sub(now) <= r.timers.top().m.MasterAdverInterval() {
				armed = next
				timer.Reset(max(next.Sub(now), 0))
			}
		}
		select {
		case <-ctx.Done():
			return
		case b := <-r.in:
			r.receiveBatch(b)
		case <-timerC:
			armed = time.Time{}
			r.tick(r.clock.Now())
		case <-r.wake:
			r.commands()
		}
		r.updateModes()
		r.publishDirty()
	}
}

// loopTimer returns the owner loop's timer, stopped, and a function that
// releases it: a timerfd when the clock is the PreciseClock, else the
// clock's own timer.
func (r *Router) loopTimer() (Timer, <-chan time.Time, func()) {
	if _, ok := r.clock.(PreciseClock); ok {
		t, err := newPreciseTimer()
		if err == nil {
			return t, t.C(), func() { _ = t.Close() }
		}
		r.log.Debug("using Go timers", "err", err)
	}
	t, c := r.clock.NewTimer(time.Hour)
	t.Stop()
	return t, c, func() { t.Stop() }
}

// shutdown stops every instance gracefully and waits for the goroutines.
func (r *Router) shutdown() {
	now := r.clock.Now()
	for _, name := range sortedKeys(r.insts) {
		r.removeInstance(r.insts[name], now)
	}
	for _, c := range r.conns {
		r.closeConn(c)
	}
	r.stopLinks()
	close(r.quit)
	r.readers.Wait()
	r.release()
	r.disp.close()
	r.masters.Wait()
	r.mu.Lock()
	r.running = false
	cmds := r.cmds
	r.cmds = nil
	r.mu.Unlock()
	for _, c := range cmds {
		if c.done != nil {
			c.done <- ErrStopped
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// opCtx is the context for binder and announcer calls: it outlives the
// cancellation of Run's context so that shutdown can release addresses.
func (r *Router) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
}

// addInstance sets up an instance: its socket, its VMAC, its stale
// addresses removed. startInstance starts it.
func (r *Router) addInstance(c InstanceConfig) (*instance, error) {
	key := connKey{c.Interface, c.Family()}
	cn := r.conns[key]
	if cn == nil {
		group := c.Group
		if !group.IsValid() {
			group = Group4
			if key.fam == IPv6 {
				group = Group6
			}
		}
		conn0, err := r.cfg.Transport.Open(r.ctx, Endpoint{Interface: c.Interface, Family: key.fam, Group: group})
		if err != nil {
			r.log.Error("cannot open VRRP socket", "instance", c.Name, "interface", c.Interface, "family", key.fam, "err", err)
			return nil, fmt.Errorf("vrrp: instance %s: open %s %v: %w", c.Name, c.Interface, key.fam, err)
		}
		cn = &conn{key: key, conn: conn0, group: group}
		if !r.cfg.EagerReads {
			cn.dr, _ = conn0.(DeferredReader)
		}
		r.conns[key] = cn
		r.byOpen = append(r.byOpen, cn)
		r.readers.Add(1)
		go r.read(cn)
	}
	inst := &instance{cfg: c, c: cn, faults: map[string]bool{}, deltas: map[string]int{}, hidx: -1, stats: new(counters)}
	cn.users++
	cn.vrids[c.VRID] = inst
	r.insts[c.Name] = inst
	var err error
	if c.UseVMAC {
		err = r.openVMAC(inst)
	}
	r.setAddressing(inst)
	// Addresses a crashed predecessor left behind belong to nobody: a
	// starting instance is not Master.
	r.unbind(inst, inst.vips)
	inst.m = *NewMachine(c.machineConfig(inst.src))
	if err != nil {
		inst.faults["vmac"] = true
	}
	return inst, nil
}

// startInstance starts the machine of an instance set up by addInstance.
func (r *Router) startInstance(inst *instance, now time.Time) {
	// Adverts queued before the start are dated by it, not before.
	inst.recvAt = now
	for name, ls := range r.linkState {
		r.trackLink(inst, ls, name)
	}
	inst.m.SetPriority(now, r.effective(inst))
	inst.m.SetFault(now, len(inst.faults) > 0)
	r.markDirty(inst)
	r.apply(inst, inst.m.Start(now), now)
	r.checkMode(inst.c)
}

// openVMAC creates the VMAC interface of inst and, unless adverts leave by
// the parent, a send-only Conn on it.
func (r *Router) openVMAC(inst *instance) error {
	c := &inst.cfg
	name := c.vmacName()
	vb := r.cfg.Binder.(VMACBinder)
	ctx, cancel := r.opCtx()
	defer cancel()
	if err := vb.AddVMAC(ctx, c.Interface, name, c.VRID, c.Family()); err != nil {
		r.log.Error("cannot create VMAC interface", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	if c.VMACXmitBase {
		return nil
	}
	vc, err := r.cfg.Transport.Open(r.ctx, Endpoint{Interface: name, Family: c.Family(), Group: inst.c.group, SendOnly: true})
	if err != nil {
		r.log.Error("cannot open VRRP socket on the VMAC", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	inst.vmacConn = vc
	return nil
}

// setAddressing derives where inst sends from and to, and where its
// addresses go.
func (r *Router) setAddressing(inst *instance) {
	c := &inst.cfg
	inst.out = inst.c.conn
	if inst.vmacConn != nil {
		inst.out = inst.vmacConn
	}
	inst.src = c.SourceAddr
	if !inst.src.IsValid() {
		inst.src = inst.c.conn.LocalAddr()
		if inst.vmacConn != nil && c.Family() == IPv6 {
			// The VMAC has a link-local address of its own.
			inst.src = inst.vmacConn.LocalAddr()
		}
	}
	if len(c.UnicastPeers) > 0 {
		inst.dsts = c.UnicastPeers
	} else {
		inst.dsts = []netip.Addr{inst.c.group}
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
}

func addrsOf(vips []VIP) []netip.Addr {
	addrs := make([]netip.Addr, len(vips))
	for i, v := range vips {
		addrs[i] = v.Prefix.Addr()
	}
	return addrs
}

func (r *Router) removeInstance(inst *instance, now time.Time) {
	r.apply(inst, inst.m.Stop(now), now)
	if inst.bound {
		r.unbind(inst, inst.vips)
	}
	r.timers.remove(inst)
	r.publishDirty()
	inst.pub = nil
	cn := inst.c
	cn.vrids[inst.cfg.VRID] = nil
	cn.users--
	delete(r.insts, inst.cfg.Name)
	if cn.users == 0 {
		r.closeConn(cn)
		delete(r.conns, cn.key)
		r.byOpen = slices.DeleteFunc(r.byOpen, func(c *conn) bool { return c == cn })
	} else {
		r.checkMode(cn)
	}
	if inst.vmacConn != nil {
		if err := inst.vmacConn.Close(); err != nil {
			r.log.Warn("closing the VMAC socket", "instance", inst.cfg.Name, "err", err)
		}
	}
	if inst.cfg.UseVMAC {
		ctx, cancel := r.opCtx()
		defer cancel()
		if err := r.cfg.Binder.(VMACBinder).RemoveVMAC(ctx, inst.cfg.vmacName()); err != nil {
			r.log.Warn("removing the VMAC interface", "instance", inst.cfg.Name, "err", err)
		}
	}
}

func (r *Router) closeConn(c *conn) {
	if !c.closed {
		c.closed = true
		if err := c.conn.Close(); err != nil {
			r.log.Warn("closing VRRP socket", "interface", c.key.iface, "err", err)
		}
	}
}

// read is the reader goroutine of one Conn: it reads a batch of packets
// (one at a time when the Conn is no BatchReader), decodes and checksums
// each, and hands the batch to the owner loop.
func (r *Router) read(c *conn) {
	defer r.readers.Done()
	br, _ := c.conn.(BatchReader)
	for {
		b := r.free.Get().(*inbatch)
		n, err := 0, error(nil)
		if br != nil {
			n, err = br.ReadBatch(b.in[:])
		} else {
			b.in[0].N, b.in[0].Info, err = c.conn.ReadFrom(b.in[0].Buf)
			n = 1
		}
		if err != nil {
			r.free.Put(b)
			if errors.Is(err, net.ErrClosed) || c.closedNow(r) {
				return
			}
			r.rstats.readErrors.Add(1)
			r.log.Warn("reading VRRP socket", "interface", c.key.iface, "err", err)
			if !r.pause(100 * time.Millisecond) {
				return
			}
			continue
		}
		b.c, b.n = c, n
		for i := range n {
			r.decode(c, &b.ps[i], b.in[i].N, b.in[i].Info)
		}
		select {
		case r.in <- b:
		case <-r.quit:
			return
		}
	}
}

// decode decodes and checksums one message of n bytes in p.buf.
func (r *Router) decode(c *conn, p *inbound, n int, info PacketInfo) {
	info.Src, info.Dst = info.Src.Unmap(), info.Dst.Unmap()
	p.info, p.n = info, n
	msg := p.buf[:n]
	p.err = nil
	p.form = ChecksumBad
	if n == len(p.buf) {
		p.err = fmt.Errorf("%w: message of %d bytes or more", ErrLength, n)
	} else if p.err = p.adv.Unmarshal(msg, c.key.fam == IPv6); p.err == nil {
		p.form = VerifyChecksum(msg, info.Src, info.Dst, c.group)
	}
}

// closedNow reports whether the loop is quitting, for read errors that do
// not wrap net.ErrClosed.
func (c *conn) closedNow(r *Router) bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// pause waits d on the Router's clock; it returns false if the Router quits.
func (r *Router) pause(d time.Duration) bool {
	t, ch := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-r.quit:
		return false
	}
}

func dropFor(err error) DropReason {
	switch {
	case errors.Is(err, ErrTruncated):
		return DropTruncated
	case errors.Is(err, ErrLength):
		return DropLength
	case errors.Is(err, ErrVersion):
		return DropVersion
	case errors.Is(err, ErrType):
		return DropType
	case errors.Is(err, ErrInterval):
		return DropInterval
	case errors.Is(err, ErrFamily):
		return DropFamily
	case errors.Is(err, ErrVRID):
		return DropUnknownVRID
	}
	return DropLength
}

// receiveBatch handles the messages of one read, and frees the batch.
func (r *Router) receiveBatch(b *inbatch) {
	now := r.clock.Now()
	r.checkStep(now)
	for i := range b.n {
		r.receive(b.c, &b.ps[i], now)
	}
	r.eagerEnds(b.c, now)
	r.free.Put(b)
}

// unknownVRID logs an advert for a VRID no instance has on c, at most once
// per dropLogEvery for c.
func (r *Router) unknownVRID(c *conn, p *inbound, now time.Time) {
	l := &c.unknown
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	r.log.Info(fmt.Sprintf("(%s) Unknown VRID %d received from %v, ignoring", c.key.iface, p.buf[1], p.info.Src),
		"interface", c.key.iface, "family", c.key.fam, "vrid", p.buf[1], "src", p.info.Src, "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}

// maxQueued bounds how long before now an advert's arrival time may be and
// still date it, beyond the Master_Down_Interval of a deferred read: an
// older time is implausible (a wall clock step the Router did not see).
const maxQueued = time.Second

func (r *Router) receive(c *conn, p *inbound, now time.Time) {
	var inst *instance
	if p.n >= 2 {
		inst = c.vrids[p.buf[1]]
	}
	r.rstats.received.Add(1)
	if inst == nil || c.closed {
		d := DropUnknownVRID
		if p.err != nil {
			d = dropFor(p.err)
		}
		r.rstats.drops[d].Add(1)
		if d == DropUnknownVRID && r.cfg.LogUnknownVRIDs && !c.closed && p.n >= 2 {
			r.unknownVRID(c, p, now)
		}
		return
	}
	switch {
	case p.err != nil:
		r.apply(inst, Effects{Drop: dropFor(p.err)}, now)
		return
	case p.form == ChecksumBad:
		r.apply(inst, Effects{Drop: DropChecksum}, now)
		return
	case p.info.Src == inst.src:
		r.apply(inst, Effects{Drop: DropLoop}, now)
		return
	case len(inst.cfg.UnicastPeers) > 0 && !slices.Contains(inst.cfg.UnicastPeers, p.info.Src):
		// Known peers go on to the Machine, which checks their TTL
		// against their PeerTTLs range or MinTTL.
		r.apply(inst, Effects{Drop: DropUnknownPeer}, now)
		return
	}
	kernel := p.info.Time
	if r.stepped {
		kernel = time.Time{}
	}
	at, dated := arrival(now, kernel, inst.m.MasterDownInterval()+maxQueued)
	// Compared by the Conn's own arrival times: the dates derived from
	// them carry the jitter of reading two clocks at once.
	if dated && kernel.Before(inst.keptAt) {
		// Read after a newer advert: a held one after a priority 0 read
		// at once.
		r.apply(inst, Effects{Drop: DropStale}, now)
		return
	}
	inst.stats.advertsReceived.Add(1)
	inst.stats.checksums[p.form].Add(1)
	if p.adv.Priority == 0 {
		inst.stats.priorityZeroReceived.Add(1)
	}
	// Never before the previous advert, so that the machine sees time
	// move forward.
	at = later(at, inst.recvAt)
	e := inst.m.Receive(at, &p.adv, p.info)
	if e.Drop == DropNone || e.Drop == DropLowerPriority {
		// Only an advert that passed the checks marks the time: a
		// forged one must not make the live Master's look stale.
		inst.recvAt = at
		if dated {
			inst.keptAt = kernel
		}
	}
	r.apply(inst, e, now)
}

// arrival dates an advert read at now by the kernel's arrival time when it
// is known and plausible (in the past, by less than maxAge), so that the
// time it waited in the socket and the Router's queue does not delay the
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

// tick runs every instance whose machine timer or schedule is due. Adverts
// that fall due together leave in batches.
func (r *Router) tick(now time.Time) {
	r.drain()
	r.readHeld(now)
	r.batching = true
	for i := 0; i < 2*len(r.insts)+1; i++ {
		inst := r.timers.top()
		if inst == nil || inst.due.After(now) {
			break
		}
		applied := false
		if d := inst.m.Deadline(); !d.IsZero() && !d.After(now) {
			if r.groupHolds(inst) {
				r.apply(inst, inst.m.Hold(now), now)
			} else {
				r.apply(inst, inst.m.Tick(now), now)
			}
			applied = true
		}
		// apply placed inst in the heap; place it again only if the
		// schedules moved a time, or if nothing did (a stale due).
		if r.runSchedules(inst, now) || !applied {
			r.timers.update(inst)
		}
	}
	r.flush()
	r.batching = false
}

// drainMax bounds how many queued batches a timer tick handles first.
const drainMax = 256

// drain handles the packets already read before a timer tick: an advert
// that arrived before a Backup's deadline must count, even when the owner
// loop is behind, or a loaded Router would take over from a live Master.
func (r *Router) drain() {
	for i := 0; i < drainMax; i++ {
		select {
		case b := <-r.in:
			r.receiveBatch(b)
		default:
			return
		}
	}
}

func (r *Router) commands() {
	r.mu.Lock()
	cmds := r.cmds
	r.cmds = nil
	links := r.links
	r.links = nil
	r.mu.Unlock()
	now := r.clock.Now()
	for _, name := range sortedKeys(links) {
		r.linkChanged(links[name], now)
	}
	for _, c := range cmds {
		if c.kind == cmdReload {
			c.done <- r.reload(c.insts, now)
			continue
		}
		inst := r.insts[c.name]
		if inst == nil {
			continue
		}
		switch c.kind {
		case cmdPriority:
			inst.override = c.prio
			r.apply(inst, inst.m.SetPriority(now, r.effective(inst)), now)
		case cmdAdjust:
			r.adjust(inst, c.source, c.delta, now)
		case cmdFault:
			r.setFault(inst, c.source, c.on, now)
		}
	}
}

// effective returns the effective priority of inst: the configured one, or
// SetPriority's, plus every delta, clamped to 1-254; an owner keeps 255.
func (r *Router) effective(inst *instance) uint8 {
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

func (r *Router) adjust(inst *instance, source string, delta int, now time.Time) {
	if delta == 0 {
		delete(inst.deltas, source)
	} else {
		inst.deltas[source] = delta
	}
	r.apply(inst, inst.m.SetPriority(now, r.effective(inst)), now)
}

func (r *Router) setFault(inst *instance, source string, on bool, now time.Time) {
	if on {
		inst.faults[source] = true
	} else {
		delete(inst.faults, source)
	}
	r.markDirty(inst) // the list of faults shows in Status
	r.apply(inst, inst.m.SetFault(now, len(inst.faults) > 0), now)
	r.faultsChanged(inst, now)
}

func (r *Router) reload(insts []InstanceConfig, now time.Time) error {
	r.mu.Lock()
	groups := r.cfg.SyncGroups
	r.mu.Unlock()
	states := map[string]State{}
	for _, g := range r.groups {
		states[g.name] = g.state
	}
	r.groups = nil
	for _, g := range groups {
		r.groups = append(r.groups, &group{name: g.Name, members: g.Members, state: states[g.Name]})
	}
	keep := map[string]bool{}
	for i := range insts {
		if old := r.insts[insts[i].Name]; old != nil && sameSlot(&old.cfg, &insts[i]) {
			keep[insts[i].Name] = true
		}
	}
	for _, name := range sortedKeys(r.insts) {
		if !keep[name] {
			r.removeInstance(r.insts[name], now)
		}
	}
	var added []InstanceConfig
	for i := range insts {
		c := insts[i]
		if inst := r.insts[c.Name]; inst != nil {
			r.reconfigure(inst, c, now)
			continue
		}
		added = append(added, c)
	}
	errs := r.addInstances(added)
	r.publishDirty()
	r.mu.Lock()
	r.cfg.Instances = insts
	for name := range r.status {
		if r.insts[name] == nil {
			delete(r.status, name)
		}
	}
	r.mu.Unlock()
	return errs
}

func (r *Router) reconfigure(inst *instance, c InstanceConfig, now time.Time) {
	oldVIPs := inst.vips
	inst.cfg = c
	r.setAddressing(inst)
	if inst.bound {
		var gone, added []VIP
		for _, v := range oldVIPs {
			if !slices.Contains(inst.vips, v) {
				gone = append(gone, v)
			}
		}
		for _, v := range inst.vips {
			if !slices.Contains(oldVIPs, v) {
				added = append(added, v)
			}
		}
		if len(gone) > 0 {
			r.unbind(inst, gone)
			inst.bound = true
		}
		if len(added) > 0 {
			r.bind(inst, added)
			r.announce(inst, addrsOf(added))
		}
	}
	r.apply(inst, inst.m.Reconfigure(now, c.machineConfig(inst.src)), now)
	r.apply(inst, inst.m.SetPriority(now, r.effective(inst)), now)
}

// apply carries out the effects of one Machine input, in order.
func (r *Router) apply(inst *instance, e Effects, now time.Time) {
	if e.Drop != DropNone {
		r.dropped(inst, e.Drop, now)
	}
	if e.Send {
		r.send(inst, e.SendPriority)
		if e.Bind || e.Transitioned() {
			// A takeover's advert leaves before the addresses are bound
			// and announced (RFC 5798 section 6.4.2), not after.
			r.flush()
		}
	}
	if e.Unbind || (e.Transitioned() && e.From == Master) {
		if inst.cancel != nil {
			inst.cancel()
			inst.cancel = nil
		}
		inst.ann = announcing{}
		inst.leaseAt = time.Time{}
		if inst.bound {
			r.unbind(inst, inst.vips)
		}
	}
	if e.Bind {
		r.bind(inst, inst.vips)
		r.startLease(inst, now)
	}
	if e.Announce {
		r.startAnnouncing(inst, now)
	}
	if e.Transitioned() {
		r.transitioned(inst, e, now)
	}
	r.timers.update(inst)
	if inst.visible() != inst.shown {
		r.markDirty(inst)
	}
	if e.Transitioned() {
		r.synced(inst, e, now)
	}
}

// dropped counts a drop and logs it, at most once per dropLogEvery for
// each reason of each instance, so that a flood cannot flood the log.
func (r *Router) dropped(inst *instance, d DropReason, now time.Time) {
	inst.stats.drops[d].Add(1)
	l := &inst.dropLog[d]
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	r.log.Info(fmt.Sprintf("(%s) dropped an advert: %s", inst.cfg.Name, d),
		"instance", inst.cfg.Name, "reason", d.String(), "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}

func (r *Router) transitioned(inst *instance, e Effects, now time.Time) {
	inst.stats.transitions.Add(1)
	r.checkMode(inst.c)
	inst.since = now
	master, _ := inst.m.Master()
	r.log.Info(fmt.Sprintf("(%s) Entering %s STATE", inst.cfg.Name, e.To), "instance", inst.cfg.Name,
		"from", e.From, "to", e.To, "reason", e.Reason, "priority", inst.m.Priority(), "master", master)
	if e.To == Master {
		inst.stats.becameMaster.Add(1)
		if r.cfg.OnMaster != nil {
			// Started with the event's other callbacks (release), once
			// its Status is published.
			ctx, cancel := context.WithCancel(r.ctx)
			inst.cancel = cancel
			r.onMaster = append(r.onMaster, masterCall{ctx: ctx, name: inst.cfg.Name})
		}
	}
	r.disp.push(Transition{
		Instance: inst.cfg.Name, From: e.From, To: e.To, Reason: e.Reason, Time: now,
		Priority: inst.m.Priority(), Master: master,
	})
}

// send encodes an advert with priority prio for each destination of inst
// and writes it, or queues it while a tick batches.
func (r *Router) send(inst *instance, prio uint8) {
	inst.m.FillAdvert(&r.adv, prio)
	for _, dst := range inst.dsts {
		psrc, pdst := inst.src, dst
		if inst.cfg.ChecksumNoPseudo && inst.cfg.Family() == IPv4 {
			psrc, pdst = netip.Addr{}, netip.Addr{}
		}
		if _, batch := inst.out.(BatchConn); batch && r.batching {
			start := len(r.arena)
			b, err := r.adv.Append(r.arena, psrc, pdst)
			if err != nil {
				r.sent(inst, prio, dst, err)
				continue
			}
			r.arena = b
			r.pending = append(r.pending, pendingOut{c: inst.out, inst: inst, prio: prio,
				out: Outgoing{Msg: b[start:len(b):len(b)], Src: inst.src, Dst: dst}})
			continue
		}
		b, err := r.adv.Append(r.buf[:0], psrc, pdst)
		if err == nil {
			r.buf = b
			err = inst.out.WriteTo(b, inst.src, dst)
		}
		r.sent(inst, prio, dst, err)
	}
}

// sent counts the outcome of one advert.
func (r *Router) sent(inst *instance, prio uint8, dst netip.Addr, err error) {
	if err != nil {
		inst.stats.sendErrors.Add(1)
		r.log.Warn("sending advert", "instance", inst.cfg.Name, "dst", dst, "err", err)
		return
	}
	inst.stats.advertsSent.Add(1)
	if prio == 0 {
		inst.stats.priorityZeroSent.Add(1)
	}
}

// flush writes the adverts queued by a tick, one WriteBatch for each Conn.
// Instances on several Conns fall due interleaved (the same interval on
// each segment), so the adverts are grouped by Conn first (a counting sort
// of their indexes), each Conn's in the order they were queued, the Conns
// in the order of their first advert.
func (r *Router) flush() {
	if r.rank == nil {
		r.rank = map[Conn]int{}
	}
	for i := range r.pending {
		p := &r.pending[i]
		if i > 0 && p.c == r.pending[i-1].c {
			p.rank = r.pending[i-1].rank
			continue
		}
		rk, ok := r.rank[p.c]
		if !ok {
			rk = len(r.rank)
			r.rank[p.c] = rk
		}
		p.rank = rk
	}
	conns := len(r.rank)
	clear(r.rank)
	// starts[k] is where the adverts of Conn k begin in order.
	r.starts = append(r.starts[:0], make([]int, conns+1)...)
	for _, p := range r.pending {
		r.starts[p.rank+1]++
	}
	for k := 1; k <= conns; k++ {
		r.starts[k] += r.starts[k-1]
	}
	r.cursor = append(r.cursor[:0], r.starts[:conns]...)
	r.order = append(r.order[:0], make([]int, len(r.pending))...)
	for i, p := range r.pending {
		r.order[r.cursor[p.rank]] = i
		r.cursor[p.rank]++
	}
	for k := range conns {
		idx := r.order[r.starts[k]:r.starts[k+1]]
		r.batch = r.batch[:0]
		for _, i := range idx {
			r.batch = append(r.batch, r.pending[i].out)
		}
		c := r.pending[idx[0]].c
		n, err := c.(BatchConn).WriteBatch(r.batch)
		for m, i := range idx {
			p := &r.pending[i]
			if m < n {
				r.sent(p.inst, p.prio, p.out.Dst, nil)
			} else {
				r.sent(p.inst, p.prio, p.out.Dst, shortErr(err))
			}
		}
	}
	clear(r.batch)
	clear(r.pending)
	r.pending = r.pending[:0]
	r.arena = r.arena[:0]
}

// shortErr is the error for the messages of a batch that WriteBatch did
// not send: its own error, or one saying it stopped short.
func shortErr(err error) error {
	if err == nil {
		return errors.New("vrrp: batch write stopped short")
	}
	return err
}

func (r *Router) bind(inst *instance, vips []VIP) {
	inst.bound = true
	if r.cfg.Binder == nil {
		return
	}
	ctx, cancel := r.opCtx()
	defer cancel()
	if err := r.cfg.Binder.Bind(ctx, inst.vipIface, vips); err != nil {
		inst.stats.bindErrors.Add(1)
		r.log.Error("adding virtual addresses", "instance", inst.cfg.Name, "err", err)
	}
}

func (r *Router) unbind(inst *instance, vips []VIP) {
	inst.bound = false
	if r.cfg.Binder == nil {
		return
	}
	ctx, cancel := r.opCtx()
	defer cancel()
	if err := r.cfg.Binder.Unbind(ctx, inst.vipIface, vips); err != nil {
		inst.stats.bindErrors.Add(1)
		r.log.Error("removing virtual addresses", "instance", inst.cfg.Name, "err", err)
	}
}

func (r *Router) announce(inst *instance, addrs []netip.Addr) {
	if r.cfg.Announcer == nil {
		return
	}
	ctx, cancel := r.opCtx()
	defer cancel()
	if err := r.cfg.Announcer.Announce(ctx, inst.vipIface, addrs); err != nil {
		inst.stats.announceErrors.Add(1)
		r.log.Warn("announcing virtual addresses", "instance", inst.cfg.Name, "err", err)
	}
}

// markDirty marks inst for the next publishDirty.
func (r *Router) markDirty(inst *instance) {
	if !inst.dirty {
		inst.dirty = true
		r.dirty = append(r.dirty, inst)
	}
}

// publishDirty copies the Status of every instance changed since the last
// call where Status and InstanceStatus read it: once per event of the owner
// loop, not once per change.
func (r *Router) publishDirty() {
	// The callbacks of the event run once its Status is published, so
	// that one that reads Status sees its transition.
	defer r.release()
	if len(r.dirty) == 0 {
		return
	}
	r.mu.Lock()
	for _, inst := range r.dirty {
		inst.dirty = false
		if inst.pub == nil {
			// Not published yet, or removed: look its slot up.
			if r.insts[inst.cfg.Name] != inst {
				continue
			}
			inst.pub = r.status[inst.cfg.Name]
			if inst.pub == nil {
				inst.pub = new(published)
				r.status[inst.cfg.Name] = inst.pub
			}
		}
		inst.shown = inst.visible()
		inst.pub.s = r.statusOf(inst)
		inst.pub.c = inst.stats
	}
	r.mu.Unlock()
	clear(r.dirty)
	r.dirty = r.dirty[:0]
}

// masterCall is an OnMaster call waiting for release.
type masterCall struct {
	ctx  context.Context
	name string
}

// release hands the event's callbacks over: the transitions to the
// dispatcher, and each OnMaster to a goroutine of its own.
func (r *Router) release() {
	r.disp.release()
	for _, c := range r.onMaster {
		r.masters.Add(1)
		go func() {
			defer r.masters.Done()
			r.cfg.OnMaster(c.ctx, c.name)
		}()
	}
	clear(r.onMaster)
	r.onMaster = r.onMaster[:0]
}

func (r *Router) statusOf(inst *instance) Status {
	master, mprio := inst.m.Master()
	s := Status{
		Name: inst.cfg.Name, Interface: inst.cfg.Interface, VRID: inst.cfg.VRID,
		Version: inst.cfg.Version, Family: inst.cfg.Family(), State: inst.m.State(),
		Priority: inst.cfg.Priority, EffectivePriority: inst.m.Priority(),
		Master: master, MasterPriority: mprio, MasterAdverInterval: inst.m.MasterAdverInterval(),
		Since: inst.since,
	}
	if len(inst.faults) > 0 {
		s.Faults = sortedKeys(inst.faults)
	}
	return s
}

// dispatcher runs OnTransition and OnGroupTransition callbacks in order on
// a goroutine of its own, so that a slow callback never blocks the owner
// loop.
type dispatcher struct {
	fn      func(Transition)
	groupFn func(GroupTransition)
	// pending are the callbacks of the owner loop's current event, held
	// until release: they run only once the Status they report has been
	// published. The owner loop alone touches it.
	pending []callback
	mu      sync.Mutex
	queue   []callback
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// callback is one queued call: a Transition, or a GroupTransition when
// group is set.
type callback struct {
	t     Transition
	g     GroupTransition
	group bool
}

func newDispatcher(fn func(Transition), groupFn func(GroupTransition)) *dispatcher {
	return &dispatcher{fn: fn, groupFn: groupFn, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *dispatcher) push(t Transition) {
	if d.fn != nil {
		d.enqueue(callback{t: t})
	}
}

func (d *dispatcher) pushGroup(g GroupTransition) {
	if d.groupFn != nil {
		d.enqueue(callback{g: g, group: true})
	}
}

func (d *dispatcher) enqueue(c callback) {
	d.pending = append(d.pending, c)
}

// release hands the pending callbacks to the dispatcher's goroutine.
func (d *dispatcher) release() {
	if len(d.pending) == 0 {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, d.pending...)
	d.mu.Unlock()
	clear(d.pending)
	d.pending = d.pending[:0]
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	var batch []callback
	for {
		d.mu.Lock()
		batch, d.queue = d.queue, batch[:0]
		closed := d.closed
		d.mu.Unlock()
		for _, c := range batch {
			if c.group {
				d.groupFn(c.g)
			} else {
				d.fn(c.t)
			}
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-d.wake
		}
	}
}

// close delivers what is pending or queued, then ends the goroutine and
// waits for it.
func (d *dispatcher) close() {
	d.release()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
}
