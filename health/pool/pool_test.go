package pool_test

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/privnet"
)

// switches is a set of named health states that checks read.
type switches struct {
	mu   sync.Mutex
	down map[string]bool
}

func (s *switches) set(name string, up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down == nil {
		s.down = map[string]bool{}
	}
	s.down[name] = !up
}

func (s *switches) checker(name string) health.Checker {
	return health.CheckerFunc(func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down[name] {
			return fmt.Errorf("%s is down", name)
		}
		return nil
	})
}

// recorder collects what OnChange receives.
type recorder struct {
	mu sync.Mutex
	ms []pool.Membership
}

func (r *recorder) onChange(_ context.Context, m pool.Membership) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ms = append(r.ms, m)
	return nil
}

func (r *recorder) all() []pool.Membership {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ms)
}

func (r *recorder) last(t *testing.T) pool.Membership {
	t.Helper()
	ms := r.all()
	if len(ms) == 0 {
		t.Fatal("no Membership delivered")
	}
	return ms[len(ms)-1]
}

// events returns every event delivered, as "kind[:backend]@seconds" from
// start.
func (r *recorder) events(start time.Time) []string {
	var out []string
	for _, m := range r.all() {
		for _, e := range m.Events {
			s := e.Kind.String()
			if e.Backend != "" {
				s += ":" + e.Backend
			}
			out = append(out, fmt.Sprintf("%s@%gs", s, e.At.Sub(start).Seconds()))
		}
	}
	return out
}

// members renders a membership as "name=weight" in order, with "!" for an
// unhealthy member and "*" for the sorry server.
func members(ms []pool.Member) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", m.Name, m.Weight)
		if !m.Healthy {
			b.WriteByte('!')
		}
		if m.Sorry {
			b.WriteByte('*')
		}
	}
	return b.String()
}

func addr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(10000+i))
}

// runPool starts p and returns a function that stops it and waits for Run.
func runPool(t *testing.T, p *pool.Pool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// backends makes n backends b0..b(n-1), each with one check on sw.
func backends(sw *switches, n int, check health.Check) []pool.Backend {
	var bs []pool.Backend
	for i := range n {
		name := fmt.Sprintf("b%d", i)
		c := check
		c.Checker = sw.checker(name)
		bs = append(bs, pool.Backend{Name: name, Addr: addr(i), Checks: []health.Check{c}})
	}
	return bs
}

// sleepTo sleeps until start+d and lets the pool settle.
func sleepTo(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

// Rise and fall count consecutive probes, each check on its own interval.
func TestPoolRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		var rec recorder
		p, err := pool.New(pool.Config{
			Name:     "rise-fall",
			Backends: backends(&sw, 1, health.Check{Interval: time.Second, Rise: 2, Fall: 3}),
			NoSpread: true,
			OnChange: rec.onChange,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()

		sleepTo(start, 500*time.Millisecond)
		sw.set("b0", false)
		// Probes at 1, 2 and 3 s fail; the third brings it down.
		sleepTo(start, 2500*time.Millisecond)
		if !p.Status().Backends[0].Healthy {
			t.Fatal("down after 2 failures with Fall 3")
		}
		if s := p.Status().Backends[0].Checks[0]; s.Failures != 2 || s.Err == nil {
			t.Errorf("check status %+v, want 2 failures and an error", s)
		}
		sleepTo(start, 3500*time.Millisecond)
		if p.Status().Backends[0].Healthy {
			t.Fatal("still up after 3 failures with Fall 3")
		}
		// One success is not enough with Rise 2; a failure in between
		// starts the count again.
		sw.set("b0", true)
		sleepTo(start, 4500*time.Millisecond) // success at 4
		sw.set("b0", false)
		sleepTo(start, 5500*time.Millisecond) // failure at 5
		sw.set("b0", true)
		sleepTo(start, 6500*time.Millisecond) // success at 6
		if p.Status().Backends[0].Healthy {
			t.Fatal("up after a broken streak")
		}
		sleepTo(start, 7500*time.Millisecond) // success at 7: up
		if !p.Status().Backends[0].Healthy {
			t.Fatal("not up after 2 successes with Rise 2")
		}
		want := []string{"backend-down:b0@3s", "quorum-down@3s", "backend-up:b0@7s", "quorum-up@7s"}
		if got := rec.events(start); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		if s := p.Status(); s.Probes != 8 || s.MaxLag != 0 {
			t.Errorf("%d probes, max lag %v; want 8 on time", s.Probes, s.MaxLag)
		}
	})
}

// A backend is healthy while every one of its checks is up; each check has
// its own interval.
func TestPoolSeveralChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		var rec recorder
		p, err := pool.New(pool.Config{
			Backends: []pool.Backend{{Name: "web", Addr: addr(1), Checks: []health.Check{
				{Name: "tcp", Checker: sw.checker("tcp"), Interval: time.Second},
				{Name: "http", Checker: sw.checker("http"), Interval: 3 * time.Second},
			}}},
			NoSpread: true,
			OnChange: rec.onChange,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()
		sleepTo(start, 500*time.Millisecond)
		sw.set("http", false) // next http probe at 3 s
		sleepTo(start, 2500*time.Millisecond)
		if !p.Status().Backends[0].Healthy {
			t.Fatal("down before the failing check ran")
		}
		sw.set("tcp", false) // at 3 s both fail: one event
		sleepTo(start, 3500*time.Millisecond)
		sw.set("http", true) // http up at 6 s, tcp up at 4 s
		sw.set("tcp", true)
		sleepTo(start, 5500*time.Millisecond)
		if p.Status().Backends[0].Healthy {
			t.Fatal("up with the http check still down")
		}
		sleepTo(start, 6500*time.Millisecond)
		want := []string{"backend-down:web@3s", "quorum-down@3s", "backend-up:web@6s", "quorum-up@6s"}
		if got := rec.events(start); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		checks := p.Status().Backends[0].Checks
		if checks[0].Name != "tcp" || checks[0].Probes != 7 || checks[1].Name != "http" || checks[1].Probes != 3 {
			t.Errorf("checks %+v, want tcp 7 probes and http 3", checks)
		}
	})
}

// inhibit_on_failure keeps a failed backend with weight 0; InitFail (alpha)
// starts a check down.
func TestPoolInhibitOnFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		var rec recorder
		check := health.Check{Interval: time.Second}
		bs := backends(&sw, 3, check)
		bs[0].Weight = 5
		bs[0].InhibitOnFailure = true
		bs[1].Weight = 3
		bs[2].Checks[0].InitFail = true
		p, err := pool.New(pool.Config{Backends: bs, NoSpread: true, OnChange: rec.onChange})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := members(p.Status().Members), "b0=5 b1=3"; got != want {
			t.Errorf("initial members %q, want %q (b2 starts failed)", got, want)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()
		synctest.Wait()
		// b2's first probe at once brings it up (Rise 1).
		if m := rec.last(t); m.Seq != 2 || len(m.Events) != 1 || members(m.Members) != "b0=5 b1=3 b2=1" || m.Weight != 9 {
			t.Errorf("after the first probes: seq %d, events %v, members %q, weight %d; want b2 up at once",
				m.Seq, m.Events, members(m.Members), m.Weight)
		}
		sw.set("b0", false)
		sw.set("b1", false)
		sleepTo(start, 1500*time.Millisecond)
		m := rec.last(t)
		if got, want := members(m.Members), "b0=0! b2=1"; got != want {
			t.Errorf("members %q, want %q: the inhibited backend stays with weight 0, the other goes", got, want)
		}
		if m.Weight != 1 || !m.Quorum {
			t.Errorf("weight %d quorum %v, want 1 and true", m.Weight, m.Quorum)
		}
		sw.set("b0", true)
		sleepTo(start, 2500*time.Millisecond)
		if got, want := members(rec.last(t).Members), "b0=5 b2=1"; got != want {
			t.Errorf("members %q, want %q", got, want)
		}
	})
}

// keepalived's quorum: gained at quorum + hysteresis, lost below quorum -
// hysteresis or at 0.
func TestPoolQuorumHysteresis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		var rec recorder
		p, err := pool.New(pool.Config{
			Backends:   backends(&sw, 5, health.Check{Interval: time.Second}),
			Quorum:     3,
			Hysteresis: 1,
			NoSpread:   true,
			OnChange:   rec.onChange,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()
		synctest.Wait()
		if m := rec.last(t); !m.Quorum || m.Weight != 5 {
			t.Fatalf("initial quorum %v weight %d, want up with 5", m.Quorum, m.Weight)
		}
		type step struct {
			backend string
			up      bool
			weight  int
			quorum  bool
		}
		steps := []step{
			{"b0", false, 4, true},
			{"b1", false, 3, true},
			{"b2", false, 2, true}, // 2 is not below 3-1
			{"b3", false, 1, false},
			{"b3", true, 2, false},
			{"b2", true, 3, false}, // 3 is not 3+1
			{"b1", true, 4, true},
			{"b1", false, 3, true},
		}
		for i, s := range steps {
			sw.set(s.backend, s.up)
			sleepTo(start, time.Duration(i)*time.Second+1500*time.Millisecond)
			st := p.Status()
			if st.Weight != s.weight || st.Quorum != s.quorum {
				t.Errorf("step %d (%s up=%v): weight %d quorum %v, want %d %v", i, s.backend, s.up, st.Weight, st.Quorum, s.weight, s.quorum)
			}
		}
		want := []string{
			"backend-down:b0@1s", "backend-down:b1@2s", "backend-down:b2@3s",
			"backend-down:b3@4s", "quorum-down@4s",
			"backend-up:b3@5s", "backend-up:b2@6s", "backend-up:b1@7s", "quorum-up@7s",
			"backend-down:b1@8s",
		}
		if got := rec.events(start); !slices.Equal(got, want) {
			t.Errorf("events\n %v\nwant\n %v", got, want)
		}
	})
}

// The quorum is lost at weight 0 even when quorum - hysteresis is 0, and a
// pool whose weight is short of quorum + hysteresis starts down.
func TestPoolQuorumEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		p, err := pool.New(pool.Config{
			Backends:   backends(&sw, 1, health.Check{}),
			Quorum:     1,
			Hysteresis: 1,
			NoSpread:   true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status().Quorum {
			t.Fatal("started up with weight 1 < quorum 1 + hysteresis 1")
		}
		p2, err := pool.New(pool.Config{
			Backends: backends(&sw, 2, health.Check{}), Quorum: 2, Hysteresis: 2, NoSpread: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if p2.Status().Quorum {
			t.Fatal("started up with weight 2 < 2+2")
		}
		p3, err := pool.New(pool.Config{
			Backends: backends(&sw, 4, health.Check{}), Quorum: 2, Hysteresis: 2, NoSpread: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range []string{"b0", "b1", "b2"} {
			sw.set(b, false)
		}
		start := time.Now()
		stop := runPool(t, p3)
		defer stop()
		sleepTo(start, 500*time.Millisecond)
		if s := p3.Status(); !s.Quorum || s.Weight != 1 {
			t.Fatalf("weight %d quorum %v, want 1 and up (2-2=0)", s.Weight, s.Quorum)
		}
		sw.set("b3", false)
		sleepTo(start, 1500*time.Millisecond)
		if s := p3.Status(); s.Quorum || s.Weight != 0 {
			t.Fatalf("weight %d quorum %v, want 0 and down", s.Weight, s.Quorum)
		}
	})
}

// The sorry server replaces the backends while the quorum is lost;
// inhibiting backends stay with weight 0; sorry_server_inhibit keeps it in
// with weight 0 otherwise.
func TestPoolSorryServer(t *testing.T) {
	for _, inhibit := range []bool{false, true} {
		t.Run(fmt.Sprintf("inhibit=%v", inhibit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sw switches
				var rec recorder
				bs := backends(&sw, 3, health.Check{Interval: time.Second})
				bs[2].InhibitOnFailure = true
				p, err := pool.New(pool.Config{
					Backends: bs,
					Sorry:    &pool.Backend{Name: "sorry", Addr: addr(99), Weight: 7, InhibitOnFailure: inhibit},
					Quorum:   2,
					NoSpread: true,
					OnChange: rec.onChange,
				})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				stop := runPool(t, p)
				defer stop()
				synctest.Wait()
				want := "b0=1 b1=1 b2=1"
				if inhibit {
					want += " sorry=0*"
				}
				if got := members(rec.last(t).Members); got != want {
					t.Errorf("initial %q, want %q", got, want)
				}
				sw.set("b0", false)
				sw.set("b1", false)
				sleepTo(start, 1500*time.Millisecond)
				m := rec.last(t)
				if got, want := members(m.Members), "b2=0 sorry=7*"; got != want || m.Quorum {
					t.Errorf("quorum lost: %q quorum %v, want %q", got, m.Quorum, want)
				}
				sw.set("b0", true)
				sleepTo(start, 2500*time.Millisecond)
				m = rec.last(t)
				want = "b0=1 b2=1"
				if inhibit {
					want += " sorry=0*"
				}
				if got := members(m.Members); got != want || !m.Quorum {
					t.Errorf("quorum regained: %q quorum %v, want %q", got, m.Quorum, want)
				}
			})
		})
	}
}

// OnChange runs in order on one goroutine; changes made while it runs are
// merged into the next delivery with every event kept; an error has the
// membership delivered again after RetryDelay.
func TestPoolCallbackOrdering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		var (
			mu      sync.Mutex
			got     []pool.Membership
			running atomic.Int32
			overlap bool
			fail    = 1 // deliveries of seq 2 to fail
		)
		gate := make(chan struct{})
		p, err := pool.New(pool.Config{
			Backends:   backends(&sw, 4, health.Check{Interval: time.Second}),
			Quorum:     3,
			NoSpread:   true,
			RetryDelay: 5 * time.Second,
			OnChange: func(ctx context.Context, m pool.Membership) error {
				if running.Add(1) > 1 {
					overlap = true
				}
				defer running.Add(-1)
				if m.Seq == 2 {
					select { // hold the dispatcher while more changes come
					case <-gate:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if m.Seq == 2 && fail > 0 {
					fail--
					return errors.New("balancer unavailable")
				}
				got = append(got, m)
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()
		synctest.Wait()
		sw.set("b0", false) // seq 2 at 1 s, held by the gate
		sleepTo(start, 1500*time.Millisecond)
		sw.set("b1", false) // seq 3 at 2 s: quorum lost
		sleepTo(start, 2500*time.Millisecond)
		sw.set("b1", true) // seq 4 at 3 s
		sleepTo(start, 3500*time.Millisecond)
		close(gate) // seq 2 fails; 3 and 4 merge into it; retried at 8.5 s
		sleepTo(start, 8*time.Second)
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n != 1 {
			t.Fatalf("%d deliveries before the retry, want 1", n)
		}
		sleepTo(start, 9*time.Second)
		mu.Lock()
		defer mu.Unlock()
		if overlap {
			t.Error("OnChange calls overlapped")
		}
		if len(got) != 2 {
			t.Fatalf("%d deliveries, want 2 (initial, then the merged retry)", len(got))
		}
		if got[0].Seq != 1 || got[1].Seq != 4 {
			t.Errorf("seqs %d, %d; want 1, 4", got[0].Seq, got[1].Seq)
		}
		var evs []string
		for _, e := range got[1].Events {
			evs = append(evs, e.Kind.String()+":"+e.Backend)
		}
		want := []string{"backend-down:b0", "backend-down:b1", "quorum-down:", "backend-up:b1", "quorum-up:"}
		if !slices.Equal(evs, want) {
			t.Errorf("merged events %v, want %v", evs, want)
		}
		if m := got[1]; members(m.Members) != "b1=1 b2=1 b3=1" || !m.Quorum || m.Weight != 3 {
			t.Errorf("merged state %q quorum %v weight %d", members(m.Members), m.Quorum, m.Weight)
		}
	})
}

// The first probes are spread over the interval and keep their phase;
// at most Workers probes run at once; a probe that outlives its Timeout
// fails.
func TestPoolScheduling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		var mu sync.Mutex
		times := map[string][]time.Duration{}
		var running, most atomic.Int32
		start := time.Now()
		var bs []pool.Backend
		for i := range n {
			name := fmt.Sprintf("b%d", i)
			bs = append(bs, pool.Backend{Name: name, Addr: addr(i), Checks: []health.Check{{
				Interval: time.Second,
				Timeout:  300 * time.Millisecond,
				Checker: health.CheckerFunc(func(ctx context.Context) error {
					mu.Lock()
					times[name] = append(times[name], time.Since(start))
					mu.Unlock()
					r := running.Add(1)
					defer running.Add(-1)
					for {
						m := most.Load()
						if r <= m || most.CompareAndSwap(m, r) {
							break
						}
					}
					if name == "b9" { // hangs until its timeout
						<-ctx.Done()
						return nil
					}
					time.Sleep(50 * time.Millisecond)
					return nil
				}),
			}}})
		}
		p, err := pool.New(pool.Config{Backends: bs, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		stop := runPool(t, p)
		sleepTo(start, 2050*time.Millisecond)
		stop()
		mu.Lock()
		defer mu.Unlock()
		for i := range n - 1 {
			name := fmt.Sprintf("b%d", i)
			first := time.Duration(i) * 100 * time.Millisecond
			want := []time.Duration{first, first + time.Second}
			if first+2*time.Second <= 2050*time.Millisecond {
				want = append(want, first+2*time.Second)
			}
			if !slices.Equal(times[name], want) {
				t.Errorf("%s probed at %v, want %v", name, times[name], want)
			}
		}
		if m := most.Load(); m != 2 {
			t.Errorf("at most %d probes at once, want 2 (b9 hanging, one other)", m)
		}
		s := p.Status()
		if b9 := s.Backends[9]; b9.Healthy || !errors.Is(b9.Checks[0].Err, context.DeadlineExceeded) {
			t.Errorf("b9: healthy %v, err %v; want down on its timeout", b9.Healthy, b9.Checks[0].Err)
		}
		if s.MaxLag != 0 {
			t.Errorf("max lag %v with idle workers", s.MaxLag)
		}
	})
}

// With more due probes than workers, probes wait for a worker and the lag
// shows it.
func TestPoolWorkersBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, most atomic.Int32
		slow := health.CheckerFunc(func(ctx context.Context) error {
			r := running.Add(1)
			defer running.Add(-1)
			for {
				m := most.Load()
				if r <= m || most.CompareAndSwap(m, r) {
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
			return nil
		})
		var bs []pool.Backend
		for i := range 8 {
			bs = append(bs, pool.Backend{Addr: addr(i), Checks: []health.Check{{Checker: slow}}})
		}
		p, err := pool.New(pool.Config{Backends: bs, Workers: 2, NoSpread: true})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		sleepTo(start, 1950*time.Millisecond)
		stop()
		if m := most.Load(); m != 2 {
			t.Errorf("%d probes at once, want 2", m)
		}
		s := p.Status()
		if s.Probes != 16 || s.MaxLag != 300*time.Millisecond {
			t.Errorf("%d probes, max lag %v; want 16 and 300ms", s.Probes, s.MaxLag)
		}
		if !s.Quorum || s.Weight != 8 {
			t.Errorf("quorum %v weight %d", s.Quorum, s.Weight)
		}
	})
}

// A probe that outlives its interval delays the next one, which then runs
// at once and the schedule goes on from there, without a burst of probes
// to catch up.
func TestPoolSlowProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Duration
		start := time.Now()
		check := health.CheckerFunc(func(ctx context.Context) error {
			mu.Lock()
			times = append(times, time.Since(start))
			first := len(times) == 1
			mu.Unlock()
			if first {
				time.Sleep(2500 * time.Millisecond)
			}
			return nil
		})
		p, err := pool.New(pool.Config{Backends: []pool.Backend{{Addr: addr(1),
			Checks: []health.Check{{Checker: check, Timeout: 10 * time.Second}}}}})
		if err != nil {
			t.Fatal(err)
		}
		stop := runPool(t, p)
		sleepTo(start, 4900*time.Millisecond)
		stop()
		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{0, 2500 * time.Millisecond, 3500 * time.Millisecond, 4500 * time.Millisecond}
		if !slices.Equal(times, want) {
			t.Errorf("probes at %v, want %v", times, want)
		}
	})
}

func TestPoolRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := pool.New(pool.Config{Backends: []pool.Backend{{Addr: addr(1)}}})
		if err != nil {
			t.Fatal(err)
		}
		stop := runPool(t, p)
		synctest.Wait()
		if err := p.Run(t.Context()); !errors.Is(err, pool.ErrPoolRunning) {
			t.Errorf("second Run: %v, want ErrPoolRunning", err)
		}
		stop()
		if s := p.Status(); !s.Quorum || members(s.Members) != "127.0.0.1:10001=1" {
			t.Errorf("a backend with no checks: %q quorum %v, want it up", members(s.Members), s.Quorum)
		}
	})
}

func TestPoolValidate(t *testing.T) {
	ok := health.CheckerFunc(func(context.Context) error { return nil })
	_, err := pool.New(pool.Config{
		Name:       "bad",
		Quorum:     -1,
		Hysteresis: -2,
		Workers:    -1,
		Backends: []pool.Backend{
			{Name: "a", Addr: addr(1), Weight: -1},
			{Name: "a", Addr: addr(1)},
			{Name: "c", Checks: []health.Check{{Name: "x"}}},
			{Name: "d", Addr: addr(4), Forwarding: 9, Checks: []health.Check{{Name: "x", Checker: ok}, {Name: "x", Checker: ok}}},
		},
		Sorry: &pool.Backend{Name: "s", Addr: addr(5), Checks: []health.Check{{Checker: ok}}},
	})
	if !errors.Is(err, pool.ErrPool) {
		t.Fatalf("err %v, want ErrPool", err)
	}
	for _, want := range []string{
		"Quorum and Hysteresis", "Workers", `backend "a": Weight -1`, `backend "a": name used twice`,
		`already used by "a"`, `backend "c": Addr is required`, "Checker is required",
		"unknown Forwarding", `check "x" defined twice`, "sorry server takes no checks",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if !errors.Is(err, health.ErrCheck) {
		t.Error("a check's error does not wrap ErrCheck")
	}
}

// fakeBalancer is an in-memory Balancer that records its calls.
type fakeBalancer struct {
	mu       sync.Mutex
	services map[netip.AddrPort]pool.Service
	dests    map[netip.AddrPort]map[netip.AddrPort]pool.Destination
	ops      []string
	failOn   map[string]int // op prefix -> failures left
}

func newFakeBalancer() *fakeBalancer {
	return &fakeBalancer{
		services: map[netip.AddrPort]pool.Service{},
		dests:    map[netip.AddrPort]map[netip.AddrPort]pool.Destination{},
		failOn:   map[string]int{},
	}
}

func (f *fakeBalancer) op(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for prefix, n := range f.failOn {
		if n > 0 && strings.HasPrefix(s, prefix) {
			f.failOn[prefix] = n - 1
			return errors.New("injected failure")
		}
	}
	if !strings.HasPrefix(s, "list") {
		f.ops = append(f.ops, s)
	}
	return nil
}

func (f *fakeBalancer) takeOps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := f.ops
	f.ops = nil
	return ops
}

func (f *fakeBalancer) EnsureService(_ context.Context, s pool.Service) error {
	if err := f.op(fmt.Sprintf("ensure %s %s %s", s, s.Scheduler, s.Forwarding)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[s.Addr] = s
	if f.dests[s.Addr] == nil {
		f.dests[s.Addr] = map[netip.AddrPort]pool.Destination{}
	}
	return nil
}

func (f *fakeBalancer) RemoveService(_ context.Context, s pool.Service) error {
	if err := f.op("remove-service " + s.String()); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.services, s.Addr)
	delete(f.dests, s.Addr)
	return nil
}

func (f *fakeBalancer) Destinations(_ context.Context, s pool.Service) ([]pool.Destination, error) {
	if err := f.op("list"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.services[s.Addr]; !ok {
		return nil, errors.New("no such service")
	}
	var ds []pool.Destination
	for _, d := range f.dests[s.Addr] {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b pool.Destination) int { return a.Addr.Compare(b.Addr) })
	return ds, nil
}

func (f *fakeBalancer) AddDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	if err := f.op(fmt.Sprintf("add %s %d %s", d.Addr, d.Weight, d.Forwarding)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.dests[s.Addr][d.Addr]; ok {
		return errors.New("exists")
	}
	f.dests[s.Addr][d.Addr] = d
	return nil
}

func (f *fakeBalancer) UpdateDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	if err := f.op(fmt.Sprintf("update %s %d %s", d.Addr, d.Weight, d.Forwarding)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.dests[s.Addr][d.Addr]; !ok {
		return errors.New("no such destination")
	}
	f.dests[s.Addr][d.Addr] = d
	return nil
}

func (f *fakeBalancer) RemoveDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	if err := f.op(fmt.Sprintf("remove %s", d.Addr)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.dests[s.Addr], d.Addr)
	return nil
}

// state renders a service's destinations as "port=weight/fwd".
func (f *fakeBalancer) state(svc netip.AddrPort) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ds []pool.Destination
	for _, d := range f.dests[svc] {
		ds = append(ds, d)
	}
	slices.SortFunc(ds, func(a, b pool.Destination) int { return a.Addr.Compare(b.Addr) })
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%d=%d/%s", d.Addr.Port(), d.Weight, d.Forwarding))
	}
	return strings.Join(parts, " ")
}

var vip = netip.MustParseAddrPort("127.0.0.1:80")

// BalancerSync turns memberships into the fewest balancer operations,
// adding before removing, and reconciles what the balancer already holds.
func TestBalancerSyncApply(t *testing.T) {
	fb := newFakeBalancer()
	s := &pool.BalancerSync{Balancer: fb, Service: pool.Service{Addr: vip, Scheduler: "wrr", Forwarding: pool.ForwardDR}}
	ctx := t.Context()
	// Left over from an earlier run: a stale destination and a wrong weight.
	if err := fb.EnsureService(ctx, pool.Service{Addr: vip}); err != nil {
		t.Fatal(err)
	}
	_ = fb.AddDestination(ctx, pool.Service{Addr: vip}, pool.Destination{Addr: addr(1), Weight: 9, Forwarding: pool.ForwardDR})
	_ = fb.AddDestination(ctx, pool.Service{Addr: vip}, pool.Destination{Addr: addr(7), Weight: 1, Forwarding: pool.ForwardDR})
	fb.takeOps()

	m := pool.Membership{Members: []pool.Member{
		{Name: "a", Addr: addr(1), Weight: 2},
		{Name: "b", Addr: addr(2), Weight: 3, Forwarding: pool.ForwardTUN},
	}}
	if err := s.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	want := []string{"ensure TCP 127.0.0.1:80 wrr DR", "update 127.0.0.1:10001 2 DR", "add 127.0.0.1:10002 3 TUN", "remove 127.0.0.1:10007"}
	if got := fb.takeOps(); !slices.Equal(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
	if got, want := fb.state(vip), "10001=2/DR 10002=3/TUN"; got != want {
		t.Errorf("state %q, want %q", got, want)
	}
	// The same membership again changes nothing.
	if err := s.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := fb.takeOps(); len(got) != 1 {
		t.Errorf("ops %v, want only the ensure", got)
	}
	// The sorry server comes in before the real servers go.
	m = pool.Membership{Members: []pool.Member{
		{Name: "a", Addr: addr(1), Weight: 0},
		{Name: "sorry", Addr: addr(99), Weight: 1, Sorry: true},
	}}
	if err := s.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	want = []string{"ensure TCP 127.0.0.1:80 wrr DR", "update 127.0.0.1:10001 0 DR", "add 127.0.0.1:10099 1 DR", "remove 127.0.0.1:10002"}
	if got := fb.takeOps(); !slices.Equal(got, want) {
		t.Errorf("ops %v, want %v", got, want)
	}
	// Failures are all reported, wrapped, and the rest still applied.
	fb.failOn["add"] = 1
	fb.failOn["remove 127.0.0.1:10099"] = 1
	m = pool.Membership{Members: []pool.Member{
		{Name: "a", Addr: addr(1), Weight: 4},
		{Name: "b", Addr: addr(2), Weight: 3},
		{Name: "c", Addr: addr(3), Weight: 1},
	}}
	err := s.Apply(ctx, m)
	if !errors.Is(err, pool.ErrBalancer) || !strings.Contains(err.Error(), "adding b (127.0.0.1:10002)") ||
		!strings.Contains(err.Error(), "removing 127.0.0.1:10099") {
		t.Fatalf("err %v", err)
	}
	if got, want := fb.state(vip), "10001=4/DR 10003=1/DR 10099=1/DR"; got != want {
		t.Errorf("state after a partial failure %q, want %q", got, want)
	}
	if err := s.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, want := fb.state(vip), "10001=4/DR 10002=3/DR 10003=1/DR"; got != want {
		t.Errorf("state after the retry %q, want %q", got, want)
	}
	fb.failOn["list"] = 1
	if err := s.Apply(ctx, m); !errors.Is(err, pool.ErrBalancer) || !strings.Contains(err.Error(), "listing") {
		t.Errorf("listing failure: %v", err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fb.services) != 0 {
		t.Error("service left after Remove")
	}
	if err := (&pool.BalancerSync{Balancer: fb}).Apply(ctx, m); !errors.Is(err, pool.ErrBalancer) {
		t.Errorf("no service address: %v", err)
	}
}

// A Pool drives a BalancerSync; a failing balancer is retried until the
// balancer holds the membership.
func TestPoolBalancerSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sw switches
		fb := newFakeBalancer()
		s := &pool.BalancerSync{Balancer: fb, Service: pool.Service{Addr: vip, Protocol: pool.ProtocolUDP}}
		bs := backends(&sw, 3, health.Check{Interval: time.Second, Fall: 2})
		bs[1].InhibitOnFailure = true
		bs[2].Weight = 4
		p, err := pool.New(pool.Config{
			Backends: bs, Quorum: 5, NoSpread: true, RetryDelay: 2 * time.Second,
			Sorry:    &pool.Backend{Name: "sorry", Addr: addr(99)},
			OnChange: s.Apply,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runPool(t, p)
		defer stop()
		synctest.Wait()
		if got, want := fb.state(vip), "10000=1/NAT 10001=1/NAT 10002=4/NAT"; got != want {
			t.Fatalf("initial %q, want %q", got, want)
		}
		fb.mu.Lock()
		fb.failOn["add"] = 1 // the sorry server's first add fails
		fb.mu.Unlock()
		sw.set("b0", false)
		sw.set("b1", false)
		sleepTo(start, 2500*time.Millisecond) // both down at 2 s: weight 4 < 5
		if got, want := fb.state(vip), "10001=0/NAT"; got != want {
			t.Errorf("after the failed apply %q, want %q", got, want)
		}
		sleepTo(start, 4500*time.Millisecond) // retried at 4 s
		if got, want := fb.state(vip), "10001=0/NAT 10099=1/NAT"; got != want {
			t.Errorf("after the retry %q, want %q", got, want)
		}
		sw.set("b0", true)
		sw.set("b1", true)
		sleepTo(start, 5500*time.Millisecond)
		if got, want := fb.state(vip), "10000=1/NAT 10001=1/NAT 10002=4/NAT"; got != want {
			t.Errorf("quorum back %q, want %q", got, want)
		}
	})
}

// Real sockets: a few dozen listeners, in a private network
// (internal/privnet), checked by TCP connects; closing some takes them
// out, reopening them brings them back, and the balancer follows.
func TestPoolSockets(t *testing.T) { privnet.Run(t, testPoolSockets) }

func testPoolSockets(t *testing.T, pn privnet.Net) {
	const n = 40
	type server struct {
		ln   net.Listener
		addr netip.AddrPort
		wg   sync.WaitGroup
	}
	listen := func(s *server, a string) {
		t.Helper()
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		s.ln = ln
		s.addr = ln.Addr().(*net.TCPAddr).AddrPort()
		s.wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		})
	}
	shut := func(s *server) {
		s.ln.Close()
		s.wg.Wait()
	}
	servers := make([]*server, n)
	for i := range servers {
		servers[i] = &server{}
		listen(servers[i], netip.AddrPortFrom(pn.A, 0).String())
	}
	defer func() {
		for _, s := range servers {
			shut(s)
		}
	}()
	dial := func(a netip.AddrPort) health.Checker {
		return health.CheckerFunc(func(ctx context.Context) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", a.String())
			if err != nil {
				return err
			}
			return c.Close()
		})
	}
	var bs []pool.Backend
	for i, s := range servers {
		bs = append(bs, pool.Backend{Name: fmt.Sprintf("s%d", i), Addr: s.addr,
			Checks: []health.Check{{Checker: dial(s.addr), Timeout: 500 * time.Millisecond}}})
	}
	fb := newFakeBalancer()
	bsync := &pool.BalancerSync{Balancer: fb, Service: pool.Service{Addr: vip}}
	var rec recorder
	p, err := pool.New(pool.Config{
		Name: "loopback", Backends: bs, Interval: 50 * time.Millisecond, Workers: 8,
		Quorum: 30, Hysteresis: 5,
		OnChange: func(ctx context.Context, m pool.Membership) error {
			_ = rec.onChange(ctx, m)
			return bsync.Apply(ctx, m)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runPool(t, p)
	defer stop()

	waitFor := func(what string, cond func(pool.Status) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond(p.Status()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; status weight %d quorum %v", what, p.Status().Weight, p.Status().Quorum)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("probes", func(s pool.Status) bool { return s.Probes >= 2*n })
	if s := p.Status(); s.Weight != n || !s.Quorum {
		t.Fatalf("weight %d quorum %v, want %d and up", s.Weight, s.Quorum, n)
	}
	// Close 15: weight 25, below 30-5? No: 25 is not below 25, quorum holds.
	for _, s := range servers[:15] {
		shut(s)
	}
	waitFor("15 down", func(s pool.Status) bool { return s.Weight == n-15 })
	if !p.Status().Quorum {
		t.Error("quorum lost at 25 with quorum 30 and hysteresis 5")
	}
	shut(servers[15])
	waitFor("quorum lost", func(s pool.Status) bool { return !s.Quorum })
	// Reopen them on the same ports.
	for _, s := range servers[:16] {
		listen(s, s.addr.String())
	}
	waitFor("all up", func(s pool.Status) bool { return s.Weight == n && s.Quorum })
	// The balancer converges on the last membership.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := rec.last(t)
		if len(m.Members) == n && fb.state(vip) != "" && strings.Count(fb.state(vip), "=1/NAT") == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("balancer %q did not converge", fb.state(vip))
		}
		time.Sleep(10 * time.Millisecond)
	}
	var kinds []string
	for _, m := range rec.all() {
		for _, e := range m.Events {
			if e.Kind == pool.QuorumUp || e.Kind == pool.QuorumDown {
				kinds = append(kinds, e.Kind.String())
			}
		}
	}
	if !slices.Equal(kinds, []string{"quorum-down", "quorum-up"}) {
		t.Errorf("quorum events %v, want one loss and one gain", kinds)
	}
}
