package vrrp

import (
	"fmt"

	"github.com/vrrpkit/vrrpkit/announce"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vip"
)

// The real host: a Config without a Transport gets the Linux I/O, and the
// Router makes the Binder and Announcer it leaves out for each Run.

// hostDefaults fills in the parts of cfg, a Config for the real host, that
// need no resources: the transport, the link monitor and the clock.
func hostDefaults(cfg *Config) {
	cfg.Transport = transport.Linux{Logger: cfg.Logger}
	if cfg.Links == nil {
		cfg.Links = transport.Monitor{Logger: cfg.Logger}
	}
	if cfg.Clock == nil {
		cfg.Clock = PreciseClock{}
	}
}

// startIO sets the Binder and Announcer of a Run: the Config's, or on the
// real host, those it leaves out, made now; stop releases what it made.
func (r *Router) startIO() (stop func(), err error) {
	r.binder, r.announcer = r.cfg.Binder, r.cfg.Announcer
	var closers []func() error
	stop = func() {
		for _, c := range closers {
			if err := c(); err != nil {
				r.log.Warn("releasing the host's I/O", "err", err)
			}
		}
	}
	if !r.host {
		return stop, nil
	}
	if r.binder == nil {
		lease := r.cfg.VIPLease
		switch {
		case lease == 0:
			lease = DefaultVIPLease
		case lease < 0:
			lease = 0
		}
		b, err := vip.New(vip.Options{Lease: lease, Logger: r.log})
		if err != nil {
			return nil, fmt.Errorf("vrrp: the host's address binder (needs CAP_NET_ADMIN): %w", err)
		}
		r.binder = b
		closers = append(closers, b.Close)
	}
	if r.announcer == nil {
		a, err := announce.New(announce.Options{Logger: r.log})
		if err != nil {
			stop()
			return nil, fmt.Errorf("vrrp: the host's announcer (needs CAP_NET_RAW): %w", err)
		}
		r.announcer = a
		closers = append(closers, a.Close)
	}
	return stop, nil
}
