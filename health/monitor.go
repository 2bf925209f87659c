package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ErrCheck is wrapped by configuration errors of a Check.
var ErrCheck = errors.New("health: invalid check")

// Defaults of a Check, as keepalived's vrrp_script.
const (
	DefaultInterval = time.Second
	DefaultRise     = 1
	DefaultFall     = 1
)

// Check is a Checker with keepalived's schedule.
type Check struct {
	// Name identifies the check in logs and in Track.
	Name string
	// Checker is the probe.
	Checker Checker
	// Interval is the time between the starts of two probes; 0 means 1 s.
	Interval time.Duration
	// Timeout bounds one probe; 0 means Interval. A probe past it has
	// failed (a script is killed with its process group).
	Timeout time.Duration
	// Rise is how many successes in a row bring a failed check up; 0
	// means 1.
	Rise int
	// Fall is how many failures in a row bring a healthy check down; 0
	// means 1.
	Fall int
	// InitFail starts the check as failed (keepalived's init_fail): it is
	// reported failed at once and needs Rise successes to come up.
	// Otherwise the first probe's result decides the state, and until it
	// is known Monitor.Up reports healthy (Monitor.Run reports nothing).
	InitFail bool
}

// WithDefaults returns c with its zero Interval, Timeout, Rise and Fall
// set to their defaults, as a Monitor runs it.
func (c Check) WithDefaults() Check { return c.withDefaults() }

func (c Check) withDefaults() Check {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = c.Interval
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	return c
}

// Validate reports what is wrong with c.
func (c Check) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %q: %s", ErrCheck, c.Name, fmt.Sprintf(format, args...)))
	}
	if c.Name == "" {
		bad("Name is required")
	}
	if c.Checker == nil {
		bad("Checker is required")
	}
	if c.Interval < 0 || c.Timeout < 0 {
		bad("Interval and Timeout must not be negative")
	}
	if c.Rise < 0 || c.Fall < 0 {
		bad("Rise and Fall must not be negative")
	}
	return errors.Join(errs...)
}

// Monitor runs one Check on a clock: a probe every Interval, each bounded
// by Timeout, and the state changes after Rise successes or Fall failures
// in a row.
//
// The first probe's result decides the state at once, whatever Rise and
// Fall, as keepalived 2.2.7 applies a vrrp_script's first result at
// start-up (vrrp_init_script and vrrp_script_child_thread in
// keepalived/vrrp/vrrp_scheduler.c); Rise and Fall count from there. With
// InitFail the check starts failed instead, as keepalived's init_fail:
// reported failed at once, it needs Rise successes to come up.
//
// Each probe runs in a goroutine of its own. A probe still running at its
// Timeout has failed, whatever its Checker does then: its result, when it
// comes, is ignored. While it still runs no other probe of the check
// starts (a Checker is never called concurrently with itself), and each
// Interval that passes while it is past its Timeout counts as one more
// failure, so that a check stuck for good goes on failing, and reaches
// Fall, on its schedule. The next probe starts when the stuck one
// returns.
type Monitor struct {
	check Check
	clock vrrp.Clock
	log   *slog.Logger

	mu      sync.Mutex
	up      bool
	lastErr error
}

// NewMonitor returns a Monitor of c on clock (nil means vrrp.SystemClock)
// that logs to log (nil discards). It validates c.
func NewMonitor(c Check, clock vrrp.Clock, log *slog.Logger) (*Monitor, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c = c.withDefaults()
	return &Monitor{check: c, clock: clock, log: log, up: !c.InitFail}, nil
}

// Name returns the check's name.
func (m *Monitor) Name() string { return m.check.Name }

// Up reports the current state and the last probe's error. Before the
// first result it reports healthy, or failed with InitFail.
func (m *Monitor) Up() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up, m.lastErr
}

// monitorResult is what one probe found.
type monitorResult struct {
	seq int
	err error
}

// Run probes until ctx is done, and then returns at once. It calls report,
// from Run's goroutine, with the first result as soon as it is known (with
// InitFail: with the failed state at once) and then with every change.
//
// The first probe starts at once, the next ones an Interval after the
// start of the one before, or when the one before returns if it ran
// longer. A probe still running when Run returns is left to end by
// itself: its context is cancelled, and a Checker that ignores it keeps
// its goroutine until it returns.
func (m *Monitor) Run(ctx context.Context, report func(up bool)) error {
	c := m.check
	up, _ := m.Up()
	known := c.InitFail // the state is known: no first result to wait for
	if known {
		report(up)
	}
	streak := 0 // results in a row that disagree with the state
	result := func(err error) {
		ok := err == nil
		m.mu.Lock()
		m.lastErr = err
		m.mu.Unlock()
		switch {
		case !known:
			known = true
		case ok == up:
			streak = 0
			return
		default:
			streak++
			need := c.Fall
			if ok {
				need = c.Rise
			}
			if streak < need {
				return
			}
		}
		up, streak = ok, 0
		m.mu.Lock()
		m.up = up
		m.mu.Unlock()
		if up {
			m.log.Info(fmt.Sprintf("Check %s succeeded", c.Name), "check", c.Name)
		} else {
			m.log.Warn(fmt.Sprintf("Check %s failed", c.Name), "check", c.Name, "err", err)
		}
		report(up)
	}

	var (
		results  = make(chan monitorResult, 1) // one probe at a time: never blocks
		seq      int                           // the current probe's
		running  bool                          // the current probe has not returned
		timedOut bool                          // and it is past its Timeout
		overdue  bool                          // an Interval ended while it ran
		ticks    int                           // Intervals ended since it started
		cancel   context.CancelFunc
		tt       vrrp.Timer       // the current probe's Timeout
		timeout  <-chan time.Time // its channel, nil when none is pending
	)
	t, tick := m.clock.NewTimer(0)
	defer t.Stop()
	defer func() {
		if tt != nil {
			tt.Stop()
		}
		if cancel != nil {
			cancel()
		}
	}()
	start := func() {
		seq++
		running, timedOut, overdue, ticks = true, false, false, 0
		var pctx context.Context
		pctx, cancel = context.WithTimeout(ctx, c.Timeout)
		tt, timeout = m.clock.NewTimer(c.Timeout)
		t.Reset(c.Interval)
		go m.probe(pctx, seq, results)
	}
	// expire fails the running probe at its Timeout, once.
	expire := func() {
		if timedOut {
			return
		}
		tt.Stop()
		timeout, timedOut = nil, true
		// The probe's context ends by itself, with its deadline.
		result(fmt.Errorf("health: check %s: no result within %v: %w", c.Name, c.Timeout, context.DeadlineExceeded))
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			if !running {
				start()
				continue
			}
			overdue = true
			ticks++
			// An Interval that ends after the Timeout, while the probe
			// still runs, is one more failure. (Counted from the
			// schedule, not from which timer fired first, so that an
			// Interval ending with the Timeout does not count twice.)
			if since := time.Duration(ticks) * c.Interval; since > c.Timeout {
				expire()
				result(fmt.Errorf("health: check %s: a probe still running %v after its start: %w",
					c.Name, since, context.DeadlineExceeded))
			}
			t.Reset(c.Interval)
		case <-timeout:
			expire()
		case r := <-results:
			if r.seq != seq {
				continue // cannot happen: one probe at a time
			}
			running = false
			tt.Stop()
			timeout = nil
			cancel()
			switch {
			case !timedOut:
				result(r.err)
			case r.err != nil:
				// Already failed at its Timeout; its own error, when it
				// has one, says more than the Timeout's.
				m.mu.Lock()
				m.lastErr = r.err
				m.mu.Unlock()
			}
			if overdue {
				start()
			}
		}
	}
}

// probe runs the checker once and sends its result to results, turning a
// panic into an error so that a broken checker cannot take the process
// down. A success that comes after ctx ended is a failure.
func (m *Monitor) probe(ctx context.Context, seq int, results chan<- monitorResult) {
	var err error
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("health: check %s panicked: %v", m.check.Name, r)
		}
		results <- monitorResult{seq, err}
	}()
	err = m.check.Checker.Check(ctx)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("health: check %s: %w", m.check.Name, ctx.Err())
	}
}
