// Package clock holds a Scaled clock for examples: it runs faster than real
// time, so that a demonstration of one-second adverts takes moments. Tests
// use testing/synctest with vrrp.SystemClock instead.
package clock

import (
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Scaled is a vrrp.Clock whose time runs Factor times faster than real time
// from Epoch. Its timers fire on the real clock after d/Factor; the value
// they send is the scaled time at firing.
type Scaled struct {
	epoch  time.Time
	start  time.Time
	factor float64
}

// NewScaled returns a clock that reads epoch now and then runs factor times
// faster than real time.
func NewScaled(epoch time.Time, factor float64) *Scaled {
	return &Scaled{epoch: epoch, start: time.Now(), factor: factor}
}

// Now returns the scaled time.
func (c *Scaled) Now() time.Time {
	return c.epoch.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}

// NewTimer returns a timer firing after d of scaled time.
func (c *Scaled) NewTimer(d time.Duration) (vrrp.Timer, <-chan time.Time) {
	ch := make(chan time.Time, 1)
	t := &scaledTimer{c: c, ch: ch}
	t.t = time.AfterFunc(c.real(d), t.fire)
	return t, ch
}

func (c *Scaled) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.factor)
}

type scaledTimer struct {
	c  *Scaled
	t  *time.Timer
	ch chan time.Time
	mu sync.Mutex
}

func (t *scaledTimer) fire() {
	now := t.c.Now()
	select {
	case t.ch <- now:
	default:
	}
}

// Stop stops the timer and drains an unread tick, as *time.Timer does
// since Go 1.23.
func (t *scaledTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	stopped := t.t.Stop()
	select {
	case <-t.ch:
	default:
	}
	return stopped
}

// Reset restarts the timer to fire after d of scaled time.
func (t *scaledTimer) Reset(d time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	active := t.t.Stop()
	select {
	case <-t.ch:
	default:
	}
	t.t.Reset(t.c.real(d))
	return active
}
