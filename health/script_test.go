//go:build linux

package health_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// writeScript writes an executable shell script into dir and returns its
// path.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return p
}

func checkWithin(t *testing.T, c health.Checker, d time.Duration) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	return time.Since(start), err
}

func TestScriptExitStatus(t *testing.T) {
	dir := t.TempDir()
	ok := writeScript(t, dir, "ok.sh", "exit 0")
	fail := writeScript(t, dir, "fail.sh", "echo something went wrong >&2; exit 3")
	if _, err := checkWithin(t, health.Script{Path: ok}, 10*time.Second); err != nil {
		t.Fatalf("exit 0: %v", err)
	}
	_, err := checkWithin(t, health.Script{Path: fail}, 10*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit 3: %v", err)
	}
	for _, want := range []string{fail, "exit status 3", "something went wrong"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// Arguments reach the program as they are: no shell unless asked.
func TestScriptArgsAndShell(t *testing.T) {
	dir := t.TempDir()
	p := writeScript(t, dir, "args.sh", `[ $# -eq 2 ] && [ "$1" = 'a b;$(exit 1)*' ] && [ "$2" = '' ]`)
	if _, err := checkWithin(t, health.Script{Path: p, Args: []string{"a b;$(exit 1)*", ""}}, 10*time.Second); err != nil {
		t.Errorf("args: %v", err)
	}
	sh := health.Script{Shell: true, Path: `test "$1" = yes && test "$(echo hi | tr h H)" = Hi`, Args: []string{"yes"}}
	if _, err := checkWithin(t, sh, 10*time.Second); err != nil {
		t.Errorf("shell: %v", err)
	}
	sh.Args = []string{"no"}
	if _, err := checkWithin(t, sh, 10*time.Second); err == nil {
		t.Error("shell: a failing command line succeeded")
	}
	// Without Shell the command line is a file name.
	if _, err := checkWithin(t, health.Script{Path: "exit 0"}, 10*time.Second); err == nil {
		t.Error("a command line ran without Shell")
	}
	env := writeScript(t, dir, "env.sh", `[ "$VRRPKIT_A" = 1 ] && [ "$VRRPKIT_B" = two ] && [ -n "$PATH" ] && [ "$(pwd)" = / ]`)
	if _, err := checkWithin(t, health.Script{Path: env, Env: []string{"VRRPKIT_A=1", "VRRPKIT_B=two"}}, 10*time.Second); err != nil {
		t.Errorf("env: %v", err)
	}
	// A bare name is looked up in PATH.
	if _, err := checkWithin(t, health.Script{Path: "true"}, 10*time.Second); err != nil {
		t.Errorf("true: %v", err)
	}
}

func TestScriptFailures(t *testing.T) {
	dir := t.TempDir()
	sig := writeScript(t, dir, "sig.sh", "kill -KILL $$")
	_, err := checkWithin(t, health.Script{Path: sig}, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("killed by a signal: %v", err)
	}

	noexec := filepath.Join(dir, "noexec.sh")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Root may execute any file with an execute bit; with none, nobody may.
	_, err = checkWithin(t, health.Script{Path: noexec}, 10*time.Second)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("not executable: %v", err)
	}

	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte{0x7f, 'E', 'L', 'F', 0, 0, 0}, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(garbage, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = checkWithin(t, health.Script{Path: garbage}, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exec format error") {
		t.Errorf("not a program: %v", err)
	}

	_, err = checkWithin(t, health.Script{Path: filepath.Join(dir, "missing")}, 10*time.Second)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	for _, s := range []health.Script{
		{},
		{Path: dir},
		{Path: sig, User: "vrrpkit-no-such-user"},
		{Path: sig, Group: "vrrpkit-no-such-group"},
	} {
		if err := s.Verify(); !errors.Is(err, health.ErrCheck) {
			t.Errorf("Verify(%+v) = %v, want ErrCheck", s, err)
		}
	}

	// A context already done runs nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	marker := filepath.Join(dir, "ran")
	p := writeScript(t, dir, "touch.sh", "touch "+marker)
	if err := (health.Script{Path: p}).Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the script ran with a done context")
	}
}

// readPid reads a pid a script wrote, waiting at most 5 s for it.
func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running reports whether process pid is alive: it exists and is not a
// zombie (an orphan killed is reaped by init, which may take a moment).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// waitGone waits at most 5 s for pid to stop running.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			_ = unix.Kill(pid, unix.SIGKILL)
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reaped checks that pid is no child of ours any more: no zombie left.
func reaped(t *testing.T, pid int) {
	t.Helper()
	_, err := unix.Wait4(pid, nil, unix.WNOHANG, nil)
	if !errors.Is(err, unix.ECHILD) {
		t.Errorf("script process %d not reaped (wait4: %v)", pid, err)
	}
}

// A script past its timeout is killed with the child it started, and
// reaped.
func TestScriptTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	leader, child := filepath.Join(dir, "leader"), filepath.Join(dir, "child")
	p := writeScript(t, dir, "hang.sh", fmt.Sprintf("echo $$ > %s\nsleep 1000 &\necho $! > %s\necho started\nwait", leader, child))
	took, err := checkWithin(t, health.Script{Path: p}, 500*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "started") {
		t.Fatalf("Check = %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("Check took %v after a 500ms timeout (sh dies of SIGTERM)", took)
	}
	reaped(t, readPid(t, leader))
	waitGone(t, "the script's child", readPid(t, child))
}

// A script that ignores SIGTERM gets SIGKILL after KillDelay.
func TestScriptTimeoutEscalates(t *testing.T) {
	dir := t.TempDir()
	leader, child := filepath.Join(dir, "leader"), filepath.Join(dir, "child")
	p := writeScript(t, dir, "stubborn.sh", fmt.Sprintf("trap '' TERM\necho $$ > %s\nsleep 1000 &\necho $! > %s\nwhile :; do sleep 0.05; done", leader, child))
	s := health.Script{Path: p, KillDelay: 300 * time.Millisecond}
	took, err := checkWithin(t, s, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check = %v", err)
	}
	if took < 550*time.Millisecond || took > 3*time.Second {
		t.Errorf("Check took %v; want about 300ms timeout + 300ms kill delay", took)
	}
	reaped(t, readPid(t, leader))
	waitGone(t, "the script's child", readPid(t, child))
}

// What a script leaves running in its group is killed when it exits, and
// does not hold Check by the output pipe it inherited.
func TestScriptLeftoversKilled(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child")
	p := writeScript(t, dir, "leave.sh", fmt.Sprintf("sleep 1000 &\necho $! > %s\nexit 0", child))
	took, err := checkWithin(t, health.Script{Path: p}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if took > 2*time.Second {
		t.Errorf("Check took %v", took)
	}
	waitGone(t, "the leftover child", readPid(t, child))
}

// A flood of output neither blocks the script nor grows without bound.
func TestScriptOutputBounded(t *testing.T) {
	dir := t.TempDir()
	p := writeScript(t, dir, "chatty.sh", "head -c 4000000 /dev/zero | tr '\\0' x\necho\necho THE-END >&2\nexit 1")
	took, err := checkWithin(t, health.Script{Path: p}, 20*time.Second)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check = %v after %v", err, took)
	}
	if !strings.Contains(err.Error(), "THE-END") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("error lacks the end of the output or the status: %.200q...", err)
	}
	if n := len(err.Error()); n > health.ScriptOutputTail+500 {
		t.Errorf("error of %d bytes", n)
	}
}

// needRoot skips (or under VRRPKIT_REQUIRE_ALL=1 fails) a test that needs
// root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root (euid %d) to change users and own files", os.Geteuid())
	}
}

func lookupIDs(t *testing.T, name string) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		testenv.Skip(t, "no user %s: %v", name, err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// rootDir returns a new directory readable by everyone, owned by root, in
// a path that keepalived deems secure: under /tmp (root, sticky).
func rootDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vrrpkit-script-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Scripts run as User and Group, with the group as their only group.
func TestScriptUser(t *testing.T) {
	needRoot(t)
	uid, gid := lookupIDs(t, "nobody")
	dir := rootDir(t)
	p := writeScript(t, dir, "id.sh", `echo "ids=$(id -u):$(id -g):$(id -G)"; exit 1`)
	_, err := checkWithin(t, health.Script{Path: p, User: "nobody"}, 10*time.Second)
	if want := fmt.Sprintf("ids=%d:%d:%d", uid, gid, gid); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("as nobody: %v; want %s", err, want)
	}
	_, err = checkWithin(t, health.Script{Path: p, User: "nobody", Group: "daemon"}, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ids=%d:1:1", uid)) {
		t.Errorf("as nobody:daemon: %v", err)
	}
	_, err = checkWithin(t, health.Script{Path: p, User: strconv.Itoa(uid)}, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ids=%d:%d", uid, gid)) {
		t.Errorf("as uid %d: %v", uid, err)
	}

	// A script that nobody may not execute is refused at once.
	own := writeScript(t, dir, "own.sh", "exit 0")
	if err := os.Chmod(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := (health.Script{Path: own, User: "nobody"}).Verify(); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("0700 root script as nobody: %v", err)
	}

	// As nobody, the timeout still kills the whole group.
	leader, child := filepath.Join(dir, "leader"), filepath.Join(dir, "child")
	for _, f := range []string{leader, child} {
		if err := os.WriteFile(f, nil, 0o666); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	hang := writeScript(t, dir, "hang.sh", fmt.Sprintf("echo $$ > %s\nsleep 1000 &\necho $! > %s\nwait", leader, child))
	_, err = checkWithin(t, health.Script{Path: hang, User: "nobody"}, 500*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check = %v", err)
	}
	reaped(t, readPid(t, leader))
	waitGone(t, "nobody's child", readPid(t, child))
}

// secCase is a script and the user it runs as, and whether keepalived's
// enable_script_security refuses it.
type secCase struct {
	name        string
	path        string
	user, group string
	insecure    bool
}

// Script security, on real files, with keepalived's rule. When keepalived
// is installed, each case is also checked against keepalived -t.
func TestScriptSecurity(t *testing.T) {
	needRoot(t)
	nobody, nogroup := lookupIDs(t, "nobody")
	if err := (health.Script{Path: "/bin/sh", Security: true}).Verify(); err != nil {
		testenv.Skip(t, "/bin/sh itself is not secure here, so no path is: %v", err)
	}
	base := rootDir(t)
	mk := func(rel string, mode os.FileMode, uid, gid int) string {
		t.Helper()
		p := filepath.Join(base, rel)
		if mode.IsDir() {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		} else {
			writeScript(t, filepath.Dir(p), filepath.Base(p), "exit 0")
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		// chmod after chown: chown clears setuid and setgid bits.
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const sticky, setuid, setgid = os.ModeSticky, os.ModeSetuid, os.ModeSetgid
	dir := os.ModeDir
	mk("good", dir|0o755, 0, 0)
	good := mk("good/check.sh", 0o755, 0, 0)
	grpw := mk("good/group-writable.sh", 0o775, 0, nogroup)
	grpwRoot := mk("good/group-root-writable.sh", 0o775, 0, 0)
	othw := mk("good/other-writable.sh", 0o757, 0, 0)
	notRoot := mk("good/owned-by-nobody.sh", 0o755, nobody, 0)
	mk("open", dir|0o777, 0, 0)
	inOpen := mk("open/check.sh", 0o755, 0, 0)
	suid := mk("open/setuid.sh", setuid|0o755, 0, 0)
	sgid := mk("open/setgid.sh", setgid|0o755, 0, 0)
	mk("sticky", dir|sticky|0o777, 0, 0)
	inSticky := mk("sticky/check.sh", 0o755, 0, 0)
	mk("grpdir", dir|0o775, 0, 0)
	inGrpRootDir := mk("grpdir/check.sh", 0o755, 0, 0)
	mk("nobodys", dir|0o755, nobody, 0)
	inNobodys := mk("nobodys/check.sh", 0o755, 0, 0)
	// A link in an open directory to a good script runs the good script;
	// a link in a good directory to a script in an open one does not
	// make it good.
	linkToGood := filepath.Join(base, "open", "link.sh")
	linkToBad := filepath.Join(base, "good", "link.sh")
	if err := os.Symlink(good, linkToGood); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(inOpen, linkToBad); err != nil {
		t.Fatal(err)
	}
	cases := []secCase{
		{"root-owned, 0755, in root dirs", good, "root", "", false},
		{"group-writable by a group other than root", grpw, "root", "", true},
		{"group-writable by root's group", grpwRoot, "root", "", false},
		{"writable by others", othw, "root", "", true},
		{"owned by another user", notRoot, "root", "", true},
		{"in a directory writable by all", inOpen, "root", "", true},
		{"in a sticky directory writable by all", inSticky, "root", "", false},
		{"in a directory writable by root's group", inGrpRootDir, "root", "", false},
		{"in a directory owned by another user", inNobodys, "root", "", true},
		{"symlink in an open directory to a good script", linkToGood, "root", "", false},
		{"symlink in a good directory to a script in an open one", linkToBad, "root", "", true},
		{"insecure, run as nobody", inOpen, "nobody", "", false},
		{"insecure, run as nobody with group root", inOpen, "nobody", "root", true},
		{"setuid root, run as nobody", suid, "nobody", "", true},
		{"setgid root, run as nobody", sgid, "nobody", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := health.Script{Path: tc.path, User: tc.user, Group: tc.group, Security: true}
			err := s.Verify()
			if got := errors.Is(err, health.ErrInsecureScript); got != tc.insecure {
				t.Fatalf("Verify() = %v; want insecure %v", err, tc.insecure)
			}
			if err != nil && !tc.insecure {
				t.Fatalf("Verify() = %v", err)
			}
			// Check refuses too, and runs nothing; without Security it
			// runs.
			_, cerr := checkWithin(t, s, 10*time.Second)
			if tc.insecure != errors.Is(cerr, health.ErrInsecureScript) {
				t.Errorf("Check() = %v", cerr)
			}
			s.Security = false
			if _, err := checkWithin(t, s, 10*time.Second); err != nil {
				t.Errorf("without Security: %v", err)
			}
		})
	}
	t.Run("keepalived agrees", func(t *testing.T) {
		keepalivedAgrees(t, cases)
	})
	// The Tracker refuses an insecure script at configuration.
	tr := &health.Tracker{
		Target: nopTarget{},
		Checks: []health.Check{{Name: "c", Checker: health.Script{Path: inOpen, Security: true}}},
	}
	if err := tr.Validate(); !errors.Is(err, health.ErrInsecureScript) {
		t.Errorf("Tracker.Validate = %v", err)
	}
}

// keepalivedAgrees runs keepalived 2.2.7 on each case with
// enable_script_security, in a namespace of a test lab, and checks that it
// disables exactly the insecure scripts and runs the others. (keepalived
// -t cannot tell: checking a script run as another user in a
// configuration test, it kills itself before saying anything.)
func keepalivedAgrees(t *testing.T, cases []secCase) {
	if _, err := exec.LookPath("keepalived"); err != nil {
		testenv.Skip(t, "keepalived is not installed: %v", err)
	}
	h := netns.New(t, 1).Host(1)
	for _, tc := range cases {
		k := netns.StartKeepalived(t, h, fmt.Sprintf(`global_defs {
  enable_script_security
  script_user %s %s
}
vrrp_script chk {
  script "%s"
  interval 1
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  virtual_ipaddress {
    198.18.0.100/24
  }
  track_script {
    chk
  }
}
`, tc.user, tc.group, tc.path))
		deadline := time.Now().Add(15 * time.Second)
		var disabled, ran bool
		for !disabled && !ran && time.Now().Before(deadline) && k.Running() {
			time.Sleep(20 * time.Millisecond)
			log := k.Log()
			disabled = strings.Contains(log, "due to insecure")
			ran = strings.Contains(log, "VRRP_Script(chk) succeeded")
		}
		if err := k.Stop(); err != nil {
			t.Errorf("%s: stopping keepalived: %v", tc.name, err)
		}
		switch {
		case !disabled && !ran:
			t.Errorf("%s: keepalived neither disabled nor ran the script:\n%s", tc.name, k.Log())
		case disabled != tc.insecure:
			t.Errorf("%s: keepalived disables it: %v, want %v:\n%s", tc.name, disabled, tc.insecure, k.Log())
		}
	}
}
