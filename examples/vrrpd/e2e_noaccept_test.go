package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// noAcceptConf is a vrrp_strict configuration of one non-owner instance
// (priority 100) with e2eVIP; accept adds `accept` (with VRRP version 3,
// since strict mode resets it for version 2).
func noAcceptConf(accept bool) string {
	extra := ""
	if accept {
		extra = "  version 3\n  accept\n"
	}
	return fmt.Sprintf(`global_defs {
  vrrp_strict
}
vrrp_instance VI_1 {
  state BACKUP
  interface %s
  virtual_router_id 51
  priority 100
  advert_int 1
%s  virtual_ipaddress {
    %s
  }
}
`, netns.Iface, extra, e2eVIP)
}

// kill kills the peer with SIGKILL, as a crash would.
func (p *peer) kill() {
	p.t.Helper()
	if p.kind == "keepalived" {
		if err := p.kd.Kill(); err != nil {
			p.t.Fatal(err)
		}
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("vrrpd %d still running 10 s after SIGKILL", pid)
	}
	p.cmd = nil
}

// dialVIP connects from h to the VIP's port 7100: nil, or why not.
func dialVIP(h *netns.Host) error {
	return h.DialTCP(netip.AddrPortFrom(e2eVIP.Addr(), 7100), 700*time.Millisecond)
}

// TestE2ENoAccept runs a vrrp_strict Master that is not the address
// owner, with keepalived and with vrrpd: with no_accept (implied) a TCP
// connection from another host to the VIP is dropped, with accept it is
// accepted; the Master's own address answers either way. The firewall
// rules are those measured of keepalived 2.2.7 (table ip keepalived: set
// vips, chains in and out at priority filter - 1, "ip daddr @vips drop"
// and "ip saddr @vips drop") and vrrpd's (table inet vrrpkit); both are
// gone after a graceful stop. After SIGKILL the table stays; a restart
// takes it over with no duplicate rules or leftover elements.
func TestE2ENoAccept(t *testing.T) {
	tables := map[string]string{
		"keepalived": "ip keepalived: chain in (1 rules) chain out (1 rules) set vips {198.18.0.100}",
		"vrrpd":      "inet vrrpkit: chain in (3 rules) chain out (3 rules) set vips4 {198.18.0.100} set vips6 {}",
	}
	for _, kind := range []string{"keepalived", "vrrpd"} {
		for _, accept := range []bool{false, true} {
			mode := "no_accept"
			if accept {
				mode = "accept"
			}
			t.Run(kind+"/"+mode, func(t *testing.T) {
				lab := netns.New(t, 2)
				h1, h2 := lab.Host(1), lab.Host(2)
				h1.ListenTCP(t, ":7100")
				p := startPeer(t, kind, h1, noAcceptConf(accept))
				h1.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
				if err := h2.DialTCP(netip.MustParseAddrPort("198.18.0.1:7100"), 3*time.Second); err != nil {
					t.Fatalf("connecting to the Master's own address: %v", err)
				}
				err := dialVIP(h2)
				for deadline := time.Now().Add(3 * time.Second); accept && err != nil && time.Now().Before(deadline); {
					err = dialVIP(h2)
				}
				var ne net.Error
				switch {
				case accept && err != nil:
					t.Errorf("accept: connecting to the VIP: %v; want a connection", err)
				case !accept && (err == nil || !errors.As(err, &ne) || !ne.Timeout()):
					t.Errorf("no_accept: connecting to the VIP: %v; want a timeout (dropped)", err)
				}
				want := tables[kind]
				if accept {
					want = ""
				}
				if got := h1.NftablesString(); got != want {
					t.Errorf("nftables while Master:\n%s\nwant:\n%s", got, want)
				}
				p.stop()
				if got := h1.NftablesString(); got != "" {
					t.Errorf("nftables after a graceful stop:\n%s\nwant none", got)
				}
				if accept {
					return
				}

				// SIGKILL: the table stays; a restart takes it over.
				p = startPeer(t, kind, h1, noAcceptConf(false))
				h1.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
				netns.WaitFor(t, 5*time.Second, "the filter", func() bool { return h1.NftablesString() == tables[kind] })
				p.kill()
				if got := h1.NftablesString(); got != tables[kind] {
					t.Errorf("nftables after SIGKILL:\n%s\nwant:\n%s", got, tables[kind])
				}
				p = startPeer(t, kind, h1, noAcceptConf(false))
				// Backup, before it takes over (3.6 s): keepalived keeps
				// the leftover element (measured), vrrpd replaces the
				// table at the start.
				if kind == "vrrpd" {
					empty := strings.ReplaceAll(tables[kind], "{198.18.0.100}", "{}")
					netns.WaitFor(t, 3*time.Second, "the table replaced", func() bool { return h1.NftablesString() == empty })
				} else {
					time.Sleep(time.Second)
					t.Logf("keepalived restarted, Backup: %s", h1.NftablesString())
				}
				h1.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
				netns.WaitFor(t, 5*time.Second, "the filter", func() bool { return h1.NftablesString() == tables[kind] })
				if err := dialVIP(h2); err == nil {
					t.Error("restarted no_accept Master: the VIP accepted a connection")
				}
				p.stop()
				if got := h1.NftablesString(); got != "" {
					t.Errorf("nftables after the restarted peer's stop:\n%s\nwant none", got)
				}
			})
		}
	}
}
