package main

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/vrrpkit/vrrpkit/examples/lvs"
	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/privnet"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// loadLVS loads text as test.conf, as config_test.go loads configurations,
// and converts its LVS sections.
func loadLVS(t *testing.T, text string) ([]lvsService, []string, error) {
	t.Helper()
	cfg, diags := kaconf.LoadBytes("test.conf", []byte(text), kaconf.LoadOptions{ConfigID: "h1", Host: fakeHost{}})
	if diags.HasErrors() {
		t.Fatalf("kaconf errors:\n%s", diags.Filter(kaconf.Error))
	}
	return convertLVS(cfg)
}

// lineOf returns "test.conf:N", N the first line of text holding marker.
func lineOf(t *testing.T, text, marker string) string {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, marker) {
			return fmt.Sprintf("test.conf:%d", i+1)
		}
	}
	t.Fatalf("marker %q not in the configuration", marker)
	return ""
}

// lvsChecker returns the lvsCheck of c.
func lvsChecker(t *testing.T, c health.Check) *lvsCheck {
	t.Helper()
	lc, ok := c.Checker.(*lvsCheck)
	if !ok {
		t.Fatalf("check %s: checker %T, want *lvsCheck", c.Name, c.Checker)
	}
	return lc
}

// TestConvertLVSCorpus converts the shared keepalived configurations: none
// of those that kaconf accepts may fail, and each virtual_server becomes a
// service. (The corpus's only LVS source, kubeinit's, had its
// virtual_server removed; TestConvertLVSKubeinit restores it.)
func TestConvertLVSCorpus(t *testing.T) {
	dir := testenv.SharedTestdata(t, "keepalived-configs")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := kaconf.LoadBytes(f, src, kaconf.LoadOptions{ConfigID: "h1", Host: fakeHost{}})
			services, warnings, err := convertLVS(cfg)
			if diags.HasErrors() {
				return // vrrpd refuses it before (TestConvertCorpus checks that)
			}
			if err != nil {
				t.Fatalf("convertLVS: %v", err)
			}
			if len(services) != len(cfg.VirtualServers) {
				t.Errorf("%d services, want %d; warnings %q", len(services), len(cfg.VirtualServers), warnings)
			}
		})
	}
}

// kubeinitConf is the corpus's 19-kubeinit config's virtual_server as its
// source (github.com/fanux/kubeinit, pkg/ha/manifast.go) has it, without
// its persistence_timeout (see TestConvertLVSPersistence).
const kubeinitConf = `
virtual_server 10.23.8.80 80 {
    delay_loop 6
    lb_algo wlc
    lb_kind NAT
    protocol TCP

    real_server 172.18.1.11 80 {
        weight 100
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 172.18.1.12 80 {
        weight 100
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 172.18.1.13 80 {
        weight 100
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
`

func TestConvertLVSKubeinit(t *testing.T) {
	services, warnings, err := loadLVS(t, kubeinitConf)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %q", warnings)
	}
	if len(services) != 1 {
		t.Fatalf("%d services", len(services))
	}
	s := services[0]
	want := pool.Service{Addr: netip.MustParseAddrPort("10.23.8.80:80"), Protocol: pool.ProtocolTCP, Scheduler: "wlc", Forwarding: pool.ForwardNAT}
	if len(s.Services) != 1 || s.Services[0] != want || s.Name != "TCP 10.23.8.80:80" || s.Pos.Line != 2 {
		t.Errorf("service %+v (%s at %s), want %+v", s.Services, s.Name, s.Pos, want)
	}
	p := s.Pool
	if p.Interval != 6*time.Second || p.Quorum != 1 || p.Hysteresis != 0 || p.Sorry != nil || len(p.Backends) != 3 {
		t.Fatalf("pool %+v", p)
	}
	for i, b := range p.Backends {
		addr := netip.MustParseAddrPort(fmt.Sprintf("172.18.1.1%d:80", i+1))
		if b.Addr != addr || b.Name != addr.String() || b.Weight != 100 || b.Forwarding != pool.ForwardNAT || b.InhibitOnFailure || len(b.Checks) != 1 {
			t.Errorf("backend %d: %+v", i, b)
			continue
		}
		c := b.Checks[0]
		lc := lvsChecker(t, c)
		// keepalived's defaults: retry 1, delay_before_retry 1 s.
		if c.Interval != 6*time.Second || c.Rise != 1 || c.Fall != 1 || c.InitFail ||
			lc.AttemptTimeout != 3*time.Second || lc.Retry != 1 || lc.DelayBeforeRetry != time.Second ||
			c.Timeout != 2*3*time.Second+time.Second+lvsProbeSlack {
			t.Errorf("backend %d check %+v %+v", i, c, lc)
		}
		if tcp, ok := lc.Attempts[0].(health.TCP); !ok || len(lc.Attempts) != 1 || tcp.Address != addr.String() ||
			tcp.Dialer == nil || tcp.Dialer.LocalAddr != nil || tcp.Dialer.Control != nil {
			t.Errorf("backend %d attempts %+v", i, lc.Attempts)
		}
	}
}

const fullConf = `global_defs {
  enable_script_security
  script_user nobody
}
virtual_server 192.0.2.10 443 {
  delay_loop 10
  lvs_sched wrr
  lvs_method DR
  protocol TCP
  quorum 3
  hysteresis 1
  inhibit_on_failure
  alpha
  omega
  virtualhost www.example.com
  connect_timeout 4
  retry 2
  delay_before_retry 2
  snmp_name web
  quorum_up "/usr/local/bin/quorum.sh up"
  quorum_down "/usr/local/bin/quorum.sh down" root
  sorry_server 192.0.2.99 443
  real_server 192.0.2.11 443 {
    weight 2
    notify_up /usr/local/bin/up.sh
    notify_down /usr/local/bin/down.sh
    SSL_GET {
      url {
        path /healthz
        digest 9B3A0C85A887A256D6939DA88AABD8CD
        status_code 200 301-302
      }
      url {
        path /ready
        virtualhost ready.example.com
      }
      enable_sni
      connect_port 8443
      bindto 192.0.2.1
      bind_port 40000
      bind_if eth0
      fwmark 7
    }
  }
  real_server 192.0.2.12 443 {
    lvs_method NAT
    retry 0
    delay_loop 5
    HTTP_GET {
      url {
        path /
      }
      connect_ip 192.0.2.112
      connect_timeout 1
      http_protocol 1.1
    }
    MISC_CHECK {
      misc_path "/usr/local/bin/check.sh --fast"
      misc_timeout 3
    }
    TCP_CHECK {
      retry 3
      delay_loop 2
    }
  }
  real_server 192.0.2.13 8443 {
    TCP_CHECK {
    }
    SSL_GET {
      url {
        path /
      }
    }
  }
}
`

func TestConvertLVSFull(t *testing.T) {
	services, warnings, err := loadLVS(t, fullConf)
	if err != nil {
		t.Fatal(err)
	}
	if want := lineOf(t, fullConf, "real_server 192.0.2.13") + ": WARNING - virtual server 192.0.2.10:443 and real server 192.0.2.13:8443 ports don't match - resetting"; !slices.Equal(warnings, []string{want}) {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
	if len(services) != 1 {
		t.Fatalf("%d services", len(services))
	}
	s := services[0]
	if want := (pool.Service{Addr: netip.MustParseAddrPort("192.0.2.10:443"), Protocol: pool.ProtocolTCP, Scheduler: "wrr", Forwarding: pool.ForwardDR}); len(s.Services) != 1 || s.Services[0] != want {
		t.Errorf("services %+v, want %+v", s.Services, want)
	}
	if !s.Omega || s.QuorumUp == nil || s.QuorumUp.Path != "/usr/local/bin/quorum.sh" || !slices.Equal(s.QuorumUp.Args, []string{"up"}) ||
		s.QuorumUp.User != "nobody" || !s.QuorumUp.Security || s.QuorumDown == nil || s.QuorumDown.User != "root" {
		t.Errorf("omega %v, quorum scripts %+v %+v", s.Omega, s.QuorumUp, s.QuorumDown)
	}
	if up, down := s.NotifyUp["192.0.2.11:443"], s.NotifyDown["192.0.2.11:443"]; up == nil || up.Path != "/usr/local/bin/up.sh" ||
		down == nil || down.Path != "/usr/local/bin/down.sh" || len(s.NotifyUp) != 1 || len(s.NotifyDown) != 1 {
		t.Errorf("notify scripts %+v %+v", s.NotifyUp, s.NotifyDown)
	}
	p := s.Pool
	if p.Quorum != 3 || p.Hysteresis != 1 || p.Interval != 10*time.Second || p.Workers != pool.DefaultWorkers ||
		p.Sorry == nil || p.Sorry.Name != "192.0.2.99:443" || p.Sorry.Addr != netip.MustParseAddrPort("192.0.2.99:443") ||
		p.Sorry.Weight != 1 || p.Sorry.Forwarding != pool.ForwardDR || p.Sorry.InhibitOnFailure || p.Sorry.Checks != nil {
		t.Errorf("pool %+v sorry %+v", p, p.Sorry)
	}
	if len(p.Backends) != 3 {
		t.Fatalf("%d backends", len(p.Backends))
	}

	// 192.0.2.11: SSL_GET with two urls and every connection option.
	b := p.Backends[0]
	if b.Weight != 2 || b.Forwarding != pool.ForwardDR || !b.InhibitOnFailure || len(b.Checks) != 1 {
		t.Fatalf("backend 0 %+v", b)
	}
	c := b.Checks[0]
	lc := lvsChecker(t, c)
	if c.Name != "SSL_GET#0" || c.Interval != 10*time.Second || !c.InitFail || lc.Retry != 2 || lc.DelayBeforeRetry != 2*time.Second ||
		lc.AttemptTimeout != 4*time.Second || len(lc.Attempts) != 2 || c.Timeout != 3*2*4*time.Second+2*2*time.Second+lvsProbeSlack ||
		lc.Pos.String() != lineOf(t, fullConf, "SSL_GET") {
		t.Fatalf("SSL_GET %+v %+v", c, lc)
	}
	h0, _ := lc.Attempts[0].(health.HTTP)
	h1, _ := lc.Attempts[1].(health.HTTP)
	if h0.URL != "https://192.0.2.11:8443/healthz" || h0.Host != "www.example.com" || h0.Digest != "9b3a0c85a887a256d6939da88aabd8cd" ||
		!slices.Equal(h0.StatusCodes, []int{200, 301, 302}) || h0.TLS == nil || !h0.TLS.InsecureSkipVerify || h0.TLS.ServerName != "" {
		t.Errorf("url 0 %+v", h0)
	}
	if h1.URL != "https://192.0.2.11:8443/ready" || h1.Host != "ready.example.com" || h1.StatusCodes != nil {
		t.Errorf("url 1 %+v", h1)
	}
	if d := h0.Dialer; d == nil || d.LocalAddr == nil || d.LocalAddr.String() != "192.0.2.1:40000" || d.Control == nil || d.KeepAlive != -1 {
		t.Errorf("dialer %+v", d)
	}

	// 192.0.2.12: real server defaults, HTTP_GET, MISC_CHECK, TCP_CHECK.
	b = p.Backends[1]
	if b.Weight != 1 || b.Forwarding != pool.ForwardNAT || len(b.Checks) != 3 {
		t.Fatalf("backend 1 %+v", b)
	}
	c, lc = b.Checks[0], lvsChecker(t, b.Checks[0])
	if h, _ := lc.Attempts[0].(health.HTTP); h.URL != "http://192.0.2.112:443/" || h.TLS != nil || h.Host != "www.example.com" ||
		c.Interval != 5*time.Second || lc.Retry != 0 || lc.AttemptTimeout != time.Second || c.Timeout != time.Second+lvsProbeSlack {
		t.Errorf("HTTP_GET %+v %+v", c, lc)
	}
	c, lc = b.Checks[1], lvsChecker(t, b.Checks[1])
	if sc, _ := lc.Attempts[0].(health.Script); sc.Path != "/usr/local/bin/check.sh" || !slices.Equal(sc.Args, []string{"--fast"}) ||
		sc.User != "nobody" || !sc.Security || lc.AttemptTimeout != 3*time.Second || lc.Retry != 0 || c.Name != "MISC_CHECK#1" {
		t.Errorf("MISC_CHECK %+v %+v", c, lc)
	}
	c, lc = b.Checks[2], lvsChecker(t, b.Checks[2])
	if tcp, _ := lc.Attempts[0].(health.TCP); tcp.Address != "192.0.2.12:443" || c.Interval != 2*time.Second || lc.Retry != 3 ||
		lc.AttemptTimeout != 4*time.Second || lc.DelayBeforeRetry != 2*time.Second {
		t.Errorf("TCP_CHECK %+v %+v", c, lc)
	}

	// 192.0.2.13: DR with another port: reset to the service's.
	b = p.Backends[2]
	if b.Addr != netip.MustParseAddrPort("192.0.2.13:443") || len(b.Checks) != 2 {
		t.Fatalf("backend 2 %+v", b)
	}
	if tcp, _ := lvsChecker(t, b.Checks[0]).Attempts[0].(health.TCP); tcp.Address != "192.0.2.13:443" {
		t.Errorf("TCP_CHECK address %q", tcp.Address)
	}
	// Without enable_sni, no server name is sent.
	if h, _ := lvsChecker(t, b.Checks[1]).Attempts[0].(health.HTTP); h.TLS == nil || h.TLS.ServerName != "192.0.2.13" || h.Host != "www.example.com" {
		t.Errorf("SSL_GET without enable_sni: %+v", h)
	}
}

const groupConf = `virtual_server_group VSG_1 {
	10.0.0.1 8080
	192.168.200.3-5 80
}

virtual_server group VSG_1 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP

    real_server 192.168.201.1 {
        weight 1
        HTTP_GET {
            url {
              path /testurl3/test.jsp
              digest 640205b7b0fc66c1ea91c463fac6334d
            }
            connect_port 1358
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
    real_server 192.168.201.2 1358 {
        HTTP_GET {
            url {
              path /testurl3/test.jsp
            }
        }
    }
}
`

func TestConvertLVSGroup(t *testing.T) {
	services, warnings, err := loadLVS(t, groupConf)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 || len(services) != 1 {
		t.Fatalf("warnings %q, %d services", warnings, len(services))
	}
	s := services[0]
	var addrs []string
	for _, svc := range s.Services {
		if svc.Protocol != pool.ProtocolTCP || svc.Scheduler != "rr" || svc.Forwarding != pool.ForwardNAT {
			t.Errorf("service %+v", svc)
		}
		addrs = append(addrs, svc.Addr.String())
	}
	if want := []string{"10.0.0.1:8080", "192.168.200.3:80", "192.168.200.4:80", "192.168.200.5:80"}; !slices.Equal(addrs, want) || s.Name != "group VSG_1" {
		t.Errorf("%s: services %v, want %v", s.Name, addrs, want)
	}
	b := s.Pool.Backends
	if len(b) != 2 || b[0].Addr != netip.MustParseAddrPort("192.168.201.1:0") || b[1].Addr != netip.MustParseAddrPort("192.168.201.2:1358") {
		t.Fatalf("backends %+v", b)
	}
	lc := lvsChecker(t, b[0].Checks[0])
	if h, _ := lc.Attempts[0].(health.HTTP); h.URL != "http://192.168.201.1:1358/testurl3/test.jsp" || lc.Retry != 3 || lc.DelayBeforeRetry != 3*time.Second || lc.AttemptTimeout != 3*time.Second {
		t.Errorf("check %+v %+v", lc, lc.Attempts)
	}
	// keepalived's defaults: connect_timeout 5 s, retry 1, delay_before_retry 1 s, delay_loop of the virtual server.
	lc = lvsChecker(t, b[1].Checks[0])
	if lc.AttemptTimeout != 5*time.Second || lc.Retry != 1 || lc.DelayBeforeRetry != time.Second || b[1].Checks[0].Interval != 6*time.Second {
		t.Errorf("defaults %+v", lc)
	}
}

const warningsConf = `virtual_server 198.51.100.1 53 {
  quorum 5
  hysteresis 4
  real_server 198.51.100.2 53 {
    TCP_CHECK {
      warmup 3
    }
  }
  real_server 198.51.100.3 53 {
    HTTP_GET {
      http_protocol 1.0
      url {
        path /
      }
    }
  }
}
virtual_server 198.51.100.1 54 {
  protocol TCP
}
virtual_server group NOPE {
  protocol TCP
  real_server 198.51.100.2 80 {
  }
}
virtual_server 198.51.100.9 80 {
  protocol TCP
  persistence_granularity 255.255.255.0
  real_server 198.51.100.2 80 {
    weight 3
  }
}
`

func TestConvertLVSWarnings(t *testing.T) {
	services, warnings, err := loadLVS(t, warningsConf)
	if err != nil {
		t.Fatal(err)
	}
	l := func(marker string) string { return lineOf(t, warningsConf, marker) }
	want := []string{
		l("198.51.100.1 53") + ": virtual server UDP 198.51.100.1:53: no protocol set - defaulting to UDP, as keepalived does",
		l("TCP_CHECK") + ": TCP_CHECK: warmup 3s: the first probes are spread evenly over delay_loop (1m0s) instead of at random within warmup",
		l("HTTP_GET") + ": HTTP_GET: http_protocol 1.0: requests are HTTP/1.1 with Connection: close",
		l("198.51.100.1 53") + ": Warning - quorum 5 for UDP 198.51.100.1:53 exceeds total weight of real servers 2, reducing quorum to 2",
		l("198.51.100.1 53") + ": Virtual server UDP 198.51.100.1:53: hysteresis 4 >= quorum 2; setting hysteresis to 1",
		l("198.51.100.1 54") + ": Virtual server TCP 198.51.100.1:54 has no real servers - ignoring",
		l("group NOPE") + ": virtual server group NOPE specified but not configured - ignoring virtual server",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	if len(services) != 2 {
		t.Fatalf("%d services", len(services))
	}
	if p := services[0].Pool; services[0].Services[0].Protocol != pool.ProtocolUDP || p.Quorum != 2 || p.Hysteresis != 1 {
		t.Errorf("service 0 %+v quorum %d hysteresis %d", services[0].Services, p.Quorum, p.Hysteresis)
	}
	// A real server without checkers is always up, as in keepalived.
	if b := services[1].Pool.Backends; len(b) != 1 || b[0].Weight != 3 || len(b[0].Checks) != 0 {
		t.Errorf("service 1 backends %+v", b)
	}
}

// TestConvertLVSErrors checks that every setting vrrpd cannot honour is an
// error naming its line.
func TestConvertLVSErrors(t *testing.T) {
	vs := func(body string) string {
		return "virtual_server 192.0.2.1 80 {\n  protocol TCP\n" + body + "}\n"
	}
	rs := func(body string) string {
		return vs("  real_server 192.0.2.2 80 {\n" + body + "  }\n")
	}
	tests := []struct {
		name, conf, marker, want string
	}{
		{"fwmark 0", "virtual_server fwmark 0 {\n  real_server 192.0.2.2 80 {\n  }\n}\n", "fwmark 0", "virtual_server fwmark 0 marks nothing"},
		{"fwmark 0 group entry", "virtual_server_group G {\n  192.0.2.1 80\n  fwmark 0\n}\nvirtual_server group G {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n",
			"fwmark 0", "virtual_server_group G: fwmark 0 marks nothing"},
		{"group entry without port", "virtual_server_group G {\n  192.0.2.1\n}\nvirtual_server group G {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n  }\n}\n",
			"  192.0.2.1", "an entry without a port is valid for a persistent virtual server only"},
		{"ha_suspend", vs("  ha_suspend\n  real_server 192.0.2.2 80 {\n  }\n"), "  ha_suspend", "ha_suspend is not supported"},
		{"weight 0", rs("    weight 0\n"), "real_server", "real server 192.0.2.2:80: weight 0 is not supported"},
		{"uthreshold", rs("    uthreshold 100\n"), "uthreshold", "uthreshold is not supported"},
		{"misc_dynamic", rs("    MISC_CHECK {\n      misc_path /bin/true\n      misc_dynamic\n    }\n"), "      misc_dynamic", "misc_dynamic is not supported"},
		{"misc_path missing", rs("    MISC_CHECK {\n    }\n"), "MISC_CHECK", "MISC_CHECK has no misc_path"},
		{"SMTP_CHECK of port 0", "virtual_server_group G {\n  192.0.2.1 25\n}\nvirtual_server group G {\n  protocol TCP\n  real_server 192.0.2.2 {\n    SMTP_CHECK {\n    }\n  }\n}\n",
			"SMTP_CHECK", "SMTP_CHECK would connect to 192.0.2.2, port 0"},
		{"DNS_CHECK", rs("    DNS_CHECK {\n    }\n"), "DNS_CHECK", "DNS_CHECK is not supported"},
		{"regex", rs("    HTTP_GET {\n      url {\n        path /\n        regex ok\n      }\n    }\n"), "regex", "regex is not supported"},
		{"sorry_server_inhibit", vs("  sorry_server 192.0.2.9 80\n  sorry_server_inhibit\n  real_server 192.0.2.2 80 {\n  }\n"), "sorry_server_inhibit", "sorry_server_inhibit is not supported"},
		{"real server alpha", rs("    alpha\n"), "alpha", "alpha is not supported"},
		{"real server virtualhost", rs("    virtualhost example.com\n"), "virtualhost", "virtualhost is not supported"},
		{"scheduler flag", vs("  lb_algo sh\n  sh-port\n  real_server 192.0.2.2 80 {\n  }\n"), "sh-port", "sh-port is not supported"},
		{"tunnel options", vs("  lb_kind TUN gue 6080\n  real_server 192.0.2.2 80 {\n  }\n"), "lb_kind", "are not supported: examples/lvs sets the forwarding method only"},
		{"duplicate real server", vs("  real_server 192.0.2.2 80 {\n  }\n  real_server 192.0.2.2  80 {\n    weight 2\n  }\n"), "192.0.2.2  80",
			"real server 192.0.2.2:80 is already defined at test.conf:3"},
		{"duplicate service", vs("  real_server 192.0.2.2 80 {\n  }\n") + "virtual_server 192.0.2.1  80 {\n  protocol TCP\n  real_server 192.0.2.3 80 {\n  }\n}\n",
			"192.0.2.1  80", "service TCP 192.0.2.1:80 is already defined at test.conf:1"},
		{"check of port 0", "virtual_server_group G {\n  192.0.2.1 80\n}\nvirtual_server group G {\n  protocol TCP\n  real_server 192.0.2.2 {\n    TCP_CHECK {\n    }\n  }\n}\n",
			"TCP_CHECK", "TCP_CHECK would connect to 192.0.2.2, port 0"},
		{"url path", rs("    HTTP_GET {\n      url {\n        path health\n      }\n    }\n"), "url {", `url path "health" must start with /`},
		{"url digest", rs("    HTTP_GET {\n      url {\n        path /\n        digest 12345\n      }\n    }\n"), "url {", `Digest "12345" is not 32 hexadecimal digits`},
		{"no url", rs("    HTTP_GET {\n    }\n"), "HTTP_GET", "HTTP_GET has no url block"},
		// (In a virtual_server of an address, kaconf skips such a real
		// server with keepalived's warning.)
		{"address families", "virtual_server_group G {\n  192.0.2.1 80\n}\nvirtual_server group G {\n  protocol TCP\n  real_server 2001:db8::2 80 {\n  }\n}\n",
			"2001:db8::2", "real server 2001:db8::2 and virtual service TCP 192.0.2.1:80 are of different address families"},
		{"bindto family", rs("    TCP_CHECK {\n      bindto 2001:db8::1\n    }\n"), "TCP_CHECK", "bindto 2001:db8::1 and 192.0.2.2 are of different address families"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			cfg, diags := kaconf.LoadBytes("test.conf", []byte(tt.conf), kaconf.LoadOptions{ConfigID: "h1", Host: fakeHost{}})
			if diags.HasErrors() {
				// Refused by kaconf's keyword table already.
				err = diags.Err()
			} else {
				var services []lvsService
				services, _, err = convertLVS(cfg)
				if err == nil {
					t.Fatalf("converted: %+v", services)
				}
				if !errors.Is(err, errLVSConfig) || services != nil {
					t.Errorf("error %v (services %v), want one wrapping errLVSConfig", err, services)
				}
			}
			want := lineOf(t, tt.conf, tt.marker) + ": "
			found := false
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(l, want) && strings.Contains(l, tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error:\n%v\nwant a line %q...%q", err, want, tt.want)
			}
		})
	}
}

// TestLVSCheckRetry checks keepalived's retry logic: no retries before the
// first success or while down, Retry of them DelayBeforeRetry apart while
// up.
func TestLVSCheckRetry(t *testing.T) {
	var attempts atomic.Int32
	var ok atomic.Bool
	lc := &lvsCheck{Type: "TEST", Retry: 2, DelayBeforeRetry: 20 * time.Millisecond, AttemptTimeout: time.Second,
		Attempts: []health.Checker{health.CheckerFunc(func(ctx context.Context) error {
			attempts.Add(1)
			if ok.Load() {
				return nil
			}
			return errors.New("refused")
		})}}
	probe := func(wantAttempts int32, wantOK bool) {
		t.Helper()
		attempts.Store(0)
		start := time.Now()
		err := lc.Check(t.Context())
		if (err == nil) != wantOK || attempts.Load() != wantAttempts {
			t.Fatalf("probe: err %v after %d attempts, want ok=%v after %d", err, attempts.Load(), wantOK, wantAttempts)
		}
		if least := time.Duration(wantAttempts-1) * lc.DelayBeforeRetry; time.Since(start) < least {
			t.Errorf("probe took %v, want at least %v", time.Since(start), least)
		}
	}
	probe(1, false) // initially one failure is enough
	probe(1, false) // down: no retries
	ok.Store(true)
	probe(1, true)
	ok.Store(false)
	probe(3, false) // up: retried twice
	probe(1, false)
	// A probe that times out fails and stops retrying.
	ok.Store(true)
	probe(1, true)
	slow := lc.clone()
	slow.up.Store(true)
	slow.Attempts = []health.Checker{health.CheckerFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })}
	slow.AttemptTimeout = 10 * time.Millisecond
	if err := slow.Check(t.Context()); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "failed after 2 retries") {
		t.Errorf("slow probe: %v", err)
	}
}

// fakeBalancer is an in-memory pool.Balancer.
type fakeBalancer struct {
	mu    sync.Mutex
	svcs  map[string]pool.Service
	dests map[string]map[netip.AddrPort]pool.Destination
	adds  []string // "SERVICE ADDR" of every AddDestination
	fail  bool
}

func newFakeBalancer() *fakeBalancer {
	return &fakeBalancer{svcs: map[string]pool.Service{}, dests: map[string]map[netip.AddrPort]pool.Destination{}}
}

var errFake = errors.New("fake balancer failure")

func (f *fakeBalancer) EnsureService(_ context.Context, s pool.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errFake
	}
	f.svcs[s.String()] = s
	if f.dests[s.String()] == nil {
		f.dests[s.String()] = map[netip.AddrPort]pool.Destination{}
	}
	return nil
}

func (f *fakeBalancer) RemoveService(_ context.Context, s pool.Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.svcs, s.String())
	delete(f.dests, s.String())
	return nil
}

func (f *fakeBalancer) Destinations(_ context.Context, s pool.Service) ([]pool.Destination, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds, ok := f.dests[s.String()]
	if !ok {
		return nil, fmt.Errorf("no service %s", s)
	}
	var out []pool.Destination
	for _, d := range ds {
		out = append(out, d)
	}
	return out, nil
}

func (f *fakeBalancer) AddDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds = append(f.adds, s.String()+" "+d.Addr.String())
	return f.setLocked(s, d)
}

func (f *fakeBalancer) UpdateDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.setLocked(s, d)
}

func (f *fakeBalancer) setLocked(s pool.Service, d pool.Destination) error {
	ds, ok := f.dests[s.String()]
	if !ok {
		return fmt.Errorf("no service %s", s)
	}
	ds[d.Addr] = d
	return nil
}

func (f *fakeBalancer) RemoveDestination(_ context.Context, s pool.Service, d pool.Destination) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.dests[s.String()], d.Addr)
	return nil
}

// weights returns the weights of the destinations of service key (nil
// when the service does not exist).
func (f *fakeBalancer) weights(key string) map[netip.AddrPort]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds, ok := f.dests[key]
	if !ok {
		return nil
	}
	out := map[netip.AddrPort]int{}
	for a, d := range ds {
		out[a] = d.Weight
	}
	return out
}

func (f *fakeBalancer) addCount(entry string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.adds {
		if a == entry {
			n++
		}
	}
	return n
}

// tcpBackend is a TCP server on the private network's first address
// (internal/privnet) that accepts and closes connections, and can stop and
// start again on its port.
type tcpBackend struct {
	t    *testing.T
	addr netip.AddrPort
	ln   net.Listener
	wg   sync.WaitGroup
}

func newTCPBackend(t *testing.T) *tcpBackend {
	b := &tcpBackend{t: t}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *tcpBackend) start() {
	b.t.Helper()
	addr := netip.AddrPortFrom(privnet.Addrs().A, 0).String()
	if b.addr.IsValid() {
		addr = b.addr.String()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		b.t.Fatal(err)
	}
	b.ln = ln
	b.addr = ln.Addr().(*net.TCPAddr).AddrPort()
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
}

func (b *tcpBackend) stop() {
	if b.ln != nil {
		b.ln.Close()
		b.wg.Wait()
		b.ln = nil
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lvsGoroutines returns the stacks of goroutines runLVS may have started.
func lvsGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "health.(*Pool)") || strings.Contains(g, "main.(*scriptQueue)") ||
			strings.Contains(g, "main.(*lvsCheck)") || strings.Contains(g, "main.(*lvsRunner)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

const runConf = `virtual_server 198.18.0.10 80 {
  delay_loop 0.05
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 5
  omega
  quorum_up "/bin/sh -c 'echo quorum_up >> LOG'"
  quorum_down "/bin/sh -c 'echo quorum_down >> LOG'"
  real_server 198.18.0.1 PORT_A {
    weight 2
    notify_up "/bin/sh -c 'echo up A >> LOG'"
    notify_down "/bin/sh -c 'echo down A >> LOG'"
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 0.05
    }
  }
  real_server 198.18.0.1 PORT_B {
    inhibit_on_failure
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 198.18.0.1 PORT_C {
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_timeout 1
      retry 0
    }
  }
  real_server 198.18.0.1 PORT_D {
    MISC_CHECK {
      misc_path "/bin/sh -c 'test -e FLAG'"
      misc_timeout 2
    }
  }
}
`

// TestRunLVS runs a virtual server with real TCP, HTTP and script backends
// in a private network (internal/privnet) against an in-memory balancer: a backend that stops is
// removed (or kept with weight 0 under inhibit_on_failure) and comes back,
// the notify and quorum scripts run, and when the context ends the service
// is removed, the omega scripts run and every goroutine has ended.
func TestRunLVS(t *testing.T) { privnet.Run(t, testRunLVS) }

func testRunLVS(t *testing.T, _ privnet.Net) {
	dir := t.TempDir()
	logFile, flag := filepath.Join(dir, "log"), filepath.Join(dir, "flag")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := newTCPBackend(t), newTCPBackend(t)
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	srv.Listener.Close()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(privnet.Addrs().A, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	c := netip.MustParseAddrPort(srv.Listener.Addr().String())
	// d is checked by its script only: its port is never connected to.
	d := netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), 9)

	conf := strings.NewReplacer("LOG", logFile, "FLAG", flag,
		"PORT_A", fmt.Sprint(a.addr.Port()), "PORT_B", fmt.Sprint(b.addr.Port()),
		"PORT_C", fmt.Sprint(c.Port()), "PORT_D", fmt.Sprint(d.Port())).Replace(runConf)
	services, _, err := loadLVS(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	bal := newFakeBalancer()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runLVS(ctx, services, bal, nil) }()

	const key = "TCP 198.18.0.10:80"
	weightsAre := func(want map[netip.AddrPort]int) func() bool {
		return func() bool {
			got := bal.weights(key)
			if len(got) != len(want) {
				return false
			}
			for k, v := range want {
				if w, ok := got[k]; !ok || w != v {
					return false
				}
			}
			return true
		}
	}
	logHas := func(line string, n int) func() bool {
		return func() bool {
			data, _ := os.ReadFile(logFile)
			return strings.Count(string(data), line+"\n") >= n
		}
	}
	all := map[netip.AddrPort]int{a.addr: 2, b.addr: 1, c: 1, d: 1}
	without := func(k netip.AddrPort) map[netip.AddrPort]int {
		m := maps.Clone(all)
		delete(m, k)
		return m
	}
	waitFor(t, "every backend in", weightsAre(all))

	a.stop()
	waitFor(t, "A out", weightsAre(without(a.addr)))
	waitFor(t, "A's notify_down and quorum_down", func() bool { return logHas("down A", 1)() && logHas("quorum_down", 1)() })
	a.start()
	waitFor(t, "A back", weightsAre(all))
	waitFor(t, "A's notify_up and quorum_up", func() bool { return logHas("up A", 1)() && logHas("quorum_up", 1)() })

	b.stop()
	inhibited := maps.Clone(all)
	inhibited[b.addr] = 0
	waitFor(t, "B at weight 0 (inhibit_on_failure)", weightsAre(inhibited))
	b.start()
	waitFor(t, "B back", weightsAre(all))

	status.Store(http.StatusServiceUnavailable)
	waitFor(t, "C out", weightsAre(without(c)))
	status.Store(http.StatusOK)
	waitFor(t, "C back", weightsAre(all))

	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "D out", weightsAre(without(d)))
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "D back", weightsAre(all))

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runLVS: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("runLVS did not return:\n%s", lvsGoroutines())
	}
	if w := bal.weights(key); w != nil {
		t.Errorf("service left in the balancer: %v", w)
	}
	// omega: A's notify_down and quorum_down, queued after every event's
	// scripts once the pool has stopped.
	data, _ := os.ReadFile(logFile)
	if !strings.HasSuffix(string(data), "quorum_up\ndown A\nquorum_down\n") {
		t.Errorf("scripts ran:\n%s\nwant D's quorum_up, then omega's notify_down of A and quorum_down", data)
	}
	if g := lvsGoroutines(); g != "" {
		t.Errorf("goroutines left:\n%s", g)
	}
}

// TestLVSRunnerReload replaces the running services: a service that is
// gone is removed, a real server that was down stays out, and an invalid
// set leaves the running one.
func TestLVSRunnerReload(t *testing.T) { privnet.Run(t, testLVSRunnerReload) }

func testLVSRunnerReload(t *testing.T, _ privnet.Net) {
	a, b := newTCPBackend(t), newTCPBackend(t)
	two := fmt.Sprintf(`virtual_server 198.18.0.10 80 {
  delay_loop 0.05
  protocol TCP
  real_server 198.18.0.1 %d {
    TCP_CHECK {
      retry 0
    }
  }
  real_server 198.18.0.1 %d {
    TCP_CHECK {
      retry 0
    }
  }
}
virtual_server 198.18.0.11 80 {
  protocol TCP
  real_server 198.18.0.1 %d {
  }
}
`, a.addr.Port(), b.addr.Port(), a.addr.Port())
	one := two[:strings.Index(two, "virtual_server 198.18.0.11")]
	s2, _, err := loadLVS(t, two)
	if err != nil {
		t.Fatal(err)
	}
	s1, _, err := loadLVS(t, one)
	if err != nil {
		t.Fatal(err)
	}
	bal := newFakeBalancer()
	r := newLVSRunner(bal, nil)
	defer r.stop()
	if err := r.start(t.Context(), s2); err != nil {
		t.Fatal(err)
	}
	const k1, k2 = "TCP 198.18.0.10:80", "TCP 198.18.0.11:80"
	waitFor(t, "both services", func() bool { return len(bal.weights(k1)) == 2 && len(bal.weights(k2)) == 1 })
	b.stop()
	waitFor(t, "B out", func() bool { return len(bal.weights(k1)) == 1 })

	bad := slices.Clone(s1)
	bad[0].Services = nil
	if err := r.start(t.Context(), bad); err == nil {
		t.Fatal("a service without IPVS services started")
	}
	if err := r.start(t.Context(), s1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second service removed", func() bool { return bal.weights(k2) == nil })
	time.Sleep(200 * time.Millisecond) // a few delay_loops
	if n := bal.addCount(k1 + " " + b.addr.String()); n != 1 {
		t.Errorf("B added %d times, want once (before it failed): it was down when the configuration was reloaded", n)
	}
	if w := bal.weights(k1); len(w) != 1 || w[a.addr] != 1 {
		t.Errorf("after reload: %v", w)
	}
	b.start()
	waitFor(t, "B back", func() bool { return len(bal.weights(k1)) == 2 })
	r.stop()
	if bal.weights(k1) != nil {
		t.Error("service left after stop")
	}
	if g := lvsGoroutines(); g != "" {
		t.Errorf("goroutines left:\n%s", g)
	}
}

// TestLVSOnChangeRetry checks that a membership the balancer failed to
// apply is retried without running its scripts again.
func TestLVSOnChangeRetry(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "log")
	sh := func(word string) *health.Script {
		return &health.Script{Path: "/bin/sh", Args: []string{"-c", "echo " + word + " >> " + logFile}}
	}
	bal := newFakeBalancer()
	scripts := newScriptQueue()
	svc := pool.Service{Addr: netip.MustParseAddrPort("198.18.0.10:80")}
	p := &lvsPool{svc: lvsService{Name: "test", QuorumDown: sh("quorum_down"), NotifyUp: map[string]*health.Script{"x": sh("up_x")}},
		syncs: []*pool.BalancerSync{{Balancer: bal, Service: svc}}, scripts: scripts, log: slog.New(slog.DiscardHandler)}
	bal.fail = true
	m := pool.Membership{Seq: 2, Events: []pool.Event{{Kind: pool.QuorumDown}}}
	if err := p.onChange(t.Context(), m); !errors.Is(err, errFake) {
		t.Fatalf("onChange: %v", err)
	}
	bal.fail = false
	m.Seq, m.Events = 3, append(m.Events, pool.Event{Kind: pool.BackendUp, Backend: "x"})
	if err := p.onChange(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	scripts.close()
	data, _ := os.ReadFile(logFile)
	if string(data) != "quorum_down\nup_x\n" {
		t.Errorf("scripts ran %q, want quorum_down and up_x once each", data)
	}
}

// TestLVSIPVS runs a virtual server on the kernel's IPVS table, in a
// network namespace of its own.
func TestLVSIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		// A plain skip, as examples/lvs's TestIPVS: CI's kernel has no
		// IP_VS and must pass there.
		t.Skip("IPVS is not available on this kernel (/proc/net/ip_vs is absent: ip_vs is not loaded or not built); " +
			"this test runs only where it is")
	}
	if os.Geteuid() != 0 {
		t.Skip("programming IPVS needs root (CAP_NET_ADMIN)")
	}
	privnet.Run(t, testLVSIPVS)
}

// testLVSIPVS is TestLVSIPVS in its private network: the checks connect
// to the backend there, and the IPVS table is in a namespace of its own.
func testLVSIPVS(t *testing.T, _ privnet.Net) {
	nsPath := newLVSNetns(t)
	lb, err := newIPVSBalancer(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	a := newTCPBackend(t)
	services, _, err := loadLVS(t, fmt.Sprintf(`virtual_server 198.18.0.10 80 {
  delay_loop 0.05
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.18.0.1 %d {
    inhibit_on_failure
    TCP_CHECK {
      retry 0
    }
  }
}
`, a.addr.Port()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runLVS(ctx, services, lb, nil) }()
	svc := services[0].Services[0]
	weight := func(want int) func() bool {
		return func() bool {
			ds, err := lb.Destinations(t.Context(), svc)
			return err == nil && len(ds) == 1 && ds[0].Addr == a.addr && ds[0].Weight == want
		}
	}
	waitFor(t, "the real server in IPVS", weight(1))
	a.stop()
	waitFor(t, "the real server at weight 0", weight(0))
	a.start()
	waitFor(t, "the real server back", weight(1))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Destinations(t.Context(), svc); err == nil {
		t.Error("the service is still in IPVS after runLVS returned")
	}
}

// newLVSNetns creates a named network namespace for the test and returns
// its path; it is deleted at the end of the test.
func newLVSNetns(t *testing.T) string {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	name := fmt.Sprintf("vrrpkit-%d-vrrpd-lvs", os.Getpid())
	ns, err := netns.NewNamed(name)
	if err != nil {
		t.Fatalf("creating network namespace %s: %v", name, err)
	}
	ns.Close()
	if err := netns.Set(orig); err != nil {
		t.Fatalf("returning to the original network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("deleting network namespace %s: %v", name, err)
		}
	})
	return filepath.Join("/var/run/netns", name)
}

// persistenceConf has a persistent service with a granularity, a
// firewall-mark service, an IPv6 firewall-mark service with an IPv6
// granularity, and a group with an address and a fwmark entry.
const persistenceConf = `
virtual_server 198.18.0.10 80 {
  lvs_sched rr
  lvs_method DR
  protocol TCP
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  real_server 198.18.1.1 80 {
  }
  real_server 198.18.1.2 80 {
  }
}
virtual_server fwmark 7 {
  lvs_sched rr
  lvs_method DR
  persistence_timeout
  real_server 198.18.1.3 80 {
  }
  real_server 198.18.1.4 {
  }
}
virtual_server fwmark 8 {
  ip_family inet6
  lvs_sched rr
  persistence_granularity 64
  real_server fd00::1:1 {
  }
}
virtual_server_group G {
  198.18.0.11 443
  fwmark 9
}
virtual_server group G {
  lvs_sched rr
  protocol TCP
  real_server 198.18.1.5 443 {
  }
}
virtual_server 198.18.0.12 0 {
  lvs_sched rr
  protocol TCP
  lvs_method DR
  real_server 198.18.1.6 0 {
  }
}
`

// persistence_timeout, persistence_granularity and fwmark services map
// onto pool.Services, and run on the in-memory balancer with IPVS's
// persistence.
func TestConvertLVSPersistence(t *testing.T) {
	services, warnings, err := loadLVS(t, persistenceConf)
	if err != nil {
		t.Fatal(err)
	}
	l := func(marker string) string { return lineOf(t, persistenceConf, marker) }
	wantWarnings := []string{
		l("real_server 198.18.1.3") + ": WARNING - fwmark virtual server FWM 7, real server 198.18.1.3:80 has port specified - clearing",
		l("198.18.0.12 0") + ": Virtual server TCP 198.18.0.12:0: zero port only valid for persistent services - setting",
	}
	if !slices.Equal(warnings, wantWarnings) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(wantWarnings, "\n"))
	}
	mask := netip.MustParseAddr
	want := [][]pool.Service{
		{{Addr: netip.MustParseAddrPort("198.18.0.10:80"), Protocol: pool.ProtocolTCP, Scheduler: "rr", Forwarding: pool.ForwardDR,
			Persistence: 600 * time.Second, PersistenceMask: mask("255.255.255.0")}},
		{{FWMark: 7, Protocol: pool.ProtocolUDP, Scheduler: "rr", Forwarding: pool.ForwardDR, Persistence: 360 * time.Second}},
		{{FWMark: 8, IPv6: true, Protocol: pool.ProtocolUDP, Scheduler: "rr", Forwarding: pool.ForwardNAT, Persistence: 360 * time.Second,
			PersistenceMask: mask("ffff:ffff:ffff:ffff::")}},
		{{Addr: netip.MustParseAddrPort("198.18.0.11:443"), Protocol: pool.ProtocolTCP, Scheduler: "rr", Forwarding: pool.ForwardNAT},
			{FWMark: 9, Protocol: pool.ProtocolTCP, Scheduler: "rr", Forwarding: pool.ForwardNAT}},
		{{Addr: netip.MustParseAddrPort("198.18.0.12:0"), Protocol: pool.ProtocolTCP, Scheduler: "rr", Forwarding: pool.ForwardDR, Persistence: 360 * time.Second}},
	}
	if len(services) != len(want) {
		t.Fatalf("%d services, want %d", len(services), len(want))
	}
	for i, s := range services {
		if !slices.Equal(s.Services, want[i]) {
			t.Errorf("virtual server %d (%s): services %+v, want %+v", i, s.Name, s.Services, want[i])
		}
	}
	if b := services[1].Pool.Backends; len(b) != 2 || b[0].Addr.Port() != 0 || b[1].Addr.Port() != 0 {
		t.Errorf("fwmark 7 backends %+v, want ports cleared", b)
	}

	// Run them on the in-memory balancer.
	bal := &lvs.Memory{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runLVS(ctx, services, bal, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if left := bal.Services(); len(left) != 0 {
			t.Errorf("services left after stop: %v", left)
		}
	}()
	waitFor(t, "every service programmed", func() bool {
		for _, s := range services {
			for _, svc := range s.Services {
				if ds, err := bal.Destinations(ctx, svc); err != nil || len(ds) != len(s.Pool.Backends) {
					return false
				}
			}
		}
		return true
	})
	var got []string
	for _, s := range bal.Services() {
		got = append(got, s.String())
	}
	if w := []string{"FWM 7", "FWM 8 IPv6", "FWM 9", "TCP 198.18.0.10:80", "TCP 198.18.0.11:443", "TCP 198.18.0.12:0"}; !slices.Equal(got, w) {
		t.Errorf("balancer services %v, want %v", got, w)
	}
	// The persistent service keeps a client's subnet on one real server,
	// where rr alone would alternate.
	vip := netip.MustParseAddrPort("198.18.0.10:80")
	first, err := bal.Connect(lvs.Conn{Client: mask("198.18.100.1"), Dst: vip})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"198.18.100.1", "198.18.100.2", "198.18.100.250"} {
		if d, err := bal.Connect(lvs.Conn{Client: mask(c), Dst: vip}); err != nil || d.Addr != first.Addr {
			t.Errorf("%s went to %v (%v), want %v", c, d.Addr, err, first.Addr)
		}
	}
	// A marked packet goes to the fwmark service, whatever its address.
	d, err := bal.Connect(lvs.Conn{Client: mask("198.18.100.1"), Dst: netip.MustParseAddrPort("203.0.113.1:25"), Mark: 7})
	if err != nil || (d.Addr.Addr() != mask("198.18.1.3") && d.Addr.Addr() != mask("198.18.1.4")) {
		t.Errorf("mark 7 went to %v (%v)", d.Addr, err)
	}
}

// kubeinit's original virtual_server, with persistence_timeout 600, runs.
func TestConvertLVSKubeinitPersistence(t *testing.T) {
	services, _, err := loadLVS(t, strings.Replace(kubeinitConf, "protocol TCP", "protocol TCP\n    persistence_timeout 600", 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 1 || services[0].Services[0].Persistence != 600*time.Second {
		t.Errorf("services %+v", services)
	}
}
