package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	vnetns "github.com/vishvananda/netns"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/privnet"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

func TestParseFlags(t *testing.T) {
	var stderr bytes.Buffer
	o, err := parseFlags([]string{"-f", "/x.conf", "-t", "-l", "-D", "--log-json", "-p", "/run/v.pid", "-n",
		"--metrics", ":9100", "--status", ":9101", "-i", "h1", "--data-file", "/d", "--stats-file", "/s", "--vip-lease", "0"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := options{file: "/x.conf", configTest: true, console: true, debug: true, logJSON: true, pidFile: "/run/v.pid",
		noFork: true, metrics: ":9100", status: ":9101", configID: "h1", dataFile: "/d", statsFile: "/s", vipLease: 0}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	o, err = parseFlags([]string{"--config-test"}, &stderr)
	if err != nil || !o.configTest || o.file != "/etc/keepalived/keepalived.conf" ||
		o.dataFile != "/tmp/keepalived.data" || o.statsFile != "/tmp/keepalived.stats" || o.vipLease != vrrp.DefaultVIPLease {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"--vip-lease", "-1s"}, &stderr); err == nil {
		t.Error("a negative lease accepted")
	}
	if _, err := parseFlags([]string{"extra"}, &stderr); err == nil {
		t.Error("extra argument accepted")
	}
}

func TestConfigTestAndVersion(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(good, []byte("vrrp_instance V {\n interface lo\n virtual_router_id 9\n smtp_alert\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("vrrp_instance V {\n interface eth0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"-t", "-f", good}, &stdout, &stderr); code != 0 {
		t.Errorf("good: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), good+":4: warning: ") {
		t.Errorf("good: the warning is not printed as FILE:LINE: warning: message:\n%s", stderr.String())
	}
	stderr.Reset()
	if code := realMain([]string{"--config-test", "-f", bad}, &stdout, &stderr); code == 0 {
		t.Errorf("bad: exit 0")
	}
	if !strings.Contains(stderr.String(), bad+":1: error: ") {
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

func TestNetnsPath(t *testing.T) {
	if p, err := netnsPath(""); p != "" || err != nil {
		t.Errorf(`netnsPath(""): %q, %v`, p, err)
	}
	name := fmt.Sprintf("vrrpkit-%d-missing", os.Getpid())
	if _, err := netnsPath(name); err == nil || !strings.Contains(err.Error(), "ip netns add "+name) {
		t.Errorf("missing namespace: %v", err)
	}
	for _, bad := range []string{"../etc", "a/b", ".."} {
		if _, err := netnsPath(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	dir := t.TempDir()
	saved := netnsDirs
	t.Cleanup(func() { netnsDirs = saved })
	netnsDirs = []string{filepath.Join(dir, "run"), dir}
	if err := os.WriteFile(filepath.Join(dir, "blue"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p, err := netnsPath("blue"); err != nil || p != filepath.Join(dir, "blue") {
		t.Errorf("netnsPath(blue): %q, %v", p, err)
	}
}

// TestRunMissingNamespace: a net_namespace that does not exist stops
// vrrpd before it does anything, as keepalived exits.
// TestRunMissingNamespace runs in a private network namespace: vrrpd must never touch
// the test machine's own interfaces, even if it ran the configuration.
func TestRunMissingNamespace(t *testing.T) { privnet.Run(t, testRunMissingNamespace) }

func testRunMissingNamespace(t *testing.T, _ privnet.Net) {
	f := filepath.Join(t.TempDir(), "ns.conf")
	name := fmt.Sprintf("vrrpkit-%d-missing", os.Getpid())
	if err := os.WriteFile(f, []byte("net_namespace "+name+"\nvrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"-f", f}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "net_namespace "+name+": no such network namespace") {
		t.Errorf("no reason given:\n%s", stderr.String())
	}
}

func TestWaitStartupDelay(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if !waitStartupDelay(context.Background(), 0, log) || buf.Len() != 0 {
		t.Errorf("no delay: waited, or logged %q", buf.String())
	}
	start := time.Now()
	if !waitStartupDelay(context.Background(), 50*time.Millisecond, log) {
		t.Error("delay: reported a stop")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("waited %v, want 50ms", d)
	}
	if !strings.Contains(buf.String(), "Delaying startup for 0.05 seconds") {
		t.Errorf("log:\n%s", buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start = time.Now()
	if waitStartupDelay(ctx, time.Hour, log) {
		t.Error("cancelled: reported the delay over")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled wait took %v", d)
	}
	if !strings.Contains(buf.String(), "Stopped during the startup delay") {
		t.Errorf("log:\n%s", buf.String())
	}
}

// TestStartupDelaySignals runs vrrpd with vrrp_startup_delay 60: SIGHUP
// during the delay reloads the configuration the instances will start
// with (and does not restart the delay), SIGUSR1 dumps it, SIGTERM ends
// vrrpd at once with status 0. The instance's interface does not exist,
// so that nothing could happen if the delay ended early.
// TestStartupDelaySignals runs in a private network namespace: vrrpd must never touch
// the test machine's own interfaces, even if it ran the configuration.
func TestStartupDelaySignals(t *testing.T) { privnet.Run(t, testStartupDelaySignals) }

func testStartupDelaySignals(t *testing.T, _ privnet.Net) {
	if vrrpdErr != nil {
		testenv.Skip(t, "%v", vrrpdErr)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := func(prio int) []byte {
		return fmt.Appendf(nil, "global_defs {\n vrrp_startup_delay 60\n}\nvrrp_instance VI_1 {\n interface vrrpkit-none0\n virtual_router_id 51\n priority %d\n virtual_ipaddress {\n  198.18.0.100/24\n }\n}\n", prio)
	}
	if err := os.WriteFile(conf, text(100), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath, pidPath, dataPath := filepath.Join(dir, "vrrpd.log"), filepath.Join(dir, "vrrpd.pid"), filepath.Join(dir, "keepalived.data")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(vrrpdPath, "-f", conf, "-n", "-l", "-p", pidPath, "--data-file", dataPath,
		"--stats-file", filepath.Join(dir, "keepalived.stats"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("vrrpd logged:\n%s", b)
		}
	})
	logged := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	waitLog := func(s string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(logged(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("vrrpd did not log %q", s)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	signal := func(sig syscall.Signal) {
		t.Helper()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	waitLog("Delaying startup for 60 seconds")

	if err := os.WriteFile(conf, text(150), 0o644); err != nil {
		t.Fatal(err)
	}
	signal(syscall.SIGHUP)
	waitLog("Reload finished")
	signal(syscall.SIGUSR1)
	waitLog("state written")
	if b, _ := os.ReadFile(dataPath); !strings.Contains(string(b), "Base priority = 150") {
		t.Errorf("the reloaded configuration is not the one waiting to start:\n%s", b)
	}

	signal(syscall.SIGTERM)
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("vrrpd stopped with %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("vrrpd did not stop on SIGTERM during the startup delay")
	}
	out := logged()
	if n := strings.Count(out, "Delaying startup"); n != 1 {
		t.Errorf("delayed %d times", n)
	}
	if strings.Contains(out, "Startup delay over") || !strings.Contains(out, "Stopped during the startup delay") {
		t.Errorf("log:\n%s", out)
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
}

// TestLogJSON: with --log-json every line is a JSON object from log/slog,
// and the diagnostics keep keepalived's FILE:LINE: message.
// TestLogJSON runs in a private network namespace: vrrpd must never touch
// the test machine's own interfaces, even if it ran the configuration.
func TestLogJSON(t *testing.T) { privnet.Run(t, testLogJSON) }

func testLogJSON(t *testing.T, _ privnet.Net) {
	// A configuration vrrpd refuses: it must never run in the test's
	// own namespace.
	f := filepath.Join(t.TempDir(), "refused.conf")
	if err := os.WriteFile(f, []byte("global_defs {\n vrrp_garp_extra_if 10\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n smtp_alert\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"--log-json", "-f", f}, &stdout, &stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var warn, diagErr, stopped bool
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		level, _ := rec["level"].(string)
		if _, ok := rec["time"].(string); !ok || msg == "" || level == "" {
			t.Errorf("record without time, level or msg: %q", line)
		}
		switch {
		case level == "WARN" && strings.HasPrefix(msg, f+":7: keyword smtp_alert has no effect here"):
			warn = true
		case level == "ERROR" && strings.HasPrefix(msg, f+":2: vrrp_garp_extra_if is not supported"):
			diagErr = true
		case level == "ERROR" && msg == "vrrpd stopped":
			e, _ := rec["err"].(string)
			stopped = strings.Contains(e, "loading "+f)
		}
	}
	if !warn || !diagErr || !stopped {
		t.Errorf("warning %v, error %v, stop %v in:\n%s", warn, diagErr, stopped, stderr.String())
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReloadKeepsFailingCheck reloads a daemon on the fake segment whose
// instance is in FAULT by a failing vrrp_script: an unchanged script keeps
// it there with no transition; so does a changed one, which starts fresh
// but whose first result (a failure) decides its state at once.
func TestReloadKeepsFailingCheck(t *testing.T) {
	falseBin, err := exec.LookPath("false")
	if err != nil {
		testenv.Skip(t, "no false(1): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := func(interval int) []byte {
		return fmt.Appendf(nil, "vrrp_script chk {\n script %q\n interval %d\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  198.18.0.100/24\n }\n track_script {\n  chk\n }\n}\n", falseBin, interval)
	}
	if err := os.WriteFile(conf, text(1), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	o := options{file: conf, configID: "h1"}
	cfg, diags, err := load(o)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, diags)
	}
	seg := fake.NewSegment(fake.SegmentConfig{})
	host := seg.NewHost("h1", netip.MustParseAddr("198.18.0.1"))
	var (
		mu          sync.Mutex
		transitions []vrrp.Transition
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(transitions)
	}
	d := &daemon{opts: o, log: log, cfg: cfg, notifier: newNotifier(log, time.Second, vnetns.None())}
	defer d.notifier.close()
	r, err := vrrp.NewRouter(vrrp.Config{Instances: cfg.Instances, SyncGroups: cfg.SyncGroups, Transport: host,
		OnTransition: func(tr vrrp.Transition) {
			mu.Lock()
			transitions = append(transitions, tr)
			mu.Unlock()
			d.onTransition(tr)
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.router = r
	ctx, cancel := context.WithCancel(context.Background())
	tracker := cfg.tracker(r, log)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if err := validateHealth(cfg, r); err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := tracker.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer wg.Done()
		_ = r.Run(ctx)
	}()
	state := func() vrrp.State {
		st, _ := r.InstanceStatus("VI_1")
		return st.State
	}
	waitUntil(t, "FAULT", func() bool { return state() == vrrp.Fault })

	if err := os.WriteFile(conf, append([]byte("# reloaded\n"), text(1)...), 0o644); err != nil {
		t.Fatal(err)
	}
	n := count()
	d.reload(ctx, tracker)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if s := state(); s != vrrp.Fault {
			t.Fatalf("the reload took VI_1 out of FAULT (%v)", s)
		}
	}
	if got := count(); got != n {
		t.Errorf("the reload caused %d transitions", got-n)
	}

	// Another interval: a new check, failed from its first result.
	if err := os.WriteFile(conf, text(2), 0o644); err != nil {
		t.Fatal(err)
	}
	d.reload(ctx, tracker)
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if s := state(); s != vrrp.Fault {
			t.Fatalf("the changed check took VI_1 out of FAULT (%v)", s)
		}
	}
	if got := count(); got != n {
		t.Errorf("the changed check caused %d transitions", got-n)
	}
}

// TestNetNamespace runs vrrpd in one lab host with net_namespace naming
// another: the VIP comes up in that namespace and not in vrrpd's own, and
// its vrrp_script, which passes only inside that namespace, runs there
// (else the instance would be in FAULT, without the VIP). A graceful stop
// removes the VIP there.
func TestNetNamespace(t *testing.T) {
	lab := netns.New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	var st syscall.Stat_t
	if err := syscall.Stat(h1.Path(), &st); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "in-h1.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, "#!/bin/sh\n[ \"$(readlink /proc/self/ns/net)\" = \"net:[%d]\" ]\n", st.Ino), 0o755); err != nil {
		t.Fatal(err)
	}
	// The notify script records the namespace it ran in.
	marker := filepath.Join(t.TempDir(), "notify-ns")
	notify := filepath.Join(t.TempDir(), "notify.sh")
	if err := os.WriteFile(notify, fmt.Appendf(nil, "#!/bin/sh\nreadlink /proc/self/ns/net > %[1]s.tmp && mv %[1]s.tmp %[1]s\n", marker), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`net_namespace %s
vrrp_script in_h1 {
  script %q
  interval 1
}
vrrp_instance VI_1 {
  interface %s
  virtual_router_id 51
  priority 200
  advert_int 1
  virtual_ipaddress {
    %s
  }
  track_script {
    in_h1
  }
  notify_master %q
}
`, h1.Name, script, netns.Iface, e2eVIP, notify)
	p := startPeer(t, "vrrpd", h2, conf)
	h1.WaitAddr(t, e2eVIP.Addr(), 15*time.Second)
	if hasVIP(t, h2) {
		t.Fatal("the VIP is in vrrpd's own namespace")
	}
	if !strings.Contains(p.log(), "Running in network namespace "+h1.Name) {
		t.Errorf("no namespace in the log:\n%s", p.log())
	}
	netns.WaitFor(t, 10*time.Second, "the notify_master script", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	if b, _ := os.ReadFile(marker); strings.TrimSpace(string(b)) != fmt.Sprintf("net:[%d]", st.Ino) {
		t.Errorf("notify_master ran in namespace %q, want net:[%d] (%s)", strings.TrimSpace(string(b)), st.Ino, h1.Name)
	}
	p.stop()
	h1.WaitNoAddr(t, e2eVIP.Addr(), 5*time.Second)
}
