package health

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// fakeProc is a fake proc filesystem in a temporary directory: pid
// directories with stat and cmdline, and self/mountinfo and self/status.
type fakeProc struct {
	t    testing.TB
	root string
}

// newFakeProc returns a fake /proc holding pid 1, mounted without hidepid
// and seen by an unprivileged process (no capabilities, no groups).
func newFakeProc(t testing.TB) *fakeProc {
	t.Helper()
	f := &fakeProc{t: t, root: t.TempDir()}
	f.mount("rw")
	f.status(0, "0", "")
	f.add(1, "init", 'S', 1, "/sbin/init")
	return f
}

// mount writes self/mountinfo with the proc mount at f.root having the
// given super options, among other mounts.
func (f *fakeProc) mount(opts string) {
	f.t.Helper()
	mi := "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" +
		fmt.Sprintf("23 22 0:20 / %s rw,nosuid,nodev,noexec,relatime shared:12 - proc proc %s\n", escapeMountinfo(f.root), opts) +
		"24 22 0:21 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
	f.write("self/mountinfo", mi)
}

// status writes self/status with the given effective capabilities,
// filesystem gid and supplementary groups.
func (f *fakeProc) status(capEff uint64, fsgid, groups string) {
	f.t.Helper()
	f.write("self/status", fmt.Sprintf("Name:\ttest\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t%s\nGroups:\t%s\nCapEff:\t%016x\n", fsgid, groups, capEff))
}

func (f *fakeProc) write(name, content string) {
	f.t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// add writes /proc/PID with a stat line (state, start time) and a command
// line (empty for a kernel thread).
func (f *fakeProc) add(pid int, comm string, state byte, start uint64, argv ...string) {
	f.t.Helper()
	dir := strconv.Itoa(pid)
	f.write(dir+"/comm", comm+"\n")
	f.write(dir+"/stat", fmt.Sprintf("%d (%s) %c 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100 18446744073709551615\n", pid, comm, state, pid, pid, start))
	cmdline := ""
	if len(argv) > 0 {
		cmdline = strings.Join(argv, "\x00") + "\x00"
	}
	f.write(dir+"/cmdline", cmdline)
}

func (f *fakeProc) remove(pid int) {
	f.t.Helper()
	if err := os.RemoveAll(filepath.Join(f.root, strconv.Itoa(pid))); err != nil {
		f.t.Fatal(err)
	}
}

func escapeMountinfo(s string) string {
	return strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
}

// probeCount probes p once and returns its count.
func probeCount(t *testing.T, p *Process) int {
	t.Helper()
	n, err := p.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func TestProcessValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *Process
		want string // "" means valid
	}{
		{"minimal", &Process{Name: "haproxy"}, ""},
		{"no name", &Process{}, "Name is required"},
		{"comm too long", &Process{Name: "a-very-long-process-name"}, "15 bytes"},
		{"long with full command", &Process{Name: "/usr/local/sbin/a-very-long-process-name", FullCommand: true}, ""},
		{"long with args", &Process{Name: "/usr/local/sbin/a-very-long-process-name", Args: []string{"-f"}}, ""},
		{"NUL in name", &Process{Name: "a\x00b"}, "NUL"},
		{"NUL in arg", &Process{Name: "a", Args: []string{"x\x00"}}, "NUL"},
		{"bad param match", &Process{Name: "a", ParamMatch: "fuzzy"}, "ParamMatch"},
		{"negative quorum", &Process{Name: "a", Quorum: -1}, "negative"},
		{"bad quorum max", &Process{Name: "a", QuorumMax: -2}, "QuorumMax"},
		{"quorum above max", &Process{Name: "a", Quorum: 3, QuorumMax: 2}, "greater"},
		{"quorum equal max", &Process{Name: "a", Quorum: 2, QuorumMax: 2}, ""},
		{"none may run", &Process{Name: "a", QuorumMax: QuorumMaxNone}, ""},
		{"none with quorum", &Process{Name: "a", Quorum: 1, QuorumMax: QuorumMaxNone}, "must be 0"},
		{"negative delay", &Process{Name: "a", ForkDelay: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCheck) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrCheck mentioning %q", err, tc.want)
			}
			if cerr := tc.p.Check(context.Background()); !errors.Is(cerr, ErrCheck) {
				t.Fatalf("Check = %v, want ErrCheck", cerr)
			}
		})
	}
}

// TestProcParamsMatch follows keepalived's check_params and the man page:
// partial means the first n parameters match exactly, initial that the
// last may be longer than configured.
func TestProcParamsMatch(t *testing.T) {
	args := func(a ...string) []byte {
		if len(a) == 0 {
			return nil
		}
		return []byte(strings.Join(a, "\x00") + "\x00")
	}
	for _, tc := range []struct {
		mode      ParamMatch
		want, got []byte
		match     bool
	}{
		{ParamMatchExact, nil, nil, true},
		{ParamMatchExact, nil, args("-f"), false},
		{ParamMatchExact, args("-f", "/etc/x.cfg"), args("-f", "/etc/x.cfg"), true},
		{ParamMatchExact, args("-f", "/etc/x.cfg"), args("-f", "/etc/x.cfg", "-D"), false},
		{ParamMatchExact, args("-f", "/etc/x.cfg"), args("-f", "/etc/x.cfgg"), false},
		{ParamMatchExact, args("-f", "/etc/x.cfg"), args("-f"), false},
		{ParamMatchPartial, nil, args("anything"), true},
		{ParamMatchPartial, args("-f"), args("-f", "/etc/x.cfg"), true},
		{ParamMatchPartial, args("-f", "/etc/x"), args("-f", "/etc/x.cfg"), false},
		{ParamMatchPartial, args("-f", "/etc/x.cfg"), args("-f", "/etc/x.cfg"), true},
		{ParamMatchInitial, args("-f", "/etc/x"), args("-f", "/etc/x.cfg"), true},
		{ParamMatchInitial, args("-f", "/etc/x"), args("-f", "/etc/x.cfg", "-D"), true},
		{ParamMatchInitial, args("-f", "/etc/y"), args("-f", "/etc/x.cfg"), false},
		{ParamMatchInitial, args("-"), args("-f", "/etc/x.cfg"), true},
		{ParamMatchInitial, args("-g"), args("-f"), false},
		{ParamMatchInitial, nil, nil, true},
	} {
		if got := procParamsMatch(tc.mode, tc.want, tc.got); got != tc.match {
			t.Errorf("procParamsMatch(%s, %q, %q) = %v, want %v", tc.mode, tc.want, tc.got, got, tc.match)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		in    string
		comm  string
		state byte
		start uint64
		ok    bool
	}{
		{"1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 17 1000 100\n", "systemd", 'S', 17, true},
		{"42 (a) b (c) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n", "a) b (c", 'R', 99, true},
		{"42 () Z 1\n", "", 'Z', 0, true},
		{"42 (short) S\n", "short", 'S', 0, true},
		{"42 (unterminated S 1 2\n", "", 0, 0, false},
		{"42 (x)", "", 0, 0, false},
		{"", "", 0, 0, false},
		{"42 (x) SS 1\n", "", 0, 0, false},
	} {
		comm, state, start, ok := parseProcStat([]byte(tc.in))
		if comm != tc.comm || state != tc.state || start != tc.start || ok != tc.ok {
			t.Errorf("parseProcStat(%q) = %q, %q, %d, %v; want %q, %q, %d, %v", tc.in, comm, state, start, ok, tc.comm, tc.state, tc.start, tc.ok)
		}
	}
}

func TestProcessFakeTree(t *testing.T) {
	f := newFakeProc(t)
	f.add(2, "kthreadd", 'S', 2) // kernel thread: empty cmdline
	f.add(100, "haproxy", 'S', 500, "/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg")
	f.add(101, "haproxy", 'S', 501, "/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-sf", "100")
	f.add(102, "haproxy", 'Z', 502)                                        // a zombie is not running
	f.add(103, "haproxy", 'X', 503)                                        // nor a dead task
	f.add(104, "haproxyd", 'S', 504, "/usr/sbin/haproxyd")                 // exact names: no prefix match
	f.add(105, "my (odd) name", 'S', 505, "odd")                           // parentheses and spaces in comm
	f.add(106, "nginx", 'S', 506, "nginx: master process /usr/sbin/nginx") // a rewritten cmdline
	f.write("self/stat", "1 (init) S 0\n")                                 // not a pid
	f.write("0123/stat", "123 (haproxy) S 0\n")                            // not a pid: leading 0
	f.write("0123/comm", "haproxy\n")
	f.write("200", "") // a file, not a directory
	if err := os.MkdirAll(filepath.Join(f.root, "201"), 0o755); err != nil {
		t.Fatal(err) // vanished mid-scan: listed, but no stat any more
	}
	f.write("202/comm", "haproxy\n")
	if err := os.MkdirAll(filepath.Join(f.root, "202", "stat"), 0o755); err != nil {
		t.Fatal(err) // stat cannot be read
	}
	f.write("203/comm", "haproxy\n")
	f.write("203/stat", "203 (haproxy") // cut short
	f.write("204/comm", "haproxy\n")
	f.write("204/stat", "204 (haproxy) S 1 204 204 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 600 0 0\n")
	// 204 has no cmdline: counted by comm, not by command line.
	f.write("205/comm", "haproxy\n") // exited between comm and stat
	f.write("206/comm", "haproxy\n") // exec'd something else between comm and stat
	f.write("206/stat", "206 (bash) S 1 206 206 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 601 0 0\n")
	f.write("207/comm", "haproxy-longer\n")
	f.write("207/stat", "207 (haproxy-longer) S 1 207 207 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 602 0 0\n")

	for _, tc := range []struct {
		name string
		p    *Process
		want int
	}{
		{"comm", &Process{Name: "haproxy"}, 3},
		{"kernel thread by comm", &Process{Name: "kthreadd"}, 1},
		{"kernel thread by command line", &Process{Name: "kthreadd", FullCommand: true}, 0},
		{"odd comm", &Process{Name: "my (odd) name"}, 1},
		{"no prefix match", &Process{Name: "haprox"}, 0},
		{"argv0", &Process{Name: "/usr/sbin/haproxy", FullCommand: true}, 2},
		{"argv0 is not comm", &Process{Name: "haproxy", FullCommand: true}, 0},
		{"exact args", &Process{Name: "/usr/sbin/haproxy", Args: []string{"-f", "/etc/haproxy/haproxy.cfg"}}, 1},
		{"partial args", &Process{Name: "/usr/sbin/haproxy", Args: []string{"-f", "/etc/haproxy/haproxy.cfg"}, ParamMatch: ParamMatchPartial}, 2},
		{"partial needs whole args", &Process{Name: "/usr/sbin/haproxy", Args: []string{"-f", "/etc/haproxy/"}, ParamMatch: ParamMatchPartial}, 0},
		{"initial args", &Process{Name: "/usr/sbin/haproxy", Args: []string{"-f", "/etc/haproxy/"}, ParamMatch: ParamMatchInitial}, 2},
		{"no args at all", &Process{Name: "/usr/sbin/haproxyd", ParamMatch: ParamMatchExact}, 1},
		{"no args, but has some", &Process{Name: "/usr/sbin/haproxy", ParamMatch: ParamMatchExact}, 0},
		{"rewritten cmdline", &Process{Name: "nginx: master process /usr/sbin/nginx", FullCommand: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.ProcRoot = f.root
			if got := probeCount(t, p); got != tc.want {
				t.Fatalf("count = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestProcessQuorumBounds(t *testing.T) {
	f := newFakeProc(t)
	for pid := 100; pid < 103; pid++ {
		f.add(pid, "worker", 'S', uint64(pid), "worker")
	}
	for _, tc := range []struct {
		quorum, max int
		ok          bool
	}{
		{0, 0, true},
		{3, 0, true},
		{4, 0, false},
		{1, 3, true},
		{1, 2, false},
		{3, 3, true},
		{0, QuorumMaxNone, false},
	} {
		p := &Process{Name: "worker", Quorum: tc.quorum, QuorumMax: tc.max, ProcRoot: f.root}
		err := p.Check(context.Background())
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrProcQuorum)) {
			t.Errorf("quorum %d..%d with 3 running: Check = %v, want ok=%v", tc.quorum, tc.max, err, tc.ok)
		}
	}
	p := &Process{Name: "absent", QuorumMax: QuorumMaxNone, ProcRoot: f.root}
	if err := p.Check(context.Background()); err != nil {
		t.Errorf("QuorumMaxNone with none running: %v", err)
	}
	p = &Process{Name: "worker", Quorum: 4, ProcRoot: f.root}
	err := p.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `3 running, want at least 4`) || !strings.Contains(err.Error(), `"worker"`) {
		t.Errorf("error %q does not say what was counted", err)
	}
}

// TestProcessScanRace removes and adds pid directories while probes scan
// them: a process vanishing mid-scan is never an error.
func TestProcessScanRace(t *testing.T) {
	f := newFakeProc(t)
	f.add(100, "steady", 'S', 100, "steady")
	p := &Process{Name: "steady", ProcRoot: f.root}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			pid := 1000 + i%50
			dir := filepath.Join(f.root, strconv.Itoa(pid))
			_ = os.MkdirAll(dir, 0o755)
			_ = os.WriteFile(filepath.Join(dir, "comm"), []byte("steady\n"), 0o644)
			_ = os.WriteFile(filepath.Join(dir, "stat"), []byte(fmt.Sprintf("%d (steady) S 1\n", pid)), 0o644)
			_ = os.RemoveAll(dir)
		}
	}()
	deadline := time.Now().Add(time.Second)
	for i := 0; i < 300 && time.Now().Before(deadline); i++ {
		if err := p.Check(context.Background()); err != nil {
			t.Errorf("probe %d: %v", i, err)
			break
		}
	}
	close(stop)
	wg.Wait()
}

func TestProcessHidden(t *testing.T) {
	const ptrace = 1 << 19
	for _, tc := range []struct {
		name   string
		opts   string
		capEff uint64
		fsgid  string
		groups string
		hidden bool
	}{
		{"no hidepid", "rw", 0, "1000", "", false},
		{"hidepid=0", "rw,hidepid=0", 0, "1000", "", false},
		{"hidepid=off", "rw,hidepid=off", 0, "1000", "", false},
		{"hidepid=1", "rw,hidepid=1", 0, "1000", "", true},
		{"hidepid=2", "rw,hidepid=2", 0, "1000", "", true},
		{"invisible", "rw,hidepid=invisible", 0, "1000", "", true},
		{"noaccess", "rw,hidepid=noaccess", 0, "1000", "", true},
		{"ptraceable", "rw,hidepid=ptraceable", 0, "1000", "", true},
		{"CAP_SYS_PTRACE sees all", "rw,hidepid=invisible", ptrace, "1000", "", false},
		{"other capabilities do not", "rw,hidepid=invisible", 0xffffffff &^ ptrace, "1000", "", true},
		{"gid group member", "rw,hidepid=2,gid=4242", 0, "1000", "10 4242", false},
		{"gid as fsgid", "rw,hidepid=2,gid=4242", 0, "4242", "", false},
		{"not in gid group", "rw,hidepid=2,gid=4242", 0, "1000", "10 20", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeProc(t)
			f.mount(tc.opts)
			f.status(tc.capEff, tc.fsgid, tc.groups)
			f.add(100, "svc", 'S', 100, "svc")
			p := &Process{Name: "svc", ProcRoot: f.root}
			err := p.Check(context.Background())
			if tc.hidden {
				if !errors.Is(err, ErrProcHidden) || !strings.Contains(err.Error(), "hidepid") {
					t.Fatalf("Check = %v, want ErrProcHidden naming hidepid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Check = %v", err)
			}
		})
	}

	t.Run("pid 1 invisible", func(t *testing.T) {
		f := newFakeProc(t)
		f.remove(1) // hidepid=invisible seen from a mount namespace we cannot read
		f.add(100, "svc", 'S', 100, "svc")
		err := (&Process{Name: "svc", ProcRoot: f.root}).Check(context.Background())
		if !errors.Is(err, ErrProcHidden) {
			t.Fatalf("Check = %v, want ErrProcHidden", err)
		}
	})

	t.Run("escaped mount point", func(t *testing.T) {
		f := &fakeProc{t: t, root: filepath.Join(t.TempDir(), "proc with spaces")}
		f.mount("rw,hidepid=invisible")
		f.status(0, "1000", "")
		f.add(1, "init", 'S', 1, "/sbin/init")
		err := (&Process{Name: "init", ProcRoot: f.root}).Check(context.Background())
		if !errors.Is(err, ErrProcHidden) {
			t.Fatalf("Check = %v, want ErrProcHidden (mount point %q)", err, escapeMountinfo(f.root))
		}
	})

	t.Run("the last mount on a point wins", func(t *testing.T) {
		f := newFakeProc(t)
		f.write("self/mountinfo",
			fmt.Sprintf("23 22 0:20 / %s rw - proc proc rw,hidepid=invisible\n", f.root)+
				fmt.Sprintf("90 23 0:50 / %s rw - proc proc rw\n", f.root))
		if err := (&Process{Name: "init", ProcRoot: f.root}).Check(context.Background()); err != nil {
			t.Fatalf("Check = %v", err)
		}
	})

	t.Run("missing root", func(t *testing.T) {
		err := (&Process{Name: "init", ProcRoot: filepath.Join(t.TempDir(), "absent")}).Check(context.Background())
		if err == nil {
			t.Fatal("Check of a missing ProcRoot succeeded")
		}
	})
}

// TestProcessDelays drives the fork and terminate delays on the fake
// clock of a synctest bubble.
func TestProcessDelays(t *testing.T) {
	probe := func(t *testing.T, p *Process) error {
		t.Helper()
		err := p.Check(context.Background())
		if err != nil && !errors.Is(err, ErrProcQuorum) {
			t.Fatalf("Check: %v", err)
		}
		return err
	}
	expect := func(t *testing.T, p *Process, at string, up bool) {
		t.Helper()
		if err := probe(t, p); (err == nil) != up {
			t.Fatalf("%s: Check = %v, want up=%v", at, err, up)
		}
	}

	t.Run("fork and terminate", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			p := &Process{Name: "svc", ForkDelay: 3 * time.Second, TerminateDelay: 5 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0, none", false)
			f.add(100, "svc", 'S', 100, "svc")
			expect(t, p, "t=0, new", false)
			time.Sleep(2 * time.Second)
			expect(t, p, "t=2", false)
			time.Sleep(time.Second)
			expect(t, p, "t=3, fork delay passed", true)
			f.remove(100)
			expect(t, p, "t=3, gone", true)
			time.Sleep(4*time.Second + 999*time.Millisecond)
			expect(t, p, "t=7.999", true)
			time.Sleep(time.Millisecond)
			expect(t, p, "t=8, terminate delay passed", false)
		})
	})

	t.Run("delay sets both", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			p := &Process{Name: "svc", Delay: 2 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0", false)
			f.add(100, "svc", 'S', 100, "svc")
			expect(t, p, "t=0, new", false)
			time.Sleep(2 * time.Second)
			expect(t, p, "t=2", true)
			f.remove(100)
			expect(t, p, "t=2, gone", true)
			time.Sleep(2 * time.Second)
			expect(t, p, "t=4", false)
		})
	})

	t.Run("reload does not bounce", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			// keepalived's case for the delays: the new process starts, the
			// old one exits within the fork delay.
			old := 100
			f.add(old, "svc", 'S', uint64(old), "svc")
			p := &Process{Name: "svc", QuorumMax: 1, Delay: 3 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0, running before the first probe", true)
			for i := range 10 {
				time.Sleep(3 * time.Second)
				pid := 200 + i
				f.add(pid, "svc", 'S', uint64(pid), "svc")
				expect(t, p, "forked", true) // the new one is not counted yet
				time.Sleep(time.Second)
				f.remove(old)
				expect(t, p, "old one gone", true) // it still counts, up to the quorum
				old = pid
			}
		})
	})

	t.Run("vanished processes never exceed QuorumMax", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			f.add(100, "svc", 'S', 100, "svc")
			f.add(101, "svc", 'S', 101, "svc")
			p := &Process{Name: "svc", QuorumMax: 1, TerminateDelay: 5 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0, two running", false)
			f.remove(101)
			expect(t, p, "t=0, one left", true)
			if n := probeCount(t, p); n != 1 {
				t.Fatalf("count = %d, want 1", n)
			}
			f.remove(100)
			expect(t, p, "t=0, none left, within the terminate delay", true)
			time.Sleep(5 * time.Second)
			expect(t, p, "t=5", false)
		})
	})

	t.Run("quorum max and a fork", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			f.add(100, "svc", 'S', 100, "svc")
			p := &Process{Name: "svc", QuorumMax: 1, ForkDelay: 2 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0", true)
			f.add(101, "svc", 'S', 101, "svc")
			expect(t, p, "t=0, forked", true)
			time.Sleep(time.Second)
			expect(t, p, "t=1", true)
			time.Sleep(time.Second)
			expect(t, p, "t=2, two counted", false)
		})
	})

	t.Run("short-lived process never counts", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			p := &Process{Name: "svc", ForkDelay: 2 * time.Second, TerminateDelay: 10 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0", false)
			f.add(100, "svc", 'S', 100, "svc")
			expect(t, p, "t=0, new", false)
			time.Sleep(time.Second)
			f.remove(100)
			for range 12 {
				expect(t, p, "after it exited", false)
				time.Sleep(time.Second)
			}
		})
	})

	t.Run("reused pid is a new process", func(t *testing.T) {
		f := newFakeProc(t)
		synctest.Test(t, func(t *testing.T) {
			f.add(100, "svc", 'S', 100, "svc")
			p := &Process{Name: "svc", ForkDelay: 2 * time.Second, ProcRoot: f.root}
			expect(t, p, "t=0", true)
			f.add(100, "svc", 'S', 900, "svc") // same pid, started later
			expect(t, p, "t=0, pid reused", false)
			time.Sleep(2 * time.Second)
			expect(t, p, "t=2", true)
		})
	})
}

// TestProcessMonitor runs a Process under a Monitor with rise and fall on
// the fake clock.
func TestProcessMonitor(t *testing.T) {
	f := newFakeProc(t)
	f.add(100, "svc", 'S', 100, "svc")
	synctest.Test(t, func(t *testing.T) {
		p := &Process{Name: "svc", ProcRoot: f.root}
		m, err := NewMonitor(Check{Name: "svc", Checker: p, Interval: time.Second, Rise: 2, Fall: 3}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		type report struct {
			at time.Duration
			up bool
		}
		var (
			mu      sync.Mutex
			reports []report
		)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = m.Run(ctx, func(up bool) {
				mu.Lock()
				reports = append(reports, report{time.Since(start), up})
				mu.Unlock()
			})
		}()
		time.Sleep(10*time.Second + 500*time.Millisecond)
		f.remove(100) // probes at 11, 12, 13 fail: down at 13
		time.Sleep(10 * time.Second)
		f.add(101, "svc", 'S', 101, "svc") // probes at 21, 22 succeed: up at 22
		time.Sleep(10 * time.Second)
		cancel()
		<-done
		want := []report{{0, true}, {13 * time.Second, false}, {22 * time.Second, true}}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(reports) != fmt.Sprint(want) {
			t.Fatalf("reports = %v, want %v", reports, want)
		}
	})
}

// realProcessName returns a name of at most 15 bytes that no other
// process has: the comm of processes started through a symlink of it.
func realProcessName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return "vkt" + hex.EncodeToString(b) // 13 bytes
}

// startProcesses starts n copies of sleep under name (a symlink, so that
// /proc/PID/comm is name) and stops them, by pid, when the test ends.
func startProcesses(t *testing.T, name string, n int) []*exec.Cmd {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		testenv.Skip(t, "no sleep binary to start test processes: %v", err)
	}
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(sleep, link); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command(link, "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stopProcess(cmd) })
		cmds = append(cmds, cmd)
	}
	waitComm(t, cmds, name)
	return cmds
}

// stopProcess kills one started process, by pid, and reaps it.
func stopProcess(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// waitComm waits, for at most 5 s, until every cmd has exec'd (its comm is
// name).
func waitComm(t *testing.T, cmds []*exec.Cmd, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, cmd := range cmds {
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", cmd.Process.Pid))
			if err == nil && strings.TrimSpace(string(b)) == name {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pid %d did not become %q: %q, %v", cmd.Process.Pid, name, b, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func TestProcessReal(t *testing.T) {
	name := realProcessName(t)
	cmds := startProcesses(t, name, 3)
	p := &Process{Name: name}
	if got := probeCount(t, p); got != 3 {
		t.Fatalf("count = %d, want 3", got)
	}
	for _, tc := range []struct {
		quorum, max int
		ok          bool
	}{{3, 0, true}, {4, 0, false}, {1, 2, false}, {2, 3, true}, {0, QuorumMaxNone, false}} {
		err := (&Process{Name: name, Quorum: tc.quorum, QuorumMax: tc.max}).Check(context.Background())
		if (err == nil) != tc.ok {
			t.Errorf("quorum %d..%d: Check = %v, want ok=%v", tc.quorum, tc.max, err, tc.ok)
		}
	}

	// A killed process that has not been reaped is a zombie: not running.
	zombie := cmds[0]
	if err := zombie.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", zombie.Process.Pid))
		if _, state, _, ok := parseProcStat(b); ok && state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not become a zombie", zombie.Process.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := probeCount(t, p); got != 2 {
		t.Fatalf("with a zombie: count = %d, want 2", got)
	}
	stopProcess(zombie)
	stopProcess(cmds[1])
	if got := probeCount(t, p); got != 1 {
		t.Fatalf("after two exits: count = %d, want 1", got)
	}
	if err := (&Process{Name: name, Quorum: 2}).Check(context.Background()); !errors.Is(err, ErrProcQuorum) {
		t.Fatalf("quorum 2 with 1 running: %v", err)
	}
}

func TestProcessRealFullCommand(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		testenv.Skip(t, "no sleep binary to start test processes: %v", err)
	}
	argv0 := "/vrrpkit-test/" + realProcessName(t)
	cmd := &exec.Cmd{Path: sleep, Args: []string{argv0, "60", "1"}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProcess(cmd) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
		if strings.HasPrefix(string(b), argv0+"\x00") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d did not exec %q: %q", cmd.Process.Pid, argv0, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		p    *Process
		want int
	}{
		{"argv0", &Process{Name: argv0, FullCommand: true}, 1},
		{"exact", &Process{Name: argv0, Args: []string{"60", "1"}}, 1},
		{"exact, fewer", &Process{Name: argv0, Args: []string{"60"}}, 0},
		{"partial", &Process{Name: argv0, Args: []string{"60"}, ParamMatch: ParamMatchPartial}, 1},
		{"partial, prefix", &Process{Name: argv0, Args: []string{"6"}, ParamMatch: ParamMatchPartial}, 0},
		{"initial, prefix", &Process{Name: argv0, Args: []string{"6"}, ParamMatch: ParamMatchInitial}, 1},
		{"no arguments", &Process{Name: argv0, ParamMatch: ParamMatchExact}, 0},
		{"comm is not argv0", &Process{Name: argv0[len(argv0)-13:]}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if got := probeCount(t, p); got != tc.want {
				t.Fatalf("count = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProcessRealDelays starts and stops a real process under the system
// clock with short delays.
func TestProcessRealDelays(t *testing.T) {
	name := realProcessName(t)
	p := &Process{Name: name, Delay: 200 * time.Millisecond}
	if err := p.Check(context.Background()); !errors.Is(err, ErrProcQuorum) {
		t.Fatalf("before start: %v", err)
	}
	cmds := startProcesses(t, name, 1)
	if err := p.Check(context.Background()); !errors.Is(err, ErrProcQuorum) {
		t.Fatalf("just started: %v (the fork delay should hold it back)", err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("after the fork delay: %v", err)
	}
	stopProcess(cmds[0])
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("just stopped: %v (the terminate delay should hold it)", err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := p.Check(context.Background()); !errors.Is(err, ErrProcQuorum) {
		t.Fatalf("after the terminate delay: %v", err)
	}
}

func TestProcessRealProc(t *testing.T) {
	// This machine's /proc: whatever its options, a check either sees
	// pid 1 or says why not.
	err := (&Process{Name: "vkt-absent", QuorumMax: QuorumMaxNone}).Check(context.Background())
	if err != nil && !errors.Is(err, ErrProcHidden) {
		t.Fatalf("Check on the real /proc: %v", err)
	}
	if err != nil {
		t.Logf("this machine's /proc hides processes: %v", err)
	}
}

// hidepidHelperEnv names the directory on which the helper process mounts
// a proc filesystem with hidepid.
const hidepidHelperEnv = "VRRPKIT_TEST_HIDEPID_DIR"

// TestProcessRealHidepid mounts a real proc filesystem with
// hidepid=invisible, in a mount namespace of a child process of its own,
// and checks that root sees through it and an unprivileged user gets
// ErrProcHidden.
func TestProcessRealHidepid(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "mounting a proc filesystem with hidepid needs root")
	}
	dir, err := os.MkdirTemp("", "vrrpkit-hidepid-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProcessHidepidHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hidepidHelperEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "HIDEPID-MOUNT-DENIED") {
		testenv.Skip(t, "cannot mount a proc filesystem here (a container?): %s", out)
	}
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "HIDEPID-OK") {
		t.Fatalf("helper did not run its checks:\n%s", out)
	}
}

// TestProcessHidepidHelper is the child process of TestProcessRealHidepid;
// run otherwise, it does nothing. It runs in a mount namespace of its own,
// so its mount vanishes with it.
func TestProcessHidepidHelper(t *testing.T) {
	dir := os.Getenv(hidepidHelperEnv)
	if dir == "" {
		return
	}
	if err := syscall.Mount("proc", dir, "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "hidepid=invisible"); err != nil {
		fmt.Printf("HIDEPID-MOUNT-DENIED: %v\n", err)
		return
	}
	p := &Process{Name: "vkt-absent", QuorumMax: QuorumMaxNone, ProcRoot: dir}
	if err := p.Check(context.Background()); err != nil {
		t.Fatalf("as root (CAP_SYS_PTRACE): %v", err)
	}
	// Drop to nobody, in every thread; this process ends with the test.
	if err := syscall.Setgroups(nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setgid(65534); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setuid(65534); err != nil {
		t.Fatal(err)
	}
	err := p.Check(context.Background())
	if !errors.Is(err, ErrProcHidden) {
		t.Fatalf("as nobody: Check = %v, want ErrProcHidden", err)
	}
	t.Logf("as nobody: %v", err)
	fmt.Println("HIDEPID-OK")
}

func BenchmarkProcessCheck(b *testing.B) {
	p := &Process{Name: "vrrpkit-absent", QuorumMax: QuorumMaxNone}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// stepClock is a vrrp.Clock whose time only moves when told; its timers
// are never used by a Process.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) NewTimer(time.Duration) (vrrp.Timer, <-chan time.Time) {
	panic("a Process sets no timers")
}

// TestProcessClock checks that the delays follow Process.Clock, not the
// system clock.
func TestProcessClock(t *testing.T) {
	f := newFakeProc(t)
	clock := &stepClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &Process{Name: "svc", ForkDelay: time.Hour, ProcRoot: f.root, Clock: clock}
	if n := probeCount(t, p); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
	f.add(100, "svc", 'S', 100, "svc")
	if n := probeCount(t, p); n != 0 {
		t.Fatalf("new process: count = %d, want 0", n)
	}
	clock.now = clock.now.Add(time.Hour)
	if n := probeCount(t, p); n != 1 {
		t.Fatalf("an hour later on the clock: count = %d, want 1", n)
	}
}
