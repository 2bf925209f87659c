//go:build !linux

package transport

import (
	"context"
	"fmt"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Open returns an error wrapping ErrUnsupported: raw VRRP sockets are only
// implemented for Linux.
func (l Linux) Open(ctx context.Context, ep vrrp.Endpoint) (vrrp.Conn, error) {
	return nil, fmt.Errorf("transport: open %s: %w", ep.Interface, ErrUnsupported)
}

// Watch returns an error wrapping ErrUnsupported: the link monitor is only
// implemented for Linux.
func (m Monitor) Watch(ctx context.Context, fn func(vrrp.LinkState)) error {
	return fmt.Errorf("transport: watch links: %w", ErrUnsupported)
}
