package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ErrProcHidden is returned by Process.Check and Process.Count when the
// proc filesystem hides other users' processes from this one, so that a
// count would be wrong: /proc is mounted with hidepid=1 (noaccess),
// hidepid=2 (invisible) or hidepid=4 (ptraceable) and this process has
// neither CAP_SYS_PTRACE nor the group of the mount's gid= option, or pid
// 1's /proc entry cannot be seen at all. Root with its usual capabilities
// sees everything. Otherwise remount /proc without hidepid, add the
// process to the gid= group, or grant it CAP_SYS_PTRACE.
var ErrProcHidden = errors.New("health: /proc hides other users' processes")

// ErrProcQuorum is returned by Process.Check when the number of matching
// processes is outside Quorum..QuorumMax.
var ErrProcQuorum = errors.New("health: process quorum not met")

// ParamMatch says how a Process compares the arguments of a command line
// with Process.Args, as keepalived's param_match. Setting it, or setting
// Args, matches the command line as with FullCommand.
type ParamMatch string

// The ways of comparing arguments. The zero value is ParamMatchExact when
// Args is set, and no comparison otherwise.
const (
	// ParamMatchExact requires the arguments to be exactly Args; with no
	// Args, it requires the command to have no arguments at all
	// (keepalived's param_match with no value).
	ParamMatchExact ParamMatch = "exact"
	// ParamMatchPartial requires the first len(Args) arguments to be
	// exactly Args; more may follow (keepalived's "param_match partial").
	ParamMatchPartial ParamMatch = "partial"
	// ParamMatchInitial is ParamMatchPartial, except that the last of Args
	// need only be a prefix of its argument (keepalived's "param_match
	// initial").
	ParamMatchInitial ParamMatch = "initial"
)

// QuorumMaxNone, as Process.QuorumMax, means that no matching process may
// run: the check succeeds only while none does (keepalived's quorum_max 0).
// Quorum must then be 0.
const QuorumMaxNone = -1

// procCommLen is the longest process name the kernel keeps in
// /proc/PID/comm (TASK_COMM_LEN - 1).
const procCommLen = 15

// Process is a Checker that counts running processes, as keepalived's
// vrrp_track_process: it succeeds while Quorum <= count <= QuorumMax.
//
// keepalived learns of processes from the kernel's process events
// connector; a Process instead scans /proc on each probe, so a Monitor
// polls it at its Interval. Like keepalived it matches exactly, never as a
// regular expression ("ssh" does not match sshd, unlike pgrep), and it
// counts neither zombies nor threads.
//
// The delays are measured on the probes' clock (Clock). A newly found
// process is counted only once ForkDelay has passed since the probe that
// first found it, so that a short-lived fork does not break QuorumMax. A
// vanished process still counts towards Quorum (never towards QuorumMax)
// until TerminateDelay has passed since the probe that first missed it, so
// that a restart or reload (a process replaced by another) need not move
// the instance. A process that vanishes before it was ever counted is
// never counted. The processes found by the first probe were running
// before it and count at once. keepalived applies its delays to the
// change of state that a fork or an exit causes, as the events arrive;
// polling can only apply them to each process, with the same effect on
// restarts, reloads and brief forks.
//
// A Process keeps that per-process state: use it through a pointer, one
// value per check, and do not copy it after the first probe.
type Process struct {
	// Name is the process name, compared with /proc/PID/comm (which the
	// kernel cuts to 15 bytes), or, with FullCommand, with the first
	// element of /proc/PID/cmdline (argv[0], such as /usr/sbin/haproxy).
	Name string
	// FullCommand compares Name with argv[0] instead of comm
	// (keepalived's full_command, pgrep -f). Args and ParamMatch imply
	// it.
	FullCommand bool
	// Args are the arguments that follow argv[0], compared as ParamMatch
	// says (keepalived's parameters after the process name). Setting them
	// implies FullCommand and, by default, ParamMatchExact.
	Args []string
	// ParamMatch says how the arguments are compared with Args; see the
	// constants. Empty means ParamMatchExact when Args is set and no
	// comparison otherwise.
	ParamMatch ParamMatch
	// Quorum is the fewest matching processes for success; 0 means 1
	// (keepalived's default).
	Quorum int
	// QuorumMax is the most matching processes for success; 0 means no
	// limit (keepalived's default), QuorumMaxNone that none may run.
	QuorumMax int
	// Delay sets both ForkDelay and TerminateDelay (keepalived's delay);
	// each of those, when set, overrides it.
	Delay time.Duration
	// ForkDelay is how long a new process must have been seen before it
	// is counted (keepalived's fork_delay).
	ForkDelay time.Duration
	// TerminateDelay is how long a vanished process still counts towards
	// Quorum (keepalived's terminate_delay).
	TerminateDelay time.Duration
	// ProcRoot is where the proc filesystem is mounted; "" means /proc.
	// Tests point it at a fake tree.
	ProcRoot string
	// Clock gives the time of each probe, for the delays; nil means
	// vrrp.SystemClock. Give it the Monitor's clock.
	Clock vrrp.Clock

	mu      sync.Mutex
	started bool                    // a probe has scanned /proc
	procs   map[procKey]*procRecord // the matching processes known
}

// procKey identifies a process: its pid, and its start time (in clock
// ticks since boot) so that a reused pid is a new process.
type procKey struct {
	pid   int
	start uint64
}

// procRecord is what a Process remembers of one matching process.
type procRecord struct {
	first time.Time // the probe that first found it
	last  time.Time // the last probe that found it
	gone  time.Time // the probe that first missed it; zero while present
}

// Validate reports what is wrong with p's configuration, each problem an
// error wrapping ErrCheck.
func (p *Process) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: process %q: %s", ErrCheck, p.Name, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" {
		bad("Name is required")
	}
	if strings.IndexByte(p.Name, 0) >= 0 {
		bad("Name contains a NUL byte")
	}
	for _, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			bad("argument %q contains a NUL byte", a)
		}
	}
	if !p.fullCommand() && len(p.Name) > procCommLen {
		bad("Name is longer than the %d bytes the kernel keeps in /proc/PID/comm and can never match; set FullCommand to match argv[0]", procCommLen)
	}
	switch p.ParamMatch {
	case "", ParamMatchExact, ParamMatchPartial, ParamMatchInitial:
	default:
		bad("ParamMatch %q is not %q, %q or %q", p.ParamMatch, ParamMatchExact, ParamMatchPartial, ParamMatchInitial)
	}
	switch {
	case p.Quorum < 0:
		bad("Quorum %d is negative", p.Quorum)
	case p.QuorumMax < QuorumMaxNone:
		bad("QuorumMax %d is neither 0 or more nor QuorumMaxNone", p.QuorumMax)
	case p.QuorumMax == QuorumMaxNone && p.Quorum > 0:
		bad("Quorum must be 0 when QuorumMax is QuorumMaxNone")
	case p.QuorumMax > 0 && max(p.Quorum, 1) > p.QuorumMax:
		bad("Quorum %d is greater than QuorumMax %d", max(p.Quorum, 1), p.QuorumMax)
	}
	if p.Delay < 0 || p.ForkDelay < 0 || p.TerminateDelay < 0 {
		bad("Delay, ForkDelay and TerminateDelay must not be negative")
	}
	return errors.Join(errs...)
}

// fullCommand reports whether argv[0] is compared rather than comm.
func (p *Process) fullCommand() bool {
	return p.FullCommand || len(p.Args) > 0 || p.ParamMatch != ""
}

// paramMatch returns the effective comparison of arguments, "" for none.
func (p *Process) paramMatch() ParamMatch {
	if p.ParamMatch == "" && len(p.Args) > 0 {
		return ParamMatchExact
	}
	return p.ParamMatch
}

// quorum returns the bounds of the count for success.
func (p *Process) quorum() (lo, hi int) {
	switch {
	case p.QuorumMax == QuorumMaxNone:
		return 0, 0
	case p.QuorumMax == 0:
		return max(p.Quorum, 1), math.MaxInt
	}
	return max(p.Quorum, 1), p.QuorumMax
}

// delays returns the effective fork and terminate delays.
func (p *Process) delays() (fork, terminate time.Duration) {
	fork, terminate = p.Delay, p.Delay
	if p.ForkDelay != 0 {
		fork = p.ForkDelay
	}
	if p.TerminateDelay != 0 {
		terminate = p.TerminateDelay
	}
	return fork, terminate
}

func (p *Process) root() string {
	if p.ProcRoot == "" {
		return "/proc"
	}
	return p.ProcRoot
}

// Check scans the proc filesystem once and reports whether the number of
// matching processes, after the delays, is within the quorum. It returns
// an error wrapping ErrCheck for a bad configuration, ErrProcHidden when
// /proc hides processes, and ErrProcQuorum when the count is outside the
// quorum. A process that vanishes or cannot be read during the scan is
// simply not found; only an unreadable ProcRoot is an error.
func (p *Process) Check(ctx context.Context) error {
	n, err := p.Count(ctx)
	if err != nil {
		return err
	}
	lo, hi := p.quorum()
	if n < lo || n > hi {
		return fmt.Errorf("%w: %s: %d running, want %s", ErrProcQuorum, p.describe(), n, quorumText(lo, hi))
	}
	return nil
}

// Count scans the proc filesystem once and returns how many matching
// processes count, after the delays, as Check compares it with the
// quorum. Each call is a probe: it advances the delays as Check does. It
// returns an error wrapping ErrCheck for a bad configuration,
// ErrProcHidden when /proc hides processes, or the error reading
// ProcRoot.
func (p *Process) Count(ctx context.Context) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	root := p.root()
	if err := procVisible(root); err != nil {
		return 0, err
	}
	found, err := p.scan(ctx, root)
	if err != nil {
		return 0, err
	}
	clock := p.Clock
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	now := clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.update(now, found), nil
}

// describe names what p matches, for errors.
func (p *Process) describe() string {
	if !p.fullCommand() {
		return fmt.Sprintf("processes named %q", p.Name)
	}
	s := fmt.Sprintf("processes with argv[0] %q", p.Name)
	if m := p.paramMatch(); m != "" {
		s += fmt.Sprintf(" and arguments %q (%s)", p.Args, m)
	}
	return s
}

func quorumText(lo, hi int) string {
	switch {
	case hi == 0:
		return "none"
	case hi == math.MaxInt:
		return fmt.Sprintf("at least %d", lo)
	case lo == hi:
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// update records the processes found by a probe at now and returns how
// many count. p.mu must be held.
func (p *Process) update(now time.Time, found map[procKey]struct{}) int {
	if p.procs == nil {
		p.procs = map[procKey]*procRecord{}
	}
	forkDelay, termDelay := p.delays()
	baseline := !p.started
	p.started = true
	for k := range found {
		r, ok := p.procs[k]
		if !ok {
			first := now
			if baseline {
				first = now.Add(-forkDelay) // already running: count at once
			}
			p.procs[k] = &procRecord{first: first, last: now}
			continue
		}
		r.last, r.gone = now, time.Time{}
	}
	running, vanished := 0, 0
	for k, r := range p.procs {
		if _, ok := found[k]; ok {
			if now.Sub(r.first) >= forkDelay {
				running++
			}
			continue
		}
		if r.gone.IsZero() {
			if r.last.Sub(r.first) < forkDelay {
				delete(p.procs, k) // gone before it ever counted
				continue
			}
			r.gone = now
		}
		if now.Sub(r.gone) < termDelay {
			vanished++
		} else {
			delete(p.procs, k)
		}
	}
	// Vanished processes still count, but only up to the quorum: they
	// keep a check up, never push it over QuorumMax.
	lo, _ := p.quorum()
	return max(running, min(running+vanished, lo))
}

// scan returns the matching processes under root.
func (p *Process) scan(ctx context.Context, root string) (map[procKey]struct{}, error) {
	dir, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("health: process %q: %w", p.Name, err)
	}
	defer dir.Close()
	// Names only: a numeric entry that is not a directory fails to open
	// below like a vanished process.
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("health: process %q: reading %s: %w", p.Name, root, err)
	}
	s := procScanner{p: p, mode: p.paramMatch(), full: p.fullCommand()}
	if s.mode != "" && len(p.Args) > 0 {
		s.want = []byte(strings.Join(p.Args, "\x00") + "\x00")
	}
	found := map[procKey]struct{}{}
	for i, name := range names {
		if i%64 == 63 && ctx.Err() != nil {
			return nil, fmt.Errorf("health: process %q: scanning %s: %w", p.Name, root, ctx.Err())
		}
		pid, ok := procPID(name)
		if !ok {
			continue
		}
		if k, ok := s.match(root, name, pid); ok {
			found[k] = struct{}{}
		}
	}
	return found, nil
}

// procPID parses a /proc entry name as keepalived does: decimal digits, the
// first not 0.
func procPID(name string) (int, bool) {
	if name == "" || name[0] < '1' || name[0] > '9' || len(name) > 10 {
		return 0, false
	}
	for i := 1; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	pid, err := strconv.Atoi(name)
	return pid, err == nil
}

// procScanner matches /proc/PID entries against a Process, reusing its
// buffer between them.
type procScanner struct {
	p    *Process
	mode ParamMatch
	full bool
	want []byte // Args, each followed by a NUL, as keepalived stores them
	buf  []byte // the contents of the last file read
	path []byte // the path of the last file read
}

// match reports whether the process in root/dir (/proc/PID) matches. Any error
// reading it (it may have just exited) means no. It reads the name (comm)
// or the command line first, and the stat line, for the state and the
// start time, only of a process whose name matches: the kernel is slow to
// produce stat.
func (s *procScanner) match(root, dir string, pid int) (procKey, bool) {
	if !s.full {
		// The name, its newline, and one byte to see a longer name.
		comm, err := s.read(root, dir, "comm", len(s.p.Name)+2)
		if err != nil || string(bytes.TrimSuffix(comm, []byte("\n"))) != s.p.Name {
			return procKey{}, false
		}
	} else {
		// No more of the command line than a decision needs: argv[0]
		// and its NUL, the wanted arguments, and one byte to see whether
		// more follow.
		limit := len(s.p.Name) + 1
		if s.mode != "" {
			limit += len(s.want) + 1
		}
		cmdline, err := s.read(root, dir, "cmdline", limit)
		if err != nil {
			return procKey{}, false
		}
		argv0, params, _ := bytes.Cut(cmdline, []byte{0})
		if string(argv0) != s.p.Name {
			return procKey{}, false
		}
		if s.mode != "" && !procParamsMatch(s.mode, s.want, params) {
			return procKey{}, false
		}
	}
	stat, err := s.read(root, dir, "stat", 4096)
	if err != nil {
		return procKey{}, false
	}
	comm, state, start, ok := parseProcStat(stat)
	if !ok || state == 'Z' || state == 'X' || state == 'x' {
		return procKey{}, false // zombies and dead tasks are not running
	}
	if !s.full && comm != s.p.Name {
		return procKey{}, false // it changed its name, or exec'd, meanwhile
	}
	return procKey{pid: pid, start: start}, true
}

// read returns up to limit bytes of the file root/dir/name, in s.buf. It uses
// the system calls directly: an os.File costs more than the read of a
// small /proc file.
func (s *procScanner) read(root, dir, name string, limit int) ([]byte, error) {
	s.path = append(append(append(s.path[:0], root...), '/'), dir...)
	s.path = append(append(s.path, '/'), name...)
	fd, err := procOpen(string(s.path))
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	if cap(s.buf) < limit {
		s.buf = make([]byte, limit)
	}
	b := s.buf[:limit]
	n := 0
	for n < limit {
		m, err := syscall.Read(fd, b[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return b[:n], nil
}

func procOpen(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// procParamsMatch is keepalived's check_params: got is the command line
// after argv[0] and its NUL (each argument NUL-terminated), want the
// wanted arguments in the same form.
func procParamsMatch(mode ParamMatch, want, got []byte) bool {
	if mode == ParamMatchExact && len(want) == 0 && len(got) == 0 {
		return true
	}
	if len(got) < len(want) {
		return false
	}
	switch mode {
	case ParamMatchExact:
		return len(got) == len(want) && string(got) == string(want)
	case ParamMatchPartial:
		return string(got[:len(want)]) == string(want)
	}
	// ParamMatchInitial: the last wanted argument may be a prefix.
	if len(want) == 0 {
		return true
	}
	return string(got[:len(want)-1]) == string(want[:len(want)-1])
}

// parseProcStat returns the name, the state and the start time (field 22)
// from /proc/PID/stat, whose name, in parentheses, may itself hold spaces
// and parentheses. A stat too short to hold the start time gives 0.
func parseProcStat(b []byte) (comm string, state byte, start uint64, ok bool) {
	open := strings.IndexByte(string(b), '(')
	end := strings.LastIndexByte(string(b), ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return "", 0, 0, false
	}
	comm = string(b[open+1 : end])
	fields := strings.Fields(string(b[end+1:]))
	if len(fields) == 0 || len(fields[0]) != 1 {
		return "", 0, 0, false
	}
	state = fields[0][0]
	// fields[0] is field 3 of stat; starttime is field 22.
	if len(fields) > 19 {
		start, _ = strconv.ParseUint(fields[19], 10, 64)
	}
	return comm, state, start, true
}

// capSysPtrace is CAP_SYS_PTRACE's bit in the capability sets.
const capSysPtrace = 19

// procVisible returns an error wrapping ErrProcHidden when the proc
// filesystem at root hides processes from this one. It reads the mount's
// options from root/self/mountinfo and this process's credentials from
// root/self/status, and then tries pid 1's entry.
func procVisible(root string) error {
	if hidepid, gid, ok := procMountHidepid(root); ok {
		switch hidepid {
		case "", "0", "off":
		default:
			if !procSeesAll(root, gid) {
				return fmt.Errorf("%w: %s is mounted with hidepid=%s, and this process has neither CAP_SYS_PTRACE nor the mount's gid group", ErrProcHidden, root, hidepid)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "1", "stat")); errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: pid 1 cannot be seen under %s (hidepid, or not a proc filesystem): %w", ErrProcHidden, root, err)
	}
	return nil
}

// procMountHidepid returns the hidepid and gid options of the proc mount at
// root, from root/self/mountinfo; ok is false when root is not found
// there as a proc mount.
func procMountHidepid(root string) (hidepid, gid string, ok bool) {
	b, err := os.ReadFile(filepath.Join(root, "self", "mountinfo"))
	if err != nil {
		return "", "", false
	}
	want := root
	if abs, err := filepath.Abs(root); err == nil {
		want = abs
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	// Each line: ID parent major:minor root mountpoint options
	// [optional...] - fstype source superoptions. The last mount at a
	// point is the one on top.
	for line := range strings.Lines(string(b)) {
		pre, post, found := strings.Cut(line, " - ")
		if !found {
			continue
		}
		f := strings.Fields(pre)
		g := strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || g[0] != "proc" || unescapeMountinfo(f[4]) != want {
			continue
		}
		ok, hidepid, gid = true, "", ""
		for opt := range strings.SplitSeq(g[2], ",") {
			if v, found := strings.CutPrefix(opt, "hidepid="); found {
				hidepid = v
			}
			if v, found := strings.CutPrefix(opt, "gid="); found {
				gid = v
			}
		}
	}
	return hidepid, gid, ok
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procSeesAll reports whether this process sees every process despite
// hidepid: it has CAP_SYS_PTRACE, or belongs to the mount's gid group.
// It reads root/self/status; when that cannot be read, it reports false.
func procSeesAll(root, gid string) bool {
	b, err := os.ReadFile(filepath.Join(root, "self", "status"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		key, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		f := strings.Fields(val)
		switch key {
		case "CapEff":
			if len(f) == 1 {
				if caps, err := strconv.ParseUint(f[0], 16, 64); err == nil && caps&(1<<capSysPtrace) != 0 {
					return true
				}
			}
		case "Gid":
			// real, effective, saved, filesystem: the kernel checks the
			// filesystem gid and the supplementary groups.
			if gid != "" && len(f) == 4 && f[3] == gid {
				return true
			}
		case "Groups":
			for _, g := range f {
				if gid != "" && g == gid {
					return true
				}
			}
		}
	}
	return false
}
