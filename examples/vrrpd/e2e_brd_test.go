package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// brdConf has one address with an explicit broadcast, one with brd + and
// one without.
var brdConf = fmt.Sprintf(`vrrp_instance VI_1 {
  interface %s
  virtual_router_id 62
  priority 200
  advert_int 1
  virtual_ipaddress {
    198.18.0.100/24 brd 198.18.0.127
    198.18.4.1/24 brd +
    198.18.5.1/24
  }
}
`, netns.Iface)

// addrBroadcasts returns the broadcast address of each IPv4 address on
// the host's interface, as ip(8) shows it ("" for none).
func addrBroadcasts(t *testing.T, h *netns.Host) map[string]string {
	t.Helper()
	var links []struct {
		AddrInfo []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			Broadcast string `json:"broadcast"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(h.Run(t, "ip", "-j", "addr", "show", "dev", h.Iface)), &links); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet" {
				out[a.Local] = a.Broadcast
			}
		}
	}
	return out
}

// The brd option of an address gives it keepalived's broadcast: as given,
// "+" for the subnet's last address, and none without it. The same file
// run by keepalived and by vrrpd leaves the same addresses.
func TestE2EBroadcast(t *testing.T) {
	lab := netns.New(t, 1)
	h := lab.Host(1)
	got := map[string]map[string]string{}
	for _, kind := range []string{"keepalived", "vrrpd"} {
		p := startPeer(t, kind, h, brdConf)
		h.WaitAddr(t, netip.MustParseAddr("198.18.5.1"), 10*time.Second)
		got[kind] = addrBroadcasts(t, h)
		p.stop()
		h.WaitNoAddr(t, netip.MustParseAddr("198.18.5.1"), 10*time.Second)
	}
	want := map[string]string{"198.18.0.100": "198.18.0.127", "198.18.4.1": "198.18.4.255", "198.18.5.1": ""}
	for kind, addrs := range got {
		for a, brd := range want {
			if addrs[a] != brd {
				t.Errorf("%s: %s has broadcast %q, want %q", kind, a, addrs[a], brd)
			}
		}
	}
}
