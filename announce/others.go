//go:build !linux

package announce

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Linux sends gratuitous ARP and unsolicited neighbour advertisements on
// Linux interfaces. On other systems it is not supported: New fails with
// an error wrapping errors.ErrUnsupported.
type Linux struct{}

var _ vrrpio.Announcer = (*Linux)(nil)

// New fails on this system with an error wrapping errors.ErrUnsupported.
func New(opts Options) (*Linux, error) {
	return nil, fmt.Errorf("announce: %w on this system", errors.ErrUnsupported)
}

// Close does nothing.
func (l *Linux) Close() error { return nil }

// Announce fails with an error wrapping errors.ErrUnsupported.
func (l *Linux) Announce(ctx context.Context, iface string, addrs []netip.Addr) error {
	return fmt.Errorf("announce: on %s: %w on this system", iface, errors.ErrUnsupported)
}
