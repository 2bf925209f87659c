package vrrp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	announcefake "github.com/vrrpkit/vrrpkit/announce/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// stepClock is a vrrp.Clock that moves only when Advance is called; its
// timers fire then.
type stepClock struct {
	mu     sync.Mutex
	armed  sync.Cond // signalled when a timer is reset
	now    time.Time
	timers []*stepTimer
}

type stepTimer struct {
	c      *stepClock
	at     time.Time
	active bool
	ch     chan time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) NewTimer(d time.Duration) (vrrp.Timer, <-chan time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &stepTimer{c: c, at: c.now.Add(d), active: true, ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.armed.Broadcast()
	return t, t.ch
}

// Advance waits until a timer is armed (the Router re-arms its own after
// handling a round), then moves the clock by d and fires the timers that
// fall due.
func (c *stepClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !slices.ContainsFunc(c.timers, func(t *stepTimer) bool { return t.active }) {
		c.armed.Wait()
	}
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.at.After(c.now) {
			t.active = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

func (t *stepTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	select {
	case <-t.ch:
	default:
	}
	return was
}

func (t *stepTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	select {
	case <-t.ch:
	default:
	}
	t.at, t.active = t.c.now.Add(d), true
	t.c.armed.Broadcast()
	return was
}

// sink is a vrrp.Transport whose Conns count what they send and read
// nothing, so that a benchmark times the Router alone.
type sink struct {
	sent, want atomic.Int64
	round      chan struct{} // receives when sent reaches want
}

type sinkConn struct {
	s      *sink
	closed chan struct{}
	once   sync.Once
}

func (s *sink) Open(context.Context, vrrp.Endpoint) (vrrp.Conn, error) {
	return &sinkConn{s: s, closed: make(chan struct{})}, nil
}

func (s *sink) add(n int) {
	if s.sent.Add(int64(n)) == s.want.Load() {
		s.round <- struct{}{}
	}
}

func (c *sinkConn) ReadFrom([]byte) (int, vrrp.PacketInfo, error) {
	<-c.closed
	return 0, vrrp.PacketInfo{}, net.ErrClosed
}

func (c *sinkConn) WriteTo([]byte, netip.Addr, netip.Addr) error {
	c.s.add(1)
	return nil
}

func (c *sinkConn) WriteBatch(ms []vrrp.Outgoing) (int, error) {
	c.s.add(len(ms))
	return len(ms), nil
}

func (c *sinkConn) LocalAddr() netip.Addr { return addr4(1) }

func (c *sinkConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// BenchmarkRouterMasters measures the owner loop's cost per advert when n
// Master instances of one interval fall due together, as in the netns
// benchmark's CPU part (internal/bench), with the Router alone timed: a
// step clock fires its timer once per round, and a round ends when the
// sink Transport has taken every advert. The allocations it reports are
// the Router's: the benchmark's own timeout is one reused timer.
func BenchmarkRouterMasters(b *testing.B) {
	for _, n := range []int{1, 255, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) { benchMasters(b, n) })
	}
}

func benchMasters(b *testing.B, n int) {
	const interval = 100 * time.Millisecond
	clk := &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	clk.armed.L = &clk.mu
	tr := &sink{round: make(chan struct{}, 1)}
	tr.want.Store(int64(n))
	insts := make([]vrrp.InstanceConfig, n)
	for i := range insts {
		// 250 virtual routers an interface, as the netns benchmark has.
		insts[i] = vrrp.InstanceConfig{
			Name: fmt.Sprintf("VI_%d", i+1), Interface: fmt.Sprintf("eth%d", i/250),
			VRID: uint8(i%250 + 1), Priority: 255, AdvertInterval: interval,
			VIPs: []vrrp.VIP{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(1 + i/250), byte(i % 250)}), 32)}},
		}
	}
	binder := &vipfake.Binder{}
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: tr, Binder: binder, Announcer: announcefake.NewAnnouncer(nil),
		Instances: insts, Clock: clk,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	timeout := time.NewTimer(time.Hour)
	defer timeout.Stop()
	wait := func() {
		timeout.Reset(10 * time.Second)
		select {
		case <-tr.round:
		case <-timeout.C:
			b.Fatalf("a round of %d adverts did not complete: %d of %d sent", n, tr.sent.Load(), tr.want.Load())
		}
	}
	// step advances one interval and waits for the round's adverts.
	step := func() {
		tr.want.Store(tr.sent.Load() + int64(n))
		clk.Advance(interval)
		wait()
	}
	// The owners become Masters at once; their binds run beside the
	// owner loop, in real time, and must be done before the step clock
	// runs past the time a bind has to succeed in. Then run past the
	// second announcement burst (GARPMasterDelay) before timing.
	wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		binds := 0
		for _, c := range binder.Calls() {
			if c.Op == vipfake.OpBind {
				binds++
			}
		}
		if binds >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d binds after 10 s", binds, n)
		}
	}
	for range 2 * vrrp.DefaultGARPMasterDelay / interval {
		step()
	}
	b.ReportAllocs()
	rounds := 0
	for b.Loop() {
		step()
		rounds++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*n), "ns/advert")
}
