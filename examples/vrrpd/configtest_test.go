package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testHost is a kaconf.Host with the interfaces and scripts a test names
// missing.
type testHost struct {
	noIfaces, noScripts map[string]bool
}

func (h testHost) FindScript(cmd string) error {
	if h.noScripts[cmd] {
		return errors.New("no such file or directory")
	}
	return nil
}

func (testHost) UserExists(string) bool { return false }

func (h testHost) FindInterface(name string) error {
	if h.noIfaces[name] {
		return errors.New("no such network interface")
	}
	return nil
}

// TestConfigTestStatus: vrrpd -t exits as keepalived -t (2.2.7) does for
// the same file, labels every diagnostic with its severity and ends with a
// summary line.
func TestConfigTestStatus(t *testing.T) {
	const inst = "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n%s virtual_ipaddress {\n  198.18.0.9\n }\n}\n"
	host := testHost{
		noIfaces:  map[string]bool{"eth9": true, "eth7": true},
		noScripts: map[string]bool{"/nonexistent/chk.sh": true},
	}
	for _, tc := range []struct {
		name, conf string
		status     int
		// lines must each appear, with the file's name before them;
		// summary must appear in the last line.
		lines   []string
		summary string
	}{{
		name: "clean", conf: instf(inst, ""), status: 0,
		summary: "configuration OK (1 instance, 0 sync groups); 0 errors, 0 warnings",
	}, {
		name: "remark only", conf: instf(inst, " smtp_alert\n"), status: 0,
		lines:   []string{":4: warning: keyword smtp_alert has no effect here"},
		summary: "configuration OK (1 instance, 0 sync groups); 0 errors, 0 warnings (and 1 warning keepalived -t does not fail on)",
	}, {
		name: "info", conf: instf(inst, " state MASTER\n"), status: 0,
		lines:   []string{": info: (V) no priority given with state MASTER"},
		summary: "0 errors, 0 warnings, 1 info",
	}, {
		name: "keepalived warning", conf: instf(inst, " authentication {\n  auth_type PASS\n  auth_pass 1234567890\n }\n"), status: exitConfigTest,
		lines:   []string{":6: warning: Truncating auth_pass to 8 characters"},
		summary: "0 errors, 1 warning: it runs, not quite as written (1 instance, 0 sync groups)",
	}, {
		name: "unknown keyword", conf: "global_defs {\n frobnicate 1\n}\n" + instf(inst, ""), status: exitConfigTest,
		lines: []string{":2: warning: Unknown keyword 'frobnicate'"},
	}, {
		name: "missing interface", conf: strings.Replace(instf(inst, ""), "eth0", "eth9", 1), status: exitConfigTest,
		lines: []string{":1: warning: WARNING - interface eth9 for vrrp_instance V doesn't exist",
			"warning: Non-existent interface specified in configuration"},
	}, {
		name: "missing tracked interface", conf: instf(inst, " track_interface {\n  eth7\n }\n"), status: exitConfigTest,
		lines: []string{":5: warning: (V) tracked interface eth7 doesn't exist"},
	}, {
		name: "missing address device", conf: strings.Replace(instf(inst, ""), "198.18.0.9", "198.18.0.9 dev eth9", 1), status: exitConfigTest,
		lines: []string{":5: warning: WARNING - interface eth9 for ip address 198.18.0.9 doesn't exist"},
	}, {
		name: "dynamic_interfaces", conf: "global_defs {\n dynamic_interfaces\n}\n" + strings.Replace(instf(inst, ""), "eth0", "eth9", 1), status: 0,
	}, {
		name: "missing script", conf: "global_defs {\n enable_script_security\n script_user nobody\n}\nvrrp_script chk {\n script /nonexistent/chk.sh\n}\n" +
			instf(inst, " track_script {\n  chk\n }\n"), status: exitConfigTest,
		lines: []string{":5: warning: Disabling track script chk since not found/accessible"},
	}, {
		name: "security violation", conf: "vrrp_script chk {\n script /bin/true\n}\n" + instf(inst, " track_script {\n  chk\n }\n"), status: exitSecurity,
		lines:   []string{":1: warning: SECURITY VIOLATION - scripts are being executed but script_security not enabled."},
		summary: "SECURITY VIOLATION",
	}, {
		name: "security violation and an error", conf: "global_defs {\n vrrp_garp_extra_if 10\n}\nvrrp_script chk {\n script /bin/true\n}\n" + instf(inst, " track_script {\n  chk\n }\n"), status: exitSecurity,
		lines:   []string{":2: error: vrrp_garp_extra_if is not supported"},
		summary: "vrrpd would refuse this configuration",
	}, {
		name: "unsupported", conf: "global_defs {\n vrrp_garp_extra_if 10\n}\n" + instf(inst, ""), status: exitConfigTest,
		lines:   []string{":2: error: vrrp_garp_extra_if is not supported"},
		summary: "1 error, 0 warnings: vrrpd would refuse this configuration",
	}, {
		name: "missing parameter", conf: instf(inst, " unicast_src_ip\n"), status: exitStopped,
		lines: []string{":4: error: *** Configuration line starting `unicast_src_ip` is missing a parameter"},
	}, {
		name: "include of missing files", conf: "include /nonexistent/x.conf\n" + instf(inst, ""), status: 0,
		lines: []string{":1: warning: Config files missing '/nonexistent/x.conf'."},
	}, {
		name: "includea of missing files", conf: "includea /nonexistent/x.conf\n" + instf(inst, ""), status: exitSecurity,
		lines:   []string{":1: warning: Config files missing '/nonexistent/x.conf'."},
		summary: "files an includea, includem or includew names are missing",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "k.conf")
			if err := os.WriteFile(f, []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			status := configTestHost(options{file: f, configID: "h1"}, host, &out)
			if status != tc.status {
				t.Errorf("exit %d, want %d", status, tc.status)
			}
			text := out.String()
			for _, l := range tc.lines {
				if !strings.Contains(text, l) {
					t.Errorf("no %q", l)
				}
			}
			lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, f+": ") || !strings.Contains(last, tc.summary) {
				t.Errorf("summary %q, want %q", last, tc.summary)
			}
			for _, l := range lines[:len(lines)-1] {
				if !labelled(l) {
					t.Errorf("diagnostic without its severity: %q", l)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", text)
			}
		})
	}
}

// labelled reports whether l is "[FILE:LINE: ]severity: message".
func labelled(l string) bool {
	for _, sev := range []string{"error: ", "warning: ", "info: "} {
		if strings.HasPrefix(l, sev) || strings.Contains(l, ": "+sev) {
			return true
		}
	}
	return false
}

func instf(format, body string) string {
	return strings.Replace(format, "%s", body, 1)
}

// TestConfigTestCannotRun: a file vrrpd cannot run at all (missing, a
// directory, executable) fails -t with status 4, where keepalived 2.2.7
// exits with 0 as it runs it as an empty configuration.
func TestConfigTestCannotRun(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "exec.conf")
	if err := os.WriteFile(exe, []byte("! empty\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(dir, "missing.conf"), dir, exe} {
		var out bytes.Buffer
		if status := configTestHost(options{file: f}, testHost{}, &out); status != exitCannotRun {
			t.Errorf("%s: exit %d, want %d\n%s", f, status, exitCannotRun, out.String())
		}
		if !strings.Contains(out.String(), f+": error: ") || !strings.Contains(out.String(), "vrrpd cannot run this file") {
			t.Errorf("%s: output %q", f, out.String())
		}
	}
}
