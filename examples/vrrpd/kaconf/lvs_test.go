package kaconf

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The diagnostics below are keepalived 2.2.7's, as `keepalived -t -l`
// printed them for the same lines (its number message and its keyword
// message joined in one diagnostic).

// vs wraps lines in a virtual_server with one real server.
func vs(head string, lines ...string) string {
	return "virtual_server " + head + " {\n" + strings.Join(lines, "\n") + "\n}\n"
}

func TestPersistence(t *testing.T) {
	rs4 := "real_server 198.18.1.1 80 {\n}"
	rs6 := "real_server fd00::1:1 80 {\n}"
	mask := netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		src     string
		diags   []want
		timeout time.Duration
		gran    netip.Addr
		family  string
		engine  string
	}{
		{name: "none", src: vs("198.18.0.1 80", rs4), family: "inet"},
		{name: "keyword alone", src: vs("198.18.0.1 80", "persistence_timeout", rs4), timeout: 360 * time.Second, family: "inet"},
		{name: "value", src: vs("198.18.0.1 80", "persistence_timeout 50", rs4), timeout: 50 * time.Second, family: "inet"},
		{name: "31 days", src: vs("198.18.0.1 80", "persistence_timeout 2678400", rs4), timeout: 31 * 24 * time.Hour, family: "inet"},
		{name: "0", src: vs("198.18.0.1 80", "persistence_timeout 0", rs4), family: "inet",
			diags: []want{{Warning, 2, "persistence_timeout invalid (number '0' outside range [1, 2678400])"}}},
		{name: "over 31 days", src: vs("198.18.0.1 80", "persistence_timeout 2678401", rs4), family: "inet",
			diags: []want{{Warning, 2, "persistence_timeout invalid (number '2678401' outside range [1, 2678400])"}}},
		{name: "over uint32", src: vs("198.18.0.1 80", "persistence_timeout 4294967296", rs4), family: "inet",
			diags: []want{{Warning, 2, "persistence_timeout invalid (number '4294967296' outside unsigned integer range)"}}},
		{name: "negative", src: vs("198.18.0.1 80", "persistence_timeout -1", rs4), family: "inet",
			diags: []want{{Warning, 2, "persistence_timeout invalid (negative number '-1')"}}},
		{name: "not a number", src: vs("198.18.0.1 80", "persistence_timeout abc", rs4), family: "inet",
			diags: []want{{Warning, 2, "persistence_timeout invalid (invalid number 'abc')"}}},
		{name: "invalid keeps the earlier value", src: vs("198.18.0.1 80", "persistence_timeout 60", "persistence_timeout 0", rs4),
			timeout: time.Minute, family: "inet", diags: []want{{Warning, 3, "persistence_timeout invalid"}}},

		{name: "IPv4 granularity sets the default timeout", src: vs("198.18.0.1 80", "persistence_granularity 255.255.255.0", rs4),
			timeout: 360 * time.Second, gran: mask("255.255.255.0"), family: "inet"},
		{name: "granularity keeps a timeout given after it", src: vs("198.18.0.1 80", "persistence_granularity 255.255.0.0", "persistence_timeout 30", rs4),
			timeout: 30 * time.Second, gran: mask("255.255.0.0"), family: "inet"},
		{name: "IPv4 mask not contiguous", src: vs("198.18.0.1 80", "persistence_timeout 10", "persistence_granularity 255.0.255.0", rs4),
			timeout: 10 * time.Second, gran: mask("255.0.255.0"), family: "inet"},
		{name: "IPv4 inet_aton forms", src: vs("198.18.0.1 80", "persistence_timeout 10", "persistence_granularity 24", rs4),
			timeout: 10 * time.Second, gran: mask("0.0.0.24"), family: "inet"},
		{name: "IPv4 short form", src: vs("198.18.0.1 80", "persistence_timeout 10", "persistence_granularity 255.0xffff00", rs4),
			timeout: 10 * time.Second, gran: mask("255.255.255.0"), family: "inet"},
		{name: "IPv4 invalid", src: vs("198.18.0.1 80", "persistence_granularity abc", rs4), family: "inet",
			diags: []want{{Warning, 2, "Invalid IPv4 persistence_granularity specified - abc"}}},
		{name: "IPv4 five parts", src: vs("198.18.0.1 80", "persistence_granularity 1.2.3.4.5", rs4), family: "inet",
			diags: []want{{Warning, 2, "Invalid IPv4 persistence_granularity specified - 1.2.3.4.5"}}},
		{name: "IPv4 byte over 255", src: vs("198.18.0.1 80", "persistence_granularity 256.0.0.0", rs4), family: "inet",
			diags: []want{{Warning, 2, "Invalid IPv4 persistence_granularity specified - 256.0.0.0"}}},
		{name: "IPv6 prefix length", src: vs("fd00::1 80", "persistence_granularity 64", rs6),
			timeout: 360 * time.Second, gran: mask("ffff:ffff:ffff:ffff::"), family: "inet6"},
		{name: "IPv6 128", src: vs("fd00::1 80", "persistence_granularity 128", rs6),
			timeout: 360 * time.Second, gran: mask("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), family: "inet6"},
		{name: "IPv6 0", src: vs("fd00::1 80", "persistence_granularity 0", rs6), family: "inet6",
			diags: []want{{Warning, 2, "Invalid IPv6 persistence_granularity specified - 0 (number '0' outside range [1, 128])"}}},
		{name: "IPv6 129", src: vs("fd00::1 80", "persistence_granularity 129", rs6), family: "inet6",
			diags: []want{{Warning, 2, "Invalid IPv6 persistence_granularity specified - 129 (number '129' outside range [1, 128])"}}},
		{name: "IPv6 given a netmask", src: vs("fd00::1 80", "persistence_granularity 255.255.255.0", rs6), family: "inet6",
			diags: []want{{Warning, 2, "Invalid IPv6 persistence_granularity specified - 255.255.255.0 (invalid number '255.255.255.0')"}}},
		{name: "missing value", src: vs("198.18.0.1 80", "persistence_granularity", rs4), family: "inet",
			diags: []want{{Error, 2, "is missing a parameter after keyword `persistence_granularity`"}}},

		{name: "engine", src: vs("198.18.0.1 5060", "persistence_timeout 30", "persistence_engine sip", rs4),
			timeout: 30 * time.Second, engine: "sip", family: "inet"},
		{name: "engine truncated", src: vs("198.18.0.1 5060", "persistence_timeout 30", "persistence_engine sipxxxxxxxxxxxxxxxxx", rs4),
			timeout: 30 * time.Second, engine: "sipxxxxxxxxxxxx", family: "inet",
			diags: []want{{Warning, 3, "persistence_name too long, truncating - sipxxxxxxxxxxxxxxxxx"}}},
		{name: "engine missing", src: vs("198.18.0.1 5060", "persistence_engine", rs4), family: "inet",
			diags: []want{{Error, 2, "is missing a parameter after keyword `persistence_engine`"}}},

		// The family of a fwmark service.
		{name: "fwmark takes its first real server's family", src: vs("fwmark 8", rs6), family: "inet6"},
		{name: "fwmark with ip_family", src: vs("fwmark 8", "ip_family inet6", "persistence_granularity 48", rs6),
			timeout: 360 * time.Second, gran: mask("ffff:ffff:ffff::"), family: "inet6"},
		{name: "fwmark granularity with a dot is IPv4", src: vs("fwmark 8", "persistence_granularity 255.255.255.0", rs4),
			timeout: 360 * time.Second, gran: mask("255.255.255.0"), family: "inet"},
		{name: "fwmark granularity without a dot is IPv6", src: vs("fwmark 8", "persistence_granularity 56", rs6),
			timeout: 360 * time.Second, gran: mask("ffff:ffff:ffff:ff00::"), family: "inet6"},
		{name: "fwmark IPv6 skips an IPv4 real server", src: vs("fwmark 8", "ip_family inet6", rs4, rs6), family: "inet6",
			diags: []want{{Warning, 3, "Address family of virtual server and real server 198.18.1.1 don't match - skipping real server."}}},
		{name: "ip_family after a real server", src: vs("fwmark 8", rs4, "ip_family inet6", "ip_family foo"), family: "inet",
			diags: []want{
				{Warning, 4, "Virtual server specified family inet6 conflicts with server family"},
				{Warning, 5, "unknown address family foo"},
			}},
		{name: "fwmark tunnelled servers of both families", src: vs("fwmark 8", "lvs_method TUN", rs6, rs4), family: "inet"},
		{name: "fwmark tunnelled IPv6 servers", src: vs("fwmark 8", "lvs_method TUN", rs6), family: "inet6"},
		{name: "sorry server of another family", src: vs("198.18.0.1 80", rs4, "sorry_server fd00::9 80"), family: "inet",
			diags: []want{{Warning, 5, "Address family of virtual server and sorry server fd00::9 don't match - skipping sorry server."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ds := load(t, tc.src, LoadOptions{})
			checkDiags(t, ds, tc.diags)
			if len(c.VirtualServers) != 1 {
				t.Fatalf("%d virtual servers", len(c.VirtualServers))
			}
			v := c.VirtualServers[0]
			if v.PersistenceTimeout != tc.timeout || v.PersistenceGranularity != tc.gran || v.Family != tc.family || v.PersistenceEngine != tc.engine {
				t.Errorf("timeout %v granularity %v family %q engine %q; want %v %v %q %q",
					v.PersistenceTimeout, v.PersistenceGranularity, v.Family, v.PersistenceEngine, tc.timeout, tc.gran, tc.family, tc.engine)
			}
			if strings.Contains(tc.name, "sorry") && v.SorryServer != nil {
				t.Errorf("sorry server %v kept", v.SorryServer.Addr)
			}
		})
	}
}

func TestFWMarkServices(t *testing.T) {
	src := `virtual_server_group mixed {
  fwmark 5
  198.18.0.9 80
}
virtual_server_group six {
  fwmark 6 inet6
  fwmark 7
  fd00::9 443
}
virtual_server_group ambiguous {
  fwmark 5
  fwmark 6 inet
  fd00::1 80
}
virtual_server_group ambiguous2 {
  fwmark 5
  198.18.0.1 80
  fd00::1 80
}
virtual_server_group bad {
  fwmark 8 inet7
  fwmark 4294967296
  fwmark 9 inet
}
virtual_server fwmark 4294967296 {
  real_server 198.18.1.1 80 {
  }
}
virtual_server fwmark 42 {
  lvs_sched rr
  persistence_timeout 600
  real_server 198.18.1.1 0 {
  }
}
`
	c, ds := load(t, src, LoadOptions{})
	checkDiags(t, ds, []want{
		{Warning, 14, "virtual server group ambiguous cannot have IPv4, IPv6 and fwmark without family - removing"},
		{Warning, 19, "virtual server group ambiguous2 cannot have IPv4, IPv6 and fwmark without family - removing"},
		{Warning, 21, "(bad): fwmark '8' family inet7 unknown - ignoring"},
		{Warning, 22, "(bad): fwmark '4294967296' must be in [0, 4294967295] - ignoring (number '4294967296' outside unsigned integer range)"},
		{Warning, 25, "virtual server fwmark '4294967296' must be in [0, 4294967295] - ignoring (number '4294967296' outside unsigned integer range)"},
	})
	var names []string
	for _, g := range c.VirtualServerGroups {
		names = append(names, g.Name)
	}
	if strings.Join(names, " ") != "mixed six bad" {
		t.Fatalf("groups %v, want mixed six bad", names)
	}
	six := c.VirtualServerGroups[1].Entries
	if len(six) != 3 || six[0].FWMark != 6 || six[0].Family != "inet6" || six[1].FWMark != 7 || six[1].Family != "" || six[2].First != netip.MustParseAddr("fd00::9") {
		t.Errorf("group six %+v", six)
	}
	if bad := c.VirtualServerGroups[2].Entries; len(bad) != 1 || bad[0].FWMark != 9 || bad[0].Family != "inet" {
		t.Errorf("group bad %+v", bad)
	}
	if len(c.VirtualServers) != 1 {
		t.Fatalf("%d virtual servers, want 1", len(c.VirtualServers))
	}
	v := c.VirtualServers[0]
	if v.FWMark != 42 || v.Addr.IsValid() || v.Family != "inet" || v.Scheduler != "rr" || v.PersistenceTimeout != 10*time.Minute {
		t.Errorf("fwmark virtual server %+v", v)
	}
}

// keepalived 2.2.7 knows nb_get_retry, retry's old name, in HTTP_GET and
// SSL_GET only: elsewhere it is an unknown keyword and the retry count
// keeps its default.
func TestNbGetRetry(t *testing.T) {
	src := vs("198.18.0.1 80",
		"nb_get_retry 4",
		"real_server 198.18.1.1 80 {",
		"  nb_get_retry 5",
		"  TCP_CHECK {",
		"    nb_get_retry 3",
		"  }",
		"  HTTP_GET {",
		"    url {\n      path /\n    }",
		"    nb_get_retry 6",
		"  }",
		"  SSL_GET {",
		"    url {\n      path /\n    }",
		"    nb_get_retry 7",
		"  }",
		"  MISC_CHECK {",
		"    misc_path /bin/true",
		"    nb_get_retry 8",
		"  }",
		"  TCP_CHECK {",
		"    retry 9",
		"  }",
		"}")
	c, ds := load(t, src, LoadOptions{})
	checkDiags(t, ds, []want{
		{Warning, 2, "Unknown keyword 'nb_get_retry'"},
		{Warning, 4, "Unknown keyword 'nb_get_retry'"},
		{Warning, 6, "Unknown keyword 'nb_get_retry'"},
		{Warning, 12, "nb_get_retry is deprecated - please use 'retry'"},
		{Warning, 18, "nb_get_retry is deprecated - please use 'retry'"},
		{Warning, 22, "Unknown keyword 'nb_get_retry'"},
		{Warning, 21, "SECURITY VIOLATION - check scripts are being executed"},
	})
	v := c.VirtualServers[0]
	rs := v.RealServers[0]
	if v.CheckDefaults.Retry != -1 || rs.CheckDefaults.Retry != -1 {
		t.Errorf("retry defaults %d %d, want -1 (not given)", v.CheckDefaults.Retry, rs.CheckDefaults.Retry)
	}
	var got []int
	for _, ck := range rs.Checkers {
		got = append(got, ck.Retry)
	}
	if want := []int{-1, 6, 7, -1, 9}; !equalInts(got, want) {
		t.Errorf("checker retries %v, want %v", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseInetAton(t *testing.T) {
	for s, want := range map[string]string{
		"255.255.255.0": "255.255.255.0", "24": "0.0.0.24", "1.2.3": "1.2.0.3", "1.2": "1.0.0.2",
		"0xff.0377.0.0": "255.255.0.0", "4294967295": "255.255.255.255", "0": "0.0.0.0",
		"": "", "abc": "", "1.2.3.4.5": "", "256.1.1.1": "", "1.2.65536": "", "4294967296": "",
		"1..2": "", "08": "", "+1": "", "-1": "", "1.2.3.4 ": "",
	} {
		a, ok := parseInetAton(s)
		if ok != (want != "") || (ok && a.String() != want) {
			t.Errorf("parseInetAton(%q) = %v, %v; want %q", s, a, ok, want)
		}
	}
}
