package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-f", "/x.conf", "-t", "-l", "-D", "--log-json", "-p", "/run/v.pid", "-n",
		"--metrics", ":9100", "--status", ":9101", "-i", "h1", "--data-file", "/d", "--stats-file", "/s"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := options{file: "/x.conf", configTest: true, console: true, debug: true, logJSON: true, pidFile: "/run/v.pid",
		noFork: true, metrics: ":9100", status: ":9101", configID: "h1", dataFile: "/d", statsFile: "/s"}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	o, err = parseFlags([]string{"--config-test"}, &stderr)
	if err != nil || !o.configTest || o.file != "/etc/keepalived/keepalived.conf" ||
		o.dataFile != "/tmp/keepalived.data" || o.statsFile != "/tmp/keepalived.stats" {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"extra"}, &stderr); err == nil {
		t.Error("extra argument accepted")
	}
}

func TestConfigTestAndVersion(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(good, []byte("vrrp_instance V {\n interface eth0\n virtual_router_id 9\n smtp_alert\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("vrrp_instance V {\n interface eth0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"-t", "-f", good}, &stdout, &stderr); code != 0 {
		t.Errorf("good: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), good+":4: ") {
		t.Errorf("good: the warning is not printed as FILE:LINE: message:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := realMain([]string{"--config-test", "-f", bad}, &stdout, &stderr); code == 0 {
		t.Errorf("bad: exit 0")
	}
	if !strings.Contains(stderr.String(), bad+":1: ") {
		t.Errorf("bad: no FILE:LINE: diagnostic:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := realMain([]string{"-t", "-f", filepath.Join(dir, "missing.conf")}, &stdout, &stderr); code == 0 {
		t.Errorf("missing file: exit 0")
	}
	if code := realMain([]string{"-v"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "vrrpd") {
		t.Errorf("-v: exit %d, %q", code, stdout.String())
	}
}

func TestMasterClock(t *testing.T) {
	var m masterClock
	t0 := time.Unix(1000, 0)
	m.transition(vrrp.Transition{Instance: "A", From: vrrp.Backup, To: vrrp.Master, Time: t0})
	m.transition(vrrp.Transition{Instance: "A", From: vrrp.Master, To: vrrp.Backup, Time: t0.Add(3 * time.Second)})
	m.transition(vrrp.Transition{Instance: "A", From: vrrp.Backup, To: vrrp.Master, Time: t0.Add(10 * time.Second)})
	if got := m.seconds("A", t0.Add(12*time.Second)); got != 5 {
		t.Errorf("seconds as master %v, want 5", got)
	}
	if got := m.seconds("B", t0); got != 0 {
		t.Errorf("unknown instance: %v", got)
	}
}
