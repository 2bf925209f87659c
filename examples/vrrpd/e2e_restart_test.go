package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// TestE2ERestartFailingScript restarts a node whose tracked script fails
// next to a healthy keepalived Master, as after a reboot with the service
// it checks still down. The restarted node has the higher priority (150,
// "state MASTER") but its script (weight -100, fall 3) fails, so it must
// come up at 50, send no advert and never take the VIP: keepalived 2.2.7 runs the script
// at start-up and applies its first result before it contends. The same
// test runs keepalived as the restarted node, as the reference.
func TestE2ERestartFailingScript(t *testing.T) {
	for _, kind := range []string{"keepalived", "vrrpd"} {
		t.Run(kind, func(t *testing.T) {
			// enable_script_security runs a root script only if no
			// other user can change it or a directory above it.
			dir := t.TempDir()
			script := filepath.Join(dir, "check.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{dir, script} {
				if err := os.Chmod(p, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			c := h2.Capture(t, h2.Iface)
			startPeer(t, "keepalived", h2, moreConf(nil, moreInstance{name: "VI_1", vrid: 51, prio: 100, vips: []netip.Prefix{e2eVIP}}.String()))
			moreWaitHolder(t, 10*time.Second, h2, []*netns.Host{h1}, e2eVIP.Addr())

			conf := moreConf([]string{"enable_script_security", "script_user root"},
				fmt.Sprintf("vrrp_script chk {\n  script \"%s\"\n  interval 2\n  fall 3\n  rise 1\n  weight -100\n}\n", script),
				fmt.Sprintf(`vrrp_instance VI_1 {
  state MASTER
  interface %s
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass secret
  }
  track_script {
    chk
  }
  virtual_ipaddress {
    %s
  }
}
`, netns.Iface, e2eVIP))
			var p *peer
			for restart := range 3 {
				if p != nil {
					p.stop()
				}
				since := time.Now()
				p = startPeer(t, kind, h1, conf)
				// A Backup at 50 sends nothing; the VIP never leaves the
				// healthy Master.
				moreKeepHolder(t, 8*time.Second, h2, []*netns.Host{h1}, e2eVIP.Addr())
				moreNoAdverts(t, c, 51, h1.Addr4.Addr(), since, fmt.Sprintf("restart %d with the script failing", restart+1))
			}
			// The node runs and tracks its script: healthy, it preempts.
			if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			moreWaitHolder(t, 15*time.Second, h1, []*netns.Host{h2}, e2eVIP.Addr())
		})
	}
}
