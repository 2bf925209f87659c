//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// ahConf is e2eConf with keepalived's auth_type AH and the key pass.
func ahConf(prio int, pass string) string {
	return fmt.Sprintf(`global_defs {
  router_id e2e-ah
  vrrp_garp_master_delay 1
}
vrrp_instance VI_AH {
  state BACKUP
  interface %s
  virtual_router_id 51
  priority %d
  advert_int 1
  authentication {
    auth_type AH
    auth_pass %s
  }
  virtual_ipaddress {
    %s
  }
}
`, netns.Iface, prio, pass, e2eVIP)
}

// TestE2EAH pairs vrrpd and keepalived 2.2.7 with auth_type AH, each way
// round: the higher priority is elected; a graceful stop (priority 0)
// hands over; the restarted Master takes its place back, which needs its
// sequence count, restarted from 0, to follow the peer's (keepalived
// drops a sequence number not above its own count); and a SIGKILL hands
// over after Master_Down_Interval.
func TestE2EAH(t *testing.T) {
	for _, masterKind := range []string{"vrrpd", "keepalived"} {
		backupKind := "keepalived"
		if masterKind == "keepalived" {
			backupKind = "vrrpd"
		}
		t.Run(masterKind+"-master", func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			master := startPeer(t, masterKind, h1, ahConf(200, "secret"))
			backup := startPeer(t, backupKind, h2, ahConf(100, "secret"))
			waitMaster(t, h1, h2)

			start := time.Now()
			master.stop()
			h2.WaitAddr(t, e2eVIP.Addr(), 5*time.Second)
			t.Logf("graceful: %s took over %v after %s stopped", backupKind, time.Since(start), masterKind)
			if hasVIP(t, h1) {
				t.Fatalf("stopped %s still holds the VIP", masterKind)
			}

			// The Backup counted on as Master: the restarted one, from
			// sequence number 0, must still preempt it.
			time.Sleep(3 * time.Second)
			master = startPeer(t, masterKind, h1, ahConf(200, "secret"))
			waitMaster(t, h1, h2)

			start = time.Now()
			master.kill()
			h2.WaitAddr(t, e2eVIP.Addr(), 6*time.Second)
			t.Logf("crash: %s took over %v after %s was killed", backupKind, time.Since(start), masterKind)
			if backupKind == "keepalived" {
				if lg := backup.kd.Log(); regexp.MustCompile(`IPSEC|invalid`).MatchString(lg) {
					t.Errorf("keepalived rejected vrrpd's AH adverts:\n%s", lg)
				}
			} else if n := drops(t, backup, "auth", "auth-type", "replay", "checksum"); n != 0 {
				t.Errorf("vrrpd dropped %d of keepalived's AH adverts", n)
			}
		})
	}
}

// TestE2EAHWrongKey runs vrrpd and keepalived with different AH keys:
// neither accepts the other's adverts, both are Master, and vrrpd counts
// keepalived's adverts as authentication drops.
func TestE2EAHWrongKey(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	v := startPeer(t, "vrrpd", h1, ahConf(100, "secret"))
	k := startPeer(t, "keepalived", h2, ahConf(200, "other"))
	h1.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
	h2.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
	k.kd.WaitLog(t, "IPSEC-AH : invalid IPSEC HMAC-MD5 value", 5*time.Second)
	if n := drops(t, v, "auth"); n == 0 {
		t.Fatal("vrrpd counted no authentication drop")
	}
	if !hasVIP(t, h1) || !hasVIP(t, h2) {
		t.Fatal("a router with another AH key was heard")
	}
}

// drops sums the named drop counters of VI_AH in vrrpd's statistics file.
func drops(t *testing.T, p *peer, reasons ...string) int {
	t.Helper()
	stats := filepath.Join(p.dir, "keepalived.stats")
	os.Remove(stats)
	p.signal(syscall.SIGUSR2)
	var b []byte
	netns.WaitFor(t, 5*time.Second, "stats file", func() bool {
		var err error
		b, err = os.ReadFile(stats)
		return err == nil && len(b) > 0
	})
	inst := regexp.MustCompile(`(?s)VRRP Instance: VI_AH\n.*`).Find(b)
	sum := 0
	for _, r := range reasons {
		m := regexp.MustCompile(`(?m)^    ` + regexp.QuoteMeta(r) + `: (\d+)$`).FindSubmatch(inst)
		if m == nil {
			t.Fatalf("no %s drops in\n%s", r, b)
		}
		n, _ := strconv.Atoi(string(m[1]))
		sum += n
	}
	return sum
}
