// Package vip holds the binders that add and remove a virtual router's
// addresses through the vrrp.Binder interface.
//
// Netlink (Linux) works through rtnetlink in one network namespace. It
// implements vrrp.Binder, vrrp.LeaseBinder, vrrp.VMACBinder,
// vrrp.RouteBinder and vrrp.FilterBinder:
//
//   - Bind adds each VIP idempotently (RTM_NEWADDR with NLM_F_REPLACE) with
//     its prefix length, IPv4 label (which must start with the device
//     name, as ip(8) and keepalived require) and scope; IPv6 addresses get
//     IFA_F_NODAD, so they are usable at once. Unbind removes them, and a
//     missing address is no error.
//   - With Options.Lease, addresses get valid_lft = preferred_lft = Lease:
//     the kernel removes them by itself unless Bind is called again in
//     time, so the addresses of a process that dies without a word do not
//     outlive it for long. The Router refreshes them every third of the
//     lease while Master.
//   - AddVMAC creates a macvlan in bridge mode with the VRRP virtual
//     router MAC (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for
//     IPv6) and IPv6 address generation mode random, so that routers
//     sharing the MAC get different link-local addresses, and sets the
//     sysctls keepalived sets: on the VMAC arp_ignore=1, accept_local=1,
//     rp_filter=0 and promote_secondaries=1; on its parent arp_ignore=1
//     and arp_filter=1, restored when the last VMAC made on that parent
//     by the same Netlink is removed.
//   - Filter drops the packets addressed to VIPs, and sent from them, but
//     IPv6 neighbour discovery: RFC 5798's Accept_Mode False for a Master
//     that does not own them (vrrp.InstanceConfig.NoAccept), as keepalived
//     does it with nftables. The rules live in a table of the Netlink's
//     own (inet vrrpkit, Options.FilterTable), in chains "in" and "out" at
//     priority filter - 1, and the addresses in the sets vips4 and vips6;
//     Filter and Unfilter add and remove set elements. The first call
//     replaces a table of that name, with what a killed process left in
//     it; Close deletes it, whoever made it.
//   - BindRoutes adds routes (RTM_NEWROUTE, replacing one of the same
//     destination, table and metric) and policy routing rules (an
//     identical one is kept), with protocol 18, "keepalived" in iproute2's
//     rt_protos, unless they name one, as keepalived marks them; l3mdev
//     rules are built by hand, since the netlink library has no
//     FRA_L3MDEV. UnbindRoutes removes rules, then routes; a missing one
//     is no error. A route the same as one another owner added is taken
//     over, and removed with it.
//
// Each call is one or a few netlink requests; nothing runs in the
// background. The kernel remains the only record of what is bound.
//
// Subpackage fake records Bind and Unbind calls, routes, rules and
// filtered addresses in memory for tests.
package vip
