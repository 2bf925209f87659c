package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrTCPConnect is returned by TCP.Check, wrapping the dialer's error, when
// no TCP connection is established before the probe's context ends.
var ErrTCPConnect = errors.New("health: TCP connect failed")

// TCP is a Checker that succeeds when a TCP connection to Address is
// established, as keepalived's TCP_CHECK: it connects and closes the
// connection at once, sending nothing.
//
// keepalived's options map onto a TCP and its Check as follows:
// connect_ip and connect_port are Address; bindto and bind_port are
// Dialer.LocalAddr; connect_timeout (5 s by default in keepalived) is
// Check.Timeout; retry is Check.Fall - 1 (keepalived retries once by
// default, so Fall 2 behaves alike); delay_before_retry has no equivalent,
// as a Monitor probes at one Interval.
type TCP struct {
	// Address is the IP address and port to connect to, such as
	// "192.0.2.10:80" or "[2001:db8::10]:443". It must be a literal
	// address: a health check does not depend on name resolution.
	Address string
	// Dialer, if set, dials the connection; set its LocalAddr to choose
	// the source address (keepalived's bindto). Nil means a zero
	// net.Dialer. The probe's context bounds the connection attempt
	// whatever Dialer.Timeout says.
	Dialer *net.Dialer
}

// Validate reports what is wrong with t's configuration, as an error
// wrapping ErrCheck.
func (t TCP) Validate() error {
	_, err := t.addrPort()
	return err
}

func (t TCP) addrPort() (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(t.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: TCP Address %q is not a literal IP address and port: %w", ErrCheck, t.Address, err)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: TCP Address %q has port 0", ErrCheck, t.Address)
	}
	return ap, nil
}

// Check connects to Address within ctx and closes the connection. It
// returns an error wrapping ErrCheck for a bad Address, and one wrapping
// ErrTCPConnect and the dialer's error when the connection fails.
func (t TCP) Check(ctx context.Context) error {
	ap, err := t.addrPort()
	if err != nil {
		return err
	}
	d := t.Dialer
	if d == nil {
		d = &net.Dialer{KeepAlive: -1} // the connection closes at once: no keep-alive probes to set up
	}
	c, err := d.DialContext(ctx, "tcp", ap.String())
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrTCPConnect, ap, err)
	}
	c.Close() // the connection was established: that is all TCP_CHECK asks
	return nil
}
