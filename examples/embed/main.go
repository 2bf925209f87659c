// Command embed is the smallest real program on vrrpkit: a service that
// holds one virtual address while it is Master. vrrp.NewRouter with no
// Transport runs on the real host: raw VRRP sockets, the address added
// with a lease (it expires if the process is killed), gratuitous ARP,
// FAULT when the interface goes down, microsecond timers. It needs Linux
// and CAP_NET_RAW and CAP_NET_ADMIN (root, or a container with those
// capabilities in the network namespace it manages).
//
//	go build ./examples/embed && sudo ./embed -i eth0 -prio 150 -vip 198.18.0.100/24
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

func main() {
	iface := flag.String("i", "eth0", "the interface")
	prio := flag.Uint("prio", 100, "the priority, 1 to 254")
	vip := flag.String("vip", "198.18.0.100/24", "the virtual address")
	lease := flag.Duration("lease", 0, "the address's lifetime (0: vrrp.DefaultVIPLease; negative: none)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	prefix, err := netip.ParsePrefix(*vip)
	if err != nil || *prio > 254 {
		log.Error("bad flags", "vip", *vip, "prio", *prio, "err", err)
		os.Exit(2)
	}
	r, err := vrrp.NewRouter(vrrp.Config{
		Logger: log, VIPLease: *lease,
		Instances: []vrrp.InstanceConfig{{Name: "VI_1", Interface: *iface, VRID: 51, Priority: uint8(*prio),
			VIPs: []vrrp.VIP{{Prefix: prefix}}}},
		OnMaster: func(ctx context.Context, _ string) {
			log.Info("serving on the virtual address") // until ctx ends
			<-ctx.Done()
		},
	})
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(2)
	}
	// SIGTERM hands over at once: a priority 0 advert, the address removed.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := r.Run(ctx); err != nil {
		log.Error("run", "err", err)
		os.Exit(1)
	}
}
