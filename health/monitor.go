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
	// InitFail starts the check as failed (keepalived's init_fail);
	// otherwise it starts healthy.
	InitFail bool
}

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

// Up reports the current state and the last probe's error.
func (m *Monitor) Up() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up, m.lastErr
}

// Run probes until ctx is done. It calls report with the initial state at
// once and then with every change, from Run's goroutine. Probes run one at
// a time: a probe that outlives the interval delays the next one.
func (m *Monitor) Run(ctx context.Context, report func(up bool)) error {
	c := m.check
	up, _ := m.Up()
	report(up)
	streak := 0 // probes in a row that disagree with the state
	t, tick := m.clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		start := m.clock.Now()
		err := m.probe(ctx)
		if ctx.Err() != nil {
			return nil
		}
		ok := err == nil
		m.mu.Lock()
		m.lastErr = err
		m.mu.Unlock()
		if ok == up {
			streak = 0
		} else {
			streak++
			need := c.Fall
			if ok {
				need = c.Rise
			}
			if streak >= need {
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
		}
		next := c.Interval - m.clock.Now().Sub(start)
		t.Reset(max(next, 0))
	}
}

// probe runs the checker once within Timeout, turning a panic into an
// error so that a broken checker cannot take the process down.
func (m *Monitor) probe(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, m.check.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("health: check %s panicked: %v", m.check.Name, r)
		}
	}()
	err = m.check.Checker.Check(ctx)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("health: check %s: %w", m.check.Name, ctx.Err())
	}
	return err
}
