// Package pool runs health-checked server pools, as keepalived's
// virtual_server and real_server: each backend's checks (the Checkers of
// package health) decide its membership, with quorum, hysteresis and a
// sorry server, and a Balancer applies the membership (examples/lvs
// programs IPVS with it).
package pool

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ErrPool is wrapped by configuration errors of a Pool.
var ErrPool = errors.New("pool: invalid pool")

// ErrPoolRunning is returned by a second call of Pool.Run.
var ErrPoolRunning = errors.New("pool: already running")

// Defaults of a Pool.
const (
	// DefaultWorkers is how many probes of a Pool may run at once.
	DefaultWorkers = 128
	// DefaultRetryDelay is the wait before a Membership whose OnChange
	// failed is delivered again.
	DefaultRetryDelay = time.Second
	// MaxWeight is the largest weight of a backend (IPVS weights are
	// 32-bit signed).
	MaxWeight = math.MaxInt32
)

// Forwarding is an IPVS forwarding method: keepalived's lb_kind (lvs_method
// since keepalived 2.x).
type Forwarding uint8

// Forwarding methods. The zero value means "the service's method" on a
// Backend, and NAT on a Service, as in keepalived.
const (
	ForwardDefault Forwarding = iota
	ForwardNAT
	ForwardDR
	ForwardTUN
)

// String returns NAT, DR or TUN (or "default").
func (f Forwarding) String() string {
	switch f {
	case ForwardDefault:
		return "default"
	case ForwardNAT:
		return "NAT"
	case ForwardDR:
		return "DR"
	case ForwardTUN:
		return "TUN"
	}
	return fmt.Sprintf("Forwarding(%d)", uint8(f))
}

// Backend is one real server of a Pool: keepalived's real_server.
type Backend struct {
	// Name identifies the backend in events, logs and Status; empty means
	// Addr.String(). Names are unique within a Pool.
	Name string
	// Addr is the real server's address and port.
	Addr netip.AddrPort
	// Weight is the backend's weight while it is healthy, 1 to MaxWeight;
	// 0 means 1 (keepalived's default). It counts towards the quorum.
	Weight int
	// Forwarding overrides the service's forwarding method for this
	// backend (keepalived's real_server lvs_method).
	Forwarding Forwarding
	// InhibitOnFailure keeps a failed backend in the membership with
	// weight 0 instead of removing it, so that its established
	// connections are kept (keepalived's inhibit_on_failure). On the
	// Pool's Sorry backend it is keepalived's sorry_server_inhibit: the
	// sorry server stays in with weight 0 while it is not in use.
	InhibitOnFailure bool
	// Checks are the backend's health checks, each with its own interval,
	// timeout, rise and fall; the backend is healthy while all of them
	// are up. A check with no Name is named "BACKEND#i"; a check with no
	// Interval takes the Pool's. A backend with no checks is always
	// healthy, as a keepalived real_server without checkers. The Sorry
	// backend must have none.
	Checks []health.Check
}

// EventKind is what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// BackendUp: every check of the backend is up again.
	BackendUp EventKind = iota + 1
	// BackendDown: a check of the backend went down.
	BackendDown
	// QuorumUp: the weight of the healthy backends reached Quorum +
	// Hysteresis (keepalived's quorum_up).
	QuorumUp
	// QuorumDown: the weight of the healthy backends fell below Quorum -
	// Hysteresis, or to 0 (keepalived's quorum_down).
	QuorumDown
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case BackendUp:
		return "backend-up"
	case BackendDown:
		return "backend-down"
	case QuorumUp:
		return "quorum-up"
	case QuorumDown:
		return "quorum-down"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one change of a Pool.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Backend names the backend, for BackendUp and BackendDown.
	Backend string
	// Check names the check that went down (BackendDown) or the last one
	// that came up (BackendUp).
	Check string
	// Err is the failing probe's error, for BackendDown.
	Err error
	// Weight is the weight of the healthy backends after the change.
	Weight int
	// At is the time of the change on the Pool's clock.
	At time.Time
}

// Member is one destination the load balancer should hold.
type Member struct {
	// Name is the backend's name.
	Name string
	// Addr is the backend's address.
	Addr netip.AddrPort
	// Weight is the weight to give it: the backend's weight, or 0 for a
	// failed backend kept by InhibitOnFailure (and for every inhibiting
	// backend while the sorry server is in use).
	Weight int
	// Forwarding is the backend's forwarding method (ForwardDefault: the
	// service's).
	Forwarding Forwarding
	// Healthy reports whether all the backend's checks are up.
	Healthy bool
	// Sorry marks the Pool's sorry server.
	Sorry bool
}

// Membership is the state of a Pool as OnChange receives it: the whole set
// of destinations, not a difference, so that applying the latest one is
// always enough.
type Membership struct {
	// Seq numbers the memberships of a Pool from 1 (the initial state).
	// When deliveries were merged (a slow or failing OnChange), numbers
	// are skipped and Events holds the events of all of them.
	Seq uint64
	// Quorum reports whether the pool has its quorum.
	Quorum bool
	// Weight is the sum of the weights of the healthy backends.
	Weight int
	// Members are the destinations to hold, backends in configuration
	// order and then the sorry server: the healthy backends with their
	// weights, inhibited ones with weight 0; while the quorum is lost and
	// a sorry server is configured, the sorry server instead of the
	// healthy backends.
	Members []Member
	// Events are the changes since the previous delivery, in order; empty
	// in the initial Membership.
	Events []Event
}

// Config configures a Pool: keepalived's virtual_server without the
// IPVS service itself (see BalancerSync for that).
type Config struct {
	// Name identifies the pool in logs.
	Name string
	// Backends are the real servers.
	Backends []Backend
	// Sorry is the sorry_server: while the quorum is lost it replaces
	// every backend in the membership. Nil means none: without a sorry
	// server, losing the quorum changes nothing but the Quorum flag.
	Sorry *Backend
	// Quorum is the minimum total weight of healthy backends for the pool
	// to be up; 0 means 1, keepalived's default.
	Quorum int
	// Hysteresis is keepalived's flap dampener: the quorum is gained when
	// the weight reaches Quorum + Hysteresis and lost when it falls below
	// Quorum - Hysteresis (or to 0).
	Hysteresis int
	// Interval is the interval of checks that set none (keepalived's
	// delay_loop); 0 means DefaultInterval, 1 s. (keepalived's default is
	// 60 s.)
	Interval time.Duration
	// Workers bounds how many probes run at once; 0 means DefaultWorkers.
	// Probes are run by this many goroutines whatever the number of
	// checks, so a probe blocked on its Timeout holds one of them.
	Workers int
	// NoSpread starts every check's first probe when Run starts. By
	// default the first probes are spread evenly over the checks'
	// intervals (keepalived's warmup, deterministic here), and later
	// probes keep that phase, so that the load is even.
	NoSpread bool
	// OnChange receives the initial Membership and then one after every
	// change, in order, from one goroutine of the Pool and never under a
	// lock. ctx is Run's. While it runs, further changes are merged into
	// the next delivery. When it returns an error, the same Membership
	// (merged with any later one) is delivered again after RetryDelay, so
	// a BalancerSync's Apply can be used as is.
	OnChange func(ctx context.Context, m Membership) error
	// RetryDelay is the wait before a failed delivery is retried; 0 means
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// Clock drives the schedule; nil means vrrp.SystemClock.
	Clock vrrp.Clock
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// CheckStatus is the state of one check of a backend.
type CheckStatus struct {
	// Name is the check's name ("BACKEND#i" if it set none).
	Name string
	// Up is the check's state after rise and fall.
	Up bool
	// Err is the last probe's error (nil after a success).
	Err error
	// LastProbe is when the last probe completed; zero before the first.
	LastProbe time.Time
	// Probes and Failures count the probes run and those that failed.
	Probes, Failures uint64
}

// BackendStatus is the state of one backend.
type BackendStatus struct {
	// Name, Addr and Weight are the backend's, defaults filled in.
	Name   string
	Addr   netip.AddrPort
	Weight int
	// Healthy reports whether all its checks are up.
	Healthy bool
	// Checks are its checks, in configuration order.
	Checks []CheckStatus
}

// Status is a snapshot of a Pool.
type Status struct {
	// Quorum and Weight are as in Membership.
	Quorum bool
	Weight int
	// Backends are in configuration order.
	Backends []BackendStatus
	// Members is the current membership.
	Members []Member
	// Probes counts the probes run.
	Probes uint64
	// MaxLag and MeanLag measure the schedule: how late probes were handed
	// to a worker after their due time.
	MaxLag, MeanLag time.Duration
}

// Pool health-checks a set of backends on a shared schedule and reports
// which of them a load balancer should hold, with keepalived's
// virtual_server semantics: per-backend weights, inhibit_on_failure,
// quorum with hysteresis and a sorry server.
//
// Every check of every backend sits in one timer heap served by one owner
// goroutine with one timer; due probes are handed to Workers worker
// goroutines, and memberships to one dispatcher goroutine that calls
// OnChange. Thousands of backends thus need neither thousands of goroutines
// nor thousands of timers: 5,000 TCP backends checked every second cost
// about half a core of a 2-core machine, two thirds of it system time in
// the kernel's connects, and a tenth of a core with probes that do nothing
// (see pool_bench_test.go).
//
// Semantics follow keepalived's check/ipwrapper.c: a backend is alive
// while none of its checks has failed; the quorum is gained when the sum of
// the weights of the alive backends reaches Quorum + Hysteresis and lost
// when it falls below Quorum - Hysteresis or to 0; on losing it, a sorry
// server replaces the backends (inhibiting ones stay with weight 0), and
// without one nothing changes but the flag.
type Pool struct {
	cfg        Config
	clock      vrrp.Clock
	log        *slog.Logger
	workers    int
	retryDelay time.Duration
	quorum     int
	backends   []*poolBackend
	sorry      *Backend
	checks     []*poolCheck // every check, in configuration order
	running    atomic.Bool
	reschedule []*poolCheck // owner goroutine only: checks to put back in the heap

	// mu guards what Status reads: the fields below and the status fields
	// of backends and checks. Only the owner goroutine writes them.
	mu       sync.Mutex
	quorumUp bool
	weight   int
	seq      uint64
	probes   uint64
	maxLag   time.Duration
	sumLag   time.Duration
	lagCount uint64

	// The dispatcher's queue: the pending (merged) Membership.
	dmu      sync.Mutex
	dpending *Membership
	dsignal  chan struct{}
}

type poolBackend struct {
	cfg     Backend
	checks  []*poolCheck
	failed  int  // checks down; owner only, mirrored in healthy
	healthy bool // guarded by Pool.mu
}

type poolCheck struct {
	b     *poolBackend
	check health.Check // with defaults

	// Owner goroutine only. A check is in exactly one place: the heap,
	// the queue of due probes, or a worker.
	due    time.Time
	streak int

	// Guarded by Pool.mu.
	up        bool
	lastErr   error
	lastProbe time.Time
	probes    uint64
	failures  uint64
}

// New validates c and returns a Pool in its initial state: every check
// up unless it sets InitFail, and the quorum up if the weight of the
// healthy backends reaches Quorum + Hysteresis.
func New(c Config) (*Pool, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:        c,
		clock:      c.Clock,
		log:        c.Logger,
		workers:    c.Workers,
		retryDelay: c.RetryDelay,
		quorum:     c.Quorum,
		dsignal:    make(chan struct{}, 1),
	}
	if p.clock == nil {
		p.clock = vrrp.SystemClock{}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.workers == 0 {
		p.workers = DefaultWorkers
	}
	if p.retryDelay == 0 {
		p.retryDelay = DefaultRetryDelay
	}
	if p.quorum == 0 {
		p.quorum = 1
	}
	if c.Sorry != nil {
		s := backendDefaults(*c.Sorry)
		p.sorry = &s
	}
	for _, b := range c.Backends {
		pb := &poolBackend{cfg: backendDefaults(b)}
		for i, ch := range pb.cfg.Checks {
			ch = checkDefaults(ch, pb.cfg.Name, i, c.Interval)
			pc := &poolCheck{b: pb, check: ch, up: !ch.InitFail}
			if !pc.up {
				pb.failed++
			}
			pb.checks = append(pb.checks, pc)
			p.checks = append(p.checks, pc)
		}
		pb.healthy = pb.failed == 0
		if pb.healthy {
			p.weight += pb.cfg.Weight
		}
		p.backends = append(p.backends, pb)
	}
	// keepalived's set_quorum_states: up if the live weight reaches
	// quorum + hysteresis.
	p.quorumUp = p.weight >= p.quorum+c.Hysteresis
	return p, nil
}

func backendDefaults(b Backend) Backend {
	if b.Name == "" {
		b.Name = b.Addr.String()
	}
	if b.Weight == 0 {
		b.Weight = 1
	}
	return b
}

func checkDefaults(c health.Check, backend string, i int, interval time.Duration) health.Check {
	if c.Name == "" {
		c.Name = fmt.Sprintf("%s#%d", backend, i)
	}
	if c.Interval == 0 {
		c.Interval = interval
	}
	return c.WithDefaults()
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrPool, c.Name, fmt.Sprintf(format, args...)))
	}
	if c.Quorum < 0 || c.Hysteresis < 0 {
		bad("Quorum and Hysteresis must not be negative")
	}
	if c.Interval < 0 || c.RetryDelay < 0 {
		bad("Interval and RetryDelay must not be negative")
	}
	if c.Workers < 0 {
		bad("Workers must not be negative")
	}
	names := map[string]bool{}
	addrs := map[netip.AddrPort]string{}
	backend := func(b Backend, what string) {
		b = backendDefaults(b)
		if !b.Addr.IsValid() {
			bad("%s %q: Addr is required", what, b.Name)
		}
		if names[b.Name] {
			bad("%s %q: name used twice", what, b.Name)
		}
		names[b.Name] = true
		if other, ok := addrs[b.Addr]; ok && b.Addr.IsValid() {
			bad("%s %q: address %s already used by %q", what, b.Name, b.Addr, other)
		}
		addrs[b.Addr] = b.Name
		if b.Weight < 0 || b.Weight > MaxWeight {
			bad("%s %q: Weight %d is not in 0..%d", what, b.Name, b.Weight, MaxWeight)
		}
		if b.Forwarding > ForwardTUN {
			bad("%s %q: unknown Forwarding %d", what, b.Name, b.Forwarding)
		}
		checkNames := map[string]bool{}
		for i, ch := range b.Checks {
			ch = checkDefaults(ch, b.Name, i, c.Interval)
			if err := ch.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %s %q: %w", ErrPool, c.Name, what, b.Name, err))
			}
			if checkNames[ch.Name] {
				bad("%s %q: check %q defined twice", what, b.Name, ch.Name)
			}
			checkNames[ch.Name] = true
		}
	}
	for _, b := range c.Backends {
		backend(b, "backend")
	}
	if c.Sorry != nil {
		backend(*c.Sorry, "sorry server")
		if len(c.Sorry.Checks) > 0 {
			bad("the sorry server takes no checks")
		}
	}
	return errors.Join(errs...)
}

// Status returns a snapshot of the pool. It may be called at any time.
func (p *Pool) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{
		Quorum:   p.quorumUp,
		Weight:   p.weight,
		Backends: make([]BackendStatus, len(p.backends)),
		Members:  p.membersLocked(),
		Probes:   p.probes,
		MaxLag:   p.maxLag,
	}
	if p.lagCount > 0 {
		s.MeanLag = p.sumLag / time.Duration(p.lagCount)
	}
	for i, b := range p.backends {
		bs := BackendStatus{Name: b.cfg.Name, Addr: b.cfg.Addr, Weight: b.cfg.Weight, Healthy: b.healthy,
			Checks: make([]CheckStatus, len(b.checks))}
		for j, c := range b.checks {
			bs.Checks[j] = CheckStatus{Name: c.check.Name, Up: c.up, Err: c.lastErr,
				LastProbe: c.lastProbe, Probes: c.probes, Failures: c.failures}
		}
		s.Backends[i] = bs
	}
	return s
}

// membersLocked computes the membership; p.mu is held.
func (p *Pool) membersLocked() []Member {
	sorryActive := p.sorry != nil && !p.quorumUp
	ms := make([]Member, 0, len(p.backends)+1)
	for _, b := range p.backends {
		m := Member{Name: b.cfg.Name, Addr: b.cfg.Addr, Weight: b.cfg.Weight,
			Forwarding: b.cfg.Forwarding, Healthy: b.healthy}
		switch {
		case b.healthy && !sorryActive:
		case b.cfg.InhibitOnFailure:
			// keepalived turns the removal of an inhibiting real server
			// (failed, or displaced by the sorry server) into weight 0.
			m.Weight = 0
		default:
			continue
		}
		ms = append(ms, m)
	}
	if p.sorry != nil && (sorryActive || p.sorry.InhibitOnFailure) {
		m := Member{Name: p.sorry.Name, Addr: p.sorry.Addr, Weight: p.sorry.Weight,
			Forwarding: p.sorry.Forwarding, Healthy: true, Sorry: true}
		if !sorryActive {
			m.Weight = 0
		}
		ms = append(ms, m)
	}
	return ms
}

// Run checks the backends until ctx is done and returns when all its
// goroutines have ended. Memberships still queued for OnChange then are
// dropped. A Pool runs once.
func (p *Pool) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrPoolRunning
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *poolCheck)
	results := make(chan probeResult, p.workers)
	var workers, all sync.WaitGroup
	for range p.workers {
		workers.Go(func() {
			for c := range jobs {
				results <- probeResult{c: c, err: p.probe(ctx, c)}
			}
		})
	}
	all.Go(func() {
		workers.Wait()
		close(results)
	})
	if p.cfg.OnChange != nil {
		all.Go(func() { p.dispatch(ctx) })
	}

	p.mu.Lock()
	p.seq++
	initial := Membership{Seq: p.seq, Quorum: p.quorumUp, Weight: p.weight, Members: p.membersLocked()}
	p.mu.Unlock()
	p.enqueue(initial)
	p.log.Info("pool starting", "pool", p.cfg.Name, "backends", len(p.backends),
		"checks", len(p.checks), "quorum", initial.Quorum, "weight", initial.Weight)

	p.loop(ctx, jobs, results)

	close(jobs)
	for range results { // let the workers finish their last probes
	}
	all.Wait()
	return nil
}

type probeResult struct {
	c   *poolCheck
	err error
}

// tickGranularity is the shortest time between two wake-ups of a Pool's
// scheduler: probes falling due within it start together, at most this
// late, instead of each with a wake-up of its own.
const tickGranularity = time.Millisecond

// checkHeap orders checks by due time.
type checkHeap []*poolCheck

func (h checkHeap) Len() int           { return len(h) }
func (h checkHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h checkHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *checkHeap) Push(x any)        { *h = append(*h, x.(*poolCheck)) }
func (h *checkHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return c
}

// loop is the owner goroutine: it keeps the schedule, hands due probes to
// the workers and applies their results. It returns when ctx is done.
func (p *Pool) loop(ctx context.Context, jobs chan<- *poolCheck, results <-chan probeResult) {
	now := p.clock.Now()
	h := make(checkHeap, 0, len(p.checks))
	n := len(p.checks)
	for i, c := range p.checks {
		c.due = now
		if !p.cfg.NoSpread && n > 1 {
			c.due = now.Add(time.Duration(int64(c.check.Interval) * int64(i) / int64(n)))
		}
		h = append(h, c)
	}
	heap.Init(&h)

	timer, tick := p.clock.NewTimer(0)
	defer timer.Stop()
	var armed time.Time // when the timer fires; zero: stopped
	var fired time.Time // when it last fired
	arm := func(now time.Time) {
		if len(h) == 0 {
			if !armed.IsZero() {
				timer.Stop()
				armed = time.Time{}
			}
			return
		}
		at := h[0].due
		if next := fired.Add(tickGranularity); at.Before(next) {
			at = next // batch the probes due within one granule
		}
		if !at.Equal(armed) {
			timer.Reset(max(at.Sub(now), 0))
			armed = at
		}
	}
	armed = now // the timer was created firing at once

	var ready []*poolCheck // due, waiting for a worker
	var events []Event
	for {
		var send chan<- *poolCheck
		var next *poolCheck
		if len(ready) > 0 {
			send, next = jobs, ready[0]
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
			armed = time.Time{}
			now := p.clock.Now()
			fired = now
			for len(h) > 0 && !h[0].due.After(now) {
				ready = append(ready, heap.Pop(&h).(*poolCheck))
			}
			arm(now)
		case send <- next:
			ready[0] = nil
			ready = ready[1:]
			lag := p.clock.Now().Sub(next.due)
			p.mu.Lock()
			p.maxLag = max(p.maxLag, lag)
			p.sumLag += max(lag, 0)
			p.lagCount++
			p.mu.Unlock()
		case r := <-results:
			now := p.clock.Now()
			p.mu.Lock()
			events = p.applyLocked(r, now, events)
			// Apply whatever else has completed before publishing, so
			// that a burst of changes makes one Membership.
			for more := len(results); more > 0; more-- {
				events = p.applyLocked(<-results, now, events)
			}
			var m Membership
			if len(events) > 0 {
				p.seq++
				m = Membership{Seq: p.seq, Quorum: p.quorumUp, Weight: p.weight,
					Members: p.membersLocked(), Events: events}
			}
			p.mu.Unlock()
			for _, c := range p.reschedule {
				heap.Push(&h, c)
			}
			p.reschedule = p.reschedule[:0]
			arm(now)
			if len(events) > 0 {
				p.logEvents(events)
				p.enqueue(m)
				events = nil
			}
		}
	}
}

// applyLocked applies one probe's result with keepalived's rules and
// appends the resulting events; p.mu is held. The check goes to
// p.reschedule for its next probe: one interval after its previous due
// time, so that the spread holds, or at once if that is past.
func (p *Pool) applyLocked(r probeResult, now time.Time, events []Event) []Event {
	c, b := r.c, r.c.b
	ok := r.err == nil
	p.probes++
	c.probes++
	if !ok {
		c.failures++
	}
	c.lastErr, c.lastProbe = r.err, now
	c.due = c.due.Add(c.check.Interval)
	if c.due.Before(now) {
		c.due = now
	}
	p.reschedule = append(p.reschedule, c)

	if ok == c.up {
		c.streak = 0
		return events
	}
	c.streak++
	need := c.check.Fall
	if ok {
		need = c.check.Rise
	}
	if c.streak < need {
		return events
	}
	c.up, c.streak = ok, 0
	if ok {
		b.failed--
	} else {
		b.failed++
	}
	// A backend is alive while none of its checks is down (keepalived's
	// num_failed_checkers == 0).
	if healthy := b.failed == 0; healthy != b.healthy {
		b.healthy = healthy
		ev := Event{Kind: BackendUp, Backend: b.cfg.Name, Check: c.check.Name, At: now}
		if healthy {
			p.weight += b.cfg.Weight
		} else {
			ev.Kind, ev.Err = BackendDown, r.err
			p.weight -= b.cfg.Weight
		}
		ev.Weight = p.weight
		events = append(events, ev)
		events = p.quorumLocked(now, events)
	}
	return events
}

// quorumLocked is keepalived's update_quorum_state: the quorum is gained
// when the live weight reaches quorum + hysteresis, and lost when it is 0
// or below quorum - hysteresis.
func (p *Pool) quorumLocked(now time.Time, events []Event) []Event {
	q, hy := p.quorum, p.cfg.Hysteresis
	switch {
	case !p.quorumUp && p.weight >= q+hy:
		p.quorumUp = true
		return append(events, Event{Kind: QuorumUp, Weight: p.weight, At: now})
	case p.quorumUp && (p.weight == 0 || p.weight < q-hy):
		p.quorumUp = false
		return append(events, Event{Kind: QuorumDown, Weight: p.weight, At: now})
	}
	return events
}

func (p *Pool) logEvents(events []Event) {
	for _, e := range events {
		switch e.Kind {
		case BackendUp:
			p.log.Info(fmt.Sprintf("Adding backend %s to pool %s", e.Backend, p.cfg.Name),
				"pool", p.cfg.Name, "backend", e.Backend, "weight", e.Weight)
		case BackendDown:
			p.log.Warn(fmt.Sprintf("Removing backend %s from pool %s", e.Backend, p.cfg.Name),
				"pool", p.cfg.Name, "backend", e.Backend, "check", e.Check, "err", e.Err, "weight", e.Weight)
		case QuorumUp:
			p.log.Info(fmt.Sprintf("Gained quorum %d+%d <= %d for pool %s", p.quorum, p.cfg.Hysteresis, e.Weight, p.cfg.Name),
				"pool", p.cfg.Name, "weight", e.Weight)
		case QuorumDown:
			p.log.Warn(fmt.Sprintf("Lost quorum %d-%d > %d for pool %s", p.quorum, p.cfg.Hysteresis, e.Weight, p.cfg.Name),
				"pool", p.cfg.Name, "weight", e.Weight)
		}
	}
}

// probe runs c once within its Timeout, turning a panic into an error.
func (p *Pool) probe(ctx context.Context, c *poolCheck) (err error) {
	ctx, cancel := context.WithTimeout(ctx, c.check.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pool: check %s panicked: %v", c.check.Name, r)
		}
	}()
	err = c.check.Checker.Check(ctx)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("pool: check %s: %w", c.check.Name, ctx.Err())
	}
	return err
}

// enqueue hands m to the dispatcher, merging it into a Membership not yet
// delivered.
func (p *Pool) enqueue(m Membership) {
	if p.cfg.OnChange == nil {
		return
	}
	p.dmu.Lock()
	if old := p.dpending; old != nil {
		m.Events = slices.Concat(old.Events, m.Events)
	}
	p.dpending = &m
	p.dmu.Unlock()
	select {
	case p.dsignal <- struct{}{}:
	default:
	}
}

// dispatch delivers memberships to OnChange, in order and outside any
// lock, until ctx is done.
func (p *Pool) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.dsignal:
		}
		for {
			p.dmu.Lock()
			m := p.dpending
			p.dpending = nil
			p.dmu.Unlock()
			if m == nil || ctx.Err() != nil {
				break
			}
			err := p.cfg.OnChange(ctx, *m)
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			p.log.Error("pool membership not applied; retrying", "pool", p.cfg.Name,
				"seq", m.Seq, "retry", p.retryDelay, "err", err)
			// Put it back in front of anything newer and wait.
			p.dmu.Lock()
			if newer := p.dpending; newer != nil {
				newer.Events = slices.Concat(m.Events, newer.Events)
			} else {
				p.dpending = m
			}
			p.dmu.Unlock()
			t, c := p.clock.NewTimer(p.retryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-c:
			}
		}
	}
}

// Protocol is the transport protocol of a Service (keepalived's protocol).
type Protocol uint8

// Protocols, by IP protocol number. The zero value means TCP.
const (
	ProtocolTCP  Protocol = 6
	ProtocolUDP  Protocol = 17
	ProtocolSCTP Protocol = 132
)

// String returns TCP, UDP or SCTP.
func (p Protocol) String() string {
	switch p {
	case 0, ProtocolTCP:
		return "TCP"
	case ProtocolUDP:
		return "UDP"
	case ProtocolSCTP:
		return "SCTP"
	}
	return fmt.Sprintf("Protocol(%d)", uint8(p))
}

// DefaultScheduler is the scheduler of a Service that names none, as
// ipvsadm's default.
const DefaultScheduler = "wlc"

// Service is a load balancer's virtual service: keepalived's
// virtual_server address and port (or firewall mark), protocol, lb_algo
// (lvs_sched), lb_kind (lvs_method) and persistence.
type Service struct {
	// Addr is the virtual address and port; it must be the zero value for
	// a firewall-mark service. Port 0 is IPVS's catch-all port, which it
	// allows on persistent services.
	Addr netip.AddrPort
	// FWMark, when not 0, makes this a firewall-mark service (keepalived's
	// virtual_server fwmark N): it takes the packets that carry the mark
	// (set by netfilter, such as iptables -j MARK), whatever their address,
	// port and protocol, and is identified by the mark alone.
	FWMark uint32
	// IPv6 makes a firewall-mark service take IPv6 packets instead of IPv4
	// ones (keepalived's family inet6); an address service takes its
	// address's family and must leave it false.
	IPv6 bool
	// Protocol is TCP (the zero value), UDP or SCTP; a firewall-mark
	// service ignores it.
	Protocol Protocol
	// Scheduler is the IPVS scheduler (rr, wrr, lc, wlc, sh, mh, ...); ""
	// means DefaultScheduler.
	Scheduler string
	// Forwarding is the default forwarding method of its destinations;
	// the zero value means NAT.
	Forwarding Forwarding
	// Persistence, when not 0, makes the service persistent (keepalived's
	// persistence_timeout): a client keeps going to the same destination
	// until Persistence has passed since its last connection. IPVS counts
	// it in whole seconds, from 1 s to MaxPersistence.
	Persistence time.Duration
	// PersistenceMask groups clients for persistence (keepalived's
	// persistence_granularity): the clients whose addresses are equal
	// under the mask share their destination. It is a netmask of the
	// service's family (IPVS takes any IPv4 mask, and a prefix length for
	// IPv6, so an IPv6 mask must be contiguous); the zero value means the
	// whole address, and it must be the zero value without Persistence.
	PersistenceMask netip.Addr
	// PersistenceEngine names an IPVS persistence engine (keepalived's
	// persistence_engine; the kernel has "sip"), which keys persistence on
	// data of the packets instead of the client's address. "" means none.
	PersistenceEngine string
}

// MaxPersistence is the longest Service.Persistence: IPVS's timeout is a
// 32-bit number of seconds.
const MaxPersistence = math.MaxUint32 * time.Second

// maxPersistenceEngine is the longest persistence engine name (IPVS's
// IP_VS_PENAME_MAXLEN, less its terminating NUL).
const maxPersistenceEngine = 15

// ErrService is wrapped by the errors of Service.Validate.
var ErrService = errors.New("pool: invalid service")

// Validate reports whether s is a service a balancer can hold: an address
// or a firewall mark (not both), and persistence settings that fit IPVS.
func (s Service) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrService, s, fmt.Sprintf(format, args...))
	}
	switch {
	case s.FWMark != 0 && s.Addr.IsValid():
		return bad("a firewall-mark service has no address (got %s)", s.Addr)
	case s.FWMark == 0 && !s.Addr.IsValid():
		return bad("an address or a firewall mark is required")
	case s.FWMark == 0 && s.IPv6:
		return bad("IPv6 is for firewall-mark services; an address service takes its address's family")
	}
	switch {
	case s.Persistence < 0 || s.Persistence > MaxPersistence:
		return bad("persistence %v is outside [0, %v]", s.Persistence, MaxPersistence)
	case s.Persistence > 0 && s.Persistence < time.Second:
		return bad("persistence %v is under IPVS's 1 s", s.Persistence)
	case s.Persistence == 0 && s.PersistenceMask.IsValid():
		return bad("a persistence mask without persistence")
	case s.Persistence == 0 && s.PersistenceEngine != "":
		return bad("a persistence engine without persistence")
	case len(s.PersistenceEngine) > maxPersistenceEngine:
		return bad("persistence engine name %q is longer than %d bytes", s.PersistenceEngine, maxPersistenceEngine)
	}
	if m := s.PersistenceMask; m.IsValid() {
		if m.Zone() != "" || m.Is4In6() || m.Is6() != s.isIPv6() {
			return bad("persistence mask %s is not of the service's family", m)
		}
		if m.Is6() {
			if _, ok := MaskBits(m); !ok {
				return bad("IPv6 persistence mask %s is not contiguous (IPVS takes a prefix length)", m)
			}
		}
	}
	return nil
}

// isIPv6 reports whether s takes IPv6 packets.
func (s Service) isIPv6() bool {
	if s.FWMark != 0 {
		return s.IPv6
	}
	return s.Addr.Addr().Is6() && !s.Addr.Addr().Is4In6()
}

// MaskBits returns the prefix length of netmask m, and false if m is not
// contiguous (ones, then zeros).
func MaskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n := 0
	for n < len(b)*8 && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	for i := n; i < len(b)*8; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return 0, false
		}
	}
	return n, true
}

func (s Service) withDefaults() Service {
	if s.Protocol == 0 {
		s.Protocol = ProtocolTCP
	}
	if s.Scheduler == "" {
		s.Scheduler = DefaultScheduler
	}
	if s.Forwarding == ForwardDefault {
		s.Forwarding = ForwardNAT
	}
	return s
}

// String identifies the service as ipvsadm lists it: "TCP 192.0.2.1:80",
// "FWM 5" or "FWM 5 IPv6". Persistence and the scheduler are not part of
// it.
func (s Service) String() string {
	if s.FWMark != 0 {
		if s.IPv6 {
			return fmt.Sprintf("FWM %d IPv6", s.FWMark)
		}
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return s.Protocol.String() + " " + s.Addr.String()
}

// Destination is a real server as a load balancer holds it.
type Destination struct {
	// Addr is the real server's address and port.
	Addr netip.AddrPort
	// Weight is its weight; 0 keeps it without new connections.
	Weight int
	// Forwarding is its forwarding method, never ForwardDefault when
	// BalancerSync passes it.
	Forwarding Forwarding
}

// Balancer is a load balancer that BalancerSync programs: IPVS in
// examples/lvs, a fake in tests. Services and destinations come with their
// defaults filled in. Every method must be safe to call again after a
// failure: EnsureService creates the service or brings an existing one to
// s, and the others report success when there is nothing to do.
type Balancer interface {
	// EnsureService creates the service s, or updates it to s.
	EnsureService(ctx context.Context, s Service) error
	// RemoveService deletes s with its destinations.
	RemoveService(ctx context.Context, s Service) error
	// Destinations lists the destinations of s.
	Destinations(ctx context.Context, s Service) ([]Destination, error)
	// AddDestination adds d to s.
	AddDestination(ctx context.Context, s Service, d Destination) error
	// UpdateDestination changes the weight and forwarding of d in s.
	UpdateDestination(ctx context.Context, s Service, d Destination) error
	// RemoveDestination removes d from s.
	RemoveDestination(ctx context.Context, s Service, d Destination) error
}

// ErrBalancer is wrapped by the errors of BalancerSync.
var ErrBalancer = errors.New("pool: balancer")

// BalancerSync keeps a Balancer's service in step with a Pool: use its
// Apply as the Pool's OnChange. It holds no state of its own, so it
// reconciles whatever the balancer holds (left over from an earlier run,
// or half applied before an error) with the membership.
type BalancerSync struct {
	// Balancer is programmed.
	Balancer Balancer
	// Service is the virtual service the pool's members are given to.
	Service Service
	// Logger receives a line per change; nil discards.
	Logger *slog.Logger
}

// Apply makes the service hold exactly m.Members: it ensures the service,
// reads its destinations, adds and updates what differs and then removes
// what is left over (adding first, so that the sorry server is in before
// the real servers go, and the other way round). It keeps going after an
// error and returns them all.
func (s *BalancerSync) Apply(ctx context.Context, m Membership) error {
	if s.Balancer == nil {
		return fmt.Errorf("%w: BalancerSync.Balancer is nil", ErrBalancer)
	}
	svc := s.Service.withDefaults()
	if err := svc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBalancer, err)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := s.Balancer.EnsureService(ctx, svc); err != nil {
		return fmt.Errorf("%w: ensuring service %s: %w", ErrBalancer, svc, err)
	}
	current, err := s.Balancer.Destinations(ctx, svc)
	if err != nil {
		return fmt.Errorf("%w: listing destinations of %s: %w", ErrBalancer, svc, err)
	}
	have := make(map[netip.AddrPort]Destination, len(current))
	for _, d := range current {
		have[d.Addr] = d
	}
	want := make(map[netip.AddrPort]bool, len(m.Members))
	var errs []error
	for _, mem := range m.Members {
		d := Destination{Addr: mem.Addr, Weight: mem.Weight, Forwarding: mem.Forwarding}
		if d.Forwarding == ForwardDefault {
			d.Forwarding = svc.Forwarding
		}
		want[d.Addr] = true
		old, ok := have[d.Addr]
		switch {
		case !ok:
			if err := s.Balancer.AddDestination(ctx, svc, d); err != nil {
				errs = append(errs, fmt.Errorf("%w: adding %s (%s) to %s: %w", ErrBalancer, mem.Name, d.Addr, svc, err))
				continue
			}
			log.Info("destination added", "service", svc.String(), "backend", mem.Name, "weight", d.Weight, "forwarding", d.Forwarding.String())
		case old != d:
			if err := s.Balancer.UpdateDestination(ctx, svc, d); err != nil {
				errs = append(errs, fmt.Errorf("%w: updating %s (%s) in %s: %w", ErrBalancer, mem.Name, d.Addr, svc, err))
				continue
			}
			log.Info("destination updated", "service", svc.String(), "backend", mem.Name, "weight", d.Weight, "forwarding", d.Forwarding.String())
		}
	}
	for _, d := range current {
		if want[d.Addr] {
			continue
		}
		if err := s.Balancer.RemoveDestination(ctx, svc, d); err != nil {
			errs = append(errs, fmt.Errorf("%w: removing %s from %s: %w", ErrBalancer, d.Addr, svc, err))
			continue
		}
		log.Info("destination removed", "service", svc.String(), "addr", d.Addr.String())
	}
	return errors.Join(errs...)
}

// Remove deletes the service and its destinations, as keepalived does when
// it stops. Call it after the Pool's Run has returned.
func (s *BalancerSync) Remove(ctx context.Context) error {
	if s.Balancer == nil {
		return fmt.Errorf("%w: BalancerSync.Balancer is nil", ErrBalancer)
	}
	svc := s.Service.withDefaults()
	if err := svc.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBalancer, err)
	}
	if err := s.Balancer.RemoveService(ctx, svc); err != nil {
		return fmt.Errorf("%w: removing service %s: %w", ErrBalancer, svc, err)
	}
	return nil
}
