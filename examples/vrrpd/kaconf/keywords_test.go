package kaconf

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeywordTable checks the table itself: every keyword is described,
// once per block, and a NoEffect or Refused keyword says why (except the
// few keepalived options that need no reason).
func TestKeywordTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keywords() {
		id := k.Block + "/" + k.Name
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
		if k.Name == "" || strings.ContainsAny(k.Name, " \t{}") {
			t.Errorf("%s: bad name", id)
		}
		if k.Support == Refused && k.Reason == "" {
			t.Errorf("%s: refused without a reason", id)
		}
	}
	for _, want := range []string{"/vrrp_instance", "global_defs/router_id", "vrrp_instance/priority",
		"authentication/auth_pass", "vrrp_script/script", "vrrp_track_process/quorum",
		"track_file/file", "vrrp_sync_group/group"} {
		if !seen[want] {
			t.Errorf("%s missing from Keywords", want)
		}
	}
}

// TestKeywordDispatch checks the rules the table applies to every
// keyword, one per row, with keepalived's messages.
func TestKeywordDispatch(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // "SEVERITY LINE: text" substrings, in order
	}{
		{"missing argument (keepalived stops the line)", "vrrp_instance V {\n priority\n}\n",
			[]string{"error 2: *** Configuration line starting `priority` is missing a parameter after keyword `priority` at word position 2"}},
		{"block after a keyword that takes none", "vrrp_instance V {\n nopreempt {\n }\n}\n",
			[]string{"error 2: Unexpected '{' - nopreempt takes no block"}},
		{"missing block", "vrrp_instance V {\n virtual_ipaddress 10.0.0.1\n}\n",
			[]string{"error 2: Missing '{' at beginning of configuration block virtual_ipaddress"}},
		{"renamed keyword (keepalived's deprecation warning)", "vrrp_track_file f {\n file /tmp/x\n}\n",
			[]string{`warning 1: "vrrp_track_file" is deprecated, please use "track_file"`}},
		{"no effect", "global_defs {\n smtp_server 198.18.0.1\n}\n",
			[]string{"warning 2: keyword smtp_server has no effect here (no e-mail is sent)"}},
		{"refused", "global_defs {\n startup_script /bin/true\n}\n",
			[]string{"error 2: startup_script is not supported: scripts run when the daemon starts or stops"}},
		{"refused only for a value that changes behaviour", "global_defs {\n vrrp_down_timer_adverts 3\n vrrp_down_timer_adverts 4\n}\n",
			[]string{"error 3: vrrp_down_timer_adverts is not supported"}},
		{"unknown", "global_defs {\n frobnicate 1\n}\n",
			[]string{"warning 2: Unknown keyword 'frobnicate'"}},
		// keepalived 2.2.7 (measured): the block's lines are read where
		// the keyword stands.
		{"unknown block at the top level", "local_address_group g {\n198.18.1.1\n}\nglobal_defs {\n router_id r\n}\n",
			[]string{"warning 1: Unknown keyword 'local_address_group'", "warning 1: Unexpected '{' - ignoring",
				"warning 2: Unknown keyword '198.18.1.1'", "warning 3: Unknown keyword '}'"}},
		// Deeper, its '}' would close the enclosing block: refused.
		{"unknown block in a block", "global_defs {\n frob {\n  router_id r\n }\n}\n",
			[]string{"warning 2: Unknown keyword 'frob'", "error 2: Unexpected '{' after unknown keyword frob"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := LoadBytes("k.conf", []byte(tc.src), LoadOptions{})
			var got []string
			for _, d := range diags {
				if d.Severity == Info || strings.Contains(d.Message, "No VIP specified") ||
					strings.Contains(d.Message, "virtual router id") || strings.Contains(d.Message, "Unknown interface") {
					continue
				}
				got = append(got, strings.ToLower(d.Severity.String())+" "+strconv.Itoa(d.Line)+": "+d.Message)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("diagnostic %d = %q, want prefix %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// keepalived's defaults for the reactions to other priorities: the
// lower-priority gratuitous ARPs repeat garp_master_repeat and follow
// garp_master_delay unless vrrp_garp_lower_prio_* or the instance's
// garp_lower_prio_* say otherwise (measured against keepalived 2.2.7: 5
// rounds at once and 5 after garp_master_delay by default); 0 sends none.
func TestLowerHigherPrioDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, global, inst string
		repeat             int
		delay              time.Duration
		higher             bool
	}{
		{"defaults", "", "", 5, 5 * time.Second, false},
		{"from garp_master_*", " vrrp_garp_master_repeat 3\n vrrp_garp_master_delay 2\n", "", 3, 2 * time.Second, false},
		{"instance garp_master_*", "", " garp_master_repeat 2\n garp_master_delay 1\n", 2, time.Second, false},
		{"global", " vrrp_garp_lower_prio_repeat 1\n vrrp_garp_lower_prio_delay 7\n vrrp_higher_prio_send_advert\n", "", 1, 7 * time.Second, true},
		{"instance over global", " vrrp_garp_lower_prio_repeat 1\n vrrp_higher_prio_send_advert\n",
			" garp_lower_prio_repeat 4\n garp_lower_prio_delay 0\n higher_prio_send_advert false\n", 4, 0, false},
		{"none", " vrrp_garp_lower_prio_repeat 0\n", "", 0, 5 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "global_defs {\n" + tc.global + "}\nvrrp_instance V {\n interface eth0\n virtual_router_id 1\n" + tc.inst +
				" virtual_ipaddress {\n  198.18.0.1\n }\n}\n"
			c, ds := LoadBytes("k.conf", []byte(src), LoadOptions{})
			if ds.HasErrors() || len(ds.Filter(Warning)) != 0 {
				t.Fatalf("diagnostics:\n%s", ds)
			}
			in := c.Instances[0]
			if in.GARPLowerPrioRepeat != tc.repeat || in.GARPLowerPrioDelay != tc.delay || in.HigherPrioSendAdvert != tc.higher {
				t.Errorf("repeat %d delay %v higher %v; want %d %v %v", in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay,
					in.HigherPrioSendAdvert, tc.repeat, tc.delay, tc.higher)
			}
		})
	}
}

// nftables_priority changes where the no_accept filter stands among the
// host's chains: vrrpd takes keepalived's default (-1) only.
func TestNftablesPriority(t *testing.T) {
	for _, tc := range []struct {
		value string
		err   bool
	}{{"-1", false}, {"-5", true}, {"x", false}} {
		_, ds := LoadBytes("k.conf", []byte("global_defs {\n nftables_priority "+tc.value+"\n}\n"), LoadOptions{})
		if got := strings.Contains(ds.String(), "nftables_priority is not supported"); got != tc.err {
			t.Errorf("nftables_priority %s: refused %v, want %v:\n%s", tc.value, got, tc.err, ds)
		}
	}
}
