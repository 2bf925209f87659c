//go:build linux

package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// Environment variables that request and tune the benchmark (see the
// package documentation).
const (
	envBench   = "VRRPKIT_BENCH"
	envOut     = "VRRPKIT_BENCH_OUT"
	envN       = "VRRPKIT_BENCH_N"
	envPeriod  = "VRRPKIT_BENCH_PERIOD"
	envStable  = "VRRPKIT_BENCH_STABLE"
	envStableN = "VRRPKIT_BENCH_STABLE_N"
	envCPUN    = "VRRPKIT_BENCH_CPU_N"
	envImpls   = "VRRPKIT_BENCH_IMPLS"
	envProfile = "VRRPKIT_BENCH_PROFILE"
	envDaemon  = "VRRPKIT_BENCH_DAEMON"
	envIntervs = "VRRPKIT_BENCH_INTERVALS"
)

// howTo is what a skipped benchmark says.
const howTo = "benchmark not requested: run scripts/bench-failover.sh, or as root " +
	"VRRPKIT_BENCH=all go test ./internal/bench -run . -v -timeout 2h " +
	"(VRRPKIT_BENCH is all or a list of failover,cpu,stable,heap)"

// daemonPath is the test daemon built by TestMain when the benchmark is
// requested, or empty with the reason in daemonErr.
var (
	daemonPath string
	daemonErr  error
)

func TestMain(m *testing.M) {
	var dir string
	if p := os.Getenv(envDaemon); p != "" && os.Getenv(envBench) != "" {
		// A test daemon built elsewhere (another branch, a patch to try).
		daemonPath, daemonErr = p, nil
		if _, err := os.Stat(p); err != nil {
			daemonErr = err
		}
	} else if os.Getenv(envBench) != "" {
		var err error
		dir, err = os.MkdirTemp("", "vrrpkit-bench-")
		if err == nil {
			daemonPath = filepath.Join(dir, "testdaemon")
			daemonErr = testenv.BuildTestDaemon(daemonPath)
		} else {
			daemonErr = err
		}
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// requested skips t (with t.Skip, never a CI failure) unless VRRPKIT_BENCH
// names part or is "all", and fails it if the daemon could not be built.
func requested(t *testing.T, part string) {
	t.Helper()
	v := os.Getenv(envBench)
	ok := false
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "all" || p == part {
			ok = true
		}
	}
	if !ok {
		t.Skip(howTo)
	}
	if os.Geteuid() != 0 {
		t.Skipf("the benchmark runs in network namespaces and needs root (euid %d)", os.Geteuid())
	}
	if daemonErr != nil {
		t.Fatalf("%v", daemonErr)
	}
	if daemonPath == "" {
		t.Fatal("the test daemon was not built")
	}
}

// impls returns the implementations to measure.
func impls() []kind {
	v := os.Getenv(envImpls)
	if v == "" {
		return []kind{ours, keepalived}
	}
	var out []kind
	for _, p := range strings.Split(v, ",") {
		switch k := kind(strings.TrimSpace(p)); k {
		case ours, keepalived:
			out = append(out, k)
		}
	}
	return out
}

// envDuration reads a duration from the environment, or def.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", name, v)
	}
	return d
}

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// outMu serialises writes to VRRPKIT_BENCH_OUT; header is written once.
var (
	outMu  sync.Mutex
	header sync.Once
)

// report logs a markdown fragment and appends it to VRRPKIT_BENCH_OUT.
func report(t *testing.T, md string) {
	t.Helper()
	header.Do(func() {
		md = fmt.Sprintf("Run of %s on %s; load average at the end of the first part: %s.\n\n%s",
			time.Now().Format("2006-01-02 15:04 MST"), machine(), loadavg(), md)
	})
	t.Logf("\n%s", md)
	path := os.Getenv(envOut)
	if path == "" {
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("writing %s: %v", path, err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\n", md); err != nil {
		t.Errorf("writing %s: %v", path, err)
	}
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the machine for the report.
func machine() string {
	cpu := "?"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	kv := "?"
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		bin = "/usr/sbin/keepalived"
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err == nil {
		kv = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s, %s", runtime.NumCPU(), cpu, kernel, runtime.Version(), kv)
}
