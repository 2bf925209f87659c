// Package fake is an in-memory Ethernet-like segment that carries VRRP
// messages between hosts, for unit tests and simulations of code that uses
// a vrrp.Transport.
//
// A Segment holds Hosts. Each Host has a name and addresses and implements
// vrrp.Transport: Open returns a vrrp.Conn bound to the host's address of
// the endpoint's family and joined to its multicast group. A message written
// to a multicast group reaches every other host's Conns joined to that group;
// a message written to a unicast address reaches the Conns of the host that
// has the address. A host never receives its own messages.
//
// Faults are set with SegmentConfig.Faults or Segment.SetFaults: loss,
// duplication, delay, jitter, reordering and a routed path's hop count.
// Partition, Heal and Host.SetLink cut the segment; SetMutate lets a test
// corrupt, truncate, spoof or drop packets in flight, and Inject delivers a
// crafted packet as if from the wire. Tap observes every packet written.
//
// The delivery decision is Segment.Route: it uses no goroutine and no clock,
// only the segment's seeded random source, so a discrete-event simulator can
// call it directly and schedule the returned Deliveries itself. Route
// depends on the hosts, their addresses, link states, partitions and faults,
// not on which Conns are open, so hosts need not open Conns to be routed to.
// A Conn's WriteTo calls Route and then queues each Delivery at once, or
// after its Delay on the segment's Clock from a goroutine that Segment.Close
// stops.
//
// Each queued packet carries its arrival time on the segment's Clock in
// PacketInfo.Time. A Conn is a vrrp.DeferredReader: once deferred, it
// hands only adverts of priority 0 to ReadFrom and holds every other
// packet for ReadPending, in a queue of the same length as the receive
// queue whose overflows it counts, as the Linux transport's second socket
// does.
package fake
