package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// With enable_script_security, no script_user and no user
// keepalived_script, keepalived cannot pick a user for the scripts that
// name none: it removes the failing track script (the instance becomes
// Master anyway) and ignores the notify script (which never runs). vrrpd
// does the same with the same file.
func TestE2EScriptUserFallback(t *testing.T) {
	if _, err := user.Lookup("keepalived_script"); err == nil {
		testenv.Skip(t, "the user keepalived_script exists on this host: keepalived would run the scripts as that user")
	}
	lab := netns.New(t, 1)
	h := lab.Host(1)
	for _, kind := range []string{"keepalived", "vrrpd"} {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ran := filepath.Join(dir, "ran")
		script := filepath.Join(dir, "notify.sh")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+ran+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf(`global_defs {
  enable_script_security
}
vrrp_script chk {
  script /bin/false
  interval 1
}
vrrp_instance VI_1 {
  interface %s
  virtual_router_id 63
  priority 200
  advert_int 1
  virtual_ipaddress {
    %s
  }
  track_script {
    chk
  }
  notify_master %s
}
`, netns.Iface, e2eVIP, script)
		p := startPeer(t, kind, h, conf)
		h.WaitAddr(t, e2eVIP.Addr(), 10*time.Second)
		time.Sleep(2 * time.Second) // time for a notify script, or a failing check, to act
		if !hasVIP(t, h) {
			t.Errorf("%s: the instance left MASTER: the removed track script ran", kind)
		}
		if b, err := os.ReadFile(ran); err == nil {
			t.Errorf("%s: the notify script without a user ran: %q", kind, b)
		}
		if kind == "vrrpd" {
			for _, want := range []string{"Unable to set default user for vrrp script chk - removing",
				"Failed to set default user for notify script " + script + " - ignoring"} {
				if log := p.log(); !strings.Contains(log, want) {
					t.Errorf("vrrpd did not log %q:\n%s", want, log)
				}
			}
		}
		p.stop()
		h.WaitNoAddr(t, e2eVIP.Addr(), 10*time.Second)
	}
}
