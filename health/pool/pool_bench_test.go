package pool_test

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/privnet"
)

// Environment of the pool measurement.
const (
	// poolBenchEnv=1 runs TestPoolBenchTCP.
	poolBenchEnv = "VRRPKIT_POOL_BENCH"
	// poolBenchBackendsEnv and poolBenchSecondsEnv override the number of
	// backends (5000) and the measured time (20 s); poolBenchWorkersEnv
	// the Pool's Workers.
	poolBenchBackendsEnv = "VRRPKIT_POOL_BENCH_BACKENDS"
	poolBenchSecondsEnv  = "VRRPKIT_POOL_BENCH_SECONDS"
	poolBenchWorkersEnv  = "VRRPKIT_POOL_BENCH_WORKERS"
	// listenersEnv makes TestPoolBenchListeners the listener process: it
	// holds the number of listeners to open.
	listenersEnv = "VRRPKIT_POOL_BENCH_LISTENERS"
)

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive integer", name, v)
	}
	return n
}

// cpuTime returns the user plus system CPU time of this process so far.
func cpuTime(t *testing.T) time.Duration {
	u, s := cpuTimes(t)
	return u + s
}

// cpuTimes returns the user and the system CPU time of this process so
// far.
func cpuTimes(t *testing.T) (user, sys time.Duration) {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// procCPU returns the user and system CPU time of process pid from
// /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the whole line.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// durationHistogram counts durations in decades from 100 µs to 1 s.
type durationHistogram struct {
	counts [6]atomic.Uint64
}

var histBounds = [...]time.Duration{100 * time.Microsecond, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}

func (h *durationHistogram) add(d time.Duration) {
	i := 0
	for i < len(histBounds) && d >= histBounds[i] {
		i++
	}
	h.counts[i].Add(1)
}

func (h *durationHistogram) String() string {
	var parts []string
	for i := range h.counts {
		label := "≥1s"
		if i < len(histBounds) {
			label = "<" + histBounds[i].String()
		}
		parts = append(parts, fmt.Sprintf("%s %d", label, h.counts[i].Load()))
	}
	return strings.Join(parts, ", ")
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestPoolBenchTCP measures the CPU a Pool spends checking 5,000 TCP
// backends every second, in a private network (internal/privnet): 5,000
// listeners run in a child process
// (this test binary again, as TestPoolBenchListeners), so that the CPU
// measured here (getrusage of this process over the measured window) is the
// pool's: its scheduling, the probes' connects and closes, the Go runtime,
// and the kernel work of the connecting side. The listeners' side (accept
// and close in the child) is reported apart.
//
//	VRRPKIT_POOL_BENCH=1 go test ./health -run TestPoolBenchTCP -v -count=1
func TestPoolBenchTCP(t *testing.T) {
	if os.Getenv(poolBenchEnv) != "1" {
		t.Skip("a 20 s measurement with 5,000 TCP listeners; set " + poolBenchEnv + "=1 to run it")
	}
	privnet.Run(t, poolBenchTCP)
}

// poolBenchTCP is TestPoolBenchTCP in its private network, where the
// listener process, its child, runs too.
func poolBenchTCP(t *testing.T, pn privnet.Net) {
	n := envInt(t, poolBenchBackendsEnv, 5000)
	secs := envInt(t, poolBenchSecondsEnv, 20)
	workers := envInt(t, poolBenchWorkersEnv, pool.DefaultWorkers)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < uint64(n)+256 {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is too low for %d listeners", lim.Max, n)
	}

	// The listener process.
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(secs)*time.Second+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPoolBenchListeners$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", listenersEnv, n), poolBenchEnv+"=")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child exits when its stdin closes
		if err := cmd.Wait(); err != nil {
			t.Errorf("listener process: %v", err)
		}
	}()
	var ports []uint16
	sc := bufio.NewScanner(stdout)
	for len(ports) < n && sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "PORT ") {
			continue
		}
		p, err := strconv.Atoi(strings.TrimPrefix(line, "PORT "))
		if err != nil {
			t.Fatalf("listener process said %q", line)
		}
		ports = append(ports, uint16(p))
	}
	if len(ports) != n {
		t.Fatalf("listener process opened %d listeners, want %d (%v)", len(ports), n, sc.Err())
	}
	go func() { // drain the rest of its output
		for sc.Scan() {
		}
	}()

	var hist durationHistogram
	bs := make([]pool.Backend, n)
	for i, port := range ports {
		a := netip.AddrPortFrom(pn.A, port)
		tcp := health.TCP{Address: a.String()}
		bs[i] = pool.Backend{Addr: a, Checks: []health.Check{{
			Checker: health.CheckerFunc(func(ctx context.Context) error {
				start := time.Now()
				err := tcp.Check(ctx)
				hist.add(time.Since(start))
				return err
			}),
			Timeout: time.Second,
		}}}
	}
	var mu sync.Mutex
	var changes int
	p, err := pool.New(pool.Config{
		Name:     "bench",
		Backends: bs,
		Interval: time.Second,
		Workers:  workers,
		Quorum:   n,
		OnChange: func(_ context.Context, m pool.Membership) error {
			mu.Lock()
			changes += len(m.Events)
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// Warm up for 3 s: the first round is spread over the first second.
	time.Sleep(3 * time.Second)
	runtime.GC()
	s0, wall0 := p.Status(), time.Now()
	user0, sys0 := cpuTimes(t)
	child0, _ := procCPU(cmd.Process.Pid)
	time.Sleep(time.Duration(secs) * time.Second)
	s1, wall1 := p.Status(), time.Now()
	user1, sys1 := cpuTimes(t)
	child1, _ := procCPU(cmd.Process.Pid)
	load := loadavg()

	wall := wall1.Sub(wall0)
	user, sys := user1-user0, sys1-sys0
	cpu := user + sys
	probes := s1.Probes - s0.Probes
	var failures uint64
	for i, b := range s1.Backends {
		failures += b.Checks[0].Failures - s0.Backends[i].Checks[0].Failures
	}
	mu.Lock()
	nchanges := changes
	mu.Unlock()
	share := float64(cpu) / float64(wall) * 100
	t.Logf("%d TCP backends every 1 s, %d workers, GOMAXPROCS %d, %d CPUs, measured over %v",
		n, workers, runtime.GOMAXPROCS(0), runtime.NumCPU(), wall.Round(time.Millisecond))
	t.Logf("probes: %d (%.0f/s), failed: %d, events: %d, quorum %v, weight %d",
		probes, float64(probes)/wall.Seconds(), failures, nchanges, s1.Quorum, s1.Weight)
	t.Logf("schedule lag: mean %v, max %v; probe durations: %s", s1.MeanLag, s1.MaxLag, hist.String())
	t.Logf("pool process CPU: %v = %.1f%% of one core = %.1f%% of the machine's %d cores (%.1f µs per probe)",
		cpu.Round(time.Millisecond), share, share/float64(runtime.NumCPU()), runtime.NumCPU(),
		float64(cpu.Microseconds())/float64(probes))
	t.Logf("of which user %v, system %v", user.Round(time.Millisecond), sys.Round(time.Millisecond))
	t.Logf("listener process CPU (not included above): %v = %.1f%% of one core",
		(child1 - child0).Round(time.Millisecond), float64(child1-child0)/float64(wall)*100)
	t.Logf("load average at the end: %s", load)

	if got, want := float64(probes)/wall.Seconds(), float64(n); got < 0.95*want {
		t.Errorf("%.0f probes/s, want about %.0f: the pool did not keep up", got, want)
	}
	if failures > 0 || !s1.Quorum {
		t.Errorf("%d failed probes, quorum %v: the checks should all pass", failures, s1.Quorum)
	}
}

// TestPoolBenchNoop measures the Pool's own machinery, with the same
// schedule as TestPoolBenchTCP but probes that do nothing: what remains of
// its CPU is the timer heap, the hand-off to the workers and the results.
//
//	VRRPKIT_POOL_BENCH=1 go test ./health -run TestPoolBenchNoop -v -count=1
func TestPoolBenchNoop(t *testing.T) {
	if os.Getenv(poolBenchEnv) != "1" {
		t.Skip("a 20 s measurement; set " + poolBenchEnv + "=1 to run it")
	}
	n := envInt(t, poolBenchBackendsEnv, 5000)
	secs := envInt(t, poolBenchSecondsEnv, 20)
	workers := envInt(t, poolBenchWorkersEnv, pool.DefaultWorkers)
	noop := health.CheckerFunc(func(context.Context) error { return nil })
	bs := make([]pool.Backend, n)
	for i := range bs {
		bs[i] = pool.Backend{Addr: netip.AddrPortFrom(privnet.Addrs().A, uint16(1+i)),
			Checks: []health.Check{{Checker: noop}}}
	}
	p, err := pool.New(pool.Config{Backends: bs, Interval: time.Second, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	time.Sleep(3 * time.Second)
	s0, cpu0, wall0 := p.Status(), cpuTime(t), time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	s1, cpu1, wall1 := p.Status(), cpuTime(t), time.Now()
	wall, cpu, probes := wall1.Sub(wall0), cpu1-cpu0, s1.Probes-s0.Probes
	t.Logf("%d no-op checks every 1 s, %d workers: %d probes (%.0f/s) over %v, lag mean %v max %v",
		n, workers, probes, float64(probes)/wall.Seconds(), wall.Round(time.Millisecond), s1.MeanLag, s1.MaxLag)
	t.Logf("process CPU: %v = %.1f%% of one core (%.1f µs per probe); load average %s",
		cpu.Round(time.Millisecond), float64(cpu)/float64(wall)*100, float64(cpu.Microseconds())/float64(probes), loadavg())
}

// TestPoolBenchListeners is the listener process of TestPoolBenchTCP: it
// opens the listeners on the private network's first address, prints
// "PORT n" for each, and accepts
// and closes connections on two goroutines with epoll until its stdin
// closes (or 10 minutes pass).
func TestPoolBenchListeners(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(listenersEnv))
	if n <= 0 {
		t.Skip("the listener process of TestPoolBenchTCP; runs only as its child")
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	out := bufio.NewWriter(os.Stdout)
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			t.Fatal(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: privnet.Addrs().A.As4()}); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(fd, 1024); err != nil {
			t.Fatal(err)
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "PORT %d\n", sa.(*unix.SockaddrInet4).Port)
	}
	if err := out.Flush(); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	go func() { // the parent closes our stdin to stop us
		_, _ = bufio.NewReader(os.Stdin).ReadString(0)
		close(stop)
	}()
	deadline := time.Now().Add(10 * time.Minute)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			events := make([]unix.EpollEvent, 128)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if time.Now().After(deadline) {
					return
				}
				k, err := unix.EpollWait(ep, events, 100)
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				for _, e := range events[:k] {
					for {
						c, _, err := unix.Accept4(int(e.Fd), unix.SOCK_CLOEXEC)
						if err != nil {
							break // EAGAIN: drained (or taken by the other goroutine)
						}
						unix.Close(c)
					}
				}
			}
		})
	}
	wg.Wait()
}
