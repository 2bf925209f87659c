package interop_test

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

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// daemonPath is the test daemon built by TestMain, or empty with the reason
// in daemonErr.
var (
	daemonPath string
	daemonErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vrrpkit-interop-")
	if err == nil {
		daemonPath = filepath.Join(dir, "testdaemon")
		daemonErr = testenv.BuildTestDaemon(daemonPath)
	} else {
		daemonErr = err
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// mode is a VRRP flavour the tests run in.
type mode struct {
	name     string
	version  int
	family   vrrp.Family
	unicast  bool
	pass     string
	interval time.Duration
}

// modes use 200 ms adverts for VRRPv3: Master_Down_Interval is then about
// 0.7 s, fast enough for many scenarios, and slow enough that a loaded
// 2-core machine does not starve a Backup into a spurious takeover.
var modes = []mode{
	{name: "v2-pass", version: 2, family: vrrp.IPv4, pass: "secret", interval: time.Second},
	{name: "v3-ipv4", version: 3, family: vrrp.IPv4, interval: 200 * time.Millisecond},
	{name: "v3-ipv4-unicast", version: 3, family: vrrp.IPv4, unicast: true, interval: 200 * time.Millisecond},
	{name: "v3-ipv6", version: 3, family: vrrp.IPv6, interval: 200 * time.Millisecond},
}

const vrid = 51

func (m mode) vip() netip.Prefix {
	if m.family == vrrp.IPv6 {
		return netip.MustParsePrefix("fd00::100/64")
	}
	return netip.MustParsePrefix("198.18.0.100/24")
}

// masterDown is Master_Down_Interval at prio (RFC 5798 section 6.1; RFC
// 3768 for v2).
func (m mode) masterDown(prio int) time.Duration {
	if m.version == 2 {
		return 3*m.interval + time.Duration(256-prio)*time.Second/256
	}
	return 3*m.interval + time.Duration(256-prio)*m.interval/256
}

// opts are the per-start options of a speaker.
type opts struct {
	prio         int
	nopreempt    bool
	preemptDelay time.Duration
	vmac         bool
	lease        time.Duration
}

// kind says which implementation a speaker runs.
type kind string

const (
	ours       kind = "vrrpkit"
	keepalived kind = "keepalived"
)

// speaker is one VRRP implementation in one lab host; it can be started,
// killed and stopped again and again.
type speaker struct {
	t    *testing.T
	kind kind
	m    mode
	h    *netns.Host
	peer *netns.Host

	kd     *netns.Keepalived
	cmd    *exec.Cmd
	done   chan struct{}
	status string
	logf   string

	mu     sync.Mutex
	events []event
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

func newSpeaker(t *testing.T, k kind, m mode, h, peer *netns.Host) *speaker {
	if k == ours && daemonErr != nil {
		testenv.Skip(t, "%v", daemonErr)
	}
	return &speaker{t: t, kind: k, m: m, h: h, peer: peer}
}

func (s *speaker) String() string { return fmt.Sprintf("%s on host %d", s.kind, s.h.Index) }

func (s *speaker) start(o opts) {
	s.t.Helper()
	if s.kind == keepalived {
		s.kd = netns.StartKeepalived(s.t, s.h, s.keepalivedConf(o))
		return
	}
	s.startOurs(o)
}

func (s *speaker) keepalivedConf(o opts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id h%d\n  vrrp_version %d\n}\n", s.h.Index, s.m.version)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state BACKUP\n  interface %s\n  virtual_router_id %d\n  priority %d\n",
		s.h.Iface, vrid, o.prio)
	if s.m.version == 2 {
		fmt.Fprintf(&b, "  advert_int %d\n", int(s.m.interval/time.Second))
	} else {
		fmt.Fprintf(&b, "  advert_int %.2f\n", s.m.interval.Seconds())
	}
	if o.nopreempt {
		b.WriteString("  nopreempt\n")
	}
	if o.preemptDelay > 0 {
		fmt.Fprintf(&b, "  preempt_delay %d\n", int(o.preemptDelay/time.Second))
	}
	if o.vmac {
		b.WriteString("  use_vmac\n")
	}
	if s.m.pass != "" {
		fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", s.m.pass)
	}
	if s.m.unicast {
		fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", s.h.Addr4.Addr(), s.peer.Addr4.Addr())
	}
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s\n  }\n}\n", s.m.vip())
	return b.String()
}

// daemonConfig mirrors internal/testdaemon's Config.
type daemonConfig struct {
	Instances  []vrrp.InstanceConfig
	Lease      time.Duration
	LogLevel   int
	SyncGroups []vrrp.SyncGroup
	Scripts    []scriptCheck
	Processes  []processCheck
	Tracks     map[string][]health.Track
}

// schedule, scriptCheck and processCheck mirror internal/testdaemon's.
type schedule struct {
	Name              string
	Interval, Timeout time.Duration
	Rise, Fall        int
	InitFail          bool
}

type scriptCheck struct {
	schedule
	Script health.Script
}

type processCheck struct {
	schedule
	Process health.Process
}

func (s *speaker) ourConfig(o opts) daemonConfig {
	c := vrrp.InstanceConfig{
		Name: "VI_1", Interface: s.h.Iface, VRID: vrid, Version: uint8(s.m.version), Priority: uint8(o.prio),
		AdvertInterval: s.m.interval, NoPreempt: o.nopreempt, PreemptDelay: o.preemptDelay,
		AuthPass: s.m.pass, UseVMAC: o.vmac,
		VIPs: []vrrp.VIP{{Prefix: s.m.vip()}},
	}
	if s.m.unicast {
		c.UnicastPeers = []netip.Addr{s.peer.Addr4.Addr()}
	}
	return daemonConfig{Instances: []vrrp.InstanceConfig{c}, Lease: o.lease}
}

func (s *speaker) startOurs(o opts) {
	s.t.Helper()
	s.startWith(s.ourConfig(o))
}

// startWith starts our daemon with cfg.
func (s *speaker) startWith(cfg daemonConfig) {
	t := s.t
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "config.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.status = filepath.Join(dir, "status.json")
	s.logf = filepath.Join(dir, "daemon.log")
	logFile, err := os.Create(s.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := s.h.Command(context.Background(), daemonPath, "-config", conf, "-status", s.status)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the test daemon in host %d: %v", s.h.Index, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				s.mu.Lock()
				s.events = append(s.events, e)
				s.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}(s.done)
	logPath := s.logf
	t.Cleanup(func() {
		s.stopOurs(syscall.SIGTERM)
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("%s logged:\n%s", s, b)
			}
		}
	})
}

// stopOurs signals the daemon's process group and waits at most 10 s for
// it, then kills it.
func (s *speaker) stopOurs(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("%s did not stop on %v; killing it", s, sig)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}

// kill ends the speaker with SIGKILL: no priority 0, nothing cleaned up.
func (s *speaker) kill() {
	s.t.Helper()
	if s.kind == keepalived {
		if err := s.kd.Kill(); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.stopOurs(syscall.SIGKILL)
}

// stop ends the speaker gracefully.
func (s *speaker) stop() {
	s.t.Helper()
	if s.kind == keepalived {
		if err := s.kd.Stop(); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.stopOurs(syscall.SIGTERM)
}

// inState reports whether the speaker said it entered state (MASTER,
// BACKUP, FAULT) since the given time.
func (s *speaker) inState(state string, since time.Time) bool {
	if s.kind == keepalived {
		return strings.Contains(s.kd.Log(), "Entering "+state+" STATE")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.events) - 1; i >= 0; i-- {
		e := s.events[i]
		if e.Time.Before(since) {
			break
		}
		if e.To == state {
			return true
		}
	}
	return false
}

// dump asks our daemon for its status.
func (s *speaker) dump() (out struct {
	Instances []vrrp.Status
	Router    vrrp.RouterStats
}) {
	s.t.Helper()
	_ = os.Remove(s.status)
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		s.t.Fatal(err)
	}
	netns.WaitFor(s.t, 5*time.Second, "the status file", func() bool {
		_, err := os.Stat(s.status)
		return err == nil
	})
	b, err := os.ReadFile(s.status)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// has reports whether h holds addr.
func has(t *testing.T, h *netns.Host, addr netip.Addr) bool {
	t.Helper()
	ok, err := h.HasAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// waitHolder waits until want holds the VIP and no other of hosts does.
func waitHolder(t *testing.T, m mode, want *netns.Host, hosts []*netns.Host, timeout time.Duration, what string) {
	t.Helper()
	netns.WaitFor(t, timeout, what, func() bool {
		for _, h := range hosts {
			if has(t, h, m.vip().Addr()) != (h == want) {
				return false
			}
		}
		return true
	})
}
