package kaconf

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// corpus returns the configurations of the shared keepalived corpus
// (../shared/testdata/keepalived-configs), skipping when it is absent.
func corpus(t *testing.T) (dir string, files []string) {
	t.Helper()
	dir = testenv.SharedTestdata(t, "keepalived-configs")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 20 {
		t.Fatalf("%s: %d configurations, want 20", dir, len(files))
	}
	return dir, files
}

// keepalivedOutput returns what `keepalived -t` printed for a corpus file
// (without the header and the rc line) and the -i config id it was run
// with.
func keepalivedOutput(t *testing.T, dir, conf string) (lines []string, configID string) {
	t.Helper()
	name := strings.TrimSuffix(filepath.Base(conf), ".conf") + ".txt"
	b, err := os.ReadFile(filepath.Join(dir, "keepalived-t-output", name))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#"):
			if m := regexp.MustCompile(` -i (\S+)'`).FindStringSubmatch(l); m != nil {
				configID = m[1]
			}
		case strings.HasPrefix(l, "rc="), l == "":
		default:
			lines = append(lines, l)
		}
	}
	return lines, configID
}

// render prints diagnostics and a summary of the configuration, with the
// file names reduced to their base names.
func render(cfg *Config, diags Diagnostics) string {
	var b strings.Builder
	b.WriteString("# diagnostics\n")
	for _, d := range diags {
		fmt.Fprintf(&b, "%s %s:%d: %s\n", d.Severity, filepath.Base(d.File), d.Line, d.Message)
	}
	b.WriteString("# config\n")
	g := cfg.Global
	fmt.Fprintf(&b, "global router_id=%q netns=%q version=%d strict=%v script_security=%v script_user=%q garp_delay=%v garp_repeat=%d garp_refresh=%v garp_refresh_repeat=%d\n",
		g.RouterID, g.NetNamespace, g.VRRPVersion, g.Strict, g.EnableScriptSecurity, g.ScriptUser,
		g.GARPMasterDelay, g.GARPMasterRepeat, g.GARPMasterRefresh, g.GARPMasterRefreshRepeat)
	for _, s := range cfg.Scripts {
		fmt.Fprintf(&b, "script %s %q interval=%v timeout=%v weight=%d rise=%d fall=%d user=%q\n",
			s.Name, s.Command, s.Interval, s.Timeout, s.Weight, s.Rise, s.Fall, s.User)
	}
	for _, p := range cfg.TrackProcesses {
		fmt.Fprintf(&b, "track_process %s %q %q weight=%d quorum=%d..%d\n", p.Name, p.Process, p.Params, p.Weight, p.Quorum, p.QuorumMax)
	}
	for _, f := range cfg.TrackFiles {
		fmt.Fprintf(&b, "track_file %s %q weight=%d\n", f.Name, f.Path, f.Weight)
	}
	for _, in := range cfg.Instances {
		fmt.Fprintf(&b, "instance %s if=%s vrid=%d v%d prio=%d state=%s advert=%v nopreempt=%v preempt_delay=%v accept=%v auth=%s/%q src=%v group=%v vmac=%v/%q\n",
			in.Name, in.Interface, in.VRID, in.Version, in.Priority, in.State, in.AdvertInterval, in.NoPreempt,
			in.PreemptDelay, in.Accept, in.AuthType, in.AuthPass, in.SourceAddr, in.MulticastGroup, in.UseVMAC, in.VMACName)
		for _, v := range in.VIPs {
			fmt.Fprintf(&b, "  vip %v dev=%q label=%q scope=%q\n", v.Prefix, v.Device, v.Label, v.Scope)
		}
		for _, v := range in.ExcludedVIPs {
			fmt.Fprintf(&b, "  evip %v dev=%q\n", v.Prefix, v.Device)
		}
		for _, p := range in.UnicastPeers {
			fmt.Fprintf(&b, "  peer %v\n", p.Addr)
		}
		for _, tr := range in.TrackInterfaces {
			fmt.Fprintf(&b, "  track_interface %s weight=%d\n", tr.Name, tr.Weight)
		}
		for _, tr := range in.TrackScripts {
			fmt.Fprintf(&b, "  track_script %s weight=%d\n", tr.Name, tr.Weight)
		}
		for _, tr := range in.TrackProcesses {
			fmt.Fprintf(&b, "  track_process %s weight=%d\n", tr.Name, tr.Weight)
		}
		renderNotify(&b, in.Notify)
	}
	for _, g := range cfg.SyncGroups {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, m.Name)
		}
		fmt.Fprintf(&b, "sync_group %s %v tracking_weight=%v\n", g.Name, ms, g.TrackingWeight)
		renderNotify(&b, g.Notify)
	}
	return b.String()
}

func renderNotify(b *strings.Builder, n Notify) {
	for _, s := range []struct {
		name string
		s    *NotifyScript
	}{{"master", n.Master}, {"backup", n.Backup}, {"fault", n.Fault}, {"stop", n.Stop}, {"any", n.Any}} {
		if s.s != nil {
			fmt.Fprintf(b, "  notify_%s %q user=%q\n", s.name, s.s.Command, s.s.User)
		}
	}
}

// TestCorpusGolden loads the 20 corpus configurations and compares the
// diagnostics and the configuration with testdata/golden (go test
// -update rewrites them). The scripts are not looked up on this host
// (LoadOptions.Host is nil), so that the result depends on the files
// alone.
func TestCorpusGolden(t *testing.T) {
	dir, files := corpus(t)
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			_, id := keepalivedOutput(t, dir, f)
			cfg, diags, err := Load(f, LoadOptions{ConfigID: id})
			if err != nil {
				t.Fatal(err)
			}
			got := render(cfg, diags)
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(base, ".conf")+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestCorpusGolden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (go test -run TestCorpusGolden -update rewrites it):\n%s", base, golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) or only in got (+).
func lineDiff(want, got string) string {
	count := map[string]int{}
	for _, l := range strings.Split(want, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if count[l] > 0 {
			fmt.Fprintf(&b, "- %s\n", l)
			count[l]--
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if count[l] < 0 {
			fmt.Fprintf(&b, "+ %s\n", l)
			count[l]++
		}
	}
	return b.String()
}

// keepalivedLine maps a line keepalived 2.2.7 printed with -t to the
// diagnostic we print for it: ours must be at the same line when
// keepalived gives one, and must contain the key phrase. Every line in
// keepalived-t-output must match one of these, so that a new kind of
// keepalived message needs a decision here.
//
//   - "Truncating auth_pass to 8 characters" (11, 18): a warning at the
//     auth_pass line, same words; AuthPass holds the first 8 bytes.
//   - "(I) unknown state 'SLAVE', defaulting to BACKUP" (20): a warning at
//     the state line, same words; State is BACKUP.
//   - "Unknown keyword 'lvs_id'" (20): a warning at the line, same words,
//     explaining that lvs_id is keepalived 1.x's router_id.
//   - "SECURITY VIOLATION - scripts are being executed but script_security
//     not enabled." (02, 20): the same warning, at the first script that
//     runs as root. keepalived prints no line number.
//   - "(I) Ignoring track_interface X since own interface" (12, 14): the
//     same warning at the track_interface entry; the track is dropped.
//   - "(I) Warning - nopreempt will not work with initial state MASTER -
//     clearing" (10) and "(I) VRRP version 3 does not support
//     authentication. Ignoring." (15): the same warnings, at the
//     instance; NoPreempt and the authentication are cleared.
//   - "(I) Initial state master is incompatible with AH authentication -
//     clearing" (12): the same warning, and an error as vrrpkit has no AH.
//   - "iptables not supported, using nftables instead. ..." (14, line 8):
//     keepalived was built without iptables; the same warning, and the
//     no_accept filter is vrrpd's nftables one either way.
//   - "Warning - cannot track route X with no interface specified, not
//     tracking" (06, line 35): the same warning at the route line, besides
//     the error that virtual_routes are not supported.
//   - "Disabling track script X since not found/accessible" (07, 08, 10,
//     17, 18): keepalived printed it because the script did not exist on
//     the host it ran on. It depends on the host, not on the file, so the
//     golden test (which does not look at the host) does not print it;
//     TestCorpusHostScripts checks it with LoadOptions.Host, when the
//     script is absent here too. (keepalived printed none for 05, whose
//     script is absent too: with net_namespace, keepalived -t checks no
//     scripts. With a Host we report it there as well.)
//
// Our diagnostics that keepalived -t did not print are explained by their
// own text: keywords that have no effect in a VRRP-only daemon
// (smtp_alert, notification_email, ...), keywords that vrrpkit does not
// support (virtual_routes, static_routes, virtual_rules, auth_type AH, a
// multicast mcast_src_ip), the link-local advice for IPv6 instances, and
// the SECURITY VIOLATION of configurations whose scripts keepalived had
// disabled because they were missing on its host (03, 04, 05, 07, 08, 10,
// 13, 15, 17, 18): keepalived prints it wherever those scripts exist.
var keepalivedLines = []struct {
	re     *regexp.Regexp
	phrase string // the key phrase, with $1... from re
	host   bool
}{
	{re: regexp.MustCompile(`^Truncating auth_pass to 8 characters$`), phrase: "Truncating auth_pass to 8 characters"},
	{re: regexp.MustCompile(`^\((\S+)\) unknown state '(\S+)', defaulting to BACKUP$`), phrase: "($1) unknown state '$2', defaulting to BACKUP"},
	{re: regexp.MustCompile(`^Unknown keyword '(\S+)'$`), phrase: "Unknown keyword '$1'"},
	{re: regexp.MustCompile(`^SECURITY VIOLATION - scripts are being executed but script_security not enabled\.$`), phrase: "SECURITY VIOLATION - scripts are being executed but script_security not enabled."},
	{re: regexp.MustCompile(`^\((\S+)\) Ignoring track_interface (\S+) since own interface$`), phrase: "($1) Ignoring track_interface $2 since own interface"},
	{re: regexp.MustCompile(`^\((\S+)\) Warning - nopreempt will not work with initial state MASTER - clearing$`), phrase: "($1) Warning - nopreempt will not work with initial state MASTER - clearing"},
	{re: regexp.MustCompile(`^\((\S+)\) VRRP version 3 does not support authentication\. Ignoring\.$`), phrase: "($1) VRRP version 3 does not support authentication. Ignoring."},
	{re: regexp.MustCompile(`^\((\S+)\) Initial state master is incompatible with AH authentication - clearing$`), phrase: "($1) Initial state master is incompatible with AH authentication - clearing"},
	{re: regexp.MustCompile(`^iptables not supported, using nftables instead\.`), phrase: "iptables not supported"},
	{re: regexp.MustCompile(`^Warning - cannot track route (\S+) with no interface specified, not tracking$`), phrase: "Warning - cannot track route $1 with no interface specified, not tracking"},
	{re: regexp.MustCompile(`^Disabling track script (\S+) since not found/accessible$`), phrase: "Disabling track script $1 since not found/accessible", host: true},
}

// positionRE splits keepalived's "(FILE: Line N) " or "(Line N) " prefix.
var positionRE = regexp.MustCompile(`^\((?:[^:()]+: )?Line (\d+)\) (.*)$`)

// matchKeepalived checks that diags hold an equivalent of each keepalived
// line (host lines only when checkHost reports so for the line's phrase).
func matchKeepalived(t *testing.T, lines []string, diags Diagnostics, host bool, checkHost func(phrase string) bool) {
	t.Helper()
	for _, kl := range lines {
		line := 0
		msg := kl
		if m := positionRE.FindStringSubmatch(kl); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		matched := false
		for _, k := range keepalivedLines {
			sub := k.re.FindStringSubmatchIndex(msg)
			if sub == nil {
				continue
			}
			matched = true
			phrase := string(k.re.ExpandString(nil, k.phrase, msg, sub))
			if k.host != host || (k.host && !checkHost(phrase)) {
				break
			}
			found := false
			for _, d := range diags {
				if strings.Contains(d.Message, phrase) && (line == 0 || d.Line == line) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("keepalived printed %q; no diagnostic%s contains %q:\n%s", kl, atLine(line), phrase, diags)
			}
			break
		}
		if !matched {
			t.Errorf("keepalived printed %q, which keepalivedLines does not map: decide how we report it", kl)
		}
	}
}

func atLine(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" at line %d", n)
}

// TestCorpusMatchesKeepalived checks that each line keepalived -t printed
// for a corpus file has its equivalent among our diagnostics.
func TestCorpusMatchesKeepalived(t *testing.T) {
	dir, files := corpus(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lines, id := keepalivedOutput(t, dir, f)
			_, diags, err := Load(f, LoadOptions{ConfigID: id})
			if err != nil {
				t.Fatal(err)
			}
			matchKeepalived(t, lines, diags, false, nil)
		})
	}
}

// TestCorpusHostScripts loads the corpus with LoadOptions.Host = OSHost:
// keepalived's "Disabling track script X since not found/accessible" must
// be reported when X's command is absent on this host too, and is not
// checked when it is present here. Conversely, every script we disable
// must be absent here.
func TestCorpusHostScripts(t *testing.T) {
	dir, files := corpus(t)
	host := OSHost{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			lines, id := keepalivedOutput(t, dir, f)
			cfg, _, err := Load(f, LoadOptions{ConfigID: id})
			if err != nil {
				t.Fatal(err)
			}
			absent := func(name string) bool {
				for _, s := range cfg.Scripts {
					if s.Name == name {
						return host.FindScript(s.Command[0]) != nil
					}
				}
				return false
			}
			_, hdiags, err := Load(f, LoadOptions{ConfigID: id, Host: host})
			if err != nil {
				t.Fatal(err)
			}
			matchKeepalived(t, lines, hdiags, true, func(phrase string) bool {
				name := strings.Fields(strings.TrimPrefix(phrase, "Disabling track script "))[0]
				if !absent(name) {
					t.Logf("%s: script %s exists on this host: keepalived's %q not expected", filepath.Base(f), name, phrase)
					return false
				}
				return true
			})
			for _, d := range hdiags {
				if rest, ok := strings.CutPrefix(d.Message, "Disabling track script "); ok {
					if name := strings.Fields(rest)[0]; !absent(name) {
						t.Errorf("%s: we disabled %s, whose command exists here", d, name)
					}
				}
			}
		})
	}
}
