// Package health holds the health checks that move a virtual router's
// effective priority, as keepalived's vrrp_script, track_process,
// track_interface and track_file do.
//
// A Checker is one probe; users write their own in Go with CheckerFunc. A
// Monitor runs a Check on a clock with keepalived's interval, timeout, rise
// and fall, and reports when its state changes. A Tracker connects monitors
// to a vrrp.Router: each tracked check moves the priority by its weight, or
// puts the instance in FAULT when its weight is 0; Tracker.Reload changes
// its checks while it runs, keeping the state of those that did not
// change.
//
// The built-in checkers follow keepalived.conf(5):
//
//   - Script (vrrp_script): a program run without a shell unless asked,
//     as another user if asked, killed with its process group at the
//     timeout, refused when insecure (enable_script_security).
//   - Process (vrrp_track_process): matching processes counted in /proc
//     against a quorum, with fork and terminate delays.
//   - Interface (track_interface): link state from a netlink subscription.
//   - File (vrrp_track_file): a priority change read from a file.
//   - TCP (TCP_CHECK), HTTP (HTTP_GET, SSL_GET, with TLS verification
//     on by default) and SMTP (SMTP_CHECK: greeting, HELO, QUIT).
//
// Package health/pool runs these checkers on the real servers of
// load-balanced pools (keepalived's virtual_server).
package health

import "context"

// Checker is a health check. Check returns nil when the checked thing is
// healthy, or an error saying why not. It should return when ctx is done:
// a Monitor counts a probe still running at its Timeout as failed and, when
// it stops, leaves such a probe to return by itself.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to a Checker.
type CheckerFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }
