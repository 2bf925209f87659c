package sim

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
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

// settled runs cfg to its end and returns the simulator, failing t if the
// run itself found violations.
func settled(t *testing.T, cfg Config) *sim {
	t.Helper()
	s, err := newSim(cfg)
	if err != nil {
		t.Fatal(err)
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

// TestCheckerCatches proves that the checks can fail: it breaks the state
// of a settled run in several ways and expects each to be reported.
func TestCheckerCatches(t *testing.T) {
	cfg := Config{Seed: 7, NoFaults: true} // r3 is the Master
	s := settled(t, cfg)
	r1, r3 := s.routers[0], s.routers[2]
	ctx := s.ctx
	vips := r1.vrs[0].vips

	checkAfter(t, s, "VIP 198.19.1.1/32 bound=true on r1 (BACKUP)", func() {
		r1.binder.Bind(ctx, iface, vips)
	})
	r1.binder.Unbind(ctx, iface, vips)
	checkAfter(t, s, "VIP 198.19.1.1/32 bound=false on r3 (MASTER)", func() {
		r3.binder.Unbind(ctx, iface, vips)
	})
	r3.binder.Bind(ctx, iface, vips)
	checkAfter(t, s, "Master r3 (prio 120, 198.18.0.3) but r1 (prio 200", func() {
		r1.vrs[0].m.SetPriority(r1.local(s.now), 200)
	})
	r1.vrs[0].m.SetPriority(r1.local(s.now), 100)
	checkAfter(t, s, "0 Masters [], want 1", func() {
		s.crash(r3)
	})
	checkAfter(t, s, "r3 is not running (down)", func() {})

	// The tie-break: equal priorities, the smaller address is Master.
	s = settled(t, Config{Seed: 3, NoFaults: true,
		Priorities: [][]uint8{{150}, {100}, {150}}, Drifts: []float64{0.004, 0, -0.004}})
	if s.routers[0].vrs[0].m.State() != vrrp.Master {
		t.Fatalf("r1, with the faster clock, should win the tie:\n%s", s.log.String())
	}
	s.cfg.StrictTies = true
	checkAfter(t, s, "Master r1 (prio 150, 198.18.0.1) but r3 (prio 150, 198.18.0.3) is better", func() {})
}

// TestCauseCatches feeds the cause check transitions that no input
// justifies.
func TestCauseCatches(t *testing.T) {
	local := netip.MustParseAddr("198.18.0.2")
	lower := netip.MustParseAddr("198.18.0.1")
	higher := netip.MustParseAddr("198.18.0.3")
	vips := []netip.Addr{netip.MustParseAddr("198.19.1.1")}
	// machine returns a Machine of priority 100 in Backup or Master.
	machine := func(state vrrp.State) *vrrp.Machine {
		m := vrrp.NewMachine(vrrp.MachineConfig{VRID: 1, Version: 3, Priority: 100, AdvertInterval: time.Second,
			Addresses: vips, LocalAddr: local})
		m.Start(epoch)
		if state == vrrp.Master {
			m.Tick(epoch.Add(time.Hour))
		}
		if m.State() != state {
			t.Fatalf("machine is %v, want %v", m.State(), state)
		}
		return m
	}
	toBackup := vrrp.Effects{From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted, Unbind: true}
	tests := []struct {
		name string
		in   input
		e    vrrp.Effects
		now  vrrp.State // the Machine's state after the input
		want string
	}{
		{"preempted by a lower priority", input{kind: inReceive, advPrio: 99, src: higher}, toBackup, vrrp.Backup, "without a cause"},
		{"preempted by an equal priority from a smaller address", input{kind: inReceive, advPrio: 100, src: lower}, toBackup, vrrp.Backup, "without a cause"},
		{"preempted on a Tick", input{kind: inTick}, toBackup, vrrp.Backup, "without a cause"},
		{"preempted on SetPriority", input{kind: inPriority}, toBackup, vrrp.Backup, "without a cause"},
		{"wrong reason", input{kind: inReceive, advPrio: 200, src: lower},
			vrrp.Effects{From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonMasterDown, Unbind: true}, vrrp.Backup, "without a cause"},
		{"no unbind", input{kind: inReceive, advPrio: 200, src: lower},
			vrrp.Effects{From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted}, vrrp.Backup, "without unbinding"},
		{"to itself", input{kind: inTick},
			vrrp.Effects{From: vrrp.Master, To: vrrp.Master, Reason: vrrp.ReasonMasterDown, Bind: true}, vrrp.Master, "to itself"},
		{"state and effects disagree", input{kind: inReceive, advPrio: 200, src: lower}, toBackup, vrrp.Master, "the Machine is MASTER"},
		{"silent change", input{kind: inTick}, vrrp.Effects{}, vrrp.Backup, "without a transition"},
		{"kept Master", input{kind: inReceive, advPrio: 100, src: higher}, vrrp.Effects{}, vrrp.Master, "stays Master"},
		{"justified", input{kind: inReceive, advPrio: 100, src: higher}, toBackup, vrrp.Backup, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.from, tt.in.prio, tt.in.local = vrrp.Master, 100, local
			got := cause(tt.in, tt.e, machine(tt.now))
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
