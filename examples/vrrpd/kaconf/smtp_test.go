package kaconf

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// smtpVS wraps lines in an SMTP_CHECK of a real server.
func smtpVS(check string, lines ...string) string {
	return vs("198.18.0.1 25", "real_server 198.18.1.1 25 {", "  "+check+" {", strings.Join(lines, "\n"), "  }", "}")
}

// TestSMTPCheck reads SMTP_CHECK's keywords. The diagnostics are keepalived
// 2.2.7's (keepalived -t -l); the host block's deprecation is logged by
// keepalived at startup, not by -t.
func TestSMTPCheck(t *testing.T) {
	ap := netip.MustParseAddr
	for _, tc := range []struct {
		name  string
		src   string
		diags []want
		check func(t *testing.T, ck Checker)
	}{
		{name: "defaults", src: smtpVS("SMTP_CHECK"), check: func(t *testing.T, ck Checker) {
			if ck.HeloName != "" || len(ck.Hosts) != 0 || ck.Retry != -1 || ck.ConnectTimeout != 0 {
				t.Errorf("%+v", ck)
			}
		}},
		{name: "helo_name", src: smtpVS("SMTP_CHECK", "helo_name foo.bar.com", "connect_timeout 3", "retry 3"), check: func(t *testing.T, ck Checker) {
			if ck.HeloName != "foo.bar.com" || ck.ConnectTimeout != 3*time.Second || ck.Retry != 3 {
				t.Errorf("%+v", ck)
			}
		}},
		{name: "quoted helo_name", src: smtpVS("SMTP_CHECK", `helo_name "foo bar"`), check: func(t *testing.T, ck Checker) {
			if ck.HeloName != "foo bar" {
				t.Errorf("HeloName %q", ck.HeloName)
			}
		}},
		{name: "helo_name missing", src: smtpVS("SMTP_CHECK", "helo_name x", "helo_name"),
			diags: []want{{Warning, 5, "SMTP_CHECK helo name missing"}},
			check: func(t *testing.T, ck Checker) {
				if ck.HeloName != "x" {
					t.Errorf("HeloName %q, want the earlier x", ck.HeloName)
				}
			}},
		{name: "helo_name in TCP_CHECK", src: smtpVS("TCP_CHECK", "helo_name x"),
			diags: []want{{Warning, 4, "Unknown keyword 'helo_name'"}},
			check: func(t *testing.T, ck Checker) {
				if ck.HeloName != "" {
					t.Errorf("HeloName %q", ck.HeloName)
				}
			}},
		{name: "host blocks", src: smtpVS("SMTP_CHECK",
			"connect_port 2525", "connect_timeout 10", "helo_name foo.bar.com",
			"host {", "connect_ip 198.18.1.11", "}",
			"host {", "connect_ip 198.18.1.12", "connect_port 587", "bindto 198.18.0.2", "connect_timeout 4", "retry 5", "delay_before_retry 2", "}",
		),
			diags: []want{
				{Info, 7, "The SMTP_CHECK host block is deprecated. Please define additional checkers."},
				{Info, 10, "The SMTP_CHECK host block is deprecated."},
			},
			check: func(t *testing.T, ck Checker) {
				if len(ck.Hosts) != 2 {
					t.Fatalf("hosts %+v", ck.Hosts)
				}
				h0, h1 := ck.Hosts[0], ck.Hosts[1]
				if h0.Pos.Line != 7 || h0.ConnectIP != ap("198.18.1.11") || h0.ConnectPort != 2525 || h0.ConnectTimeout != 10*time.Second {
					t.Errorf("host 0 %+v: the SMTP_CHECK's options before it are its defaults", h0)
				}
				if h1.ConnectIP != ap("198.18.1.12") || h1.ConnectPort != 587 || h1.BindTo != ap("198.18.0.2") || h1.ConnectTimeout != 4*time.Second {
					t.Errorf("host 1 %+v", h1)
				}
				// retry and delay_before_retry in a host block are the
				// checker's, as in keepalived.
				if ck.Retry != 5 || ck.DelayBeforeRetry != 2*time.Second || ck.ConnectIP.IsValid() || ck.ConnectTimeout != 10*time.Second {
					t.Errorf("checker %+v", ck.CheckOptions)
				}
			}},
		{name: "host block's bad values", src: smtpVS("SMTP_CHECK", "host {", "connect_ip nowhere", "connect_port 70000", "bogus 1", "}"),
			diags: []want{
				{Info, 4, "deprecated"},
				{Warning, 5, "Invalid connect_ip address nowhere - ignoring"},
				{Warning, 6, "Invalid checker connect_port '70000'"},
				{Warning, 7, "Unknown keyword 'bogus'"},
			},
			check: func(t *testing.T, ck Checker) {
				if len(ck.Hosts) != 1 || ck.Hosts[0].ConnectIP.IsValid() || ck.Hosts[0].ConnectPort != 0 {
					t.Errorf("hosts %+v", ck.Hosts)
				}
			}},
		{name: "host in HTTP_GET", src: smtpVS("HTTP_GET", "host {", "}"),
			diags: []want{
				{Warning, 4, "Unknown keyword 'host'"},
				{Error, 4, "Unexpected '{' after unknown keyword host"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ds := load(t, tc.src, LoadOptions{})
			checkDiags(t, ds, tc.diags)
			if tc.check == nil {
				return
			}
			if len(c.VirtualServers) != 1 || len(c.VirtualServers[0].RealServers) != 1 || len(c.VirtualServers[0].RealServers[0].Checkers) != 1 {
				t.Fatalf("config %+v", c.VirtualServers)
			}
			tc.check(t, c.VirtualServers[0].RealServers[0].Checkers[0])
		})
	}
}
