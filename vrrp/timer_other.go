//go:build !linux

package vrrp

import (
	"errors"
	"time"
)

// preciseTimer exists on Linux only; elsewhere the Router uses its Clock's
// timers.
type preciseTimer struct{}

func newPreciseTimer() (*preciseTimer, error) {
	return nil, errors.New("vrrp: no precise timer on this system")
}

func (t *preciseTimer) C() <-chan time.Time      { return nil }
func (t *preciseTimer) Reset(time.Duration) bool { return false }
func (t *preciseTimer) Stop() bool               { return false }
func (t *preciseTimer) Close() error             { return nil }
