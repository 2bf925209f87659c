// Package vrrp implements the Virtual Router Redundancy Protocol, versions 2
// (RFC 3768) and 3 (RFC 5798, with the RFC 9568 changes), for IPv4 and IPv6.
//
// It has three layers, usable on their own:
//
//   - Advertisement encodes and decodes VRRP messages. Append and Unmarshal
//     allocate nothing given a buffer and a reused value. VerifyChecksum
//     accepts the three VRRPv3 checksum forms found in the field (the
//     pseudo-header with the real destination, with the multicast group,
//     and the message alone) and says which one matched.
//   - Machine is the state machine of one virtual router as a plain value:
//     every input (Start, Stop, Receive, Tick, SetPriority, SetFault) takes
//     the current time and returns Effects, the actions to carry out. It
//     reads no clock, starts no goroutine and does no I/O, so the same code
//     runs in a deterministic simulation and on a wire.
//   - Node is the pure core of a host's virtual routers, one level above
//     Machine (as etcd-io/raft's RawNode): it owns their Machines and every
//     rule that spans instances or outlives one advert: the one effective
//     priority (configured, SetPriority, tracked sources), faults and
//     their causes, sync groups, tracked interfaces, reload, the
//     announcement, lease and bind schedules, bind results, OnMaster calls
//     one at a time. Like Machine it takes the time with every input and
//     returns Effects; Next says when to Tick.
//   - Router drives a Node on one owner goroutine and does the I/O: time
//     comes from a Clock, packets from a Transport; addresses go through a
//     Binder and announcements through an Announcer, on goroutines beside
//     the owner loop whose results come back to the Node as inputs. State
//     changes reach the application through OnTransition and OnMaster
//     callbacks, which never run under a lock.
//
// A new Master sends its advert first, then binds its addresses; its
// announcements and its OnMaster call wait for the bind. A bind that fails,
// or brings no result within an advert interval (at least a second), puts
// the instance in FAULT with the cause (source "bind"): it sends priority
// 0, so that a Backup takes over at once, and contends again after a
// backoff. A node that cannot hold its addresses never stays Master.
//
// What a Master holds besides its addresses, and how it answers other
// routers, follows keepalived 2.2.7, checked against it on the wire and in
// the kernel:
//
//   - VirtualRoutes and VirtualRules are bound with the addresses and
//     released with them (a RouteBinder); a virtual route's device is
//     tracked like the instance's interface unless NoTrack. Config.Static
//     holds addresses, routes and rules while Run runs.
//   - NoAccept (RFC 5798's Accept_Mode False, keepalived's no_accept)
//     makes a Master that does not own its addresses drop the packets
//     addressed to them (a FilterBinder: nftables on a real host).
//   - AuthAH runs keepalived's IPsec Authentication Header (HMAC-MD5-96
//     keyed with AuthPass, with sequence numbers and a replay check).
//   - A Master that hears a lower priority answers with an advert (unless
//     NoLowerPrioAdvert) and GARPLowerPrioRepeat rounds of announcements,
//     again after GARPLowerPrioDelay, and calls OnLowerPriority; with
//     HigherPrioSendAdvert, one that hears a higher priority sends a last
//     advert before it steps down.
//   - A VRRPv2 instance may have no addresses at all (RFC 3768 sets no
//     minimum): its Master binds nothing, for services that move an
//     address themselves from OnMaster.
//
// A Backup needs an advert at once only when its priority is 0 (it takes
// over after Skew_Time); any other advert only moves its deadline, to the
// advert's arrival plus Master_Down_Interval. So while every virtual
// router on a socket is a Backup, a Router whose Conn is a DeferredReader
// (as the Linux transport's and the fake's are) lets the Conn hold those
// adverts back and reads them, dated by their arrival, just before it acts
// on a timer: a Backup wakes once per Master_Down_Interval rather than
// once per advert, with the same deadlines. Config.EagerReads turns this
// off.
//
// Timers follow RFC 5798 section 6.1 in nanoseconds: Skew_Time is
// ((256-Priority) * Master_Adver_Interval) / 256 (RFC 3768: (256-Priority)/256
// seconds), and Master_Down_Interval is 3 * Master_Adver_Interval +
// Skew_Time.
package vrrp
