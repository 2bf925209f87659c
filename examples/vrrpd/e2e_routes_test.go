package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// routesConf is e2eConf's instance with virtual and static routes and
// rules.
func routesConf(prio int) string {
	return fmt.Sprintf(`static_routes {
  198.19.20.0/24 via 198.18.0.254 dev %[1]s
}
static_rules {
  from 198.19.21.0/24 table 100 priority 90
}
vrrp_instance VI_1 {
  interface %[1]s
  virtual_router_id 64
  priority %[2]d
  advert_int 1
  virtual_ipaddress {
    %[3]s
  }
  virtual_routes {
    198.19.30.0/24 via 198.18.0.254 dev %[1]s
    src %[4]s 198.19.31.0/24 dev %[1]s table 100 metric 5
    blackhole 198.19.32.0/24
    default via 198.18.0.253 dev %[1]s table 200
  }
  virtual_rules {
    from %[4]s table 100 priority 100
    to 198.19.33.0/24 table 200 preference 200
    fwmark 5 table 100 priority 300
  }
}
`, netns.Iface, prio, e2eVIP, e2eVIP.Addr())
}

// keepalivedLines returns the routes and rules of h marked proto
// keepalived, as ip(8) prints them, sorted.
func keepalivedLines(t *testing.T, h *netns.Host) []string {
	t.Helper()
	var out []string
	for _, args := range [][]string{{"-4", "route", "show", "table", "all"}, {"-4", "rule"}} {
		for _, l := range strings.Split(h.Run(t, "ip", args...), "\n") {
			if strings.Contains(l, "proto keepalived") {
				out = append(out, strings.Join(strings.Fields(l), " "))
			}
		}
	}
	slices.Sort(out)
	return out
}

// Virtual routes and rules are held by the Master only and follow it at
// failover; static ones are held by every running node; all are gone
// once a node stops. keepalived and vrrpd, paired each way, leave the
// same kernel state.
func TestE2ERoutesAndRules(t *testing.T) {
	const (
		staticRoute = "198.19.20.0/24 via 198.18.0.254 dev eth0 proto keepalived"
		staticRule  = "90: from 198.19.21.0/24 lookup 100 proto keepalived"
	)
	masters := map[string][]string{}
	for _, masterKind := range []string{"keepalived", "vrrpd"} {
		backupKind := map[string]string{"vrrpd": "keepalived", "keepalived": "vrrpd"}[masterKind]
		t.Run(masterKind+"-master", func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			master := startPeer(t, masterKind, h1, routesConf(200))
			startPeer(t, backupKind, h2, routesConf(100))
			waitMaster(t, h1, h2)
			m, b := keepalivedLines(t, h1), keepalivedLines(t, h2)
			masters[masterKind] = m
			if len(m) != 9 {
				t.Errorf("%s Master holds %d routes and rules, want 9 (2 static, 7 virtual):\n%s", masterKind, len(m), strings.Join(m, "\n"))
			}
			if !slices.Equal(b, []string{staticRoute, staticRule}) {
				t.Errorf("%s Backup holds:\n%s\nwant the static ones alone", backupKind, strings.Join(b, "\n"))
			}
			master.stop()
			h2.WaitAddr(t, e2eVIP.Addr(), 5*time.Second)
			netns.WaitFor(t, 5*time.Second, "the routes on the new Master", func() bool { return len(keepalivedLines(t, h2)) == 9 })
			if got := keepalivedLines(t, h1); len(got) != 0 {
				t.Errorf("the stopped %s left:\n%s", masterKind, strings.Join(got, "\n"))
			}
		})
	}
	if k, v := masters["keepalived"], masters["vrrpd"]; len(k) > 0 && !slices.Equal(k, v) {
		t.Errorf("a Master's routes and rules differ:\nkeepalived:\n%s\nvrrpd:\n%s", strings.Join(k, "\n"), strings.Join(v, "\n"))
	}
}
