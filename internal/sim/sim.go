package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
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
	// Received is the number of copies of adverts handed to a Node.
	Received int
	// Dropped is the number of copies dropped before reaching a Node:
	// undecodable, bad checksum or unknown VRID.
	Dropped int
	// Transitions is the number of state changes.
	Transitions int
	// Faults is the number of faults injected.
	Faults int
	// Binds is the number of binds asked for; BindFailures of them failed.
	Binds, BindFailures int
	// MasterCalls is the number of OnMaster calls started.
	MasterCalls int
}

// maxViolations is how many violations a Result keeps.
const maxViolations = 20

// The interfaces of every router: VRRP runs on eth0; eth1 is only tracked.
const (
	iface        = "eth0"
	trackedIface = "eth1"
)

// bindTimeoutFloor and bindRetryMax are vrrp's: a new Master's bind not
// confirmed within max(advert interval, bindTimeoutFloor) fails; after a
// failed bind, an instance stays in FAULT at most bindRetryMax, and does
// not preempt a live Master for at most twice that.
const (
	bindTimeoutFloor = time.Second
	bindRetryMax     = time.Minute
)

// errBind is the error of a simulated bind that fails.
var errBind = errors.New("sim: bind fails")

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
	down    runState = iota // not started yet, or crashed: no Node
	running                 // started
	stopped                 // stopped gracefully: no Node, its calls of the binder finish
)

type router struct {
	idx    int
	name   string
	addr   netip.Addr
	host   *fake.Host
	binder *vipfake.Binder
	clock
	state runState
	node  *vrrp.Node // nil unless running
	// inc counts the router's Nodes: an event of an earlier Node (a timer,
	// the return of an OnMaster call) is void. life counts its processes
	// killed: a crash voids the binder calls under way, a graceful stop
	// lets them finish.
	inc, life uint64
	vrs       []vr
	byID      []int // Node ID -> VRID index

	// The scenario as the simulator feeds it.
	grouped, weights bool    // GroupVRIDs form a sync group, with TrackingWeight
	checks           []bool  // per Track: down
	eth0Up, eth0Addr bool    // eth0 has carrier, and its address
	eth1Up           bool    // the tracked interface is up
	bindFail         float64 // probability that a bind fails
	bindSlow         float64 // probability that a bind answers slowly or late

	// The pending timer event: armed, at global time at, valid while its
	// generation is gen. spins counts ticks at one time, to catch a Node
	// whose Next never moves.
	armed     bool
	at        int64
	gen       uint64
	spins     int
	splitFrom int64 // since when the sync group has a Master and a Backup member; -1 if not
	splitSaid bool
}

// vr is one virtual router of a router: its configuration, its Node ID
// and what the simulator knows of it from what it fed and was told.
type vr struct {
	cfg vrrp.InstanceConfig
	id  int // Node ID

	state    vrrp.State // by the transitions the Node reported
	override uint8      // SetPriority
	adjust   int        // AdjustPriority of source "adjust"
	admin    bool       // SetFault of source "admin"
	views    []view     // per Track: what the instance was told

	// Binds, as the simulator fed them.
	bound  bool           // the VIPs of a takeover were confirmed bound
	held   []netip.Prefix // those VIPs
	pend   uint64         // the Seq of the bind in flight that counts, 0 if none
	bindAt time.Time      // local time the takeover's bind was asked; zero once confirmed or released
	floor  time.Duration  // its timeout
	addAt  time.Time      // local time addresses added by a reload were asked bound; zero if none
	late   bool           // a violation of the bind timeout was reported in this term
	ops    []op           // binder calls queued, the first under way

	// The OnMaster call.
	calling, stopAsked bool
	callGen            uint64
}

// view is what one instance was told of one tracked source.
type view struct {
	reported, down bool
}

// op is a binder call of an instance, run in order with the instance's
// others, as the Router does.
type op struct {
	bind   bool
	vips   []vrrp.VIP
	routes []vrrp.Route
	rules  []vrrp.Rule
	seq    uint64
	inc    uint64 // the Node that asked
	id     int
	fail   bool
	dur    int64
	at     int64 // when it was asked
}

// broken are deliberate bugs of the driver, for the tests that prove the
// invariants can fire.
type broken uint8

const (
	brokenPriority broken = 1 << iota // SetPriority feeds the Node one more than the model holds
	brokenBinds                       // a bind is reported done without binding
	brokenRoutes                      // an unbind leaves the routes and rules
	brokenCalls                       // MasterReturned is fed when the call is asked to stop, not when it returns
	brokenGroups                      // the Node is given no sync groups
)

type sim struct {
	cfg     Config
	rng     *rand.Rand
	seg     *fake.Segment
	group   netip.Addr
	ipv6    bool
	routers []*router
	vrids   map[netip.Prefix]int // VIP -> VRID index
	vipSets [][]netip.Addr       // per VRID: the VIPs the last reload gave it
	maxInt  time.Duration
	broken  broken

	q   queue
	seq uint64
	now int64 // global time, nanoseconds since the start

	faultEnd, checkFrom, end int64
	faultGap                 int64   // the largest time between faults, beyond minFaultGap
	corrupt                  float64 // probability of corrupting a packet
	dirty                    bool    // a state or binder changed
	checking                 bool    // the settled checks run
	troubleUntil             int64   // bind failures may keep instances in FAULT until then

	rx vrrp.Advertisement

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
		vrids:     map[netip.Prefix]int{},
		vipSets:   slices.Clone(cfg.VIPs),
	}
	if s.ipv6 {
		s.group = vrrp.Group6
	}
	for v, id := range cfg.IDs {
		for _, a := range cfg.VIPs[v] {
			s.vrids[hostPrefix(a)] = v
		}
		for i := range maxVIPs {
			s.vrids[hostPrefix(vipAddr(cfg.Family, id, i+1))] = v
		}
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
			vrs:       make([]vr, cfg.VRIDs),
			grouped:   cfg.Grouped[i] && len(cfg.GroupVRIDs) > 0,
			weights:   cfg.TrackingWeight[i],
			checks:    make([]bool, len(cfg.Tracks[i])),
			eth0Up:    true,
			eth0Addr:  true,
			eth1Up:    true,
			splitFrom: -1,
		}
		r.host = s.seg.NewHost(r.name, r.addr)
		for v := range r.vrs {
			r.vrs[v].cfg = s.instanceConfig(r, v)
			s.maxInt = max(s.maxInt, cfg.Intervals[i][v])
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

// maxVIPs is how many VIPs a reload may give a VRID.
const maxVIPs = 3

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// instanceConfig returns the configuration of router r's VRID index v as
// the scenario gives it, validated and with vrrp's defaults applied, as
// vrrp.Node.Add takes it.
func (s *sim) instanceConfig(r *router, v int) vrrp.InstanceConfig {
	c := &s.cfg
	ic := vrrp.InstanceConfig{
		Name:              fmt.Sprintf("vr%d", c.IDs[v]),
		Interface:         iface,
		VRID:              c.IDs[v],
		Version:           c.Version,
		Priority:          c.Priorities[r.idx][v],
		AdvertInterval:    c.Intervals[r.idx][v],
		VIPs:              vipsOf(c.VIPs[v]),
		VirtualRoutes:     []vrrp.Route{simRoute(v)},
		VirtualRules:      []vrrp.Rule{simRule(v)},
		NoLowerPrioAdvert: c.NoLowerPrioAdvert,

		GARPMasterRepeat:        vrrp.DefaultGARPMasterRepeat,
		GARPMasterDelay:         vrrp.DefaultGARPMasterDelay,
		GARPMasterRefreshRepeat: 1,
	}
	for _, t := range c.Tracks[r.idx] {
		if t.Link && slices.Contains(t.VRIDs, v) {
			ic.TrackInterfaces = append(ic.TrackInterfaces, vrrp.TrackInterface{Name: trackedIface, Weight: t.Weight})
		}
	}
	return ic
}

// simRoute and simRule are the virtual route and rule of VRID index v:
// they follow its Master as its VIPs do.
func simRoute(v int) vrrp.Route {
	return vrrp.Route{Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(100 + v%100), 0}), 24), Dev: iface}
}

func simRule(v int) vrrp.Rule {
	return vrrp.Rule{FWMark: uint32(v + 1), Table: 100 + v, Priority: 1000 + v}
}

func vipsOf(addrs []netip.Addr) []vrrp.VIP {
	vips := make([]vrrp.VIP, len(addrs))
	for i, a := range addrs {
		vips[i] = vrrp.VIP{Prefix: hostPrefix(a)}
	}
	return vips
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
	if c.AwaitChecks > 0 {
		fmt.Fprintf(&s.log, "  instances await their checks for %v\n", c.AwaitChecks)
	}
	if c.BindFaults {
		fmt.Fprintf(&s.log, "  bind faults\n")
	}
	for _, r := range s.routers {
		fmt.Fprintf(&s.log, "  %s %v drift %+.4f%%", r.name, r.addr, c.Drifts[r.idx]*100)
		if len(c.GroupVRIDs) > 0 {
			fmt.Fprintf(&s.log, " sync group %v tracking weight %v", r.grouped, r.weights)
		}
		for i, t := range c.Tracks[r.idx] {
			fmt.Fprintf(&s.log, " %s weight %d vrids %v;", trackName(t, i), t.Weight, s.idsOf(t.VRIDs))
		}
		s.log.WriteByte('\n')
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
		grouped := ""
		if slices.Contains(c.GroupVRIDs, v) {
			grouped = " (group)"
		}
		fmt.Fprintf(&s.log, "  vrid %d%s vips %v priority%s interval%s\n", id, grouped, c.VIPs[v], prios.String(), interval)
	}
}

func (s *sim) idsOf(vs []int) []uint8 {
	ids := make([]uint8, len(vs))
	for i, v := range vs {
		ids[i] = s.cfg.IDs[v]
	}
	return ids
}

// trackName names track i: the interface, or the check chk<i>.
func trackName(t Track, i int) string {
	if t.Link {
		return trackedIface
	}
	return fmt.Sprintf("chk%d", i)
}

func (s *sim) run() {
	for len(s.q) > 0 && s.q[0].at <= s.end {
		ev := s.q.pop()
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
			if from := s.troubleUntil + int64(s.cfg.settle()); from > s.now {
				// A bind failed late in the fault phase: its instance
				// may stay in FAULT for bindRetryMax.
				s.logf("checks wait for the bind faults until %v", time.Duration(from))
				s.end += from - s.now
				s.push(event{at: from, kind: evCheck})
				break
			}
			if s.busyBinder() {
				// A slow binder call of the fault phase still runs: the
				// VIPs are where they settle once it ends.
				s.end += int64(100 * time.Millisecond)
				s.push(event{at: s.now + int64(100*time.Millisecond), kind: evCheck})
				break
			}
			s.logf("checks begin")
			s.checking = true
			s.dirty = true
		case evOp:
			s.opDone(ev)
		case evReturn:
			s.callReturned(ev)
		case evReport:
			s.firstReport(ev)
		}
		s.checkStep()
		if s.dirty && s.checking {
			s.checkSettled()
		}
		s.dirty = false
	}
	s.now = s.end
	s.summary()
}

// busyBinder reports whether a binder call is under way on a running
// router.
func (s *sim) busyBinder() bool {
	for _, r := range s.routers {
		for v := range r.vrs {
			if r.state != down && len(r.vrs[v].ops) > 0 {
				return true
			}
		}
	}
	return false
}

// summary ends the transcript with each VRID's Masters.
func (s *sim) summary() {
	for v, id := range s.cfg.IDs {
		var masters []string
		for _, r := range s.routers {
			if r.node != nil && r.vrs[v].state == vrrp.Master {
				masters = append(masters, fmt.Sprintf("%s (prio %d)", r.name, s.effective(r, v)))
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

// members returns the VRID indexes of r's sync group, nil if it has none.
func (s *sim) members(r *router) []int {
	if !r.grouped {
		return nil
	}
	return s.cfg.GroupVRIDs
}

// together returns v and, if v is one of GroupVRIDs, the others: the
// instances a change of priority applies to (see Config.GroupVRIDs).
func (s *sim) together(v int) []int {
	if slices.Contains(s.cfg.GroupVRIDs, v) {
		return s.cfg.GroupVRIDs
	}
	return []int{v}
}

// syncGroups returns the sync groups of r as the Node takes them.
func (s *sim) syncGroups(r *router) []vrrp.SyncGroup {
	if !r.grouped || s.broken&brokenGroups != 0 {
		return nil
	}
	g := vrrp.SyncGroup{Name: "g", TrackingWeight: r.weights}
	for _, v := range s.cfg.GroupVRIDs {
		g.Members = append(g.Members, r.vrs[v].cfg.Name)
	}
	return []vrrp.SyncGroup{g}
}

// effective returns the effective priority of router r's VRID index v as
// the simulator computes it from what it fed the Node: the configured
// priority or SetPriority's, plus AdjustPriority's delta and the deltas of
// the tracks while weights apply (not weight 0, not a member of a sync
// group without TrackingWeight: those fault instead), clamped to 1-254;
// an owner keeps 255.
func (s *sim) effective(r *router, v int) uint8 {
	vr := &r.vrs[v]
	if vr.cfg.Priority == 255 {
		return 255
	}
	p := int(vr.cfg.Priority)
	if vr.override != 0 {
		p = int(vr.override)
	}
	p += vr.adjust
	weights := !r.grouped || r.weights || !slices.Contains(s.cfg.GroupVRIDs, v)
	for i, t := range s.cfg.Tracks[r.idx] {
		if w := vr.views[i]; w.reported && weights && t.Weight != 0 && slices.Contains(t.VRIDs, v) {
			p += trackDelta(t.Weight, w.down)
		}
	}
	return uint8(min(max(p, 1), 254))
}

// trackDelta is the priority change of a track of weight w: a positive
// weight while up, a negative one while down.
func trackDelta(w int, down bool) int {
	if (w > 0) != down {
		return w
	}
	return 0
}
