package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// startVrrpd is startPeer for vrrpd with more command-line arguments.
func startVrrpd(t *testing.T, h *netns.Host, conf string, args ...string) *peer {
	t.Helper()
	if vrrpdErr != nil {
		testenv.Skip(t, "%v", vrrpdErr)
	}
	p := &peer{t: t, h: h, kind: "vrrpd", args: args, dir: t.TempDir()}
	p.conf = filepath.Join(p.dir, "keepalived.conf")
	if err := os.WriteFile(p.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	return p
}

// vrrpd adds its addresses with a lease (--vip-lease, 30 s by default)
// that the Master renews: after a SIGKILL its addresses leave the
// interface by themselves within the lease, where keepalived's stay until
// someone removes them, while the keepalived Backup takes over.
func TestE2EVIPLeaseAfterKill(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	master := startVrrpd(t, h1, e2eConf(200, ""), "--vip-lease", "3s")
	startPeer(t, "keepalived", h2, e2eConf(100, ""))
	waitMaster(t, h1, h2)
	killed := time.Now()
	if err := syscall.Kill(-master.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-master.done
	master.cmd = nil
	h2.WaitAddr(t, e2eVIP.Addr(), 5*time.Second)
	h1.WaitNoAddr(t, e2eVIP.Addr(), 5*time.Second)
	t.Logf("the killed Master's address expired %v after the kill", time.Since(killed).Round(100*time.Millisecond))
}
