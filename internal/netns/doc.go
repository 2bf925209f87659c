// Package netns is the network test lab of vrrpkit: every test that needs
// real sockets, real addresses or a real keepalived builds its network here,
// inside Linux network namespaces that the test creates and deletes itself.
//
// New builds, for one test, a "switch" namespace holding a bridge br0 and n
// host namespaces, each with a veth interface eth0 whose peer is a port of
// br0. Host i (1-based) has 198.18.0.i/24 and fd00::i/64 on eth0, a fixed
// MAC address 02:76:6b:00:00:i, and IPv6 duplicate address detection turned
// off so that its addresses are usable at once. The switch namespace has
// IPv6 disabled and multicast snooping off on br0, so it floods VRRP and NDP
// multicast to every port and sends nothing of its own.
//
//	lab := netns.New(t, 3)
//	h1, h2 := lab.Host(1), lab.Host(2)
//	capture := h2.Capture(t, "eth0")
//	h1.Run(t, "ping", "-c", "1", "-W", "1", "198.18.0.2")
//	lab.SetCable(h1, false) // pull h1's cable: its eth0 loses carrier
//	lab.Isolate(h2, true)   // silent partition: carrier stays, frames go nowhere
//
// Traffic never leaves the lab: the namespaces are new, the veths are
// created directly inside them, and only 198.18.0.0/15, fd00::/8 and
// link-local addresses are used. Namespace names carry the creating
// process's pid ("vrrpkit-<pid>-<lab>-sw", "vrrpkit-<pid>-<lab>-h<i>"), so
// parallel tests and concurrent test binaries never clash, and New deletes
// the leftovers of crashed runs: namespaces of that form whose pid is no
// longer alive, after killing any process still inside them.
//
// Host.Do runs Go code inside a host's namespace (on a locked OS thread of
// its own), Host.Command and Host.Run run programs there through
// "ip netns exec", Host.Capture records every Ethernet frame of an interface
// with an AF_PACKET socket, and Frame.VRRP, Frame.ARP and Frame.NA decode
// the frames that VRRP tests assert on. StartKeepalived runs keepalived as a
// peer in a host.
//
// The lab needs root and the ip command (iproute2); keepalived tests also
// need keepalived, and tests that ping need ping (iputils-ping). Without
// them the tests skip through internal/testenv, which CI turns into
// failures with VRRPKIT_REQUIRE_ALL=1.
package netns
