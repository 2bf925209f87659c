// Package health defines the health checks that move a virtual router's
// effective priority. A Checker is one probe; users write their own in Go
// with CheckerFunc.
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
