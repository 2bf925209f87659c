package vrrp

import (
	"net/netip"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Clock is the source of time for a Router. *time.Timer satisfies Timer, so
// a real clock needs no wrapper; tests and simulations substitute a fake.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on the returned channel
	// once d has elapsed.
	NewTimer(d time.Duration) (Timer, <-chan time.Time)
}

// Timer is the part of *time.Timer that a Router uses. As with *time.Timer
// since Go 1.23, no stale time may arrive on the channel once Stop or Reset
// has returned.
type Timer interface {
	// Stop prevents the timer from firing. It reports whether it stopped
	// a pending timer.
	Stop() bool
	// Reset changes the timer to fire after d. It reports whether the timer
	// had been active.
	Reset(d time.Duration) bool
}

// SystemClock is the real clock: time.Now and time.NewTimer.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns time.NewTimer(d) and its channel.
func (SystemClock) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// PreciseClock is the SystemClock with a Router loop timer that fires to the
// microsecond on Linux (a timerfd), where Go's timers fire up to a
// millisecond late: a Backup then takes over within microseconds of its
// Master_Down_Interval. It is not the default because a timerfd runs on
// the real clock, outside the fake time of testing/synctest; use it in
// daemons, and SystemClock (or nil) in tests: Run returns an ErrConfig
// error at once when given it inside a testing/synctest bubble. Elsewhere than Linux it is
// the SystemClock.
type PreciseClock struct{}

// Now returns time.Now().
func (PreciseClock) Now() time.Time { return time.Now() }

// NewTimer returns time.NewTimer(d) and its channel; the Router's own loop
// timer is the precise one.
func (PreciseClock) NewTimer(d time.Duration) (Timer, <-chan time.Time) {
	t := time.NewTimer(d)
	return t, t.C
}

// The I/O types are defined in package vrrpio, which the packages that
// implement them import instead of this one; each has its alias here.
type (
	// Family is vrrpio.Family.
	Family = vrrpio.Family
	// Endpoint is vrrpio.Endpoint.
	Endpoint = vrrpio.Endpoint
	// Transport is vrrpio.Transport.
	Transport = vrrpio.Transport
	// PacketInfo is vrrpio.PacketInfo.
	PacketInfo = vrrpio.PacketInfo
	// Conn is vrrpio.Conn.
	Conn = vrrpio.Conn
	// VIP is vrrpio.VIP.
	VIP = vrrpio.VIP
	// Binder is vrrpio.Binder.
	Binder = vrrpio.Binder
	// Announcer is vrrpio.Announcer.
	Announcer = vrrpio.Announcer
	// LeaseBinder is vrrpio.LeaseBinder.
	LeaseBinder = vrrpio.LeaseBinder
	// VMACBinder is vrrpio.VMACBinder.
	VMACBinder = vrrpio.VMACBinder
	// Route is vrrpio.Route.
	Route = vrrpio.Route
	// Rule is vrrpio.Rule.
	Rule = vrrpio.Rule
	// RouteBinder is vrrpio.RouteBinder.
	RouteBinder = vrrpio.RouteBinder
	// FilterBinder is vrrpio.FilterBinder.
	FilterBinder = vrrpio.FilterBinder
	// LinkState is vrrpio.LinkState.
	LinkState = vrrpio.LinkState
	// LinkMonitor is vrrpio.LinkMonitor.
	LinkMonitor = vrrpio.LinkMonitor
	// Outgoing is vrrpio.Outgoing.
	Outgoing = vrrpio.Outgoing
	// Incoming is vrrpio.Incoming.
	Incoming = vrrpio.Incoming
	// BatchReader is vrrpio.BatchReader.
	BatchReader = vrrpio.BatchReader
	// BatchConn is vrrpio.BatchConn.
	BatchConn = vrrpio.BatchConn
	// DeferredReader is vrrpio.DeferredReader.
	DeferredReader = vrrpio.DeferredReader
)

// Address families.
const (
	IPv4 = vrrpio.IPv4
	IPv6 = vrrpio.IPv6
)

// Well-known multicast groups (RFC 5798 section 5.1.1.2 and 5.1.2.2).
var (
	Group4 = vrrpio.Group4
	Group6 = vrrpio.Group6
)

// FamilyOf returns the family of addr.
func FamilyOf(addr netip.Addr) Family { return vrrpio.FamilyOf(addr) }
