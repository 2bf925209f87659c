package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/health"

	"github.com/vishvananda/netns"
)

// Notify scripts run in the order of the transitions, the state's own
// script first, and notify with keepalived's arguments TYPE NAME STATE
// PRIORITY.
func TestNotifierOrderAndArguments(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	script := filepath.Join(dir, "note.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tag := func(args ...string) *health.Script { return &health.Script{Path: script, Args: args} }
	scripts := NotifyScripts{Master: tag("own-master"), Backup: tag("own-backup"), Fault: tag("own-fault"), Any: tag()}
	n := newNotifier(slog.New(slog.DiscardHandler), 5*time.Second, netns.None())
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "BACKUP", priority: 100, scripts: scripts})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "MASTER", priority: 100, scripts: scripts})
	n.notify(notification{kind: "GROUP", name: "G", state: "FAULT", priority: 0, scripts: scripts})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "STOP", priority: 100, scripts: scripts})
	n.close()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"own-backup", "INSTANCE VI_1 BACKUP 100",
		"own-master", "INSTANCE VI_1 MASTER 100",
		"own-fault", "GROUP G FAULT 0",
		"INSTANCE VI_1 STOP 100",
	}, "\n") + "\n"
	if string(b) != want {
		t.Errorf("scripts ran as\n%s\nwant\n%s", b, want)
	}
}

// A script that hangs is killed at the timeout and the next one still runs.
func TestNotifierTimeout(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	hang := filepath.Join(dir, "hang.sh")
	ok := filepath.Join(dir, "ok.sh")
	if err := os.WriteFile(hang, []byte("#!/bin/sh\nsleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ok, []byte("#!/bin/sh\necho done >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := newNotifier(slog.New(slog.DiscardHandler), 200*time.Millisecond, netns.None())
	start := time.Now()
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "MASTER", scripts: NotifyScripts{Master: &health.Script{Path: hang, KillDelay: -1}}})
	n.notify(notification{kind: "INSTANCE", name: "VI_1", state: "BACKUP", scripts: NotifyScripts{Backup: &health.Script{Path: ok}}})
	n.close()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a hanging script held the queue for %v", took)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "done\n" {
		t.Errorf("the script after the hanging one: %q, %v", b, err)
	}
}
