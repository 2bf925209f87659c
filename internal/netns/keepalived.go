//go:build linux

package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// keepalivedStopTimeout bounds the wait for keepalived to exit after
// SIGTERM (Stop) or SIGKILL (Kill).
const keepalivedStopTimeout = 10 * time.Second

// Keepalived is a keepalived process running in a host of a lab, as a VRRP
// peer for interoperability tests.
type Keepalived struct {
	host    *Host
	pid     int
	dir     string
	logPath string
	done    chan struct{} // closed when the process has been reaped
}

// StartKeepalived writes config to keepalived.conf in a fresh t.TempDir()
// and runs keepalived there in h's namespace: in the foreground, VRRP only,
// with detailed console logging (captured, see Log) instead of syslog, and
// its own pid files in that directory. keepalived runs in a process group
// of its own. t.Cleanup stops it (Stop) and, if the test failed, logs its
// output. It skips the test through testenv.Skip when keepalived is not
// installed.
func StartKeepalived(t testing.TB, h *Host, config string) *Keepalived {
	t.Helper()
	bin, err := lookPath("keepalived", "/usr/sbin/keepalived", "/sbin/keepalived")
	if err != nil {
		testenv.Skip(t, "netns: %v (Debian package keepalived)", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatalf("netns: writing keepalived config: %v", err)
	}
	k := &Keepalived{host: h, dir: dir, logPath: filepath.Join(dir, "keepalived.log"), done: make(chan struct{})}
	logFile, err := os.OpenFile(k.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("netns: creating keepalived log: %v", err)
	}
	defer logFile.Close()
	cmd := h.Command(context.Background(), bin,
		"--dont-fork",
		"--log-console",
		"--log-detail",
		"--no-syslog",
		"--vrrp",
		"--use-file="+conf,
		"--pid="+filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid="+filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid="+filepath.Join(dir, "checkers.pid"),
		"--bfd_pid="+filepath.Join(dir, "bfd.pid"),
	)
	// A file rather than a pipe: keepalived's children inherit it, and
	// nothing waits for them to close it.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("netns: starting keepalived in host %d: %v", h.Index, err)
	}
	k.pid = cmd.Process.Pid
	go func() {
		_ = cmd.Wait() // the exit status of a killed keepalived says nothing new
		close(k.done)
	}()
	t.Cleanup(func() {
		if err := k.Stop(); err != nil {
			t.Errorf("netns: %v", err)
		}
		if t.Failed() {
			t.Logf("keepalived in host %d (pid %d) logged:\n%s", h.Index, k.pid, k.Log())
		}
	})
	return k
}

// Pid returns the pid of keepalived's parent process, which is also its
// process group.
func (k *Keepalived) Pid() int { return k.pid }

// VRRPPid returns the pid of keepalived's VRRP child process, from its pid
// file.
func (k *Keepalived) VRRPPid() (int, error) {
	b, err := os.ReadFile(filepath.Join(k.dir, "vrrp.pid"))
	if err != nil {
		return 0, fmt.Errorf("netns: keepalived VRRP pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("netns: keepalived VRRP pid: %w", err)
	}
	return pid, nil
}

// Running reports whether keepalived's parent process has not exited.
func (k *Keepalived) Running() bool {
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to keepalived's process group, as a crash would: no
// priority 0 advert, and the VIPs stay on the interface. It returns once
// every process of the group has exited, or an error after 10 s.
func (k *Keepalived) Kill() error {
	if k.Running() || groupAlive(k.pid) {
		k.signalGroup(unix.SIGKILL)
	}
	return k.waitGone(keepalivedStopTimeout, "SIGKILL")
}

// Stop sends SIGTERM to keepalived, which then sends priority 0 adverts,
// removes its VIPs and exits; after 10 s without exiting it is killed
// (SIGKILL to its process group) and Stop returns an error saying so. Stop
// after exit (or Kill) returns nil.
func (k *Keepalived) Stop() error {
	if k.Running() {
		if err := unix.Kill(k.pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("netns: SIGTERM to keepalived %d: %w", k.pid, err)
		}
	}
	if err := k.waitGone(keepalivedStopTimeout, "SIGTERM"); err != nil {
		if kerr := k.Kill(); kerr != nil {
			return errors.Join(err, kerr)
		}
		return fmt.Errorf("%w; killed it", err)
	}
	return nil
}

// signalGroup sends sig to keepalived's process group, ignoring an empty
// group.
func (k *Keepalived) signalGroup(sig unix.Signal) {
	_ = unix.Kill(-k.pid, sig)
}

// waitGone waits until the parent has been reaped and no live process is
// left in its process group.
func (k *Keepalived) waitGone(timeout time.Duration, after string) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-k.done:
	case <-deadline.C:
		return fmt.Errorf("netns: keepalived %d still running %v after %s", k.pid, timeout, after)
	}
	for groupAlive(k.pid) {
		select {
		case <-deadline.C:
			return fmt.Errorf("netns: keepalived %d: children still running %v after %s", k.pid, timeout, after)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// groupAlive reports whether a process that is not a zombie belongs to
// process group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if running, pg := procStat(pid); running && pg == pgid {
			return true
		}
	}
	return false
}

// procStat reports whether process pid exists and is not a zombie, and
// its process group.
func procStat(pid int) (running bool, pgrp int) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false, 0
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false, 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
		return false, 0
	}
	pgrp, err = strconv.Atoi(f[2])
	return err == nil, pgrp
}

// Log returns what keepalived has logged so far.
func (k *Keepalived) Log() string {
	b, err := os.ReadFile(k.logPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	return string(b)
}

// WaitLog waits at most timeout until keepalived's log holds substr, and
// fails the test (showing the log) if it does not, or if keepalived exits
// first.
func (k *Keepalived) WaitLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(k.Log(), substr) {
			return
		}
		if !k.Running() {
			// One last look: the line may have come with the exit.
			if strings.Contains(k.Log(), substr) {
				return
			}
			t.Fatalf("netns: keepalived %d exited before logging %q; its log:\n%s", k.pid, substr, k.Log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("netns: keepalived %d did not log %q within %v; its log:\n%s", k.pid, substr, timeout, k.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
