package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Result is the outcome of Run.
type Result struct {
	// Violations are the broken invariants, each prefixed with the time;
	// empty when the run is correct. Only the first few are kept.
	Violations []string
	// Transcript is the timeline of the run: the scenario, then one line
	// for each fault, transition and violation (and advert, with
	// Config.Verbose). The same Config gives the same Transcript.
	Transcript string
	// Stats count what happened.
	Stats Stats
}

// Stats are counters of a run.
type Stats struct {
	// Events is the number of events processed.
	Events int
	// Adverts is the number of adverts sent.
	Adverts int
	// Received is the number of copies of adverts handed to a Machine.
	Received int
	// Dropped is the number of copies dropped before reaching a Machine:
	// undecodable, bad checksum or unknown VRID.
	Dropped int
	// Transitions is the number of state changes.
	Transitions int
	// Faults is the number of faults injected.
	Faults int
}

// maxViolations is how many violations a Result keeps.
const maxViolations = 20

// iface is the interface name given to the Binders.
const iface = "eth0"

// epoch is global time zero; each router's clock starts at a random offset
// from it.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Run simulates cfg and returns the violations found and the transcript.
// A Config that fails validation gives a single violation saying why.
func Run(cfg Config) Result {
	s, err := newSim(cfg)
	if err != nil {
		return Result{Violations: []string{"config: " + err.Error()}}
	}
	s.run()
	return s.result()
}

// runState is whether a router's process runs.
type runState uint8

const (
	down    runState = iota // not started yet, or crashed: no Machines
	running                 // started
	stopped                 // stopped gracefully: Machines in Init
)

type router struct {
	idx    int
	name   string
	addr   netip.Addr
	host   *fake.Host
	binder *vipfake.Binder
	clock
	state runState
	vrs   []vr
}

// vr is one virtual router of a router: its Machine and timer.
type vr struct {
	cfg  vrrp.MachineConfig
	vips []vrrp.VIP
	m    *vrrp.Machine // nil while the router is down
	// The pending timer event: armed, at global time at, valid while its
	// generation is gen.
	armed bool
	at    int64
	gen   uint64
}

type sim struct {
	cfg     Config
	rng     *rand.Rand
	seg     *fake.Segment
	group   netip.Addr
	ipv6    bool
	routers []*router

	q   queue
	seq uint64
	now int64 // global time, nanoseconds since the start

	faultEnd, checkFrom, end int64
	faultGap                 int64   // the largest time between faults, beyond minFaultGap
	corrupt                  float64 // probability of corrupting a packet
	dirty                    bool    // a state or binder changed

	tx, rx vrrp.Advertisement
	buf    []byte
	ctx    context.Context

	log        strings.Builder
	violations []string
	lost       int // violations beyond maxViolations
	stats      Stats
}

func newSim(cfg Config) (*sim, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	s := &sim{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), runStream)),
		seg:       fake.NewSegment(fake.SegmentConfig{Seed: cfg.Seed}),
		group:     vrrp.Group4,
		ipv6:      cfg.Family == vrrp.IPv6,
		faultEnd:  int64(cfg.FaultPhase),
		checkFrom: int64(cfg.FaultPhase + cfg.settle()),
		end:       int64(cfg.Duration),
		buf:       make([]byte, 0, 128),
		ctx:       context.Background(),
	}
	if s.ipv6 {
		s.group = vrrp.Group6
	}
	s.seg.SetMutate(s.mutate)
	for i := range cfg.Routers {
		r := &router{
			idx:    i,
			name:   fmt.Sprintf("r%d", i+1),
			addr:   cfg.Addrs[i],
			binder: &vipfake.Binder{},
			clock: clock{
				epoch: epoch.Add(time.Duration(s.rng.Int64N(int64(24 * time.Hour)))),
				rate:  uint64(1e9 + ppb(cfg.Drifts[i])),
			},
			vrs: make([]vr, cfg.VRIDs),
		}
		r.host = s.seg.NewHost(r.name, r.addr)
		for v := range r.vrs {
			vips := make([]vrrp.VIP, len(cfg.VIPs[v]))
			for j, a := range cfg.VIPs[v] {
				vips[j] = vrrp.VIP{Prefix: netip.PrefixFrom(a, a.BitLen())}
			}
			r.vrs[v] = vr{vips: vips, cfg: vrrp.MachineConfig{
				VRID:           cfg.IDs[v],
				Version:        cfg.Version,
				Priority:       cfg.Priorities[i][v],
				AdvertInterval: cfg.Intervals[i][v],
				Addresses:      cfg.VIPs[v],
				LocalAddr:      r.addr,

				NoLowerPrioAdvert: cfg.NoLowerPrioAdvert,
			}}
		}
		s.routers = append(s.routers, r)
	}
	s.header()
	startup := int64(min(time.Second, cfg.FaultPhase))
	for i := range s.routers {
		s.push(event{at: s.rng.Int64N(startup), kind: evStart, r: i})
	}
	if !cfg.NoFaults {
		// Some runs have a fault every few seconds, some a storm of them.
		s.faultGap = int64(100*time.Millisecond) + s.rng.Int64N(int64(2900*time.Millisecond))
		s.push(event{at: startup + s.rng.Int64N(s.faultGap), kind: evFault})
	}
	s.push(event{at: s.faultEnd, kind: evHeal})
	s.push(event{at: s.checkFrom, kind: evCheck})
	return s, nil
}

func (s *sim) result() Result {
	v := s.violations
	if s.lost > 0 {
		v = append(v, fmt.Sprintf("... and %d more violations", s.lost))
	}
	return Result{Violations: v, Transcript: s.log.String(), Stats: s.stats}
}

// header writes the scenario at the top of the transcript.
func (s *sim) header() {
	c := &s.cfg
	fmt.Fprintf(&s.log, "seed %d: VRRPv%d %v, %d router(s), %d VRID(s); faults until %v, settle %v, checks from %v to %v\n",
		c.Seed, c.Version, c.Family, c.Routers, c.VRIDs, c.FaultPhase, c.settle(), time.Duration(s.checkFrom), c.Duration)
	if c.NoLowerPrioAdvert {
		fmt.Fprintf(&s.log, "  no lower priority advert\n")
	}
	for _, r := range s.routers {
		fmt.Fprintf(&s.log, "  %s %v drift %+.4f%%\n", r.name, r.addr, c.Drifts[r.idx]*100)
	}
	for v, id := range c.IDs {
		var prios, ints strings.Builder
		same := true
		for _, r := range s.routers {
			fmt.Fprintf(&prios, " %s=%d", r.name, c.Priorities[r.idx][v])
			fmt.Fprintf(&ints, " %s=%v", r.name, c.Intervals[r.idx][v])
			same = same && c.Intervals[r.idx][v] == c.Intervals[0][v]
		}
		interval := ints.String()
		if same {
			interval = " " + c.Intervals[0][v].String()
		}
		fmt.Fprintf(&s.log, "  vrid %d vips %v priority%s interval%s\n", id, c.VIPs[v], prios.String(), interval)
	}
}

func (s *sim) run() {
	for len(s.q) > 0 {
		ev := s.q.pop()
		if ev.at > s.end {
			break
		}
		s.now = ev.at
		s.stats.Events++
		switch ev.kind {
		case evStart:
			r := s.routers[ev.r]
			s.logf("%s start", r.name)
			s.start(r)
		case evDeliver:
			s.deliver(ev)
		case evTimer:
			s.timer(ev)
		case evFault:
			s.fault()
			if next := s.now + int64(minFaultGap) + s.rng.Int64N(s.faultGap); next < s.faultEnd {
				s.push(event{at: next, kind: evFault})
			}
		case evHeal:
			s.heal()
		case evCheck:
			s.logf("checks begin")
			s.dirty = true
		}
		if s.dirty && s.now >= s.checkFrom {
			s.checkSettled()
		}
		s.dirty = false
	}
	s.now = s.end
	s.summary()
}

// summary ends the transcript with each VRID's Masters.
func (s *sim) summary() {
	for v, id := range s.cfg.IDs {
		var masters []string
		for _, r := range s.routers {
			if m := r.vrs[v].m; m != nil && m.State() == vrrp.Master {
				masters = append(masters, fmt.Sprintf("%s (prio %d)", r.name, m.Priority()))
			}
		}
		s.logf("end: vrid %d master %s", id, strings.Join(masters, ", "))
	}
}

// logf adds a line stamped with the current time to the transcript.
func (s *sim) logf(format string, args ...any) {
	fmt.Fprintf(&s.log, "%3d.%03ds ", s.now/1e9, s.now%1e9/1e6)
	fmt.Fprintf(&s.log, format, args...)
	s.log.WriteByte('\n')
}

// violate records a broken invariant.
func (s *sim) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.logf("VIOLATION: %s", msg)
	if len(s.violations) == maxViolations {
		s.lost++
		return
	}
	s.violations = append(s.violations, fmt.Sprintf("%.3fs %s", float64(s.now)/1e9, msg))
}

// start starts r's Machines. A router that was down gets new Machines,
// after removing the VIPs it left bound, as the daemon does at startup; a
// router stopped gracefully starts its old ones again.
func (s *sim) start(r *router) {
	if r.state == down {
		for v := range r.vrs {
			vr := &r.vrs[v]
			s.unbind(r, vr)
			vr.m = vrrp.NewMachine(vr.cfg)
		}
	}
	r.state = running
	for v := range r.vrs {
		s.step(r, v, input{kind: inStart}, r.vrs[v].m.Start)
	}
}

// crash drops r's Machines without Stop: like a killed process, it leaves
// its VIPs bound.
func (s *sim) crash(r *router) {
	r.state = down
	for v := range r.vrs {
		vr := &r.vrs[v]
		vr.m, vr.armed = nil, false
		vr.gen++
	}
	s.dirty = true
}

// stop stops r's Machines gracefully.
func (s *sim) stop(r *router) {
	for v := range r.vrs {
		s.step(r, v, input{kind: inStop}, r.vrs[v].m.Stop)
	}
	r.state = stopped
}

// step gives one input to the Machine of r's VRID index v, fn being the
// Machine's method for it, and applies the Effects.
func (s *sim) step(r *router, v int, in input, fn func(time.Time) vrrp.Effects) {
	m := r.vrs[v].m
	in.from, in.prio, in.local = m.State(), m.Priority(), r.addr
	e := fn(r.local(s.now))
	s.apply(r, v, in, e)
}

// apply checks the Effects of an input and carries them out in the order
// the Router does: send, unbind, bind; then it rearms the timer.
func (s *sim) apply(r *router, v int, in input, e vrrp.Effects) {
	vr := &r.vrs[v]
	if msg := cause(in, e, vr.m); msg != "" {
		s.violate("%s vrid %d: %s", r.name, vr.cfg.VRID, msg)
	}
	if e.Transitioned() {
		s.stats.Transitions++
		s.dirty = true
		s.logf("%s vrid %d %v -> %v (%v) prio %d", r.name, vr.cfg.VRID, e.From, e.To, e.Reason, vr.m.Priority())
	}
	if e.Drop != vrrp.DropNone && s.cfg.Verbose {
		s.logf("%s vrid %d drops advert from %s prio %d: %v", r.name, vr.cfg.VRID, s.name(in.src), in.advPrio, e.Drop)
	}
	if e.Send {
		s.send(r, vr, e.SendPriority)
	}
	if e.Unbind {
		s.unbind(r, vr)
	}
	if e.Bind {
		if err := r.binder.Bind(s.ctx, iface, vr.vips); err != nil {
			s.violate("%s vrid %d: bind: %v", r.name, vr.cfg.VRID, err)
		}
		s.dirty = true
	}
	if e.Transitioned() || e.Bind || e.Unbind {
		s.checkBinder(r, v)
	}
	s.arm(r, v)
}

func (s *sim) unbind(r *router, vr *vr) {
	if err := r.binder.Unbind(s.ctx, iface, vr.vips); err != nil {
		s.violate("%s vrid %d: unbind: %v", r.name, vr.cfg.VRID, err)
	}
	s.dirty = true
}

// send encodes an advert of vr with priority prio and routes it on the
// segment, scheduling each copy that arrives.
func (s *sim) send(r *router, vr *vr, prio uint8) {
	vr.m.FillAdvert(&s.tx, prio)
	b, err := s.tx.Append(s.buf[:0], r.addr, s.group)
	if err != nil {
		s.violate("%s vrid %d: encoding advert: %v", r.name, vr.cfg.VRID, err)
		return
	}
	s.buf = b
	s.stats.Adverts++
	ds := s.seg.Route(r.host, vrrp.PacketInfo{Src: r.addr, Dst: s.group, TTL: 255}, b)
	var to strings.Builder
	for _, d := range ds {
		i := s.index(d.To)
		s.push(event{at: s.now + int64(d.Delay), kind: evDeliver, r: i, info: d.Info, msg: d.Msg})
		if s.cfg.Verbose {
			fmt.Fprintf(&to, " %s", s.routers[i].name)
			if d.Delay > 0 {
				fmt.Fprintf(&to, "+%v", d.Delay.Round(100*time.Microsecond))
			}
		}
	}
	if s.cfg.Verbose {
		s.logf("%s vrid %d advert prio %d to [%s]", r.name, vr.cfg.VRID, prio, strings.TrimSpace(to.String()))
	}
}

// deliver hands a copy of an advert to its router, through the codec.
func (s *sim) deliver(ev event) {
	r := s.routers[ev.r]
	if r.state == down || !r.host.LinkUp() {
		return // nobody listens, or the link went down in flight
	}
	if err := s.rx.Unmarshal(ev.msg, s.ipv6); err != nil {
		s.drop(r, "%v", err)
		return
	}
	if f := vrrp.VerifyChecksum(ev.msg, ev.info.Src, ev.info.Dst, s.group); f == vrrp.ChecksumBad {
		s.drop(r, "bad checksum, vrid %d from %s", s.rx.VRID, s.name(ev.info.Src))
		return
	}
	v := r.find(s.rx.VRID)
	if v < 0 {
		s.drop(r, "unknown vrid %d from %s", s.rx.VRID, s.name(ev.info.Src))
		return
	}
	s.stats.Received++
	m, info := r.vrs[v].m, ev.info
	s.step(r, v, input{kind: inReceive, advPrio: s.rx.Priority, src: info.Src}, func(now time.Time) vrrp.Effects {
		return m.Receive(now, &s.rx, info)
	})
}

func (s *sim) drop(r *router, format string, args ...any) {
	s.stats.Dropped++
	if s.cfg.Verbose {
		s.logf("%s drops packet: %s", r.name, fmt.Sprintf(format, args...))
	}
}

// timer handles a timer event: Tick if the Machine's deadline has come on
// the router's clock, else rearm for the later deadline.
func (s *sim) timer(ev event) {
	r := s.routers[ev.r]
	vr := &r.vrs[ev.v]
	if vr.m == nil || ev.gen != vr.gen {
		return
	}
	vr.armed = false
	if d := vr.m.Deadline(); !d.IsZero() && !r.local(s.now).Before(d) {
		s.step(r, ev.v, input{kind: inTick}, vr.m.Tick)
		return
	}
	s.arm(r, ev.v)
}

// arm makes sure a timer event is pending no later than the global time at
// which r's clock reaches the Machine's deadline. A later deadline is left
// to the pending event, which rearms when it finds the deadline moved.
func (s *sim) arm(r *router, v int) {
	vr := &r.vrs[v]
	d := vr.m.Deadline()
	if d.IsZero() {
		return
	}
	at := max(r.global(d), s.now)
	if vr.armed && vr.at <= at {
		return
	}
	vr.gen++
	vr.armed, vr.at = true, at
	s.push(event{at: at, kind: evTimer, r: r.idx, v: v, gen: vr.gen})
}

// mutate is the segment's mutation hook: while corruption is on, it flips
// one bit of a packet or truncates it.
func (s *sim) mutate(_ *fake.Host, _ *vrrp.PacketInfo, msg []byte) []byte {
	if s.corrupt == 0 || s.rng.Float64() >= s.corrupt || len(msg) == 0 {
		return msg
	}
	if s.rng.IntN(4) == 0 {
		return msg[:s.rng.IntN(len(msg))]
	}
	bit := s.rng.IntN(8 * len(msg))
	msg[bit/8] ^= 1 << (bit % 8)
	return msg
}

// index returns the index of the router on host h.
func (s *sim) index(h *fake.Host) int {
	for i, r := range s.routers {
		if r.host == h {
			return i
		}
	}
	panic("sim: delivery to an unknown host " + h.Name())
}

// name returns the name of the router with address a, or a itself.
func (s *sim) name(a netip.Addr) string {
	for _, r := range s.routers {
		if r.addr == a {
			return r.name
		}
	}
	return a.String()
}

// find returns the index of VRID id in r, or -1.
func (r *router) find(id uint8) int {
	for v := range r.vrs {
		if r.vrs[v].cfg.VRID == id {
			return v
		}
	}
	return -1
}
