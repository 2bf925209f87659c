package sim

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

var (
	flagSeeds   = flag.Int64("sim.seeds", 1000, "number of seeds TestSimulation runs, 1 to N")
	flagSeed    = flag.Int64("sim.seed", -1, "run only this seed in TestSimulation and log its transcript")
	flagVerbose = flag.Bool("sim.verbose", false, "put every advert in the transcripts")
	flagStrict  = flag.Bool("sim.strict-ties", false, "demand that ties at the top go to the greatest address (Config.StrictTies)")
	flagSurvey  = flag.Int64("sim.survey", 0, "in TestSurvey, run seeds 1 to N and count the kinds of violation")
)

// replay is the command line that replays seed.
func replay(seed int64) string {
	cmd := fmt.Sprintf("go test ./internal/sim -run 'TestSimulation$' -sim.seed=%d -v", seed)
	if *flagStrict {
		cmd += " -sim.strict-ties"
	}
	return cmd
}

// TestSimulation runs -sim.seeds random scenarios (Random(1) and on),
// split across parallel subtests, or the one seed given by -sim.seed.
func TestSimulation(t *testing.T) {
	if *flagSeed >= 0 {
		cfg := Random(*flagSeed)
		cfg.Verbose, cfg.StrictTies = *flagVerbose, *flagStrict
		res := Run(cfg)
		t.Logf("%+v\ntranscript:\n%s", res.Stats, res.Transcript)
		if len(res.Violations) > 0 {
			t.Errorf("seed %d violates invariants:\n  %s", *flagSeed, strings.Join(res.Violations, "\n  "))
		}
		return
	}
	n := *flagSeeds
	shards := int64(runtime.GOMAXPROCS(0))
	start := time.Now()
	t.Cleanup(func() {
		if !t.Failed() {
			t.Logf("%d seeds in %v", n, time.Since(start).Round(time.Millisecond))
		}
	})
	for sh := range shards {
		t.Run(fmt.Sprintf("shard%d", sh), func(t *testing.T) {
			t.Parallel()
			failures := 0
			for seed := sh + 1; seed <= n; seed += shards {
				cfg := Random(seed)
				cfg.Verbose, cfg.StrictTies = *flagVerbose, *flagStrict
				res := Run(cfg)
				if len(res.Violations) == 0 {
					continue
				}
				failures++
				switch {
				case failures == 1:
					t.Errorf("seed %d violates invariants:\n  %s\nreplay: %s\ntranscript:\n%s",
						seed, strings.Join(res.Violations, "\n  "), replay(seed), res.Transcript)
				case failures <= 20:
					t.Errorf("seed %d: %s\nreplay: %s", seed, res.Violations[0], replay(seed))
				}
			}
			if failures > 20 {
				t.Errorf("%d failing seeds in this shard, %d not shown", failures, failures-20)
			}
		})
	}
}

// TestSurvey runs seeds 1 to -sim.survey and prints how many seeds show
// each kind of violation (numbers masked), with a few seeds of each: a map
// of what is broken, where TestSimulation shows the first failures.
func TestSurvey(t *testing.T) {
	if *flagSurvey <= 0 {
		t.Skip("-sim.survey not set")
	}
	digits := regexp.MustCompile(`[0-9]+`)
	seeds := map[string][]int64{}
	for seed := int64(1); seed <= *flagSurvey; seed++ {
		res := Run(Random(seed))
		seen := map[string]bool{}
		for _, v := range res.Violations {
			_, v, _ = strings.Cut(v, " ") // the time
			k := digits.ReplaceAllString(v, "N")
			if !seen[k] {
				seen[k] = true
				seeds[k] = append(seeds[k], seed)
			}
		}
	}
	kinds := slices.Collect(maps.Keys(seeds))
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(len(seeds[b])-len(seeds[a]), strings.Compare(a, b)) })
	var b strings.Builder
	for _, k := range kinds {
		fmt.Fprintf(&b, "%6d  %s  e.g. seeds %v\n", len(seeds[k]), k, seeds[k][:min(5, len(seeds[k]))])
	}
	t.Logf("kinds of violation in seeds 1 to %d:\n%s", *flagSurvey, b.String())
}

// TestDeterminism checks that a seed replays exactly: the same scenario, the
// same transcript, byte for byte, with and without adverts.
func TestDeterminism(t *testing.T) {
	seen := map[string]int64{}
	for seed := int64(1); seed <= 30; seed++ {
		c1, c2 := Random(seed), Random(seed)
		if !reflect.DeepEqual(c1, c2) {
			t.Fatalf("seed %d: Random gives %+v then %+v", seed, c1, c2)
		}
		c1.Verbose, c2.Verbose = seed%2 == 0, seed%2 == 0
		r1, r2 := Run(c1), Run(c2)
		if r1.Transcript != r2.Transcript {
			t.Fatalf("seed %d: transcripts differ:\n%s\n----\n%s", seed, r1.Transcript, r2.Transcript)
		}
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("seed %d: results differ: %+v, %+v", seed, r1.Stats, r2.Stats)
		}
		if other, ok := seen[r1.Transcript]; ok {
			t.Fatalf("seeds %d and %d give the same transcript", other, seed)
		}
		seen[r1.Transcript] = seed
	}
}

// TestConverges checks fixed scenarios without faults against the Master
// they must elect.
func TestConverges(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		master string
	}{
		{"defaults", Config{}, "r3"},
		{"v2", Config{Version: 2, Routers: 4}, "r4"},
		{"owner", Config{Priorities: [][]uint8{{255}, {254}, {200}}}, "r1"},
		{"ipv6 tie", Config{Family: vrrp.IPv6, Priorities: [][]uint8{{100}, {100}, {100}},
			Drifts: []float64{0.004, 0, -0.004}}, ""},
		{"fast v3", Config{Intervals: [][]time.Duration{{100 * time.Millisecond}, {340 * time.Millisecond}, {time.Second}}}, "r3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.NoFaults = true
			res := Run(tt.cfg)
			if len(res.Violations) > 0 {
				t.Fatalf("violations: %v\n%s", res.Violations, res.Transcript)
			}
			if tt.master != "" && !strings.Contains(res.Transcript, "master "+tt.master+" ") {
				t.Errorf("want Master %s:\n%s", tt.master, res.Transcript)
			}
			if res.Stats.Adverts == 0 || res.Stats.Received == 0 {
				t.Errorf("no traffic: %+v", res.Stats)
			}
		})
	}
}

// settled runs cfg to its end, with the driver bugs given, and returns the
// simulator, failing t if the run itself found violations.
func settled(t *testing.T, cfg Config, bugs ...broken) *sim {
	t.Helper()
	s, err := newSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bugs {
		s.broken |= b
	}
	s.run()
	if len(s.violations) > 0 {
		t.Fatalf("untampered run: %v\n%s", s.violations, s.log.String())
	}
	return s
}

// checkAfter runs the settled checks after tamper and reports whether they
// found a violation containing want.
func checkAfter(t *testing.T, s *sim, want string, tamper func()) {
	t.Helper()
	s.violations, s.lost = nil, 0
	tamper()
	s.checkSettled()
	for _, v := range s.violations {
		if strings.Contains(v, want) {
			return
		}
	}
	t.Errorf("tampering went unnoticed: want a violation with %q, got %q", want, s.violations)
}

// TestCheckerCatches proves that the settled checks can fail: it breaks the
// state of a settled run in several ways and expects each to be reported.
func TestCheckerCatches(t *testing.T) {
	cfg := Config{Seed: 7, NoFaults: true} // r3 is the Master
	s := settled(t, cfg)
	r1, r3 := s.routers[0], s.routers[2]
	ctx := context.Background()
	vips := r1.vrs[0].cfg.VIPs

	checkAfter(t, s, "VIP 198.19.1.1/32 bound=true on r1 (BACKUP)", func() {
		r1.binder.Bind(ctx, iface, vips)
	})
	r1.binder.Unbind(ctx, iface, vips)
	checkAfter(t, s, "VIP 198.19.1.1/32 bound=false on r3 (MASTER)", func() {
		r3.binder.Unbind(ctx, iface, vips)
	})
	r3.binder.Bind(ctx, iface, vips)
	checkAfter(t, s, "Master r3 (prio 120, 198.18.0.3) but r1 (prio 200", func() {
		r1.vrs[0].override = 200
	})
	r1.vrs[0].override = 0
	checkAfter(t, s, "0 Masters [], want 1", func() {
		s.crash(r3)
	})
	checkAfter(t, s, "r3 is not running (down)", func() {})

	// The tie-break: equal priorities, the smaller address is Master.
	s = settled(t, Config{Seed: 3, NoFaults: true,
		Priorities: [][]uint8{{150}, {100}, {150}}, Drifts: []float64{0.004, 0, -0.004}})
	if s.routers[0].vrs[0].state != vrrp.Master {
		t.Fatalf("r1, with the faster clock, should win the tie:\n%s", s.log.String())
	}
	s.cfg.StrictTies = true
	checkAfter(t, s, "Master r1 (prio 150, 198.18.0.1) but r3 (prio 150, 198.18.0.3) is better", func() {})
}

// TestStepCatches proves that the checks made on every step can fail: it
// breaks a settled run and runs it on.
func TestStepCatches(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		bug    broken
		tamper func(s *sim)
		want   string
	}{
		{"VIP on a Backup", 0, func(s *sim) {
			s.routers[0].binder.Bind(ctx, iface, s.routers[0].vrs[0].cfg.VIPs)
		}, "VIP 198.19.1.1/32 bound on r1 (BACKUP), no unbind of it queued"},
		{"VIP lost by the Master", 0, func(s *sim) {
			s.routers[2].binder.Unbind(ctx, iface, s.routers[2].vrs[0].cfg.VIPs)
		}, "VIP 198.19.1.1/32 not bound on r3 (MASTER), its bind confirmed"},
		{"priority fed behind the model's back", 0, func(s *sim) {
			r := s.routers[2]
			r.node.SetPriority(r.local(s.now), r.vrs[0].id, 130)
		}, "r3 vrid 1: advert with priority 130, effective priority 120"},
		{"a state change the effects do not report", 0, func(s *sim) {
			s.routers[2].vrs[0].state = vrrp.Backup
		}, "moved BACKUP -> MASTER without a transition"},
		{"a sync group split", brokenGroups, func(s *sim) {
			// The Master's first member faults: without the group in
			// the Node, r2 takes it over and leaves the second to r3.
			s.setFault(s.routers[2], 0, true)
		}, "r2: sync group split since"},
		{"a Master whose bind never ends", 0, func(s *sim) {
			r := s.routers[2]
			r.vrs[0].bound, r.vrs[0].bindAt, r.vrs[0].floor = false, r.local(s.now), time.Second
		}, "r3 vrid 1: Master with its VIPs unbound for more than 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := settled(t, Config{Seed: 7, NoFaults: true, VRIDs: 2, GroupVRIDs: []int{0, 1}, Grouped: []bool{true, true, true}}, tt.bug)
			s.violations = nil
			tt.tamper(s)
			s.dirty = true
			s.end += 2 * s.splitBound()
			s.run()
			for _, v := range s.violations {
				if strings.Contains(v, tt.want) {
					return
				}
			}
			t.Errorf("tampering went unnoticed: want a violation with %q, got %q", tt.want, s.violations)
		})
	}
}

// TestBrokenDriverCatches proves that the invariants fire on a driver with
// a deliberate bug: each bug must show in one of the first seeds.
func TestBrokenDriverCatches(t *testing.T) {
	tests := []struct {
		name string
		bug  broken
		want string
	}{
		{"SetPriority feeds another priority", brokenPriority, "advert with priority"},
		{"binds reported done, never made", brokenBinds, "Master with its VIPs unbound for more than"},
		{"OnMaster on unbound VIPs", brokenBinds, "OnMaster call started while MASTER with VIPs bound=false"},
		{"routes left behind at unbind", brokenRoutes, "held=true on"},
		{"OnMaster returned when asked to stop", brokenCalls, "OnMaster call started while the previous one has not returned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := int64(1); seed <= 200; seed++ {
				s, err := newSim(Random(seed))
				if err != nil {
					t.Fatal(err)
				}
				s.broken = tt.bug
				s.run()
				for _, v := range s.violations {
					if strings.Contains(v, tt.want) {
						t.Logf("seed %d: %s", seed, v)
						return
					}
				}
			}
			t.Errorf("no seed shows %q", tt.want)
		})
	}
}

// TestCauseCatches feeds the cause check transitions that no input
// justifies.
func TestCauseCatches(t *testing.T) {
	s, err := newSim(Config{NoFaults: true, VRIDs: 2, GroupVRIDs: []int{0, 1}, Grouped: []bool{false, true, false}})
	if err != nil {
		t.Fatal(err)
	}
	s.start(s.routers[1])
	r := s.routers[1] // 198.18.0.2, priority 110
	lower := netip.MustParseAddr("198.18.0.1")
	higher := netip.MustParseAddr("198.18.0.3")
	toBackup := func(reason vrrp.Reason) vrrp.Transition {
		return vrrp.Transition{From: vrrp.Master, To: vrrp.Backup, Reason: reason}
	}
	toMaster := vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonSync}
	tests := []struct {
		name  string
		in    input
		t     vrrp.Transition
		state vrrp.State // the instance's state before
		b     batch      // the effects before t
		want  string
	}{
		{"preempted by a lower priority", input{kind: inReceive, advPrio: 99, src: higher}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, "without a cause"},
		{"preempted by an equal priority from a smaller address", input{kind: inReceive, advPrio: 110, src: lower}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, "without a cause"},
		{"preempted on a Tick", input{kind: inTick}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, "without a cause"},
		{"preempted on SetPriority", input{kind: inPriority}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, "without a cause"},
		{"preempted by an advert for another VRID", input{kind: inReceive, v: 1, advPrio: 200, src: higher}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, "without a cause"},
		{"wrong reason", input{kind: inReceive, advPrio: 200, src: lower}, toBackup(vrrp.ReasonMasterDown), vrrp.Master, batch{}, "without a cause"},
		{"no unbind", input{kind: inReceive, advPrio: 200, src: lower}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{noUnbind: true}, "without unbinding"},
		{"no bind", input{kind: inTick}, vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterDown}, vrrp.Backup, batch{noBind: true}, "without binding"},
		{"to itself", input{kind: inTick}, vrrp.Transition{From: vrrp.Master, To: vrrp.Master, Reason: vrrp.ReasonMasterDown}, vrrp.Master, batch{}, "to itself"},
		{"from a state it was not in", input{kind: inTick}, vrrp.Transition{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterDown}, vrrp.Fault, batch{}, "the instance was FAULT"},
		{"sync with nobody", input{kind: inTick}, toMaster, vrrp.Backup, batch{}, "without a cause"},
		{"sync follows the opposite move", input{kind: inTick}, toMaster, vrrp.Backup,
			batch{trans: []vrrp.Transition{toBackup(vrrp.ReasonPreempted)}, vs: []int{1}}, "without a cause"},
		{"fault on a Tick with no bind timed out", input{kind: inTick},
			vrrp.Transition{From: vrrp.Master, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Master, batch{}, "without a cause"},
		{"fault on a bind that succeeded", input{kind: inBind},
			vrrp.Transition{From: vrrp.Master, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Master, batch{}, "without a cause"},
		{"fault cleared by SetPriority", input{kind: inPriority},
			vrrp.Transition{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, vrrp.Fault, batch{}, "without a cause"},
		{"owner at 110", input{kind: inStart},
			vrrp.Transition{From: vrrp.Init, To: vrrp.Master, Reason: vrrp.ReasonOwner}, vrrp.Init, batch{}, "without a cause"},
		{"justified preemption", input{kind: inReceive, advPrio: 110, src: higher}, toBackup(vrrp.ReasonPreempted), vrrp.Master, batch{}, ""},
		{"justified sync", input{kind: inTick}, toMaster, vrrp.Backup,
			batch{trans: []vrrp.Transition{{From: vrrp.Backup, To: vrrp.Master, Reason: vrrp.ReasonMasterDown}}, vs: []int{1}}, ""},
		{"justified bind timeout", input{kind: inTick},
			vrrp.Transition{From: vrrp.Master, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Master, batch{timedOut: []bool{true, false}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.kind == inReceive && tt.in.v == 0 {
				tt.in.prio, tt.in.local = 110, r.addr
			}
			b := tt.b
			b.bind, b.unbind = []bool{!b.noBind, true}, []bool{!b.noUnbind, true}
			if b.timedOut == nil {
				b.timedOut = []bool{false, false}
			}
			r.vrs[0].state = tt.state
			got := s.cause(r, 0, tt.in, tt.t, &b)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("cause = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestClock checks that global and local time convert exactly: a timer set
// for a local deadline fires at the first global nanosecond that reaches it.
func TestClock(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		c := clock{epoch: epoch, rate: uint64(1e9 + rng.Int64N(1e7+1) - 5e6)}
		d := rng.Int64N(int64(time.Hour))
		want := epoch.Add(time.Duration(d))
		g := c.global(want)
		if c.local(g).Before(want) || g > 0 && !c.local(g-1).Before(want) {
			t.Fatalf("rate %d: global(%v) = %d, local there %v, a ns before %v", c.rate, d, g, c.local(g).Sub(epoch), c.local(g-1).Sub(epoch))
		}
	}
}

// TestConfigErrors checks that bad Configs are refused.
func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Version: 2, Family: vrrp.IPv6},
		{Version: 4},
		{IDs: []uint8{7, 7}},
		{Addrs: []netip.Addr{netip.MustParseAddr("fe80::1")}},
		{Intervals: [][]time.Duration{{15 * time.Millisecond}}},
		{Version: 2, Intervals: [][]time.Duration{{1500 * time.Millisecond}}},
		{Drifts: []float64{0.2}},
		{Routers: 2, Drifts: []float64{0, 0, 0}},
		{FaultPhase: 10 * time.Second, Duration: 12 * time.Second},
	} {
		res := Run(cfg)
		if len(res.Violations) != 1 || !strings.HasPrefix(res.Violations[0], "config: ") {
			t.Errorf("Run(%+v) = %q, want a config error", cfg, res.Violations)
		}
	}
}
