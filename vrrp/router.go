package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"sync"
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

// Router runs virtual routers on real (or fake) sockets: it feeds a Node
// the time, the adverts read, the link states, the API calls and the
// results of slow calls, and carries out the effects the Node returns.
// Every protocol rule is the Node's; the Router owns the goroutines, the
// sockets, the send batching, the deferred reads, the published Status and
// the callbacks. NewRouter validates and starts nothing; Run runs it. Its
// other methods are safe for concurrent use.
type Router struct {
	clock Clock
	log   *slog.Logger
	cfg   Config
	host  bool // the Config had no Transport: the Router makes its own I/O

	// The Binder and Announcer of the current Run: the Config's, or made
	// by startIO.
	binder    Binder
	announcer Announcer

	mu      sync.Mutex
	running bool
	names   map[string]bool
	cmds    []command
	links   map[string]LinkState // reported by the LinkMonitor, not applied yet
	status  map[string]*published
	// published is closed, and forgotten, when Status next changes.
	published chan struct{}
	wake      chan struct{}
	rstats    routerCounters

	// Owned by the Run goroutine.
	ctx     context.Context
	node    *Node
	ios     []*instIO // by Node ID
	conns   map[connKey]*conn
	byOpen  []*conn // the conns in the order they were opened, for determinism
	in      chan *inbatch
	free    sync.Pool
	quit    chan struct{}
	readers sync.WaitGroup
	// statics is the goroutine that renews the lease of Static.Addresses.
	statics sync.WaitGroup
	ops     opRunner
	masters sync.WaitGroup
	// onMaster are the OnMaster calls of the current event, started by
	// release once its Status is published.
	onMaster   []int
	disp       *dispatcher
	linkCancel context.CancelFunc
	linkDone   chan struct{}

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

	// Adverts encoded and, while ticking, batched.
	out sender
}

// instIO is the I/O side of one instance: its sockets, counters, published
// Status and OnMaster call.
type instIO struct {
	id       int
	name     string
	vrid     uint8
	c        *conn
	out      Conn // the Conn adverts leave by: c.conn, or the VMAC's
	vmacConn Conn
	vmac     string // the VMAC interface the Router created, if any
	stats    *counters
	dropLog  *[NumDropReasons]dropLog // made at the first drop: most instances never drop
	pub      *published               // where publish writes its Status; nil when removed
	cancel   context.CancelFunc
	// masterSince is when the current Master term began, for
	// Stats.MasterTime.
	masterSince time.Time
}

type connKey struct {
	iface string
	fam   Family
	ah    bool // an AH Conn (Endpoint.Protocol 51), for AuthAH instances
}

// protocol is the Endpoint.Protocol of the Conn of k.
func (k connKey) protocol() uint8 {
	if k.ah {
		return IPProtocolAH
	}
	return 0
}

type conn struct {
	key    connKey
	conn   Conn
	group  netip.Addr
	vrids  [256]*instIO
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

type cmdKind uint8

const (
	cmdPriority cmdKind = iota
	cmdAdjust
	cmdFault
	cmdTrack
	cmdAwait
	cmdReload
	cmdBindDone
	cmdMasterDone
)

type command struct {
	kind   cmdKind
	name   string
	id     int
	prio   uint8
	delta  int
	source string
	on     bool
	track  TrackState
	within time.Duration
	seq    uint64
	err    error
	insts  []InstanceConfig
	groups []SyncGroup
	done   chan error
}

// NewRouter validates cfg and returns a Router that has started nothing.
// It returns every configuration problem at once (see Config.Validate).
func NewRouter(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Instances = cloneInstances(cfg.Instances)
	host := cfg.realHost()
	if host {
		hostDefaults(&cfg)
	}
	r := &Router{
		host:   host,
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
		c.VirtualRoutes = slices.Clone(c.VirtualRoutes)
		c.VirtualRules = slices.Clone(c.VirtualRules)
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

// WaitState waits until the named instance is in state, and returns its
// Status then, or ctx's error. Tests use it to wait for a takeover or a
// fault without knowing the protocol's timers; with testing/synctest, a
// fake clock and transport/fake, it returns as soon as the simulated time
// gets there.
func (r *Router) WaitState(ctx context.Context, name string, state State) (Status, error) {
	for {
		r.mu.Lock()
		p, ok := r.status[name]
		if !ok {
			r.mu.Unlock()
			return Status{}, fmt.Errorf("%w: %q", ErrUnknownInstance, name)
		}
		s := p.status()
		if s.State == state {
			r.mu.Unlock()
			return s, nil
		}
		if r.published == nil {
			r.published = make(chan struct{})
		}
		ch := r.published
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
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

// SetTrack applies what a tracked source (a health check, a track file)
// says of an instance: its Delta moves the priority, or, for weight 0 and
// for a member of a sync group without TrackingWeight, the instance is in
// FAULT while the source is Down. See TrackState.
func (r *Router) SetTrack(name string, t TrackState) error {
	return r.post(command{kind: cmdTrack, name: name, track: t})
}

// Await makes an instance wait, for at most within, for the first report
// of source (SetTrack, AdjustPriority or SetFault) before it contends for
// Master: a health check's first result. Called before Run, the instance
// starts only once the source has reported; a Backup does not take over
// before; a Master carries on.
func (r *Router) Await(name, source string, within time.Duration) error {
	return r.post(command{kind: cmdAwait, name: name, source: source, within: within})
}

func (r *Router) post(c command) error {
	r.mu.Lock()
	if c.name != "" && !r.names[c.name] {
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
	errs = append(errs, validateBinder(r.cfg.Binder, r.cfg.Binder == nil && r.cfg.realHost(), instances)...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	insts := cloneInstances(instances)
	groups = slices.Clone(groups)
	c := command{kind: cmdReload, insts: insts, groups: groups, done: make(chan error, 1)}
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
	if _, precise := r.clock.(PreciseClock); precise {
		// Outside a testing/synctest bubble time.Now carries a monotonic
		// reading; inside, it does not, and a timerfd would wait on the
		// real clock while the bubble's stands still.
		if now := time.Now(); now == now.Round(0) {
			r.mu.Unlock()
			return fmt.Errorf("%w: Clock: PreciseClock's timer runs on the real clock, not in a testing/synctest bubble: leave Clock nil in tests", ErrConfig)
		}
	}
	r.running = true
	insts := r.cfg.Instances
	groups := r.cfg.SyncGroups
	r.mu.Unlock()

	stopIO, err := r.startIO()
	if err != nil {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
		return err
	}
	defer stopIO()
	lease := time.Duration(0)
	if lb, ok := r.binder.(LeaseBinder); ok {
		lease = lb.Lease()
	}
	r.node = NewNode(NodeOptions{SyncGroups: groups, Lease: lease, NoBinds: r.binder == nil,
		MasterCalls: r.cfg.OnMaster != nil, Logger: r.log})
	r.ctx = ctx
	r.ios = nil
	r.conns = map[connKey]*conn{}
	r.byOpen = nil
	r.in = make(chan *inbatch, 16)
	r.quit = make(chan struct{})
	r.ops = opRunner{}
	r.disp = newDispatcher(r.cfg.OnTransition, r.cfg.OnGroupTransition, r.cfg.OnLowerPriority)
	go r.disp.run()
	r.modeq = nil
	r.wallRef, r.wallOff, r.stepped, r.stepNow = r.clock.Now(), 0, false, time.Time{}
	r.startLinks(ctx)

	r.static(true)
	r.renewStatic(lease)
	startErr := r.addInstances(insts, true)
	r.publish()
	if startErr == nil {
		r.loop(ctx)
	}
	r.shutdown()
	return startErr
}

// renewStatic binds Config.Static.Addresses again every third of the
// Binder's lease until the Router stops, as a Master renews its VIPs: they
// are held whatever the state, so nobody else renews them.
func (r *Router) renewStatic(lease time.Duration) {
	addrs := r.cfg.Static.Addresses
	if lease <= 0 || len(addrs) == 0 {
		return
	}
	r.statics.Add(1)
	go func() {
		defer r.statics.Done()
		t, c := r.clock.NewTimer(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-c:
			}
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			if err := r.binder.Bind(ctx, "", addrs); err != nil {
				r.log.Error("renewing static addresses", "err", err)
			}
			cancel()
			t.Reset(lease / 3)
		}
	}()
}

// static adds Config.Static before the instances start, or removes it
// once they have stopped: routes and rules after the addresses they may
// use, removed before them. A failure is logged; the instances run on,
// as keepalived's do.
func (r *Router) static(add bool) {
	st := r.cfg.Static
	if r.binder == nil || len(st.Addresses)+len(st.Routes)+len(st.Rules) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	rb, _ := r.binder.(RouteBinder)
	var err error
	if add {
		if len(st.Addresses) > 0 {
			err = r.binder.Bind(ctx, "", st.Addresses)
		}
		if rb != nil && len(st.Routes)+len(st.Rules) > 0 {
			err = errors.Join(err, rb.BindRoutes(ctx, st.Routes, st.Rules))
		}
	} else {
		if rb != nil && len(st.Routes)+len(st.Rules) > 0 {
			err = rb.UnbindRoutes(ctx, st.Routes, st.Rules)
		}
		if len(st.Addresses) > 0 {
			err = errors.Join(err, r.binder.Unbind(ctx, "", st.Addresses))
		}
	}
	if err != nil {
		op := "adding"
		if !add {
			op = "removing"
		}
		r.log.Error(op+" static addresses, routes and rules", "err", err)
	}
}

// addInstances sets up every instance of cs (sockets, VMACs), applies the
// calls made before Run when first (a fault raised, a source to await),
// then reads the clock and starts them all, so that the time the
// set-up took does not count against the first Master_Down_Interval.
func (r *Router) addInstances(cs []InstanceConfig, first bool) error {
	var (
		errs  error
		added []int
	)
	for i := range cs {
		id, err := r.addInstance(cs[i])
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		added = append(added, id)
	}
	if first {
		r.commands()
	}
	now := r.clock.Now()
	for _, id := range added {
		r.node.Start(now, id)
		r.effects(now)
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
		if next := r.node.Next(); !next.IsZero() && next != armed {
			now := r.clock.Now()
			if armed.IsZero() || next.Before(armed) || armed.Sub(now) <= r.node.NextInterval() {
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
		r.publish()
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
	var ids []int
	for _, name := range r.node.Names() {
		id, _ := r.node.ID(name)
		ids = append(ids, id)
	}
	r.node.Stop(now)
	for _, id := range ids {
		r.detach(id, now)
	}
	for _, c := range r.conns {
		r.closeConn(c)
	}
	r.stopLinks()
	close(r.quit)
	r.readers.Wait()
	r.statics.Wait()
	r.ops.wait()
	r.static(false)
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

// tick runs the Node's timers. Adverts that fall due together leave in
// batches.
func (r *Router) tick(now time.Time) {
	r.drain()
	r.readHeld(now)
	r.out.batching = true
	r.node.Tick(now)
	r.effects(now)
	r.flush()
	r.out.batching = false
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

// commands applies the API calls, link states and results of slow calls
// posted since the last time.
func (r *Router) commands() {
	r.mu.Lock()
	cmds := r.cmds
	r.cmds = nil
	links := r.links
	r.links = nil
	r.mu.Unlock()
	now := r.clock.Now()
	for _, name := range sortedKeys(links) {
		r.node.LinkChanged(now, links[name])
		r.effects(now)
	}
	for _, c := range cmds {
		r.command(c, now)
		r.effects(now)
	}
}

func (r *Router) command(c command, now time.Time) {
	switch c.kind {
	case cmdReload:
		c.done <- r.reload(c.insts, c.groups, now)
		return
	case cmdBindDone:
		r.node.BindDone(now, c.id, c.seq, c.err)
		return
	case cmdMasterDone:
		r.node.MasterReturned(now, c.id)
		return
	}
	id, ok := r.node.ID(c.name)
	if !ok {
		return
	}
	switch c.kind {
	case cmdPriority:
		r.node.SetPriority(now, id, c.prio)
	case cmdAdjust:
		r.node.AdjustPriority(now, id, c.source, c.delta)
	case cmdFault:
		r.node.SetFault(now, id, c.source, c.on)
	case cmdTrack:
		r.node.SetTrack(now, id, c.track)
	case cmdAwait:
		r.node.Await(now, id, c.source, c.within)
	}
}

func (r *Router) reload(insts []InstanceConfig, groups []SyncGroup, now time.Time) error {
	keep := map[string]bool{}
	for i := range insts {
		if id, ok := r.node.ID(insts[i].Name); ok {
			old := r.node.Config(id)
			keep[insts[i].Name] = sameSlot(&old, &insts[i])
		}
	}
	for _, name := range r.node.Names() {
		if !keep[name] {
			id, _ := r.node.ID(name)
			r.removeInstance(id, now)
		}
	}
	r.node.SetGroups(now, groups)
	var added []InstanceConfig
	for i := range insts {
		c := insts[i]
		if id, ok := r.node.ID(c.Name); ok {
			r.node.Reconfigure(now, id, c, r.addressing(r.ios[id], &c))
			r.effects(now)
			continue
		}
		added = append(added, c)
	}
	errs := r.addInstances(added, false)
	r.publish()
	r.mu.Lock()
	r.cfg.Instances = insts
	for name := range r.status {
		if _, ok := r.node.ID(name); !ok {
			delete(r.status, name)
		}
	}
	r.mu.Unlock()
	return errs
}

// effects carries out what the Node asked for since the last call, in
// order.
func (r *Router) effects(now time.Time) {
	for _, e := range r.node.Effects() {
		io := r.ioOf(e.ID)
		switch e.Kind {
		case EffectSend:
			r.send(io, e.Priority, r.node.Outgoing(e.Ref))
		case EffectBind:
			// A takeover's advert leaves before the addresses are bound
			// (RFC 5798 section 6.4.2), a priority 0 advert before they
			// are released.
			r.flush()
			r.bind(io, e)
		case EffectUnbind:
			r.flush()
			r.unbind(io, e)
		case EffectAnnounce:
			r.announce(io, e)
		case EffectLowerPriority:
			r.disp.pushLower(LowerPriority{Instance: io.name, From: e.Addrs[0], Priority: e.Priority, Time: now})
		case EffectTransition:
			// Its advert leaves before the log line and the callbacks.
			r.flush()
			t := r.node.Transition(e.Ref)
			r.logTransition(e.ID, t)
			io.stats.transitions.Add(1)
			if t.To == Master {
				io.stats.becameMaster.Add(1)
				io.masterSince = t.Time
			}
			if t.From == Master && !io.masterSince.IsZero() {
				io.stats.masterNanos.Add(int64(t.Time.Sub(io.masterSince)))
				io.masterSince = time.Time{}
			}
			r.checkMode(io.c)
			r.disp.push(t)
		case EffectGroupTransition:
			r.flush()
			g := r.node.GroupTransition(e.Ref)
			r.log.Info(fmt.Sprintf("(%s) Sync group entering %s state", g.Group, g.To), "group", g.Group, "from", g.From, "to", g.To)
			r.disp.pushGroup(g)
		case EffectStartMaster:
			r.onMaster = append(r.onMaster, e.ID)
		case EffectStopMaster:
			if io.cancel != nil {
				io.cancel()
				io.cancel = nil
			} else if i := slices.Index(r.onMaster, e.ID); i >= 0 {
				// Asked for in this event and not started: it returns
				// at once.
				r.onMaster = slices.Delete(r.onMaster, i, i+1)
				r.result(command{kind: cmdMasterDone, id: e.ID})
			}
		}
	}
}

// logTransition logs t, a transition of instance id, as keepalived words
// it; a FAULT with its causes.
func (r *Router) logTransition(id int, t Transition) {
	if t.To == Fault {
		faults := r.node.FaultList(id)
		r.log.Info(fmt.Sprintf("(%s) Entering FAULT STATE (%s)", t.Instance, faults), "instance", t.Instance,
			"from", t.From, "reason", t.Reason, "faults", faults)
		return
	}
	r.log.Info(fmt.Sprintf("(%s) Entering %s STATE", t.Instance, t.To), "instance", t.Instance,
		"from", t.From, "to", t.To, "reason", t.Reason, "priority", t.Priority, "master", t.Master)
}

// ioOf returns the I/O side of instance id, which an effect may outlive
// (removed at once after): a detached one then.
func (r *Router) ioOf(id int) *instIO {
	if id >= 0 && id < len(r.ios) && r.ios[id] != nil {
		return r.ios[id]
	}
	return &instIO{id: id, stats: new(counters)}
}
