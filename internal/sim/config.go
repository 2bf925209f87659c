package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Defaults applied by Run to the zero fields of a Config.
const (
	DefaultRouters    = 3
	DefaultVRIDs      = 1
	DefaultVersion    = 3
	DefaultFaultPhase = 20 * time.Second
	DefaultInterval   = time.Second
	// MaxDrift is the largest clock rate error Random draws: ±0.5%.
	MaxDrift = 0.005
)

// Bounds of the network faults drawn during the fault phase. The worst delay
// of a copy is 2*(maxDelay+maxJitter)+1ms, reordered: well below the
// shortest advert interval, 100 ms.
const (
	maxLoss      = 0.5
	maxDuplicate = 0.2
	maxReorder   = 0.3
	maxCorrupt   = 0.1
	maxDelay     = 4 * time.Millisecond
	maxJitter    = 5 * time.Millisecond
	worstDelay   = 2*(maxDelay+maxJitter) + time.Millisecond
	minFaultGap  = 10 * time.Millisecond
)

// Random streams: the scenario and the run draw from different PCG streams
// of the same seed.
const (
	scenarioStream = 0x5ce7a410
	runStream      = 0x2a9d7c31
)

// Config describes a simulated scenario. The zero value of every field
// means its default; the slices, when set, have one entry per router or
// per VRID, and a zero entry means its default too.
type Config struct {
	// Seed seeds the run: start times, faults and the segment's decisions.
	Seed int64
	// Routers is the number of routers, named r1, r2, ...; default the
	// length of the per-router slices, or 3.
	Routers int
	// VRIDs is the number of virtual routers each router runs; default the
	// length of IDs or VIPs, or 1.
	VRIDs int
	// Version is 2 (RFC 3768, IPv4 only) or 3 (RFC 5798); default 3.
	Version uint8
	// Family is vrrp.IPv4 (default) or vrrp.IPv6.
	Family vrrp.Family
	// FaultPhase is how long random faults are injected; default 20 s.
	// Routers start at random times in its first second.
	FaultPhase time.Duration
	// Duration is the simulated time. The settled checks run from
	// FaultPhase plus the settle time (the largest Master_Down_Interval
	// plus the largest advert interval, stretched by the slowest clock,
	// plus the largest packet delay; the transcript's first line shows it)
	// until Duration. Default: max(settle time, 5 s) of checks.
	Duration time.Duration
	// NoFaults runs the fault phase without faults.
	NoFaults bool
	// NoLowerPrioAdvert keeps a Master from answering a lower priority
	// advert with one of its own (vrrp.MachineConfig.NoLowerPrioAdvert), so
	// that two Masters resolve only through their periodic adverts.
	NoLowerPrioAdvert bool
	// StrictTies demands that of the routers tied at the highest priority
	// the one with the greatest address is Master. RFC 5798 does not
	// promise it: a Backup accepts a Master of equal priority whatever
	// their addresses (section 6.4.2 (445)-(460)), so the address decides
	// only between two Masters that hear each other (section 6.4.3 (725)),
	// which the cause check verifies. By default any of the tied routers
	// may be Master.
	StrictTies bool
	// Verbose adds every advert sent and every advert dropped to the
	// transcript.
	Verbose bool

	// IDs are the VRIDs; default 1, 2, ...
	IDs []uint8
	// Addrs are the routers' primary addresses, which adverts come from;
	// default 198.18.0.1, 198.18.0.2, ... or fe80::1, fe80::2, ...
	Addrs []netip.Addr
	// VIPs are the virtual addresses of each VRID; default 198.19.<vrid>.1
	// or fd00::<vrid>:1.
	VIPs [][]netip.Addr
	// Priorities[r][v] is router r's configured priority for VRID v: 1 to
	// 254, or 255 for the address owner; default 100 + 10*r.
	Priorities [][]uint8
	// Intervals[r][v] is router r's advert interval for VRID v: whole
	// seconds for VRRPv2, a multiple of 10 ms for VRRPv3; default 1 s.
	Intervals [][]time.Duration
	// Drifts[r] is the rate error of router r's clock: its local time runs
	// at (1+Drifts[r]) times global time. Its magnitude must be below 5%.
	Drifts []float64

	// GroupVRIDs are the VRIDs (indexes into IDs) that a router may put in
	// one vrrp.SyncGroup, named "g"; empty means no sync group. Every
	// change of priority the simulator makes to one of them (SetPriority,
	// AdjustPriority, a reload) it makes to all of them on that router, as
	// vrrp.SyncGroup asks of weighted tracks: members whose priorities
	// rank the routers differently would pull the group apart.
	GroupVRIDs []int
	// Grouped[r] reports that router r starts with GroupVRIDs as a sync
	// group; TrackingWeight[r] sets the group's TrackingWeight.
	Grouped, TrackingWeight []bool
	// Tracks[r] are the tracked sources of router r: health checks, fed
	// with vrrp.Node.SetTrack, and the interface eth1, tracked through
	// vrrp.InstanceConfig.TrackInterfaces and fed with LinkChanged.
	Tracks [][]Track
	// AwaitChecks, when set, makes every instance await the first report
	// of each check it tracks for that long at startup (vrrp.Node.Await).
	AwaitChecks time.Duration
	// BindFaults lets the fault phase make binds fail or answer late.
	BindFaults bool
}

// Track is a tracked source of a router.
type Track struct {
	// Link makes it the interface eth1 rather than a health check.
	Link bool
	// Weight is the track's weight, as keepalived's: while up, a positive
	// weight is added to the priority; while down, a negative one is. 0
	// (or a member of a sync group without TrackingWeight) puts the
	// instance in FAULT while down.
	Weight int
	// VRIDs are the indexes of the VRIDs that track it.
	VRIDs []int
}

// Random returns the scenario drawn from seed: 2 to 5 routers, 1 to 3
// VRIDs, VRRPv2 over IPv4 or VRRPv3 over IPv4 or IPv6, advert intervals
// (VRRPv2 1 s; VRRPv3 100 ms to 1 s in 10 ms steps, per VRID or sometimes
// per router), priorities from 1 to 254 with sometimes a tie at the top or
// an owner at 255, clock drifts up to ±0.5%, addresses from 198.18.0.0/15
// or fe80::/64 with fd00:: VIPs, and sometimes NoLowerPrioAdvert.
func Random(seed int64) Config {
	rng := rand.New(rand.NewPCG(uint64(seed), scenarioStream))
	c := Config{
		Seed:       seed,
		Routers:    2 + rng.IntN(4),
		VRIDs:      1 + rng.IntN(3),
		Version:    uint8(2 + rng.IntN(2)),
		Family:     vrrp.IPv4,
		FaultPhase: time.Duration(5000+rng.IntN(25000)) * time.Millisecond,
	}
	if c.Version == 3 && rng.IntN(2) == 0 {
		c.Family = vrrp.IPv6
	}
	for _, id := range rng.Perm(255)[:c.VRIDs] {
		c.IDs = append(c.IDs, uint8(id+1))
	}
	for _, id := range c.IDs {
		var vips []netip.Addr
		for i := range 1 + rng.IntN(2) {
			vips = append(vips, vipAddr(c.Family, id, i+1))
		}
		c.VIPs = append(c.VIPs, vips)
	}
	for len(c.Addrs) < c.Routers {
		a := randomAddr(rng, c.Family)
		if !slices.Contains(c.Addrs, a) {
			c.Addrs = append(c.Addrs, a)
		}
	}
	c.Priorities = make([][]uint8, c.Routers)
	c.Intervals = make([][]time.Duration, c.Routers)
	for r := range c.Routers {
		c.Drifts = append(c.Drifts, float64(rng.IntN(10_000_001)-5_000_000)/1e9)
		c.Priorities[r] = make([]uint8, c.VRIDs)
		c.Intervals[r] = make([]time.Duration, c.VRIDs)
	}
	for v := range c.VRIDs {
		interval := randomInterval(rng, c.Version)
		perRouter := c.Version == 3 && rng.IntN(4) == 0
		top := 0
		for r := range c.Routers {
			c.Priorities[r][v] = uint8(1 + rng.IntN(254))
			if c.Priorities[r][v] > c.Priorities[top][v] {
				top = r
			}
			c.Intervals[r][v] = interval
			if perRouter {
				c.Intervals[r][v] = randomInterval(rng, c.Version)
			}
		}
		switch rng.IntN(6) {
		case 0, 1: // a tie at the top, for the address tie-break
			other := (top + 1 + rng.IntN(c.Routers-1)) % c.Routers
			c.Priorities[other][v] = c.Priorities[top][v]
		case 2: // an address owner
			c.Priorities[rng.IntN(c.Routers)][v] = 255
		}
	}
	c.NoLowerPrioAdvert = rng.IntN(4) == 0
	randomExtras(rng, &c)
	return c
}

// randomExtras draws what a scenario has beyond the protocol: a sync group
// (half of the scenarios with two VRIDs or more), tracked checks and
// interfaces, waits for first reports, and bind faults.
func randomExtras(rng *rand.Rand, c *Config) {
	if c.VRIDs >= 2 && rng.IntN(2) == 0 {
		c.GroupVRIDs = rng.Perm(c.VRIDs)[:2+rng.IntN(c.VRIDs-1)]
		slices.Sort(c.GroupVRIDs)
		for r := range c.Routers {
			c.Grouped = append(c.Grouped, rng.IntN(4) > 0)
			c.TrackingWeight = append(c.TrackingWeight, rng.IntN(2) == 0)
			// The members rank the routers as the first one does.
			for _, v := range c.GroupVRIDs {
				c.Priorities[r][v] = c.Priorities[r][c.GroupVRIDs[0]]
			}
		}
	}
	c.Tracks = make([][]Track, c.Routers)
	for r := range c.Routers {
		for i := range rng.IntN(4) {
			t := Track{Link: i == 2 || rng.IntN(4) == 0}
			if t.Link && slices.ContainsFunc(c.Tracks[r], func(t Track) bool { return t.Link }) {
				continue
			}
			switch rng.IntN(4) {
			case 0:
				t.Weight = 0
			case 1:
				t.Weight = 1 + rng.IntN(60)
			default:
				t.Weight = -1 - rng.IntN(60)
			}
			for v := range c.VRIDs {
				if rng.IntN(2) == 0 {
					t.VRIDs = append(t.VRIDs, v)
				}
			}
			if len(t.VRIDs) == 0 {
				t.VRIDs = []int{rng.IntN(c.VRIDs)}
			}
			if slices.ContainsFunc(t.VRIDs, func(v int) bool { return slices.Contains(c.GroupVRIDs, v) }) {
				for _, v := range c.GroupVRIDs {
					if !slices.Contains(t.VRIDs, v) {
						t.VRIDs = append(t.VRIDs, v)
					}
				}
				slices.Sort(t.VRIDs)
			}
			c.Tracks[r] = append(c.Tracks[r], t)
		}
	}
	if rng.IntN(2) == 0 {
		c.AwaitChecks = time.Duration(200+rng.IntN(2800)) * time.Millisecond
	}
	c.BindFaults = rng.IntN(2) == 0
}

func randomInterval(rng *rand.Rand, version uint8) time.Duration {
	if version == 2 {
		return time.Second
	}
	return time.Duration(10+rng.IntN(91)) * 10 * time.Millisecond
}

// randomAddr returns a router address: from 198.18.0.0/16 or fe80::/64.
func randomAddr(rng *rand.Rand, f vrrp.Family) netip.Addr {
	if f == vrrp.IPv6 {
		b := [16]byte{0: 0xfe, 1: 0x80}
		for i := 8; i < 16; i++ {
			b[i] = byte(rng.IntN(256))
		}
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
}

// vipAddr returns the i-th VIP of a VRID: 198.19.<vrid>.i (routers take
// 198.18.0.0/16) or fd00::<vrid>:i.
func vipAddr(f vrrp.Family, vrid uint8, i int) netip.Addr {
	if f == vrrp.IPv6 {
		b := [16]byte{0: 0xfd, 13: vrid, 15: byte(i)}
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{198, 19, vrid, byte(i)})
}

// normalize fills in the defaults and checks c.
func (c *Config) normalize() error {
	if c.Routers == 0 {
		c.Routers = max(len(c.Addrs), len(c.Priorities), len(c.Intervals), len(c.Drifts))
		if c.Routers == 0 {
			c.Routers = DefaultRouters
		}
	}
	if c.VRIDs == 0 {
		c.VRIDs = max(DefaultVRIDs, len(c.IDs), len(c.VIPs))
	}
	if c.Version == 0 {
		c.Version = DefaultVersion
	}
	if c.Family == 0 {
		c.Family = vrrp.IPv4
	}
	if c.FaultPhase <= 0 {
		c.FaultPhase = DefaultFaultPhase
	}
	switch {
	case c.Routers < 1 || c.Routers > 250:
		return fmt.Errorf("%d routers, want 1 to 250", c.Routers)
	case c.VRIDs < 1 || c.VRIDs > 255:
		return fmt.Errorf("%d VRIDs, want 1 to 255", c.VRIDs)
	case c.Version != 2 && c.Version != 3:
		return fmt.Errorf("version %d, want 2 or 3", c.Version)
	case c.Family != vrrp.IPv4 && c.Family != vrrp.IPv6:
		return fmt.Errorf("family %d, want 4 or 6", c.Family)
	case c.Version == 2 && c.Family == vrrp.IPv6:
		return fmt.Errorf("VRRPv2 runs over IPv4 only")
	}
	if err := checkLen("IDs", len(c.IDs), c.VRIDs); err != nil {
		return err
	}
	c.IDs = slices.Clone(c.IDs)
	c.IDs = append(c.IDs, make([]uint8, c.VRIDs-len(c.IDs))...)
	for v := range c.IDs {
		if c.IDs[v] == 0 {
			c.IDs[v] = uint8(v + 1)
		}
		if slices.Contains(c.IDs[:v], c.IDs[v]) {
			return fmt.Errorf("VRID %d twice", c.IDs[v])
		}
	}
	if err := c.normalizeAddrs(); err != nil {
		return err
	}
	if err := c.normalizeRouters(); err != nil {
		return err
	}
	if err := c.normalizeExtras(); err != nil {
		return err
	}
	s := c.settle()
	if c.Duration <= 0 {
		c.Duration = c.FaultPhase + s + max(s, 5*time.Second)
	}
	if c.Duration <= c.FaultPhase+s {
		return fmt.Errorf("duration %v leaves no time for checks after the fault phase %v and settling %v", c.Duration, c.FaultPhase, s)
	}
	return nil
}

func (c *Config) normalizeAddrs() error {
	if err := checkLen("Addrs", len(c.Addrs), c.Routers); err != nil {
		return err
	}
	c.Addrs = slices.Clone(c.Addrs)
	c.Addrs = append(c.Addrs, make([]netip.Addr, c.Routers-len(c.Addrs))...)
	for r, a := range c.Addrs {
		if !a.IsValid() {
			if c.Family == vrrp.IPv6 {
				a = netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 14: byte((r + 1) >> 8), 15: byte(r + 1)})
			} else {
				a = netip.AddrFrom4([4]byte{198, 18, byte((r + 1) >> 8), byte(r + 1)})
			}
		}
		if vrrp.FamilyOf(a) != c.Family {
			return fmt.Errorf("address %v of r%d is not %v", a, r+1, c.Family)
		}
		if slices.Contains(c.Addrs[:r], a) {
			return fmt.Errorf("address %v twice", a)
		}
		c.Addrs[r] = a.Unmap()
	}
	if err := checkLen("VIPs", len(c.VIPs), c.VRIDs); err != nil {
		return err
	}
	vips := make([][]netip.Addr, c.VRIDs)
	for v := range vips {
		if v < len(c.VIPs) && len(c.VIPs[v]) > 0 {
			vips[v] = slices.Clone(c.VIPs[v])
		} else {
			vips[v] = []netip.Addr{vipAddr(c.Family, c.IDs[v], 1)}
		}
		for _, a := range vips[v] {
			if vrrp.FamilyOf(a) != c.Family {
				return fmt.Errorf("VIP %v of VRID %d is not %v", a, c.IDs[v], c.Family)
			}
		}
	}
	c.VIPs = vips
	return nil
}

func (c *Config) normalizeRouters() error {
	for _, l := range []struct {
		name string
		n    int
	}{{"Priorities", len(c.Priorities)}, {"Intervals", len(c.Intervals)}, {"Drifts", len(c.Drifts)}} {
		if err := checkLen(l.name, l.n, c.Routers); err != nil {
			return err
		}
	}
	prios := make([][]uint8, c.Routers)
	ints := make([][]time.Duration, c.Routers)
	drifts := make([]float64, c.Routers)
	copy(drifts, c.Drifts)
	for r := range c.Routers {
		prios[r] = make([]uint8, c.VRIDs)
		ints[r] = make([]time.Duration, c.VRIDs)
		if r < len(c.Priorities) {
			if err := checkLen("Priorities", len(c.Priorities[r]), c.VRIDs); err != nil {
				return err
			}
			copy(prios[r], c.Priorities[r])
		}
		if r < len(c.Intervals) {
			if err := checkLen("Intervals", len(c.Intervals[r]), c.VRIDs); err != nil {
				return err
			}
			copy(ints[r], c.Intervals[r])
		}
		for v := range c.VRIDs {
			if prios[r][v] == 0 {
				prios[r][v] = uint8(min(100+10*r, 254))
			}
			if ints[r][v] == 0 {
				ints[r][v] = DefaultInterval
			}
			if _, err := vrrp.IntervalField(c.Version, ints[r][v]); err != nil {
				return fmt.Errorf("r%d VRID %d: %w", r+1, c.IDs[v], err)
			}
		}
		if math.IsNaN(drifts[r]) || math.Abs(drifts[r]) >= 0.05 {
			return fmt.Errorf("drift %v of r%d, want less than 5%%", drifts[r], r+1)
		}
	}
	c.Priorities, c.Intervals, c.Drifts = prios, ints, drifts
	return nil
}

func (c *Config) normalizeExtras() error {
	for i, v := range c.GroupVRIDs {
		if v < 0 || v >= c.VRIDs || slices.Contains(c.GroupVRIDs[:i], v) {
			return fmt.Errorf("GroupVRIDs %v: bad or repeated index %d", c.GroupVRIDs, v)
		}
	}
	for _, l := range []struct {
		name string
		n    int
	}{{"Grouped", len(c.Grouped)}, {"TrackingWeight", len(c.TrackingWeight)}, {"Tracks", len(c.Tracks)}} {
		if err := checkLen(l.name, l.n, c.Routers); err != nil {
			return err
		}
	}
	c.Grouped = append(slices.Clone(c.Grouped), make([]bool, c.Routers-len(c.Grouped))...)
	c.TrackingWeight = append(slices.Clone(c.TrackingWeight), make([]bool, c.Routers-len(c.TrackingWeight))...)
	tracks := make([][]Track, c.Routers)
	for r := range min(len(c.Tracks), c.Routers) {
		links := 0
		for _, t := range c.Tracks[r] {
			if t.Link {
				links++
			}
			for _, v := range t.VRIDs {
				if v < 0 || v >= c.VRIDs {
					return fmt.Errorf("r%d: a track of VRID index %d of %d", r+1, v, c.VRIDs)
				}
			}
			tracks[r] = append(tracks[r], Track{Link: t.Link, Weight: t.Weight, VRIDs: slices.Clone(t.VRIDs)})
		}
		if links > 1 {
			return fmt.Errorf("r%d: %d tracks of eth1, want 1 at most", r+1, links)
		}
	}
	c.Tracks = tracks
	if c.AwaitChecks < 0 {
		return fmt.Errorf("AwaitChecks %v", c.AwaitChecks)
	}
	return nil
}

func checkLen(name string, n, want int) error {
	if n > want {
		return fmt.Errorf("%d %s for %d", n, name, want)
	}
	return nil
}

// ppb returns a drift in parts per billion.
func ppb(drift float64) int64 { return int64(math.Round(drift * 1e9)) }

// settle returns how long after the fault phase the network may take to
// converge: the largest Master_Down_Interval any router can have plus one
// largest advert interval, in local time of the slowest clock, plus the
// largest delay of a packet sent before the heal, plus the latest first
// report of a check of a restarted router (twice AwaitChecks).
func (c *Config) settle() time.Duration {
	var maxInt time.Duration
	var maxPPB int64
	for r := range c.Routers {
		maxInt = max(maxInt, slices.Max(c.Intervals[r]))
		maxPPB = max(maxPPB, abs(ppb(c.Drifts[r])))
	}
	skewBase := maxInt // Skew_Time for priority 1, RFC 5798 section 6.1
	if c.Version == 2 {
		skewBase = time.Second // RFC 3768 section 6.1
	}
	mdi := 3*maxInt + 255*skewBase/256
	local := mdi + maxInt
	// A local duration d passes in d / (1 + drift) of global time.
	global := time.Duration(mulDivCeil(uint64(local), 1e9, uint64(1e9-maxPPB)))
	return (global + worstDelay + 2*c.AwaitChecks + time.Millisecond - 1).Truncate(time.Millisecond)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
