package kaconf

import (
	"errors"
	"strings"
	"testing"
)

// ifaceHost finds every script and every interface but those in missing.
type ifaceHost struct{ missing map[string]bool }

func (ifaceHost) FindScript(string) error { return nil }
func (ifaceHost) UserExists(string) bool  { return false }
func (h ifaceHost) FindInterface(name string) error {
	if h.missing[name] {
		return errors.New("no such network interface")
	}
	return nil
}

// TestHostInterfaces: with a Host, the interfaces the file names must
// exist, in keepalived's words; dynamic_interfaces and net_namespace turn
// the check off, and without a Host there is none.
func TestHostInterfaces(t *testing.T) {
	const src = "vrrp_instance V {\n interface eth9\n virtual_router_id 9\n track_interface {\n  eth7\n }\n virtual_ipaddress {\n  192.0.2.9 dev eth8\n  192.0.2.10 dev eth0\n }\n}\n" +
		"vrrp_instance W {\n interface eth0\n virtual_router_id 10\n virtual_ipaddress {\n  192.0.2.11\n }\n}\n" +
		"vrrp_sync_group G {\n group {\n  V\n  W\n }\n track_interface {\n  eth6\n }\n}\n"
	host := ifaceHost{missing: map[string]bool{"eth9": true, "eth8": true, "eth7": true, "eth6": true}}
	_, ds := load(t, src, LoadOptions{Host: host})
	checkDiags(t, ds, []want{
		{Warning, 1, "WARNING - interface eth9 for vrrp_instance V doesn't exist"},
		{Warning, 5, "(V) tracked interface eth7 doesn't exist"},
		{Warning, 8, "WARNING - interface eth8 for ip address 192.0.2.9 doesn't exist"},
		{Warning, 25, "(G) tracked interface eth6 doesn't exist"},
		{Warning, 0, "Non-existent interface specified in configuration"},
	})
	for _, pre := range []string{"global_defs {\n dynamic_interfaces\n}\n", "net_namespace blue\n"} {
		_, ds := load(t, pre+src, LoadOptions{Host: host})
		for _, d := range ds {
			if strings.Contains(d.Message, "exist") {
				t.Errorf("%q: %v", pre, d)
			}
		}
	}
	_, ds = load(t, src, LoadOptions{})
	for _, d := range ds {
		if strings.Contains(d.Message, "exist") {
			t.Errorf("without a host: %v", d)
		}
	}
}

// Remarks are the warnings keepalived -t does not give: set where kaconf
// reports them, never by their text.
func TestRemark(t *testing.T) {
	src := `global_defs {
  smtp_server 198.18.0.1
  vrrp_iptables
}
vrrp_script unused {
  script "/bin/true" extra words
}
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  authentication {
    auth_type PASS
    auth_pass longer_than_8
  }
  virtual_ipaddress {
    fd00::1
  }
}
`
	_, ds := load(t, src, LoadOptions{})
	remark := map[string]bool{}
	for _, d := range ds {
		remark[d.Message] = d.Remark()
	}
	for msg, want := range map[string]bool{
		"keyword smtp_server has no effect here (no e-mail is sent)":                                                                     true,
		"iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option":  false,
		"script: the words after the command (extra words) are ignored, as keepalived ignores them; quote the command and its arguments": true,
		"Warning - script unused is not used":                 true,
		"Truncating auth_pass to 8 characters":                false,
		"(V) the first IPv6 VIP address should be link local": true,
	} {
		got, ok := remark[msg]
		if !ok {
			t.Errorf("no diagnostic %q in\n%s", msg, ds)
		} else if got != want {
			t.Errorf("%q: Remark %v, want %v", msg, got, want)
		}
	}
	for _, d := range []Diagnostic{{Severity: Error, Message: "keyword x has no effect here"}, {Severity: Info}} {
		if d.Remark() {
			t.Errorf("%v is a remark", d)
		}
	}
	sec := Diagnostic{Severity: Warning, Message: "SECURITY VIOLATION - scripts are being executed but script_security not enabled."}
	if !sec.SecurityViolation() || sec.Remark() {
		t.Errorf("%v: SecurityViolation %v, Remark %v", sec, sec.SecurityViolation(), sec.Remark())
	}
	if e, w, r, i := ds.Count(); e != 0 || r != 4 || w+r+i != len(ds) {
		t.Errorf("Count %d %d %d %d of\n%s", e, w, r, i, ds)
	}
}
