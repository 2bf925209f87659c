//go:build linux

package vrrp_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vrrpkit/vrrpkit/announce"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// A Router on a real host with its I/O made explicitly, as a Config with
// no Transport gets it (see examples/embed for that form): raw sockets,
// VIPs through netlink with a lease (so that the addresses of a killed
// process expire by themselves), gratuitous ARP and neighbour
// advertisements, interface state for FAULT, and the microsecond timer.
// Needs root (CAP_NET_ADMIN and CAP_NET_RAW); not run as a test.
func ExampleNewRouter_linux() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	binder, err := vip.New(vip.Options{Lease: 30 * time.Second, Logger: log})
	if err != nil {
		log.Error("netlink", "err", err)
		return
	}
	defer binder.Close()
	announcer, err := announce.New(announce.Options{Logger: log})
	if err != nil {
		log.Error("announcer", "err", err)
		return
	}
	defer announcer.Close()
	r, err := vrrp.NewRouter(vrrp.Config{
		Clock:     vrrp.PreciseClock{},
		Transport: transport.Linux{Logger: log},
		Links:     transport.Monitor{Logger: log},
		Binder:    binder,
		Announcer: announcer,
		Logger:    log,
		Instances: []vrrp.InstanceConfig{{
			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 150,
			AdvertInterval: 100 * time.Millisecond,
			VIPs:           []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
		}},
		OnTransition: func(t vrrp.Transition) {
			log.Info("transition", "instance", t.Instance, "from", t.From, "to", t.To, "reason", t.Reason)
		},
	})
	if err != nil {
		log.Error("configuration", "err", err)
		return
	}
	// SIGTERM stops it gracefully: a priority 0 advert hands over at once.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := r.Run(ctx); err != nil {
		log.Error("run", "err", err)
	}
}
