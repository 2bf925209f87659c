// Package sim is a deterministic discrete-event simulator of VRRP routers,
// in the style of etcd-io/raft's tests: each router runs the pure
// multi-instance core vrrp.Node and the network is a synchronous in-memory
// segment.
//
// Run simulates a Config: N routers, each a vrrp.Node with one instance
// per VRID (some of them, on some routers, in a vrrp.SyncGroup), a host on
// one transport/fake Segment, a vip/fake Binder, and a clock whose rate is
// off by up to ±0.5% (Config.Drifts). The simulator drives each Node as
// vrrp.Router does: it feeds inputs at the router's local time and carries
// out Effects in order. Adverts go through the real codec: FillAdvert and
// Append with the pseudo-header on sending, Unmarshal and VerifyChecksum on
// receipt. Binds and unbinds run in order per instance on a simulated
// binder that takes a while, sometimes fails or answers late, and reports
// each bind with BindDone. An OnMaster call starts on EffectStartMaster and
// returns a random while after its EffectStopMaster, or on its own, with
// MasterReturned. Events are ordered by (time, sequence number) on one
// heap, so a run uses no goroutine, reads no clock and depends on the
// Config alone: the same Config gives a byte-identical Result.
//
// Until Config.FaultPhase ends, random inputs and faults drawn from the seed
// hit the routers: loss, duplication, delay, jitter and reordering,
// corrupted packets, partitions and heals; eth0 down and up (LinkChanged,
// and the host's link), its address lost and back, the tracked interface
// eth1 down and up; crashes (the Node dropped, VIPs left bound, binder
// calls lost) and restarts, graceful stops and starts; SetPriority and its
// reset, AdjustPriority, tracked checks flapping (SetTrack with weights,
// 0 included; with Config.AwaitChecks, instances Await their first
// results at start, which come late or never), SetFault; reloads
// (Reconfigure of priority, advert interval and VIPs; SetGroups forming and
// dissolving the sync group or toggling TrackingWeight); binders that fail
// or answer slowly or late (Config.BindFaults). When the phase ends
// everything is healed and restarted; priorities and groups stay.
//
// The checks, on every input:
//
//   - every transition has a cause (see the cause method): master-down on
//     a Tick, preempted on a better advert, sync after another member's
//     move, startup, owner, fault and fault-cleared on the inputs that can
//     raise or clear faults or end a wait, shutdown on Stop; a Master binds
//     its VIPs and one leaving Master unbinds them; no state changes
//     without a transition; a Master that accepts a better advert steps
//     down.
//   - every advert with a priority other than 0 carries the effective
//     priority that the simulator computes from what it fed (configured or
//     SetPriority, plus AdjustPriority and the tracks' deltas under the
//     weight rule, clamped to 1-254, an owner 255); never read back from
//     the Node.
//   - no OnMaster call starts unless the instance is Master with its VIPs
//     bound (by the BindDone results fed); a running call not asked to
//     stop means Master with VIPs bound; no call starts before the
//     previous one returned.
//   - no instance stays Master more than max(advert interval, 1 s) (the
//     Node's bind timeout) with the VIPs of its takeover unbound, or with
//     VIPs a reload added unbound.
//   - a VIP bound on a router belongs to an instance that is Master and
//     has it, or whose unbind of it is queued; a Master whose bind was
//     confirmed holds it.
//   - the members of a sync group are not Master and Backup at once for
//     longer than twice the settle time (see splitBound).
//
// And from the end of the fault phase plus a settle time until the end:
// every instance runs, for each VRID exactly one Master; it has the highest
// effective priority (of tied routers, any may be Master, as RFC 5798
// allows, or with Config.StrictTies the one with the greatest address);
// its VIPs, virtual route and virtual rule are bound on it and on no other
// router. When binds failed late
// in the fault phase, the checks wait until the Node's backoff after a
// failed bind (FAULT, then no preempting) is over, and for binder calls
// still under way.
//
// Random draws a scenario from a seed. Result.Transcript is a timeline of
// the run (faults, inputs, transitions, calls and, with Config.Verbose,
// every advert) that together with the seed replays it. The tests run many
// seeds:
//
//	go test ./internal/sim -sim.seeds=100000
//	go test ./internal/sim -run TestSimulation -sim.seed=42 -v
//	go test ./internal/sim -run TestSurvey -sim.survey=10000 -v
package sim
