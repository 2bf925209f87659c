//go:build linux

package main

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// The test binary is also the program: started with VRRPKIT_EMBED_MAIN=1
// it runs main.
func TestMain(m *testing.M) {
	if os.Getenv("VRRPKIT_EMBED_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var vip = netip.MustParsePrefix("198.18.0.100/24")

// start runs the program in h at prio, with a 3 s address lease.
func start(t *testing.T, h *netns.Host, prio string) *exec.Cmd {
	t.Helper()
	cmd := h.Command(context.Background(), os.Args[0], "-i", netns.Iface, "-prio", prio, "-vip", vip.String(), "-lease", "3s")
	cmd.Env = append(os.Environ(), "VRRPKIT_EMBED_MAIN=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd
}

// The one-call Router on two hosts: the higher priority holds the address;
// killed, its peer takes over and its own address expires with its lease;
// back, it preempts; stopped with SIGTERM, it hands over at once.
func TestRealHost(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	a := start(t, h1, "150")
	start(t, h2, "100")
	h1.WaitAddr(t, vip.Addr(), 10*time.Second)
	h2.WaitNoAddr(t, vip.Addr(), time.Second)

	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h2.WaitAddr(t, vip.Addr(), 5*time.Second)
	h1.WaitNoAddr(t, vip.Addr(), 5*time.Second) // the lease ran out

	a = start(t, h1, "150")
	h1.WaitAddr(t, vip.Addr(), 10*time.Second)
	h2.WaitNoAddr(t, vip.Addr(), 2*time.Second)

	begin := time.Now()
	if err := a.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	h2.WaitAddr(t, vip.Addr(), 2*time.Second)
	h1.WaitNoAddr(t, vip.Addr(), time.Second)
	t.Logf("handed over %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
}

// The README shows this program whole: it must stay the same.
func TestREADME(t *testing.T) {
	prog, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(prog)+"```\n") {
		t.Error("README.md's Embedding section no longer shows examples/embed/main.go as it is")
	}
}
