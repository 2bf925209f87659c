//go:build !linux

package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// ErrNoDevice is returned (wrapped) when the device an address or a VMAC
// goes on does not exist.
var ErrNoDevice = errors.New("no such device")

// ErrVMACConflict is returned (wrapped) when AddVMAC or RemoveVMAC finds,
// under the VMAC's name, an interface that is not that VMAC.
var ErrVMACConflict = errors.New("interface exists and is not the VMAC")

// ErrInvalidVIP is returned (wrapped) when a VIP cannot be bound as given.
var ErrInvalidVIP = errors.New("invalid VIP")

// Options configures a Netlink binder. See the Linux documentation.
type Options struct {
	// Namespace is the path of the network namespace to work in.
	Namespace string
	// Lease is the kernel lifetime given to bound addresses.
	Lease time.Duration
	// FilterTable names the nftables table of Filter and Unfilter.
	FilterTable string
	// Logger receives debug records of each change.
	Logger *slog.Logger
}

// DefaultFilterTable is the nftables table Filter works in unless
// Options.FilterTable names another.
const DefaultFilterTable = "vrrpkit"

// Netlink is the rtnetlink binder; it needs Linux. On other systems New
// returns an error wrapping errors.ErrUnsupported.
type Netlink struct{}

var (
	_ vrrpio.Binder       = (*Netlink)(nil)
	_ vrrpio.LeaseBinder  = (*Netlink)(nil)
	_ vrrpio.VMACBinder   = (*Netlink)(nil)
	_ vrrpio.FilterBinder = (*Netlink)(nil)
)

var errUnsupported = fmt.Errorf("vip: netlink needs Linux: %w", errors.ErrUnsupported)

// New returns an error wrapping errors.ErrUnsupported.
func New(opts Options) (*Netlink, error) { return nil, errUnsupported }

// Close does nothing.
func (n *Netlink) Close() error { return nil }

// Lease returns zero.
func (n *Netlink) Lease() time.Duration { return 0 }

// Bind returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) Bind(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return errUnsupported
}

// Unbind returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) Unbind(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return errUnsupported
}

// Filter returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) Filter(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return errUnsupported
}

// Unfilter returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) Unfilter(ctx context.Context, iface string, vips []vrrpio.VIP) error {
	return errUnsupported
}

// AddVMAC returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) AddVMAC(ctx context.Context, parent, name string, vrid uint8, family vrrpio.Family) error {
	return errUnsupported
}

// RemoveVMAC returns an error wrapping errors.ErrUnsupported.
func (n *Netlink) RemoveVMAC(ctx context.Context, name string) error {
	return errUnsupported
}

// VMACAddr returns the VRRP virtual router MAC of vrid and family:
// 00:00:5e:00:01:VRID for IPv4 and 00:00:5e:00:02:VRID for IPv6
// (RFC 5798 section 7.3).
func VMACAddr(vrid uint8, family vrrpio.Family) net.HardwareAddr {
	b := byte(1)
	if family == vrrpio.IPv6 {
		b = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, b, vrid}
}
