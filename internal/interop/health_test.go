package interop_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// TestHealthMovesVIP: killing a tracked process, then failing a tracked
// script, lowers the Master's priority below its peer's and the VIP moves
// there; recovery brings it back (preemption).
func TestHealthMovesVIP(t *testing.T) {
	m := modes[1] // v3 IPv4, 100 ms adverts
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	hosts := []*netns.Host{h1, h2}
	dir := t.TempDir()

	// The tracked process: a copy of sleep with a name of its own.
	proc := filepath.Join(dir, "vktracked")
	testenv.CopyExecutable(t, "/bin/sleep", proc)
	startProc := func() *exec.Cmd {
		cmd := exec.Command(proc, "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		return cmd
	}
	p := startProc()

	// The tracked script fails while the flag file exists.
	flag := filepath.Join(dir, "down")
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n[ ! -e "+flag+" ]\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	hi := newSpeaker(t, ours, m, h1, h2)
	lo := newSpeaker(t, ours, m, h2, h1)
	cfg := hi.ourConfig(opts{prio: 150})
	every := schedule{Interval: 100 * time.Millisecond, Rise: 2, Fall: 2}
	sched := func(name string) schedule { s := every; s.Name = name; return s }
	cfg.Scripts = []scriptCheck{{schedule: sched("chk_script"), Script: health.Script{Path: script}}}
	cfg.Processes = []processCheck{{schedule: sched("chk_proc"), Process: health.Process{Name: "vktracked"}}}
	cfg.Tracks = map[string][]health.Track{"VI_1": {{Check: "chk_script", Weight: -60}, {Check: "chk_proc", Weight: -60}}}
	lo.start(opts{prio: 100})
	hi.startWith(cfg)
	wait := 5 * time.Second
	waitHolder(t, m, h1, hosts, wait, "VIP on host 1 with every check up")

	// The tracked process dies: 150 - 60 = 90 < 100.
	if err := p.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait()
	waitHolder(t, m, h2, hosts, wait, "VIP on host 2 after the tracked process died")
	startProc()
	waitHolder(t, m, h1, hosts, wait, "VIP back on host 1 when the process returned")

	// The tracked script fails.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, m, h2, hosts, wait, "VIP on host 2 after the script failed")
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, m, h1, hosts, wait, "VIP back on host 1 when the script recovered")
	hi.stop()
	lo.stop()
}
