// Package health holds the health checks that move a virtual router's
// effective priority, as keepalived's vrrp_script, track_process,
// track_interface and track_file do, and health-checked server pools.
//
// A Checker is one probe; users write their own in Go with CheckerFunc. A
// Monitor runs a Check on a clock with keepalived's interval, timeout, rise
// and fall, and reports when its state changes. A Tracker connects monitors
// to a vrrp.Router: each tracked check moves the priority by its weight, or
// puts the instance in FAULT when its weight is 0.
package health

import "context"

// Checker is a health check. Check returns nil when the checked thing is
// healthy, or an error saying why not. It must return when ctx is done.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to a Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }
