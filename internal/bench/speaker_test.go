//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// kind is an implementation.
type kind string

const (
	ours       kind = "vrrpkit"
	keepalived kind = "keepalived"
)

// inst is one virtual router of a benchmark configuration.
type inst struct {
	iface string
	vrid  uint8
	vip   netip.Prefix
}

// setup is what a speaker runs: instances at one priority and interval.
type setup struct {
	insts    []inst
	prio     uint8
	interval time.Duration
}

// speaker is one running VRRP process, ours or keepalived.
type speaker interface {
	// Pid is the process that does the VRRP work: our daemon, or
	// keepalived's VRRP child.
	Pid(t *testing.T) int
	// Kill ends it with SIGKILL and waits for it.
	Kill(t *testing.T)
	// Stop ends it with SIGTERM and waits for it.
	Stop(t *testing.T)
	// Reload makes it run s instead, through SIGHUP.
	Reload(t *testing.T, h *netns.Host, s setup)
}

// start runs k on h with s; profile, if not empty, is where our daemon
// writes a CPU profile.
func start(t *testing.T, k kind, h *netns.Host, s setup, profile string) speaker {
	t.Helper()
	if k == keepalived {
		return &keepalivedSpeaker{k: netns.StartKeepalived(t, h, keepalivedConf(h, s))}
	}
	return startDaemon(t, h, s, profile)
}

// keepalivedConf writes s as keepalived.conf (VRRPv3).
func keepalivedConf(h *netns.Host, s setup) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id h%d\n  vrrp_version 3\n}\n", h.Index)
	for i, in := range s.insts {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n  state BACKUP\n  interface %s\n  virtual_router_id %d\n  priority %d\n",
			i+1, in.iface, in.vrid, s.prio)
		fmt.Fprintf(&b, "  advert_int %s\n", strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", s.interval.Seconds()), "0"), "."))
		fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s\n  }\n}\n", in.vip)
	}
	return b.String()
}

type keepalivedSpeaker struct {
	k *netns.Keepalived

	mu    sync.Mutex
	marks []logMark // when the log held how many transitions
}

// logMark is the number of transitions keepalived had logged at a time.
type logMark struct {
	at time.Time
	n  int
}

// transitions counts the "Entering ... STATE" lines of keepalived's log,
// but for the initial ones ("Entering BACKUP STATE (init)").
func (s *keepalivedSpeaker) transitions() int {
	log := s.k.Log()
	return strings.Count(log, ") Entering ") - strings.Count(log, " STATE (init)")
}

// mark records the count of transitions now, for transitionsSince.
func (s *keepalivedSpeaker) mark() {
	n := s.transitions()
	s.mu.Lock()
	s.marks = append(s.marks, logMark{time.Now(), n})
	s.mu.Unlock()
}

// transitionsSince counts the transitions logged since the last mark at or
// before from (or since the start); the log's own times are not read.
func (s *keepalivedSpeaker) transitionsSince(from time.Time) int {
	base := 0
	s.mu.Lock()
	for _, m := range s.marks {
		if !m.at.After(from) {
			base = m.n
		}
	}
	s.mu.Unlock()
	return s.transitions() - base
}

func (s *keepalivedSpeaker) Pid(t *testing.T) int {
	t.Helper()
	var pid int
	netns.WaitFor(t, 10*time.Second, "keepalived's VRRP child", func() bool {
		p, err := s.k.VRRPPid()
		if err != nil {
			return false
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err != nil {
			return false
		}
		pid = p
		return true
	})
	return pid
}

// Reload rewrites keepalived's configuration file (found in its command
// line) and sends SIGHUP to its parent process.
func (s *keepalivedSpeaker) Reload(t *testing.T, h *netns.Host, st setup) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.k.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	var conf string
	for _, arg := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(arg, "--use-file="); ok {
			conf = v
		}
	}
	if conf == "" {
		t.Fatalf("no --use-file in keepalived's command line %q", b)
	}
	if err := os.WriteFile(conf, []byte(keepalivedConf(h, st)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.k.Pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func (s *keepalivedSpeaker) Kill(t *testing.T) {
	t.Helper()
	if err := s.k.Kill(); err != nil {
		t.Fatal(err)
	}
}

func (s *keepalivedSpeaker) Stop(t *testing.T) {
	t.Helper()
	if err := s.k.Stop(); err != nil {
		t.Fatal(err)
	}
}

// daemonConfig mirrors internal/testdaemon's Config.
type daemonConfig struct {
	Instances []vrrp.InstanceConfig
	Lease     time.Duration
	LogLevel  int
}

// event is a line of the test daemon's output.
type event struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
	Priority uint8     `json:"priority"`
}

// dump is what the test daemon writes on SIGUSR1.
type dump struct {
	Instances []vrrp.Status
	Router    vrrp.RouterStats
}

// daemon is our test daemon running in a host.
type daemon struct {
	h      *netns.Host
	cmd    *exec.Cmd
	done   chan struct{}
	conf   string
	status string

	mu     sync.Mutex
	events []event
}

// daemonStopTimeout bounds a graceful stop: with 1,000 instances the
// daemon removes 1,000 addresses first.
const daemonStopTimeout = 60 * time.Second

// writeDaemonConfig writes s as the test daemon's configuration file.
func writeDaemonConfig(t *testing.T, path string, s setup) {
	t.Helper()
	cfg := daemonConfig{}
	for i, in := range s.insts {
		cfg.Instances = append(cfg.Instances, vrrp.InstanceConfig{
			Name: fmt.Sprintf("VI_%d", i+1), Interface: in.iface, VRID: in.vrid, Version: 3,
			Priority: s.prio, AdvertInterval: s.interval, VIPs: []vrrp.VIP{{Prefix: in.vip}},
		})
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func startDaemon(t *testing.T, h *netns.Host, s setup, profile string) *daemon {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.json")
	writeDaemonConfig(t, conf, s)
	d := &daemon{h: h, conf: conf, status: filepath.Join(dir, "status.json"), done: make(chan struct{})}
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	args := []string{"-config", conf, "-status", d.status}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := h.Command(context.Background(), daemonPath, args...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the test daemon in host %d: %v", h.Index, err)
	}
	d.cmd = cmd
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				d.mu.Lock()
				d.events = append(d.events, e)
				d.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { d.end(t, syscall.SIGTERM) })
	return d
}

func (d *daemon) Pid(*testing.T) int { return d.cmd.Process.Pid }

func (d *daemon) Kill(t *testing.T) { t.Helper(); d.end(t, syscall.SIGKILL) }

func (d *daemon) Stop(t *testing.T) { t.Helper(); d.end(t, syscall.SIGTERM) }

// Reload rewrites the daemon's configuration file and sends it SIGHUP.
func (d *daemon) Reload(t *testing.T, _ *netns.Host, s setup) {
	t.Helper()
	writeDaemonConfig(t, d.conf, s)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// end signals the daemon's process group (the daemon alone: it starts
// none) and waits for it; a daemon that outlives the timeout is killed.
func (d *daemon) end(t *testing.T, sig syscall.Signal) {
	t.Helper()
	pid := d.cmd.Process.Pid
	select {
	case <-d.done:
		return
	default:
	}
	_ = syscall.Kill(-pid, sig)
	select {
	case <-d.done:
	case <-time.After(daemonStopTimeout):
		t.Errorf("the daemon in host %d did not end on %v within %v; killing it", d.h.Index, sig, daemonStopTimeout)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-d.done
	}
}

// transitions returns the transitions printed at or after from, but for
// the initial ones (from INIT).
func (d *daemon) transitions(from time.Time) []event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []event
	for _, e := range d.events {
		if !e.Time.Before(from) && e.From != "INIT" {
			out = append(out, e)
		}
	}
	return out
}

// dump asks the daemon for its status.
func (d *daemon) dump(t *testing.T) dump {
	t.Helper()
	_ = os.Remove(d.status)
	if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var out dump
	netns.WaitFor(t, 20*time.Second, "the status file", func() bool {
		b, err := os.ReadFile(d.status)
		return err == nil && json.Unmarshal(b, &out) == nil
	})
	return out
}

// countAddrs returns how many addresses of h lie in p, or -1 if netlink
// could not list them (a dump interrupted again and again while
// thousands of addresses come and go).
func countAddrs(t *testing.T, h *netns.Host, p netip.Prefix) int {
	t.Helper()
	addrs, err := h.Addrs()
	if err != nil {
		t.Logf("counting addresses: %v", err)
		return -1
	}
	n := 0
	for _, a := range addrs {
		if p.Contains(a.Addr()) {
			n++
		}
	}
	return n
}

// delAddr removes a from h's iface if it is there (what keepalived, and
// our daemon without a lease, leave behind when killed).
func delAddr(t *testing.T, h *netns.Host, a netip.Prefix, iface string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = h.Command(ctx, "ip", "addr", "del", a.String(), "dev", iface).Run()
}
