// Package sim is a deterministic discrete-event simulator of VRRP routers,
// in the style of etcd-io/raft's tests: the protocol runs as the pure state
// machine vrrp.Machine and the network is a synchronous in-memory segment.
//
// Run simulates a Config: N routers, each with one vrrp.Machine per VRID, a
// host on one transport/fake Segment, a vip/fake Binder that the Bind and
// Unbind effects are applied to, and a clock whose rate is off by up to
// ±0.5% (Config.Drifts). Adverts go through the real codec: FillAdvert and
// Append with the pseudo-header on sending, Unmarshal and VerifyChecksum on
// receipt. The segment's Route decides each packet's fate from the seed; the
// simulator schedules each Delivery as an event after its Delay. Events are
// ordered by (time, sequence number) on one heap, so a run uses no
// goroutine, reads no clock and depends on the Config alone: the same Config
// gives a byte-identical Result.
//
// Until Config.FaultPhase ends, random faults drawn from the seed hit the
// routers: loss, duplication, delay, jitter and reordering, corrupted
// packets, partitions and heals, link down and up, crashes (Machines dropped
// without Stop, VIPs left bound) and restarts (stale VIPs removed first),
// graceful stops and starts, priority changes and faults raised and cleared.
// When the phase ends everything is healed and restarted; priorities stay
// as they are.
//
// The checks:
//
//   - always: every transition has a cause. Tick gives master-down (Backup
//     to Master); Receive gives preempted (Master to Backup) and only for an
//     advert of higher priority, or equal priority from a greater address;
//     Start gives startup or owner; Stop gives shutdown; SetFault gives
//     fault or fault-cleared; SetPriority gives none. From differs from To,
//     a Master binds its VIPs and one leaving Master unbinds them, and a
//     Master that accepts a better advert steps down. A running router has
//     a VRID's VIPs bound exactly when it is Master there.
//   - from the end of the fault phase plus a settle time until the end: for
//     each VRID exactly one Master; it has the highest effective priority
//     (of tied routers, any may be Master, as RFC 5798 allows, or with
//     Config.StrictTies the one with the greatest address); its VIPs are
//     bound on it and on no other router.
//
// Random draws a scenario from a seed. Result.Transcript is a timeline of
// the run (faults, transitions and, with Config.Verbose, every advert) that
// together with the seed replays it. The tests run many seeds:
//
//	go test ./internal/sim -sim.seeds=100000
//	go test ./internal/sim -run TestSimulation -sim.seed=42 -v
package sim
