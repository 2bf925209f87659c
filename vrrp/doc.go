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
//   - Router runs many Machines, of both families and any VRIDs, on one
//     owner goroutine. Time comes from a Clock, packets from a Transport;
//     addresses go through a Binder and announcements through an Announcer.
//     State changes reach the application through OnTransition and
//     OnMaster callbacks, which never run under a lock.
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
