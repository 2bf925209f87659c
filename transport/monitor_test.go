//go:build linux

package transport_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// recorder records what a Monitor reports.
type recorder struct {
	mu      sync.Mutex
	last    map[string]vrrp.LinkState
	history []vrrp.LinkState
}

func (r *recorder) add(ls vrrp.LinkState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]vrrp.LinkState{}
	}
	r.last[ls.Interface] = ls
	r.history = append(r.history, ls)
}

func (r *recorder) get(name string) (vrrp.LinkState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ls, ok := r.last[name]
	return ls, ok
}

// wait waits until the last state reported for name satisfies cond.
func (r *recorder) wait(t *testing.T, name, what string, cond func(vrrp.LinkState) bool) vrrp.LinkState {
	t.Helper()
	var ls vrrp.LinkState
	netns.WaitFor(t, waitTimeout, name+": "+what, func() bool {
		var ok bool
		ls, ok = r.get(name)
		return ok && cond(ls)
	})
	return ls
}

func has(ls vrrp.LinkState, a netip.Addr) bool { return slices.Contains(ls.Addrs, a) }

// checkOrder checks that the IPv4 addresses of ls come before its IPv6 ones.
func checkOrder(t *testing.T, ls vrrp.LinkState) {
	t.Helper()
	seen6 := false
	for _, a := range ls.Addrs {
		if a.Is6() {
			seen6 = true
		} else if seen6 {
			t.Errorf("%s: Addrs %v: IPv4 after IPv6", ls.Interface, ls.Addrs)
		}
	}
}

func TestMonitor(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	a4, a6 := h.Addr4.Addr(), h.Addr6.Addr()

	base := runtime.NumGoroutine()
	var rec recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- transport.Monitor{Namespace: h.Path(), Logger: testLogger(t)}.Watch(ctx, rec.add)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Watch still running %v after its context ended", waitTimeout)
		}
	}
	defer stop()

	// The initial state.
	ls := rec.wait(t, h.Iface, "up with its addresses", func(ls vrrp.LinkState) bool {
		return ls.Exists && ls.Up && has(ls, a4) && has(ls, a6) && has(ls, h.LinkLocal)
	})
	if ls.Addrs[0] != a4 {
		t.Errorf("eth0 Addrs = %v, want %v first", ls.Addrs, a4)
	}
	checkOrder(t, ls)
	rec.wait(t, "lo", "up", func(ls vrrp.LinkState) bool {
		return ls.Exists && ls.Up && has(ls, netip.MustParseAddr("127.0.0.1"))
	})

	// Administratively down and up.
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "down", func(ls vrrp.LinkState) bool { return ls.Exists && !ls.Up })
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "up again with its addresses", func(ls vrrp.LinkState) bool {
		return ls.Up && has(ls, a4) && has(ls, a6) && has(ls, h.LinkLocal)
	})

	// Carrier lost and back: the link stays administratively up.
	if err := lab.SetCable(h, false); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "down without carrier", func(ls vrrp.LinkState) bool { return ls.Exists && !ls.Up })
	if err := lab.SetCable(h, true); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "up with carrier", func(ls vrrp.LinkState) bool { return ls.Up })

	// Addresses removed and added; a secondary IPv4 address comes after
	// the primary.
	h.Run(t, "ip", "addr", "del", h.Addr4.String(), "dev", h.Iface)
	rec.wait(t, h.Iface, "without "+a4.String(), func(ls vrrp.LinkState) bool { return !has(ls, a4) && ls.Up })
	h.Run(t, "ip", "addr", "add", h.Addr4.String(), "dev", h.Iface)
	rec.wait(t, h.Iface, "with "+a4.String(), func(ls vrrp.LinkState) bool { return has(ls, a4) })
	sec := netip.MustParseAddr("198.18.0.150")
	h.Run(t, "ip", "addr", "add", sec.String()+"/24", "dev", h.Iface)
	ls = rec.wait(t, h.Iface, "with "+sec.String(), func(ls vrrp.LinkState) bool { return has(ls, sec) })
	if ls.Addrs[0] != a4 {
		t.Errorf("eth0 Addrs = %v, want the primary %v first", ls.Addrs, a4)
	}
	checkOrder(t, ls)
	h.Run(t, "ip", "addr", "del", h.Addr6.String(), "dev", h.Iface)
	rec.wait(t, h.Iface, "without "+a6.String(), func(ls vrrp.LinkState) bool { return !has(ls, a6) })

	// Interfaces created, renamed and deleted; an IPv6 address in
	// duplicate address detection is reported only once it passes.
	h.Run(t, "ip", "link", "add", "test0", "type", "veth", "peer", "name", "test1")
	rec.wait(t, "test0", "created, down", func(ls vrrp.LinkState) bool { return ls.Exists && !ls.Up })
	h.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/test0/accept_dad")
	h.Run(t, "ip", "link", "set", "test1", "up")
	h.Run(t, "ip", "link", "set", "test0", "up")
	rec.wait(t, "test0", "up", func(ls vrrp.LinkState) bool { return ls.Up })
	dad := netip.MustParseAddr("fd00::77")
	h.Run(t, "ip", "addr", "add", dad.String()+"/64", "dev", "test0")
	time.Sleep(300 * time.Millisecond) // DAD takes a second
	if ls, _ := rec.get("test0"); has(ls, dad) {
		t.Errorf("test0: tentative %v reported: %v", dad, ls.Addrs)
	}
	rec.wait(t, "test0", dad.String()+" after DAD", func(ls vrrp.LinkState) bool { return has(ls, dad) })
	// Down: the kernel removes its IPv6 addresses, every one of them.
	h.Run(t, "ip", "link", "set", "test0", "down")
	rec.wait(t, "test0", "down without addresses", func(ls vrrp.LinkState) bool { return !ls.Up && len(ls.Addrs) == 0 })
	h.Run(t, "ip", "link", "set", "test0", "name", "test2")
	rec.wait(t, "test0", "gone after the rename", func(ls vrrp.LinkState) bool { return !ls.Exists })
	rec.wait(t, "test2", "there after the rename", func(ls vrrp.LinkState) bool { return ls.Exists })
	h.Run(t, "ip", "link", "del", "test2")
	rec.wait(t, "test2", "deleted", func(ls vrrp.LinkState) bool { return !ls.Exists })
	rec.wait(t, "test1", "deleted with its peer", func(ls vrrp.LinkState) bool { return !ls.Exists })

	stop()
	// Only changes were reported.
	rec.mu.Lock()
	prev := map[string]vrrp.LinkState{}
	for _, ls := range rec.history {
		t.Logf("reported %+v", ls)
		if p, ok := prev[ls.Interface]; ok && p.Exists == ls.Exists && p.Up == ls.Up && slices.Equal(p.Addrs, ls.Addrs) {
			t.Errorf("%s: the same state reported twice in a row: %+v", ls.Interface, ls)
		}
		prev[ls.Interface] = ls
	}
	rec.mu.Unlock()
	waitGoroutines(t, base)
}

// TestMonitorErrors checks that Watch fails at once when it cannot start.
func TestMonitorErrors(t *testing.T) {
	err := transport.Monitor{Namespace: "/run/netns/vrrpkit-does-not-exist"}.Watch(context.Background(), func(vrrp.LinkState) {})
	if err == nil {
		t.Error("Watch in a missing namespace succeeded")
	}
}

// logRecorder is a slog.Handler that keeps the messages it handles and
// passes them on.
type logRecorder struct {
	slog.Handler
	mu   *sync.Mutex
	msgs *[]string
}

func newLogRecorder(t testing.TB) logRecorder {
	return logRecorder{Handler: testLogger(t).Handler(), mu: new(sync.Mutex), msgs: new([]string)}
}

func (l logRecorder) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	*l.msgs = append(*l.msgs, r.Message)
	l.mu.Unlock()
	return l.Handler.Handle(ctx, r)
}

func (l logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	l.Handler = l.Handler.WithAttrs(as)
	return l
}

func (l logRecorder) WithGroup(name string) slog.Handler {
	l.Handler = l.Handler.WithGroup(name)
	return l
}

// contains reports whether a message handled so far contains s.
func (l logRecorder) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(*l.msgs, func(m string) bool { return strings.Contains(m, s) })
}

// TestMonitorResubscribe overflows the Monitor's netlink socket: fn blocks
// while thousands of addresses are added, so the kernel drops
// notifications (ENOBUFS) and the subscription ends. The Monitor must
// subscribe again and report the real state.
func TestMonitorResubscribe(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	h.Run(t, "ip", "link", "add", "test0", "type", "veth", "peer", "name", "test1")
	const n = 3000
	var batch strings.Builder
	for i := range n {
		fmt.Fprintf(&batch, "addr add 198.19.%d.%d/32 dev test0\n", i/250, i%250+1)
	}
	file := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(file, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	logs := newLogRecorder(t)
	var rec recorder
	unblock := make(chan struct{})
	var once sync.Once
	blocked := make(chan struct{})
	fn := func(ls vrrp.LinkState) {
		once.Do(func() {
			close(blocked)
			<-unblock
		})
		rec.add(ls)
	}
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- transport.Monitor{Namespace: h.Path(), Logger: slog.New(logs)}.Watch(ctx, fn)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Watch still running %v after its context ended", waitTimeout)
		}
		waitGoroutines(t, base)
	}()

	select {
	case <-blocked:
	case <-time.After(waitTimeout):
		close(unblock)
		t.Fatal("fn never called")
	}
	h.Run(t, "ip", "-batch", file)
	close(unblock)

	prefix := netip.MustParsePrefix("198.19.0.0/16")
	count := func(ls vrrp.LinkState) int {
		k := 0
		for _, a := range ls.Addrs {
			if prefix.Contains(a) {
				k++
			}
		}
		return k
	}
	rec.wait(t, "test0", fmt.Sprintf("%d addresses", n), func(ls vrrp.LinkState) bool { return count(ls) == n })
	if !logs.contains("subscribing again") {
		t.Error("no subscription failure logged: did the socket overflow?")
	}
	// Changes are followed after the new subscription.
	h.Run(t, "ip", "link", "del", "test0")
	rec.wait(t, "test0", "deleted", func(ls vrrp.LinkState) bool { return !ls.Exists })
}

// snapshot returns the state of iface in h as a new Monitor first reports
// it, from a full read of the namespace.
func snapshot(t *testing.T, h *netns.Host, iface string) vrrp.LinkState {
	t.Helper()
	var rec recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- transport.Monitor{Namespace: h.Path()}.Watch(ctx, rec.add) }()
	var ls vrrp.LinkState
	var ok bool
	for end := time.Now().Add(waitTimeout); !ok && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		ls, ok = rec.get(iface)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if !ok {
		t.Fatalf("no state of %s reported in %v", iface, waitTimeout)
	}
	return ls
}

// TestMonitorManyAddresses adds and removes hundreds of addresses of every
// kind in bursts (IPv4 secondary and primary ones of three scopes, IPv6
// ones, some removed and added again, a secondary promoted): the Monitor
// follows them from the changes alone, and its state must be, in the same
// order, what a new Monitor reads from the kernel.
func TestMonitorManyAddresses(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	var rec recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- transport.Monitor{Namespace: h.Path(), Logger: testLogger(t)}.Watch(ctx, rec.add)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Watch still running %v after its context ended", waitTimeout)
		}
	}()
	rec.wait(t, h.Iface, "up with its addresses", func(ls vrrp.LinkState) bool {
		return ls.Up && has(ls, h.Addr4.Addr()) && has(ls, h.LinkLocal)
	})

	batch := func(lines []string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "batch")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.Run(t, "ip", "-batch", file)
	}
	// same waits until the Monitor's state of eth0 is what a new Monitor
	// reads.
	same := func(what string) vrrp.LinkState {
		t.Helper()
		want := snapshot(t, h, h.Iface)
		var got vrrp.LinkState
		for end := time.Now().Add(waitTimeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if got, _ = rec.get(h.Iface); got.Up == want.Up && slices.Equal(got.Addrs, want.Addrs) {
				return got
			}
		}
		t.Fatalf("%s: the Monitor reports\n%v\nwhere a new one reads\n%v", what, got.Addrs, want.Addrs)
		return got
	}

	dev := " dev " + h.Iface
	var lines []string
	for i := range 60 {
		lines = append(lines,
			fmt.Sprintf("addr add 198.18.0.%d/24", 100+i)+dev,       // secondary
			fmt.Sprintf("addr add 198.19.1.%d/32", 1+i)+dev,         // primary, after the others
			fmt.Sprintf("addr add fd00::1:%x/64", 1+i)+dev+" nodad", // newest first
		)
	}
	lines = append(lines,
		"addr add 198.19.2.1/32"+dev+" scope host", // first
		"addr add 198.19.3.1/32"+dev+" scope link", // after the host-scope one
		"addr add 198.19.3.2/32"+dev+" scope link",
	)
	for i := range 10 {
		lines = append(lines,
			fmt.Sprintf("addr del 198.18.0.%d/24", 110+i)+dev,
			fmt.Sprintf("addr del 198.19.1.%d/32", 11+i)+dev,
			fmt.Sprintf("addr del fd00::1:%x/64", 11+i)+dev,
		)
	}
	lines = append(lines,
		"addr add 198.19.1.15/32"+dev,
		"addr add fd00::1:f/64"+dev+" nodad",
		"addr add 198.18.0.115/24"+dev,
	)
	batch(lines)
	ls := same(fmt.Sprintf("after %d changes", len(lines)))
	if ls.Addrs[0] != netip.MustParseAddr("198.19.2.1") {
		t.Errorf("Addrs = %v, want the host-scope address first", ls.Addrs)
	}
	checkOrder(t, ls)

	// Primary addresses removed: a secondary one is promoted, which the
	// kernel moves after the last primary address of the same or a
	// narrower scope (or where the removed one was): for the host-scope
	// one, before the global ones.
	h.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/"+h.Iface+"/promote_secondaries")
	h.Run(t, "ip", "addr", "add", "198.19.5.1/24", "dev", h.Iface, "scope", "host")
	h.Run(t, "ip", "addr", "add", "198.19.5.2/24", "dev", h.Iface, "scope", "host")
	h.Run(t, "ip", "addr", "del", "198.19.5.1/24", "dev", h.Iface)
	ls = same("after a host-scope promotion")
	if i := slices.Index(ls.Addrs, netip.MustParseAddr("198.19.5.2")); i != 1 {
		t.Errorf("Addrs = %v, want 198.19.5.2 promoted second", ls.Addrs)
	}
	h.Run(t, "ip", "addr", "del", h.Addr4.String(), "dev", h.Iface)
	ls = same("after a promotion")
	if has(ls, h.Addr4.Addr()) || !has(ls, netip.MustParseAddr("198.18.0.100")) {
		t.Errorf("Addrs = %v, want %v gone and 198.18.0.100 promoted", ls.Addrs, h.Addr4.Addr())
	}

	// Without promotion, the secondary addresses go with the primary one.
	h.Run(t, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/"+h.Iface+"/promote_secondaries")
	h.Run(t, "ip", "addr", "del", "198.18.0.100/24", "dev", h.Iface)
	ls = same("after the primary address removed with its secondaries")
	if has(ls, netip.MustParseAddr("198.18.0.101")) {
		t.Errorf("Addrs = %v, want the secondary addresses gone", ls.Addrs)
	}

	// Down: the kernel removes the IPv6 addresses; up, the link-local one
	// comes back.
	if err := h.SetLink(false); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "down without IPv6 addresses", func(ls vrrp.LinkState) bool { return !ls.Up && !has(ls, h.LinkLocal) })
	same("down")
	if err := h.SetLink(true); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, h.Iface, "up with its link-local address", func(ls vrrp.LinkState) bool { return ls.Up && has(ls, h.LinkLocal) })
	same("up again")
}
