//go:build linux

package health

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrInsecureScript is returned (wrapped) by Script.Verify and Script.Check
// when Script.Security is set and the script would run with root
// privileges (as user or group root, or as a setuid or setgid root file)
// while it, or a directory on its path, could be changed by a user other
// than root: keepalived's enable_script_security.
var ErrInsecureScript = errors.New("health: insecure script")

// Script defaults.
const (
	// DefaultKillDelay is how long a script that outlived its timeout has
	// between SIGTERM and SIGKILL, as keepalived gives it.
	DefaultKillDelay = 2 * time.Second
	// ScriptOutputTail is how much of a script's output (stdout and
	// stderr together, the last bytes) a failed Check quotes.
	ScriptOutputTail = 4096
	// scriptOutputWait bounds the wait for a script's output once it has
	// exited and its process group is killed: only a process that left
	// the group (setsid) can still hold the pipe.
	scriptOutputWait = 500 * time.Millisecond
)

// Script is a Checker that runs a program, as keepalived's vrrp_script:
// exit status 0 is healthy; any other status, a death by signal or a
// failure to start is an error that says which and quotes the end of the
// program's output.
//
// The program runs with Args, without a shell unless Shell is set, in a
// process group of its own, with "/" as working directory, stdin from
// /dev/null, and the process's environment plus Env. When Check's context
// ends (the Monitor's Timeout) the whole group gets SIGTERM, then SIGKILL
// after KillDelay, and the program is reaped before Check returns. Once the
// program has exited, whatever it left running in its group is killed too,
// so a probe leaves no process behind (a program that must outlive the
// check, such as a daemon it starts, must leave the group with setsid, as
// daemons do). Stdout and stderr are read as they come, so a chatty script
// never blocks on a full pipe, and only the last ScriptOutputTail bytes
// are kept.
//
// Check verifies the script (see Verify) before every run, so a script
// replaced by an insecure one is refused at its next run.
type Script struct {
	// Path is the program. A name without a slash is looked up in PATH; a
	// relative path is taken from the working directory. With Shell,
	// Path is instead a command line for /bin/sh -c.
	Path string
	// Args are the program's arguments (with Shell, the positional
	// parameters $1, $2...).
	Args []string
	// Shell runs Path through /bin/sh -c. Script security then applies to
	// /bin/sh: the command line itself is configuration.
	Shell bool
	// User runs the program as this user (a name, or a numeric uid),
	// keepalived's script_user. Empty means the process's own user (not
	// keepalived's keepalived_script default). Changing user needs root.
	User string
	// Group runs the program with this group (a name or a numeric gid) as
	// its only group; empty means User's primary group, or the process's
	// own group when User is empty too.
	Group string
	// Env are extra environment variables, "KEY=value", added to the
	// process's environment (later entries win).
	Env []string
	// Security refuses, as keepalived's enable_script_security, to run a
	// script with root privileges when it or a directory above it is
	// writable by a user other than root; see Verify.
	Security bool
	// KillDelay is how long the process group has, after SIGTERM, before
	// SIGKILL once Check's context has ended; 0 means DefaultKillDelay, a
	// negative value sends SIGKILL at once.
	KillDelay time.Duration
}

// String returns the script's command line, for logs.
func (s Script) String() string {
	if s.Shell {
		return strconv.Quote(s.Path)
	}
	return strings.Join(append([]string{s.Path}, s.Args...), " ")
}

// scriptPlan is a verified script, ready to run.
type scriptPlan struct {
	exe  string   // the real (symlink-free) path of the program
	argv []string // argv[0] is the configured name
	cred *syscall.Credential
}

// Verify reports whether the script can run, with keepalived's checks:
// the program must exist, be a regular file and be executable by the user
// and group it runs as (errors wrapping fs.ErrNotExist, fs.ErrPermission
// or ErrCheck say which), User and Group must exist (ErrCheck).
//
// With Security, a script that runs with root privileges (user root, group
// root, or a setuid-root or setgid-root file) is refused with an error
// wrapping ErrInsecureScript unless every element of its resolved path,
// from "/" down to the file, is owned by root and, for directories without
// the sticky bit and for the file itself, is writable neither by its group
// (unless that group is root) nor by others. A sticky directory (such as
// /tmp) only needs to be owned by root. This is keepalived's rule
// (check_security in lib/notify.c). A script run as another user is not
// subject to it. Without Security the rule is not enforced, as keepalived
// only warns.
//
// Call Verify at configuration time; Tracker.Validate calls it for every
// checker that has a Verify method.
func (s Script) Verify() error {
	_, err := s.prepare()
	return err
}

// prepare verifies the script and returns how to run it.
func (s Script) prepare() (*scriptPlan, error) {
	if s.Path == "" {
		return nil, fmt.Errorf("%w: script: Path is required", ErrCheck)
	}
	uid, gid, cred, err := s.credential()
	if err != nil {
		return nil, err
	}
	name := s.Path
	argv := append([]string{s.Path}, s.Args...)
	if s.Shell {
		name = "/bin/sh"
		argv = append([]string{"sh", "-c", s.Path, "sh"}, s.Args...)
	}
	exe, err := resolveProgram(name)
	if err != nil {
		return nil, fmt.Errorf("health: script %s: %w", s, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		return nil, fmt.Errorf("health: script %s: %w", s, &fs.PathError{Op: "stat", Path: exe, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: script %s: %s is not a regular file", ErrCheck, s, exe)
	}
	if !executableBy(&st, uid, gid) {
		return nil, fmt.Errorf("health: script %s: %s is not executable for uid:gid %d:%d: %w", s, exe, uid, gid, fs.ErrPermission)
	}
	if s.Security && needsProtection(&st, uid, gid) {
		if err := checkSecurity(exe); err != nil {
			return nil, fmt.Errorf("health: script %s runs as uid:gid %d:%d: %w", s, uid, gid, err)
		}
	}
	return &scriptPlan{exe: exe, argv: argv, cred: cred}, nil
}

// credential returns the uid and gid the script runs as, and the
// Credential that switches to them (nil when they are the process's own).
func (s Script) credential() (uid, gid uint32, cred *syscall.Credential, err error) {
	euid, egid := uint32(os.Geteuid()), uint32(os.Getegid())
	uid, gid = euid, egid
	if s.User != "" {
		u, err := lookupUser(s.User)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%w: script %s: user %q: %w", ErrCheck, s, s.User, err)
		}
		uid, gid = u.uid, u.gid
	}
	if s.Group != "" {
		g, err := lookupGroup(s.Group)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("%w: script %s: group %q: %w", ErrCheck, s, s.Group, err)
		}
		gid = g
	}
	if s.User == "" && s.Group == "" {
		return uid, gid, nil, nil
	}
	if euid != 0 {
		if uid == euid && gid == egid {
			return uid, gid, nil, nil
		}
		return 0, 0, nil, fmt.Errorf("%w: script %s: running it as uid:gid %d:%d needs root", ErrCheck, s, uid, gid)
	}
	// As keepalived: the group is the only group (setgroups(1, &gid)).
	return uid, gid, &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{gid}}, nil
}

type userIDs struct{ uid, gid uint32 }

func lookupUser(name string) (userIDs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return userIDs{}, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return userIDs{}, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return userIDs{}, err
	}
	return userIDs{uint32(uid), uint32(gid)}, nil
}

func lookupGroup(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			g, err = user.LookupGroupId(name)
		}
	}
	if err != nil {
		return 0, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(gid), err
}

// resolveProgram returns the absolute, symlink-free path of the program
// name (keepalived runs realpath(3) of the script).
func resolveProgram(name string) (string, error) {
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			return "", err
		}
		name = p
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// executableBy is keepalived's is_executable: root needs any execute bit,
// the owner the owner's, the group the group's, others the others'.
func executableBy(st *unix.Stat_t, uid, gid uint32) bool {
	m := st.Mode
	switch {
	case uid == 0:
		return m&(unix.S_IXUSR|unix.S_IXGRP|unix.S_IXOTH) != 0
	case uid == st.Uid:
		return m&unix.S_IXUSR != 0
	case gid == st.Gid:
		return m&unix.S_IXGRP != 0
	}
	return m&unix.S_IXOTH != 0
}

// needsProtection reports whether a script runs with root privileges:
// keepalived checks the path of those only.
func needsProtection(st *unix.Stat_t, uid, gid uint32) bool {
	return uid == 0 || gid == 0 ||
		st.Uid == 0 && st.Mode&unix.S_IXUSR != 0 && st.Mode&unix.S_ISUID != 0 ||
		st.Gid == 0 && st.Mode&unix.S_IXGRP != 0 && st.Mode&unix.S_ISGID != 0
}

// checkSecurity applies keepalived's check_security to the absolute path
// p: every element from "/" down must be owned by root, and directories
// without the sticky bit and the file must be writable neither by a group
// other than root nor by others.
func checkSecurity(p string) error {
	elems := []string{"/"}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' {
			elems = append(elems, p[:i])
		}
	}
	if p != "/" {
		elems = append(elems, p)
	}
	for i, e := range elems {
		var st unix.Stat_t
		if err := unix.Lstat(e, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: e, Err: err}
		}
		typ := st.Mode & unix.S_IFMT
		last := i == len(elems)-1
		if !last && typ != unix.S_IFDIR || last && typ != unix.S_IFREG && typ != unix.S_IFLNK {
			return fmt.Errorf("%w: unexpected file type of %s in the script's path", ErrInsecureScript, e)
		}
		if st.Uid != 0 {
			return fmt.Errorf("%w: %s is owned by uid %d, not root", ErrInsecureScript, e, st.Uid)
		}
		checked := typ == unix.S_IFDIR && st.Mode&unix.S_ISVTX == 0 || typ == unix.S_IFREG
		if checked && (st.Gid != 0 && st.Mode&unix.S_IWGRP != 0 || st.Mode&unix.S_IWOTH != 0) {
			return fmt.Errorf("%w: %s is writable by a user other than root (mode %04o, group %d)", ErrInsecureScript, e, st.Mode&07777, st.Gid)
		}
	}
	return nil
}

// Check runs the script once; see Script.
func (s Script) Check(ctx context.Context) error {
	p, err := s.prepare()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("health: script %s: not started: %w", s, err)
	}
	out := &tailBuffer{max: ScriptOutputTail}
	cmd := &exec.Cmd{
		Path:      p.exe,
		Args:      p.argv,
		Env:       append(os.Environ(), s.Env...),
		Dir:       "/",
		Stdout:    out,
		Stderr:    out,
		WaitDelay: scriptOutputWait,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Credential: p.cred,
			// If this process dies, the script gets SIGTERM, as
			// keepalived's get.
			Pdeathsig: syscall.SIGTERM,
		},
	}
	// The parent-death signal follows the thread that forked: keep it
	// alive, and ours, until the script is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("health: script %s: %w", s, err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExited(pgid)
	}()
	var killed error
	select {
	case <-exited:
	case <-ctx.Done():
		killed = ctx.Err()
		killGroup(pgid, s.KillDelay, exited)
	}
	// The leader has exited but is not reaped, so its pid, and with it the
	// group's id, cannot be reused yet: kill what it left in the group.
	_ = unix.Kill(-pgid, unix.SIGKILL)
	werr := cmd.Wait()
	if errors.Is(werr, exec.ErrWaitDelay) {
		werr = nil // it exited 0; something that left its group kept the output open
	}
	switch {
	case killed != nil:
		return fmt.Errorf("health: script %s: killed with its process group: %w%s", s, killed, out.quote())
	case werr != nil:
		return fmt.Errorf("health: script %s: %w%s", s, werr, out.quote())
	}
	return nil
}

// waitExited waits until process pid has exited, without reaping it.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return // exited, or gone (ECHILD): either way nothing to wait for
		}
	}
}

// killGroup sends SIGTERM to process group pgid and, unless its leader
// exits within delay, SIGKILL; then it waits for the leader to exit.
func killGroup(pgid int, delay time.Duration, exited <-chan struct{}) {
	if delay == 0 {
		delay = DefaultKillDelay
	}
	if delay > 0 {
		_ = unix.Kill(-pgid, unix.SIGTERM)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-exited:
			return
		case <-t.C:
		}
	}
	_ = unix.Kill(-pgid, unix.SIGKILL)
	<-exited
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= b.max {
		b.dropped += int64(len(b.buf) + len(p) - b.max)
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.dropped += int64(over)
		b.buf = b.buf[:copy(b.buf, b.buf[over:])]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// quote returns the output for an error message: empty, or
// "; output: ..." with the kept tail, quoted.
func (b *tailBuffer) quote() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return ""
	}
	if b.dropped > 0 {
		return fmt.Sprintf("; output (last %d bytes): %q", len(b.buf), s)
	}
	return fmt.Sprintf("; output: %q", s)
}
