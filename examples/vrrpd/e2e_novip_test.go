package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// noVIPConf is an instance without virtual_ipaddress, whose notify script
// appends its arguments to out: the cloud pattern, where notify_master
// moves the address through the provider's API.
func noVIPConf(prio int, script string) string {
	return fmt.Sprintf(`vrrp_instance VI_1 {
  state BACKUP
  interface %s
  virtual_router_id 61
  priority %d
  advert_int 1
  notify "%s"
}
`, netns.Iface, prio, script)
}

// notifyScript writes a notify script that appends its arguments to a
// file, and returns both paths.
func notifyScript(t *testing.T) (script, out string) {
	t.Helper()
	dir := t.TempDir()
	script, out = filepath.Join(dir, "notify.sh"), filepath.Join(dir, "notify.out")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, out
}

func waitNotified(t *testing.T, out, line string) {
	t.Helper()
	netns.WaitFor(t, 15*time.Second, "notify "+line, func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), line+"\n")
	})
}

// keepalived runs a VRRPv2 instance without addresses ("No VIP specified;
// at least one is sensible"). vrrpd, paired with keepalived each way
// round, elects the same Master, sends adverts that list no address, runs
// the notify scripts, and fails over when the Master stops.
func TestE2ENoVIP(t *testing.T) {
	for _, masterKind := range []string{"vrrpd", "keepalived"} {
		backupKind := map[string]string{"vrrpd": "keepalived", "keepalived": "vrrpd"}[masterKind]
		t.Run(masterKind+"-master", func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			c := h2.Capture(t, h2.Iface)
			s1, out1 := notifyScript(t)
			s2, out2 := notifyScript(t)
			master := startPeer(t, masterKind, h1, noVIPConf(200, s1))
			waitNotified(t, out1, "INSTANCE VI_1 MASTER 200")
			startPeer(t, backupKind, h2, noVIPConf(100, s2))
			waitNotified(t, out2, "INSTANCE VI_1 BACKUP 100")
			since := time.Now()
			time.Sleep(2500 * time.Millisecond)
			if b, _ := os.ReadFile(out2); strings.Contains(string(b), "MASTER") {
				t.Fatalf("%s Backup became Master beside a live Master:\n%s", backupKind, b)
			}
			ads := moreAdverts(c, 61, h1.Addr4.Addr(), since)
			if len(ads) < 2 {
				t.Fatalf("%d adverts from the %s Master in 2.5 s", len(ads), masterKind)
			}
			for _, a := range ads {
				if len(a.Advert.Addresses) != 0 || a.Advert.Version != 2 || a.Advert.Priority != 200 {
					t.Errorf("advert %+v, want VRRPv2 priority 200 without addresses", a.Advert)
				}
			}
			master.stop()
			waitNotified(t, out2, "INSTANCE VI_1 MASTER 100")
			if b, _ := os.ReadFile(out1); !strings.Contains(string(b), "INSTANCE VI_1 STOP 200") && masterKind == "vrrpd" {
				t.Errorf("vrrpd ran no notify STOP:\n%s", b)
			}
		})
	}
}
