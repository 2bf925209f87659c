package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// The lines are keepalived 2.2.7's, as measured on its vrrp_notify_fifo
// (TestE2ENotifyFIFO): TYPE "NAME" STATE PRIORITY, 0 for groups.
func TestFIFOLine(t *testing.T) {
	for _, tc := range []struct {
		note notification
		want string
	}{
		{notification{kind: "INSTANCE", name: "VI_1", state: "MASTER", priority: 100}, "INSTANCE \"VI_1\" MASTER 100\n"},
		{notification{kind: "INSTANCE", name: "VI 2", state: "BACKUP", priority: 50}, "INSTANCE \"VI 2\" BACKUP 50\n"},
		{notification{kind: "INSTANCE", name: "VI_1", state: "FAULT", priority: 0}, "INSTANCE \"VI_1\" FAULT 0\n"},
		{notification{kind: "INSTANCE", name: "VI_1", state: "STOP", priority: 100}, "INSTANCE \"VI_1\" STOP 100\n"},
		{notification{kind: "GROUP", name: "G1", state: "MASTER"}, "GROUP \"G1\" MASTER 0\n"},
	} {
		if got := string(fifoLine(tc.note)); got != tc.want {
			t.Errorf("fifoLine(%+v) = %q, want %q", tc.note, got, tc.want)
		}
	}
}

// openReader opens the FIFO at path for reading without waiting.
func openReader(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// readAll reads what the FIFO holds.
func readAll(fd int) string {
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return string(b)
		}
		b = append(b, buf[:n]...)
	}
}

// vrrpd creates a missing FIFO (0600), writes the transitions' lines in
// order, after queuing their scripts, to every FIFO, and removes only the
// FIFO it created at close.
func TestNotifierFIFOs(t *testing.T) {
	dir := t.TempDir()
	created := filepath.Join(dir, "vrrp.fifo")
	existing := filepath.Join(dir, "all.fifo")
	if err := unix.Mkfifo(existing, 0o640); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	n := newNotifier(log, 5*time.Second, netns.None())
	n.fifos = openFIFOs(log, []FIFOConfig{{Kind: "notify_fifo", Path: existing}, {Kind: "vrrp_notify_fifo", Path: created}}, netns.None())
	st, err := os.Lstat(created)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode() != os.ModeNamedPipe|0o600 {
		t.Errorf("created FIFO mode %v, want prw-------", st.Mode())
	}
	rCreated, rExisting := openReader(t, created), openReader(t, existing)
	scripts := NotifyScripts{Any: &health.Script{Path: script}}
	n.notify(notification{kind: "GROUP", name: "G1", state: "BACKUP"})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "BACKUP", priority: 100, scripts: scripts})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "MASTER", priority: 100, scripts: scripts})
	n.notify(notification{kind: "GROUP", name: "G1", state: "MASTER"})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "STOP", priority: 100, scripts: scripts})
	n.notify(notification{kind: "GROUP", name: "G1", state: "STOP"})
	want := "GROUP \"G1\" BACKUP 0\nINSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\nGROUP \"G1\" MASTER 0\nINSTANCE \"VI_1\" STOP 100\nGROUP \"G1\" STOP 0\n"
	if got := readAll(rCreated); got != want {
		t.Errorf("vrrp_notify_fifo got\n%s\nwant\n%s", got, want)
	}
	if got := readAll(rExisting); got != want {
		t.Errorf("notify_fifo got\n%s\nwant\n%s", got, want)
	}
	n.close()
	if b, err := os.ReadFile(out); err != nil || string(b) != "INSTANCE VI_1 BACKUP 100\nINSTANCE VI_1 MASTER 100\nINSTANCE VI_1 STOP 100\n" {
		t.Errorf("notify scripts ran as %q (%v)", b, err)
	}
	if _, err := os.Lstat(created); !os.IsNotExist(err) {
		t.Errorf("the FIFO vrrpd created is still there after close: %v", err)
	}
	if st, err := os.Lstat(existing); err != nil || st.Mode() != os.ModeNamedPipe|0o640 {
		t.Errorf("the FIFO vrrpd found was changed or removed: %v %v", st, err)
	}
}

// A FIFO nobody reads neither blocks vrrpd's open nor its writes: once the
// pipe is full, lines are dropped.
func TestFIFONoReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	log := slog.New(slog.DiscardHandler)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := openFIFOs(log, []FIFOConfig{{Kind: "vrrp_notify_fifo", Path: path}}, netns.None())
		if len(f.open) != 1 {
			t.Error("FIFO not opened")
		}
		line := fifoLine(notification{kind: "INSTANCE", name: strings.Repeat("x", 200), state: "MASTER", priority: 100})
		for range 2000 { // 400 kB, more than a pipe holds
			f.write(line)
		}
		f.close()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writing to a FIFO without a reader blocked")
	}
}

// A path that is not a FIFO, or a missing directory, leaves the FIFO out.
func TestFIFOOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f := openFIFOs(log, []FIFOConfig{
		{Kind: "notify_fifo", Path: file},
		{Kind: "vrrp_notify_fifo", Path: filepath.Join(dir, "no", "f")},
		{Kind: "vrrp_notify_fifo", Path: filepath.Join(dir, "f"), User: "no-such-user-vrrpkit"},
	}, netns.None())
	if len(f.open) != 0 {
		t.Errorf("opened %d FIFOs, want none", len(f.open))
	}
	f.close()
	if _, err := os.Lstat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
		t.Errorf("a FIFO with an unknown owner was created: %v", err)
	}
}

// The FIFO's script starts with the FIFO's path appended as its last
// argument, reads the lines, and is stopped at close.
func TestFIFOScript(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vrrp.fifo")
	args, out := filepath.Join(dir, "args"), filepath.Join(dir, "out")
	script := filepath.Join(dir, "reader.sh")
	body := "#!/bin/sh\nfor a; do last=$a; done\necho \"$*\" > " + args + "\nexec cat \"$last\" > " + out + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	f := openFIFOs(log, []FIFOConfig{{Kind: "vrrp_notify_fifo", Path: path,
		Script: &health.Script{Path: script, Args: []string{"-x"}}}}, netns.None())
	f.write(fifoLine(notification{kind: "INSTANCE", name: "VI_1", state: "BACKUP", priority: 100}))
	f.write(fifoLine(notification{kind: "INSTANCE", name: "VI_1", state: "MASTER", priority: 100}))
	want := "INSTANCE \"VI_1\" BACKUP 100\nINSTANCE \"VI_1\" MASTER 100\n"
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if string(b) == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script read %q, want %q", b, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	f.close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stopping the script took %v", took)
	}
	if b, err := os.ReadFile(args); err != nil || string(b) != "-x "+path+"\n" {
		t.Errorf("script arguments %q (%v), want %q", b, err, "-x "+path)
	}
	nf := f.open
	if nf != nil {
		t.Errorf("FIFOs still open after close")
	}
}

// notifyOrder turns the Router's order of transitions (the member that
// moves first, then the group) into keepalived 2.2.7's, as measured by
// TestE2ENotifyFIFO.
func TestNotifyOrder(t *testing.T) {
	var o notifyOrder
	var got []string
	inst := func(name string, from, to vrrp.State, r vrrp.Reason) {
		g := ""
		if name != "VI_3" {
			g = "G1"
		}
		for _, n := range o.instance(vrrp.Transition{Instance: name, From: from, To: to, Reason: r, Priority: 100}, g,
			notification{kind: "INSTANCE", name: name, state: notifyState(to), priority: 100}) {
			got = append(got, strings.TrimSpace(string(fifoLine(n))))
		}
	}
	group := func(to vrrp.State) {
		for _, n := range o.group(notification{kind: "GROUP", name: "G1", state: notifyState(to)}) {
			got = append(got, strings.TrimSpace(string(fifoLine(n))))
		}
	}
	// What vrrpd's Router reports, in its order.
	inst("VI_1", vrrp.Init, vrrp.Backup, vrrp.ReasonStartup)
	group(vrrp.Backup)
	inst("VI_2", vrrp.Init, vrrp.Backup, vrrp.ReasonStartup)
	inst("VI_3", vrrp.Init, vrrp.Backup, vrrp.ReasonStartup)
	inst("VI_1", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)
	inst("VI_2", vrrp.Backup, vrrp.Master, vrrp.ReasonSync)
	group(vrrp.Master)
	inst("VI_3", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)
	inst("VI_1", vrrp.Master, vrrp.Backup, vrrp.ReasonPreempted)
	inst("VI_2", vrrp.Master, vrrp.Backup, vrrp.ReasonSync)
	group(vrrp.Backup)
	inst("VI_1", vrrp.Backup, vrrp.Master, vrrp.ReasonMasterDown)
	inst("VI_2", vrrp.Backup, vrrp.Master, vrrp.ReasonSync)
	group(vrrp.Master)
	inst("VI_1", vrrp.Master, vrrp.Init, vrrp.ReasonShutdown)
	group(vrrp.Backup)
	inst("VI_2", vrrp.Master, vrrp.Init, vrrp.ReasonShutdown)
	group(vrrp.Init)
	inst("VI_3", vrrp.Master, vrrp.Init, vrrp.ReasonShutdown)
	for _, n := range o.flush() {
		got = append(got, strings.TrimSpace(string(fifoLine(n))))
	}
	// What keepalived 2.2.7 wrote for the same transitions.
	want := []string{
		`GROUP "G1" BACKUP 0`, `INSTANCE "VI_1" BACKUP 100`, `INSTANCE "VI_2" BACKUP 100`, `INSTANCE "VI_3" BACKUP 100`,
		`INSTANCE "VI_2" MASTER 100`, `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" MASTER 0`, `INSTANCE "VI_3" MASTER 100`,
		`INSTANCE "VI_1" BACKUP 100`, `INSTANCE "VI_2" BACKUP 100`, `GROUP "G1" BACKUP 0`,
		`INSTANCE "VI_2" MASTER 100`, `INSTANCE "VI_1" MASTER 100`, `GROUP "G1" MASTER 0`,
		`INSTANCE "VI_1" STOP 100`, `INSTANCE "VI_2" STOP 100`, `INSTANCE "VI_3" STOP 100`, `GROUP "G1" STOP 0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
