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

	mu      sync.Mutex
	running bool
	names   map[string]bool
	cmds    []command
	links   map[string]LinkState // reported by the LinkMonitor, not applied yet
	status  map[string]*published
	wake    chan struct{}
	rstats  routerCounters

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
	ops     opRunner
	masters sync.WaitGroup
	// onMaster are the OnMaster calls of the current event, started by
	// release once its Status is published.
	onMaster   []int
	disp       *dispatcher
	buf        []byte
	adv        Advertisement
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

// instIO is the I/O side of one instance: its sockets, counters, published
// Status and OnMaster call.
type instIO struct {
	id       int
	name     string
	c        *conn
	out      Conn // the Conn adverts leave by: c.conn, or the VMAC's
	vmacConn Conn
	vmac     string // the VMAC interface the Router created, if any
	stats    *counters
	dropLog  [NumDropReasons]dropLog
	pub      *published // where publish writes its Status; nil when removed
	cancel   context.CancelFunc
}

type pendingOut struct {
	c    Conn
	io   *instIO
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

// maxMessage bounds a received VRRP message: 255 IPv6 addresses need 4088
// bytes; a read that fills the buffer is too long and fails to decode.
const maxMessage = 4160

// readBatch is how many messages a reader reads with one system call
// (BatchReader) and hands to the owner loop at once.
const readBatch = 16

// opTimeout bounds one Binder, Announcer or VMAC call.
const opTimeout = 5 * time.Second

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

// TracksWeights reports whether weighted tracks move the priority of the
// named instance: true unless it belongs to a sync group without
// TrackingWeight, where they act as weight 0.
func (r *Router) TracksWeights(instance string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.cfg.SyncGroups {
		if slices.Contains(g.Members, instance) {
			return g.TrackingWeight
		}
	}
	return true
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
	r.running = true
	insts := r.cfg.Instances
	groups := r.cfg.SyncGroups
	r.mu.Unlock()

	lease := time.Duration(0)
	if lb, ok := r.cfg.Binder.(LeaseBinder); ok {
		lease = lb.Lease()
	}
	r.node = NewNode(NodeOptions{SyncGroups: groups, Lease: lease, NoBinds: r.cfg.Binder == nil,
		MasterCalls: r.cfg.OnMaster != nil, Logger: r.log})
	r.ctx = ctx
	r.ios = nil
	r.conns = map[connKey]*conn{}
	r.byOpen = nil
	r.in = make(chan *inbatch, 16)
	r.quit = make(chan struct{})
	r.ops = opRunner{}
	r.disp = newDispatcher(r.cfg.OnTransition, r.cfg.OnGroupTransition)
	go r.disp.run()
	r.modeq = nil
	r.wallRef, r.wallOff, r.stepped, r.stepNow = r.clock.Now(), 0, false, time.Time{}
	r.startLinks(ctx)

	startErr := r.addInstances(insts, true)
	r.publish()
	if startErr == nil {
		r.loop(ctx)
	}
	r.shutdown()
	return startErr
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
	for _, name := range r.node.Names() {
		id, _ := r.node.ID(name)
		r.removeInstance(id, now)
	}
	for _, c := range r.conns {
		r.closeConn(c)
	}
	r.stopLinks()
	close(r.quit)
	r.readers.Wait()
	r.ops.wait()
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

// addInstance sets up an instance, its socket and its VMAC, and adds it to
// the Node.
func (r *Router) addInstance(c InstanceConfig) (int, error) {
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
			return 0, fmt.Errorf("vrrp: instance %s: open %s %v: %w", c.Name, c.Interface, key.fam, err)
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
	io := &instIO{name: c.Name, c: cn, out: cn.conn, stats: new(counters)}
	var err error
	if c.UseVMAC {
		err = r.openVMAC(io, &c)
	}
	io.id = r.node.Add(c, r.addressing(io, &c))
	r.ios = append(r.ios, io)
	cn.users++
	cn.vrids[c.VRID] = io
	if err != nil {
		r.node.SetFault(r.clock.Now(), io.id, "vmac", true)
	}
	r.effects(r.clock.Now())
	return io.id, nil
}

// addressing is what the Node needs to know of io's sockets.
func (r *Router) addressing(io *instIO, c *InstanceConfig) Addressing {
	a := Addressing{Source: io.c.conn.LocalAddr(), Group: io.c.group}
	if io.vmacConn != nil && c.Family() == IPv6 {
		// The VMAC has a link-local address of its own.
		a.Source = io.vmacConn.LocalAddr()
	}
	return a
}

// openVMAC creates the VMAC interface of an instance and, unless adverts
// leave by the parent, a send-only Conn on it.
func (r *Router) openVMAC(io *instIO, c *InstanceConfig) error {
	name := c.vmacName()
	vb := r.cfg.Binder.(VMACBinder)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), opTimeout)
	defer cancel()
	if err := vb.AddVMAC(ctx, c.Interface, name, c.VRID, c.Family()); err != nil {
		r.log.Error("cannot create VMAC interface", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	io.vmac = name
	if c.VMACXmitBase {
		return nil
	}
	vc, err := r.cfg.Transport.Open(r.ctx, Endpoint{Interface: name, Family: c.Family(), Group: io.c.group, SendOnly: true})
	if err != nil {
		r.log.Error("cannot open VRRP socket on the VMAC", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	io.vmacConn, io.out = vc, vc
	return nil
}

// removeInstance stops instance id (priority 0, addresses released) and
// releases its sockets and VMAC.
func (r *Router) removeInstance(id int, now time.Time) {
	io := r.ios[id]
	vrid := r.node.Config(id).VRID
	r.node.Remove(now, id)
	r.effects(now)
	r.publish()
	io.pub = nil
	r.ios[id] = nil
	cn := io.c
	cn.vrids[vrid] = nil
	cn.users--
	if cn.users == 0 {
		r.closeConn(cn)
		delete(r.conns, cn.key)
		r.byOpen = slices.DeleteFunc(r.byOpen, func(c *conn) bool { return c == cn })
	} else {
		r.checkMode(cn)
	}
	if io.vmacConn != nil {
		if err := io.vmacConn.Close(); err != nil {
			r.log.Warn("closing the VMAC socket", "instance", io.name, "err", err)
		}
	}
	if io.vmac != "" {
		// After the addresses on it are released.
		vmac := io.vmac
		r.ops.do(r, id, func(ctx context.Context) {
			if err := r.cfg.Binder.(VMACBinder).RemoveVMAC(ctx, vmac); err != nil {
				r.log.Warn("removing the VMAC interface", "instance", io.name, "err", err)
			}
		})
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
			if errors.Is(err, net.ErrClosed) || r.quitting() {
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
			decode(c, &b.ps[i], b.in[i].N, b.in[i].Info)
		}
		select {
		case r.in <- b:
		case <-r.quit:
			return
		}
	}
}

// decode decodes and checksums one message of n bytes in p.buf.
func decode(c *conn, p *inbound, n int, info PacketInfo) {
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

// quitting reports whether the loop is quitting, for read errors that do
// not wrap net.ErrClosed.
func (r *Router) quitting() bool {
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

// receive hands one message to the Node, and counts it.
func (r *Router) receive(c *conn, p *inbound, now time.Time) {
	var io *instIO
	if p.n >= 2 {
		io = c.vrids[p.buf[1]]
	}
	r.rstats.received.Add(1)
	if io == nil || c.closed {
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
	res := r.node.Receive(now, io.id, &Received{Adv: &p.adv, Info: p.info, Err: p.err, Form: p.form, Untimed: r.stepped})
	if res.Counted {
		io.stats.advertsReceived.Add(1)
		io.stats.checksums[p.form].Add(1)
		if p.adv.Priority == 0 {
			io.stats.priorityZeroReceived.Add(1)
		}
	}
	if res.Drop != DropNone {
		r.dropped(io, res.Drop, now)
	}
	r.effects(now)
}

// tick runs the Node's timers. Adverts that fall due together leave in
// batches.
func (r *Router) tick(now time.Time) {
	r.drain()
	r.readHeld(now)
	r.batching = true
	r.node.Tick(now)
	r.effects(now)
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
			r.send(io, e.Priority)
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
		case EffectTransition:
			t := r.node.Transition(e.Ref)
			io.stats.transitions.Add(1)
			if t.To == Master {
				io.stats.becameMaster.Add(1)
			}
			r.checkMode(io.c)
			r.disp.push(t)
		case EffectGroupTransition:
			r.disp.pushGroup(r.node.GroupTransition(e.Ref))
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

// ioOf returns the I/O side of instance id, which an effect may outlive
// (removed at once after): a detached one then.
func (r *Router) ioOf(id int) *instIO {
	if id >= 0 && id < len(r.ios) && r.ios[id] != nil {
		return r.ios[id]
	}
	return &instIO{id: id, stats: new(counters)}
}

// dropped counts a drop and logs it, at most once per dropLogEvery for
// each reason of each instance, so that a flood cannot flood the log.
func (r *Router) dropped(io *instIO, d DropReason, now time.Time) {
	io.stats.drops[d].Add(1)
	l := &io.dropLog[d]
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	r.log.Info(fmt.Sprintf("(%s) dropped an advert: %s", io.name, d),
		"instance", io.name, "reason", d.String(), "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}

// send encodes an advert with priority prio for each destination of io
// and writes it, or queues it while a tick batches.
func (r *Router) send(io *instIO, prio uint8) {
	inst := r.node.insts[io.id]
	inst.m.FillAdvert(&r.adv, prio)
	src := inst.src
	for _, dst := range inst.dsts {
		psrc, pdst := src, dst
		if inst.cfg.ChecksumNoPseudo && io.c.key.fam == IPv4 {
			psrc, pdst = netip.Addr{}, netip.Addr{}
		}
		if _, batch := io.out.(BatchConn); batch && r.batching {
			start := len(r.arena)
			b, err := r.adv.Append(r.arena, psrc, pdst)
			if err != nil {
				r.sent(io, prio, dst, err)
				continue
			}
			r.arena = b
			r.pending = append(r.pending, pendingOut{c: io.out, io: io, prio: prio,
				out: Outgoing{Msg: b[start:len(b):len(b)], Src: src, Dst: dst}})
			continue
		}
		b, err := r.adv.Append(r.buf[:0], psrc, pdst)
		if err == nil {
			r.buf = b
			err = io.out.WriteTo(b, src, dst)
		}
		r.sent(io, prio, dst, err)
	}
}

// sent counts the outcome of one advert.
func (r *Router) sent(io *instIO, prio uint8, dst netip.Addr, err error) {
	if err != nil {
		io.stats.sendErrors.Add(1)
		r.log.Warn("sending advert", "instance", io.name, "dst", dst, "err", err)
		return
	}
	io.stats.advertsSent.Add(1)
	if prio == 0 {
		io.stats.priorityZeroSent.Add(1)
	}
}

// flush writes the adverts queued by a tick, one WriteBatch for each Conn.
// Instances on several Conns fall due interleaved (the same interval on
// each segment), so the adverts are grouped by Conn first (a counting sort
// of their indexes), each Conn's in the order they were queued, the Conns
// in the order of their first advert.
func (r *Router) flush() {
	if len(r.pending) == 0 {
		return
	}
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
				r.sent(p.io, p.prio, p.out.Dst, nil)
			} else {
				r.sent(p.io, p.prio, p.out.Dst, shortErr(err))
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

// bind adds addresses beside the owner loop and reports the result to the
// Node.
func (r *Router) bind(io *instIO, e Effect) {
	id, seq, iface, vips, name, stats := e.ID, e.Seq, e.Iface, e.VIPs, io.name, io.stats
	r.ops.do(r, id, func(ctx context.Context) {
		err := r.cfg.Binder.Bind(ctx, iface, vips)
		if err != nil {
			stats.bindErrors.Add(1)
			r.log.Error("adding virtual addresses", "instance", name, "err", err)
		}
		r.result(command{kind: cmdBindDone, id: id, seq: seq, err: err})
	})
}

// unbind removes addresses beside the owner loop.
func (r *Router) unbind(io *instIO, e Effect) {
	if r.cfg.Binder == nil {
		return
	}
	iface, vips, name, stats := e.Iface, e.VIPs, io.name, io.stats
	r.ops.do(r, e.ID, func(ctx context.Context) {
		if err := r.cfg.Binder.Unbind(ctx, iface, vips); err != nil {
			stats.bindErrors.Add(1)
			r.log.Error("removing virtual addresses", "instance", name, "err", err)
		}
	})
}

// announce sends gratuitous ARP / NA beside the owner loop.
func (r *Router) announce(io *instIO, e Effect) {
	if r.cfg.Announcer == nil {
		return
	}
	iface, addrs, name, stats := e.Iface, e.Addrs, io.name, io.stats
	r.ops.do(r, e.ID, func(ctx context.Context) {
		if err := r.cfg.Announcer.Announce(ctx, iface, addrs); err != nil {
			stats.announceErrors.Add(1)
			r.log.Warn("announcing virtual addresses", "instance", name, "err", err)
		}
	})
}

// result hands the result of a slow call to the owner loop.
func (r *Router) result(c command) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	r.signal()
}

// publish copies the Status of every instance changed since the last call
// where Status and InstanceStatus read it: once per event of the owner
// loop, not once per change. Then it hands over the event's callbacks.
func (r *Router) publish() {
	// The callbacks of the event run once its Status is published, so
	// that one that reads Status sees its transition.
	defer r.release()
	changed := r.node.Changed()
	if len(changed) == 0 {
		return
	}
	r.mu.Lock()
	for _, id := range changed {
		io := r.ios[id]
		if io == nil {
			continue
		}
		if io.pub == nil {
			io.pub = r.status[io.name]
			if io.pub == nil {
				io.pub = new(published)
				r.status[io.name] = io.pub
			}
		}
		io.pub.s = r.node.Status(id)
		io.pub.c = io.stats
	}
	r.mu.Unlock()
}

// release hands the event's callbacks over: the transitions to the
// dispatcher, and each OnMaster to a goroutine of its own. The Node starts
// a call of an instance only once the previous one returned.
func (r *Router) release() {
	r.disp.release()
	for _, id := range r.onMaster {
		io := r.ios[id]
		if io == nil {
			continue
		}
		ctx, cancel := context.WithCancel(r.ctx)
		io.cancel = cancel
		name := io.name
		r.masters.Add(1)
		go func() {
			defer r.masters.Done()
			defer cancel()
			r.cfg.OnMaster(ctx, name)
			r.result(command{kind: cmdMasterDone, id: id})
		}()
	}
	clear(r.onMaster)
	r.onMaster = r.onMaster[:0]
}

// opRunner runs the slow calls of instances (binds, unbinds,
// announcements, VMAC removal) beside the owner loop, in order for each
// instance, each instance's on a goroutine that lives while it has calls
// queued.
type opRunner struct {
	mu     sync.Mutex
	queues map[int][]func(context.Context)
	wg     sync.WaitGroup
}

// do queues fn for instance id.
func (o *opRunner) do(r *Router, id int, fn func(context.Context)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.queues == nil {
		o.queues = map[int][]func(context.Context){}
	}
	q, busy := o.queues[id]
	o.queues[id] = append(q, fn)
	if busy {
		return
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for {
			o.mu.Lock()
			q := o.queues[id]
			if len(q) == 0 {
				delete(o.queues, id)
				o.mu.Unlock()
				return
			}
			fn := q[0]
			o.queues[id] = q[1:]
			o.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), opTimeout)
			fn(ctx)
			cancel()
		}
	}()
}

// wait waits for every queued call to end.
func (o *opRunner) wait() { o.wg.Wait() }

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
		d.pending = append(d.pending, callback{t: t})
	}
}

func (d *dispatcher) pushGroup(g GroupTransition) {
	if d.groupFn != nil {
		d.pending = append(d.pending, callback{g: g, group: true})
	}
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

// startLinks runs the LinkMonitor, if any, on a goroutine owned by Run. Its
// reports are kept latest-wins per interface and applied by the owner loop.
func (r *Router) startLinks(ctx context.Context) {
	r.linkDone = nil
	if r.cfg.Links == nil {
		return
	}
	ctx, r.linkCancel = context.WithCancel(ctx)
	r.linkDone = make(chan struct{})
	go func() {
		defer close(r.linkDone)
		err := r.cfg.Links.Watch(ctx, func(ls LinkState) {
			r.mu.Lock()
			if r.links == nil {
				r.links = map[string]LinkState{}
			}
			r.links[ls.Interface] = ls
			r.mu.Unlock()
			r.signal()
		})
		if err != nil && ctx.Err() == nil {
			r.log.Error("link monitor stopped", "err", err)
		}
	}()
}

// stopLinks stops the LinkMonitor goroutine and waits for it.
func (r *Router) stopLinks() {
	if r.linkDone == nil {
		return
	}
	r.linkCancel()
	<-r.linkDone
	r.mu.Lock()
	r.links = nil
	r.mu.Unlock()
}
