//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// vrrpdPath is the daemon built by TestMain, or empty with the reason in
// vrrpdErr.
var (
	vrrpdPath string
	vrrpdErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vrrpd-e2e-")
	if err == nil {
		vrrpdPath = filepath.Join(dir, "vrrpd")
		gobin, lerr := exec.LookPath("go")
		if lerr != nil {
			gobin = "/usr/local/go/bin/go"
		}
		out, berr := exec.Command(gobin, "build", "-o", vrrpdPath, "github.com/vrrpkit/vrrpkit/examples/vrrpd").CombinedOutput()
		if berr != nil {
			vrrpdErr = fmt.Errorf("building vrrpd: %v\n%s", berr, out)
		}
	} else {
		vrrpdErr = err
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

var e2eVIP = netip.MustParsePrefix("198.18.0.100/24")

// e2eConf is the keepalived.conf every host runs: only the priority
// differs. It uses keepalived's default VRRP version (2) and PASS
// authentication; the second gratuitous ARP burst follows a takeover by
// 1 s.
func e2eConf(prio int, notify string) string {
	var n string
	if notify != "" {
		n = fmt.Sprintf("  notify \"%s\"\n", notify)
	}
	return fmt.Sprintf(`global_defs {
  router_id e2e
  vrrp_garp_master_delay 1
}
vrrp_instance VI_1 {
  state BACKUP
  interface %s
  virtual_router_id 51
  priority %d
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret
  }
%s  virtual_ipaddress {
    %s
  }
}
`, netns.Iface, prio, n, e2eVIP)
}

// peer is vrrpd or keepalived running in a lab host.
type peer struct {
	t    *testing.T
	h    *netns.Host
	kind string
	kd   *netns.Keepalived

	cmd  *exec.Cmd
	done chan struct{}
	dir  string
	conf string
	logf string
	args []string // more command-line arguments
}

func startPeer(t *testing.T, kind string, h *netns.Host, conf string) *peer {
	t.Helper()
	p := &peer{t: t, h: h, kind: kind}
	if kind == "keepalived" {
		p.kd = netns.StartKeepalived(t, h, conf)
		return p
	}
	if vrrpdErr != nil {
		testenv.Skip(t, "%v", vrrpdErr)
	}
	p.dir = t.TempDir()
	p.conf = filepath.Join(p.dir, "keepalived.conf")
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	return p
}

// start starts vrrpd with p's configuration file.
func (p *peer) start() {
	t := p.t
	t.Helper()
	p.logf = filepath.Join(p.dir, fmt.Sprintf("vrrpd-%d.log", time.Now().UnixNano()))
	logFile, err := os.Create(p.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := p.h.Command(context.Background(), vrrpdPath, "-f", p.conf, "-D", "-n", "-l",
		"-p", filepath.Join(p.dir, "vrrpd.pid"),
		"--data-file", filepath.Join(p.dir, "keepalived.data"),
		"--stats-file", filepath.Join(p.dir, "keepalived.stats"))
	cmd.Args = append(cmd.Args, p.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting vrrpd in host %d: %v", p.h.Index, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = cmd.Wait()
	}(p.done)
	logPath := p.logf
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("vrrpd in host %d logged:\n%s", p.h.Index, b)
			}
		}
	})
}

// stop stops the peer gracefully (SIGTERM), killing vrrpd after 10 s.
func (p *peer) stop() {
	if p.kind == "keepalived" {
		if err := p.kd.Stop(); err != nil {
			p.t.Error(err)
		}
		return
	}
	if p.cmd == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("vrrpd in host %d did not stop on SIGTERM; killing it", p.h.Index)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
	p.cmd = nil
}

// signal sends sig to vrrpd.
func (p *peer) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// log returns what vrrpd logged so far.
func (p *peer) log() string {
	b, _ := os.ReadFile(p.logf)
	return string(b)
}

// hasVIP reports whether h holds the VIP.
func hasVIP(t *testing.T, h *netns.Host) bool {
	t.Helper()
	ok, err := h.HasAddr(e2eVIP.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// waitMaster waits until master, and only master, holds the VIP.
func waitMaster(t *testing.T, master, other *netns.Host) {
	t.Helper()
	master.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
	other.WaitNoAddr(t, e2eVIP.Addr(), 5*time.Second)
	// Stable: still so after two more advert intervals.
	time.Sleep(2500 * time.Millisecond)
	if !hasVIP(t, master) || hasVIP(t, other) {
		t.Fatalf("VIP moved: host %d %v, host %d %v", master.Index, hasVIP(t, master), other.Index, hasVIP(t, other))
	}
}

// TestE2ESameElection runs one keepalived.conf (priorities apart) on two
// hosts, with vrrpd on both and with keepalived on both: the same host
// holds the VIP.
func TestE2ESameElection(t *testing.T) {
	for _, kind := range []string{"vrrpd", "keepalived"} {
		t.Run(kind, func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			startPeer(t, kind, h1, e2eConf(100, ""))
			startPeer(t, kind, h2, e2eConf(200, ""))
			waitMaster(t, h2, h1)
		})
	}
}

// TestE2EMixedFailover pairs vrrpd with keepalived and stops the Master
// gracefully, each way round.
func TestE2EMixedFailover(t *testing.T) {
	for _, masterKind := range []string{"vrrpd", "keepalived"} {
		backupKind := "keepalived"
		if masterKind == "keepalived" {
			backupKind = "vrrpd"
		}
		t.Run(masterKind+"-master", func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			master := startPeer(t, masterKind, h1, e2eConf(200, ""))
			startPeer(t, backupKind, h2, e2eConf(100, ""))
			waitMaster(t, h1, h2)
			start := time.Now()
			master.stop()
			h2.WaitAddr(t, e2eVIP.Addr(), 5*time.Second)
			t.Logf("%s took over %v after %s stopped", backupKind, time.Since(start), masterKind)
			if hasVIP(t, h1) {
				t.Fatalf("stopped %s still holds the VIP", masterKind)
			}
		})
	}
}

// TestE2EReloadAndDumps reloads an unchanged instance with SIGHUP (no
// transition, no gratuitous ARP on the wire), then asks for the state and
// statistics files, and checks the notify script ran.
func TestE2EReloadAndDumps(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	notifyDir := t.TempDir()
	script := filepath.Join(notifyDir, "notify.sh")
	out := filepath.Join(notifyDir, "notify.out")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	master := startPeer(t, "vrrpd", h1, e2eConf(200, script))
	startPeer(t, "vrrpd", h2, e2eConf(100, ""))
	waitMaster(t, h1, h2)
	netns.WaitFor(t, 5*time.Second, "notify MASTER", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "INSTANCE VI_1 MASTER 200")
	})

	capture := h2.Capture(t, h2.Iface)
	// The same configuration with a comment: VI_1 keeps its slot, so it
	// keeps its state. (The second GARP burst, 1 s after the takeover, is
	// over: waitMaster waited 2.5 s.)
	if err := os.WriteFile(master.conf, []byte("# reloaded\n"+e2eConf(200, script)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := strings.Count(master.log(), "Entering")
	master.signal(syscall.SIGHUP)
	netns.WaitFor(t, 5*time.Second, "reload", func() bool { return strings.Contains(master.log(), "Reload finished") })
	time.Sleep(3 * time.Second)
	if n := strings.Count(master.log(), "Entering"); n != before {
		t.Errorf("reload caused %d transitions", n-before)
	}
	for _, f := range capture.Frames() {
		if a, ok := f.ARP(); ok && a.Gratuitous() && a.SenderIP == e2eVIP.Addr() {
			t.Errorf("gratuitous ARP for the VIP after the reload at %v", a.Time)
		}
	}
	if !hasVIP(t, h1) || hasVIP(t, h2) {
		t.Fatalf("the VIP moved on reload")
	}

	// An invalid configuration keeps the running one.
	if err := os.WriteFile(master.conf, []byte("vrrp_instance {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	master.signal(syscall.SIGHUP)
	netns.WaitFor(t, 5*time.Second, "failed reload", func() bool {
		return strings.Contains(master.log(), "the running configuration stays")
	})
	if !hasVIP(t, h1) {
		t.Fatalf("an invalid reload dropped the VIP")
	}

	master.signal(syscall.SIGUSR1)
	master.signal(syscall.SIGUSR2)
	data, stats := filepath.Join(master.dir, "keepalived.data"), filepath.Join(master.dir, "keepalived.stats")
	netns.WaitFor(t, 5*time.Second, "dump files", func() bool {
		_, e1 := os.Stat(data)
		_, e2 := os.Stat(stats)
		return e1 == nil && e2 == nil
	})
	if b, _ := os.ReadFile(data); !strings.Contains(string(b), "VRRP Instance = VI_1") || !strings.Contains(string(b), "State = MASTER") {
		t.Errorf("state dump:\n%s", b)
	}
	if b, _ := os.ReadFile(stats); !strings.Contains(string(b), "VRRP Instance: VI_1") {
		t.Errorf("stats dump:\n%s", b)
	}
	master.stop()
	netns.WaitFor(t, 5*time.Second, "notify STOP", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "INSTANCE VI_1 STOP")
	})
}
