// Package vrrpkit is an embeddable VRRP library for Go: VRRPv2 (RFC 3768)
// and VRRPv3 (RFC 5798) failover of virtual IP addresses, meant to be
// imported by a Go service in place of running keepalived beside it.
//
// This package holds documentation only. The library is split into
// packages that compose independently:
//
//   - [github.com/vrrpkit/vrrpkit/vrrp]: the protocol. Advertisement is the
//     packet codec (checksums in every form peers use), Machine the RFC 5798
//     state machine as a pure value (time is an argument, effects are a
//     returned value), Node the pure core of a host's virtual routers
//     (priorities, faults, sync groups, reload, schedules, bind results),
//     and Router the one place with goroutines: it drives a Node with a
//     Transport, a Clock, a Binder and an Announcer, and calls OnTransition
//     and OnMaster in place of keepalived's notify scripts.
//   - transport: VRRP sockets. [github.com/vrrpkit/vrrpkit/transport/fake]
//     is an in-memory segment with loss, delay, reordering, duplication,
//     partitions and mutation hooks, for tests of your own code.
//   - vip: adding and removing the virtual addresses;
//     [github.com/vrrpkit/vrrpkit/vip/fake] records them in memory.
//   - announce: gratuitous ARP and unsolicited neighbour advertisements;
//     [github.com/vrrpkit/vrrpkit/announce/fake] records them.
//   - [github.com/vrrpkit/vrrpkit/health]: health checks that move the
//     effective priority.
//   - [github.com/vrrpkit/vrrpkit/vrrp/metrics]: a Prometheus collector of a
//     Router's Status; [github.com/vrrpkit/vrrpkit/vrrp/vrrptest]: clusters
//     of Routers on the in-memory segment, for tests.
//   - examples: runnable programs. examples/embed is the smallest real
//     program (one address that follows mastership); examples/simulate
//     runs three routers in one process and tells what happens; examples/vrrpd is the reference
//     daemon that runs an existing keepalived.conf (its kaconf package
//     reads the file); examples/lvs programs IPVS for health-checked
//     server pools (keepalived's virtual_server); examples/vrrpdump decodes
//     VRRP from a pcap file or a live interface.
//
// A service embeds a Router; with no Transport it runs on the real host
// (raw sockets, netlink addresses with a lease, gratuitous ARP, the link
// monitor, microsecond timers; Linux, CAP_NET_RAW and CAP_NET_ADMIN), and
// examples/embed is the whole program:
//
//	r, err := vrrp.NewRouter(vrrp.Config{
//		Instances: []vrrp.InstanceConfig{{
//			Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 150,
//			VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
//		}},
//		OnMaster: func(ctx context.Context, name string) {
//			// serve on the VIP until ctx is done
//		},
//	})
//	if err != nil {
//		return err
//	}
//	return r.Run(ctx) // stops gracefully (priority 0) when ctx ends
//
// Tests pass the fakes (transport/fake, vip/fake, announce/fake) or build
// a cluster with vrrp/vrrptest.
package vrrpkit
