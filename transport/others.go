//go:build !linux

package transport

import (
	"context"
	"fmt"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Open returns an error wrapping ErrUnsupported: raw VRRP sockets are only
// implemented for Linux.
func (l Linux) Open(ctx context.Context, ep vrrpio.Endpoint) (vrrpio.Conn, error) {
	return nil, fmt.Errorf("transport: open %s: %w", ep.Interface, ErrUnsupported)
}

// Watch returns an error wrapping ErrUnsupported: the link monitor is only
// implemented for Linux.
func (m Monitor) Watch(ctx context.Context, fn func(vrrpio.LinkState)) error {
	return fmt.Errorf("transport: watch links: %w", ErrUnsupported)
}
