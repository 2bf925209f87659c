package fake

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Announcement is one recorded call to Announce.
type Announcement struct {
	// Time is the Announcer's clock reading at the call.
	Time time.Time
	// Iface is the interface argument.
	Iface string
	// Addrs is a copy of the addresses argument.
	Addrs []netip.Addr
	// Err is the error the call returned.
	Err error
}

// Announcer is an in-memory vrrp.Announcer that records each Announce call.
// The zero value is ready to use with the system clock. An Announcer is safe
// for concurrent use and must not be copied after first use.
type Announcer struct {
	clock vrrp.Clock // nil = vrrp.SystemClock{}

	mu   sync.Mutex
	anns []Announcement
	err  error
}

var _ vrrp.Announcer = (*Announcer)(nil)

// NewAnnouncer returns an Announcer that stamps announcements with clock;
// nil means vrrp.SystemClock{}.
func NewAnnouncer(clock vrrp.Clock) *Announcer {
	return &Announcer{clock: clock}
}

// Announce records the call. It fails, though still recording the call,
// with an error wrapping the error given to SetError, or ctx.Err() when ctx
// is done.
func (a *Announcer) Announce(ctx context.Context, iface string, addrs []netip.Addr) error {
	clock := a.clock
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	now := clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	err := ctx.Err()
	if err == nil {
		err = a.err
	}
	if err != nil {
		err = fmt.Errorf("fake: announce on %s: %w", iface, err)
	}
	a.anns = append(a.anns, Announcement{Time: now, Iface: iface, Addrs: slices.Clone(addrs), Err: err})
	return err
}

// SetError makes every later Announce fail with an error wrapping err,
// until SetError(nil).
func (a *Announcer) SetError(err error) {
	a.mu.Lock()
	a.err = err
	a.mu.Unlock()
}

// Announcements returns the recorded calls, oldest first.
func (a *Announcer) Announcements() []Announcement {
	a.mu.Lock()
	defer a.mu.Unlock()
	anns := slices.Clone(a.anns)
	for i := range anns {
		anns[i].Addrs = slices.Clone(anns[i].Addrs)
	}
	return anns
}

// Len returns the number of recorded calls.
func (a *Announcer) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.anns)
}

// Reset forgets the recorded calls.
func (a *Announcer) Reset() {
	a.mu.Lock()
	a.anns = nil
	a.mu.Unlock()
}
