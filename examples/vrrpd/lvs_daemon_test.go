package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// vrrpd -t checks the virtual_server sections with the rest: an
// unsupported setting fails the test with its FILE:LINE, a warning is
// printed with its line.
func TestConfigTestLVS(t *testing.T) {
	const vrrpPart = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"
	bad, code, stderr := runConfigTest(t, "bad.conf", vrrpPart+"virtual_server 198.18.0.9 80 {\n protocol TCP\n ha_suspend\n real_server 198.18.0.20 80 {\n  TCP_CHECK {\n  }\n }\n}\n")
	if code == 0 {
		t.Fatalf("exit 0 with ha_suspend:\n%s", stderr)
	}
	if want := bad + ":10: error: ha_suspend"; !strings.Contains(stderr, want) {
		t.Errorf("no %q naming ha_suspend in:\n%s", want, stderr)
	}
	// Persistence and firewall-mark services pass.
	_, code, stderr = runConfigTest(t, "persist.conf", vrrpPart+"virtual_server 198.18.0.9 80 {\n protocol TCP\n persistence_timeout 60\n persistence_granularity 255.255.255.0\n"+
		" real_server 198.18.0.20 80 {\n  TCP_CHECK {\n  }\n }\n}\n"+
		"virtual_server fwmark 3 {\n lvs_method DR\n persistence_timeout\n real_server 198.18.0.21 {\n }\n}\n")
	if code != 0 {
		t.Fatalf("persistence and fwmark: exit %d:\n%s", code, stderr)
	}
	good, code, stderr := runConfigTest(t, "good.conf", vrrpPart+"virtual_server 198.18.0.9 80 {\n delay_loop 5\n real_server 198.18.0.20 80 {\n  TCP_CHECK {\n  }\n }\n}\n")
	// No protocol: keepalived 2.2.7 defaults to UDP and says so, a
	// warning that fails its -t (exit 5, measured).
	if code != 5 {
		t.Fatalf("exit %d, want 5:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, good+":8: warning:") {
		t.Errorf("no warning at line 8 in:\n%s", stderr)
	}
}

// Without IPVS in the kernel, vrrpd refuses to run a configuration with
// virtual servers, saying why, rather than run its VRRP part alone.
func TestRunLVSWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS: examples/lvs tests programming it")
	}
	lab := netns.New(t, 1)
	h := lab.Host(1)
	conf := fmt.Sprintf("vrrp_instance VI_1 {\n interface %s\n virtual_router_id 9\n priority 100\n virtual_ipaddress {\n  %s\n }\n}\n"+
		"virtual_server %s 80 {\n protocol TCP\n real_server 198.18.0.20 80 {\n  TCP_CHECK {\n  }\n }\n}\n",
		netns.Iface, e2eVIP, e2eVIP.Addr())
	p := startPeer(t, "vrrpd", h, conf)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("vrrpd still runs with virtual servers and no IPVS:\n%s", p.log())
	}
	if code := p.cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("exit 0:\n%s", p.log())
	}
	if !strings.Contains(p.log(), "LVS (virtual_server)") {
		t.Errorf("the log does not say why:\n%s", p.log())
	}
	if hasVIP(t, h) {
		t.Error("the VIP was taken")
	}
	p.cmd = nil
}

// With net_namespace, virtual servers are refused: their checks and
// scripts would run in vrrpd's own namespace, where keepalived runs them
// in the named one.
func TestConfigTestLVSNetNamespace(t *testing.T) {
	f, code, stderr := runConfigTest(t, "ns.conf", "net_namespace blue\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"+
		"virtual_server 198.18.0.9 80 {\n protocol TCP\n real_server 198.18.0.20 80 {\n  TCP_CHECK {\n  }\n }\n}\n")
	if code == 0 {
		t.Fatalf("exit 0:\n%s", stderr)
	}
	if want := f + ":9: virtual_server TCP 198.18.0.9:80 with net_namespace blue is not supported"; !strings.Contains(stderr, want) {
		t.Errorf("no %q in:\n%s", want, stderr)
	}
}
