package health_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// The effect of a track file's value, after keepalived's
// update_track_file_status and process_update_vrrp_track_file_status.
func TestFileEffect(t *testing.T) {
	cases := []struct {
		value   int64
		weight  int
		reverse bool
		delta   int
		fault   bool
	}{
		// Weight 0: a flag, non-zero is a fault (zero with reverse).
		{0, 0, false, 0, false},
		{5, 0, false, 0, true},
		{-1, 0, false, 0, true},
		{0, 0, true, 0, true},
		{3, 0, true, 0, false},
		// Otherwise value × weight, negated with reverse.
		{5, 10, false, 50, false},
		{5, -10, false, -50, false},
		{-5, 10, true, 50, false},
		{5, 10, true, -50, false},
		{1, 1, false, 1, false},
		// At most 253.
		{30, 10, false, 253, false},
		{253, 1, false, 253, false},
		{254, 1, false, 253, false},
		{2147483648, 254, false, 253, false},
		// -254 or less is a fault, with no delta.
		{-253, 1, false, -253, false},
		{-25, 10, false, -250, false},
		{-254, 1, false, 0, true},
		{-26, 10, false, 0, true},
		{1, -254, false, 0, true},
		{-1, 254, false, 0, true},
		{-2147483648, 254, false, 0, true},
		{2147483648, 1, true, 0, true},
	}
	for _, c := range cases {
		delta, fault := health.FileEffect(c.value, c.weight, c.reverse)
		if delta != c.delta || fault != c.fault {
			t.Errorf("FileEffect(%d, %d, %v) = %d, %v; want %d, %v", c.value, c.weight, c.reverse, delta, fault, c.delta, c.fault)
		}
	}
}

// Read parses as C's strtol(buf, NULL, 0) on the first 127 bytes (the
// expectations were checked against glibc's strtol).
func TestFileRead(t *testing.T) {
	dir := t.TempDir()
	const (
		ok = iota
		junk
		ignored
	)
	cases := []struct {
		content string
		value   int64
		outcome int
	}{
		{"42\n", 42, ok},
		{"  -7", -7, ok},
		{"\t\v\f\r 9", 9, ok},
		{"+5", 5, ok},
		{"0x1f", 31, ok},
		{"0X1F", 31, ok},
		{"-0x10", -16, ok},
		{"010", 8, ok},
		{"08", 0, ok},
		{"0x", 0, ok},
		{"0xg", 0, ok},
		{"12abc", 12, ok},
		{"1e3", 1, ok},
		{"3.9", 3, ok},
		{"2147483648", 2147483648, ok},
		{"-2147483648", -2147483648, ok},
		{"", 0, ok},
		{"\n", 0, ok},
		{strings.Repeat(" ", 127) + "5", 0, ok}, // only 127 bytes are read
		{"5\x00junk", 5, ok},
		{"abc", 0, junk},
		{"- 5", 0, junk},
		{"+-5", 0, junk},
		{"\x00 5", 0, ok}, // an empty C string
		{"2147483649", 0, ignored},
		{"-2147483649", 0, ignored},
		{"99999999999999999999", 0, ignored},
		{"-99999999999999999999", 0, ignored},
	}
	for i, c := range cases {
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		v, err := health.File{Name: "f", Path: p}.Read()
		if v != c.value {
			t.Errorf("%q: value %d, want %d", c.content, v, c.value)
		}
		switch c.outcome {
		case ok:
			if err != nil {
				t.Errorf("%q: %v", c.content, err)
			}
		case junk:
			if err == nil || errors.Is(err, health.ErrFileValue) || !strings.Contains(err.Error(), "no number") {
				t.Errorf("%q: error %v, want no number", c.content, err)
			}
		case ignored:
			if !errors.Is(err, health.ErrFileValue) {
				t.Errorf("%q: error %v, want ErrFileValue", c.content, err)
			}
		}
	}
	v, err := health.File{Name: "f", Path: filepath.Join(dir, "missing")}.Read()
	if v != 0 || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %d, %v", v, err)
	}
	v, err = health.File{Name: "f", Path: dir}.Read()
	if v != 0 || err == nil || errors.Is(err, health.ErrFileValue) {
		t.Errorf("a directory: %d, %v", v, err)
	}
}

// init_file: create with the value when missing; overwrite only when asked
// and only a regular file.
func TestFileInitialize(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "prio")
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	f := health.File{Name: "f", Path: p, Weight: 1}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("without Init the file was created: %v", err)
	}
	f.Init, f.InitValue = true, -7
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "-7\n" {
		t.Errorf("created %q", got)
	}
	if err := os.WriteFile(p, []byte("42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "42\n" {
		t.Errorf("an existing file was overwritten without Overwrite: %q", got)
	}
	f.Overwrite = true
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "-7\n" {
		t.Errorf("Overwrite wrote %q", got)
	}
	for _, bad := range []string{dir, filepath.Join(dir, "link")} {
		if bad != dir {
			if err := os.Symlink(p, bad); err != nil {
				t.Fatal(err)
			}
		}
		g := f
		g.Path = bad
		if err := g.Initialize(); !errors.Is(err, health.ErrCheck) {
			t.Errorf("overwriting %s: %v", bad, err)
		}
	}
	g := f
	g.Path = filepath.Join(dir, "no-such-dir", "prio")
	if err := g.Initialize(); err == nil {
		t.Error("initialising in a missing directory succeeded")
	}
}

func TestFileValidate(t *testing.T) {
	for _, f := range []health.File{
		{Path: "/x"},
		{Name: "f"},
		{Name: "f", Path: "/x", Weight: 255},
		{Name: "f", Path: "/x", Weight: -255},
		{Name: "f", Path: "/x", Interval: -1},
		{Name: "f", Path: "/x", InitValue: 1 << 40},
	} {
		if err := f.Validate(); !errors.Is(err, health.ErrCheck) {
			t.Errorf("Validate(%+v) = %v", f, err)
		}
	}
	good := health.File{Name: "f", Path: "/x", Weight: -254}
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
	for _, tr := range []*health.Tracker{
		{Target: nopTarget{}, Files: []health.File{good, good}},
		{Target: nopTarget{}, Files: []health.File{good}, FileTracks: map[string][]health.FileTrack{"VI_1": {{File: "g"}}}},
		{Target: nopTarget{}, Files: []health.File{good}, FileTracks: map[string][]health.FileTrack{"VI_1": {{File: "f"}, {File: "f"}}}},
		{Target: nopTarget{}, Files: []health.File{good}, FileTracks: map[string][]health.FileTrack{"VI_1": {{File: "f", Weight: new(300)}}}},
	} {
		if err := tr.Validate(); !errors.Is(err, health.ErrCheck) {
			t.Errorf("Validate(%+v) = %v", tr, err)
		}
	}
	tr := health.Tracker{Target: nopTarget{}, Files: []health.File{good}, FileTracks: map[string][]health.FileTrack{"VI_1": {{File: "f", Weight: new(254)}}}}
	if err := tr.Validate(); err != nil {
		t.Error(err)
	}
}

// nopTarget is a Target that does nothing.
type nopTarget struct{}

func (nopTarget) SetTrack(string, vrrp.TrackState) error    { return nil }
func (nopTarget) Await(string, string, time.Duration) error { return nil }

// call is one call a recordingTarget received.
type call struct {
	at       time.Duration // since the test's start
	instance string
	source   string
	fault    bool // a SetFault call, else AdjustPriority
	on       bool
	delta    int
}

func (c call) String() string {
	if c.fault {
		return fmt.Sprintf("+%v %s %s fault=%v", c.at, c.instance, c.source, c.on)
	}
	return fmt.Sprintf("+%v %s %s delta=%d", c.at, c.instance, c.source, c.delta)
}

// recordingTarget is a Target that records its calls.
type recordingTarget struct {
	start    time.Time
	noWeight map[string]bool // instances in a sync group without weights
	mu       sync.Mutex
	calls    []call
}

func newRecordingTarget() *recordingTarget { return &recordingTarget{start: time.Now()} }

func (r *recordingTarget) add(c call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.at = time.Since(r.start)
	r.calls = append(r.calls, c)
	return nil
}

// SetTrack records what the Router makes of ts (vrrp.TrackState.Effect),
// as the calls that would set it one at a time: a fault raised before the
// delta, or cleared after it.
func (r *recordingTarget) SetTrack(instance string, ts vrrp.TrackState) error {
	delta, fault := ts.Effect(!r.noWeight[instance])
	if fault {
		_ = r.add(call{instance: instance, source: ts.Source, fault: true, on: true})
	}
	_ = r.add(call{instance: instance, source: ts.Source, delta: delta})
	if !fault {
		_ = r.add(call{instance: instance, source: ts.Source, fault: true, on: false})
	}
	return nil
}

// Await records nothing: the tests look at results.
func (r *recordingTarget) Await(string, string, time.Duration) error { return nil }

// take returns the calls recorded since the last take, as strings.
func (r *recordingTarget) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, c.String())
	}
	r.calls = nil
	return out
}

func sameCalls(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// runTracker starts tr.Run and returns a function that stops it and
// checks that it returned nil.
func runTracker(t *testing.T, tr *health.Tracker) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Tracker.Run: %v", err)
		}
	}
}

// A Tracker reads its files on its clock and moves each tracking instance
// by its own weight, faulting at -254 and below.
func TestTrackerFiles(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		p := filepath.Join(dir, "prio")
		write := func(s string) {
			t.Helper()
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		target := newRecordingTarget()
		target.noWeight = map[string]bool{"VI_SYNC": true}
		tr := &health.Tracker{
			Target: target,
			Files: []health.File{
				{Name: "prio", Path: p, Weight: 10, Interval: time.Second, Init: true, InitValue: 2},
				{Name: "unused", Path: filepath.Join(dir, "unused"), Init: true},
			},
			FileTracks: map[string][]health.FileTrack{
				"VI_A":    {{File: "prio"}},                                      // weight 10
				"VI_B":    {{File: "prio", Weight: new(-1), Reverse: new(true)}}, // value × 1
				"VI_FLAG": {{File: "prio", Weight: new(0)}},                      // non-zero is a fault
				"VI_SYNC": {{File: "prio"}},                                      // weights off: a flag
				"VI_REV":  {{File: "prio", Weight: new(0), Reverse: new(true)}},  // zero is a fault
			},
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		}
		stop := runTracker(t, tr)
		synctest.Wait()
		// init_file wrote 2; it is applied to everyone at once.
		sameCalls(t, "start", target.take(), []string{
			"+0s VI_A file:prio delta=20", "+0s VI_A file:prio fault=false",
			"+0s VI_B file:prio delta=2", "+0s VI_B file:prio fault=false",
			"+0s VI_FLAG file:prio fault=true", "+0s VI_FLAG file:prio delta=0",
			"+0s VI_REV file:prio delta=0", "+0s VI_REV file:prio fault=false",
			"+0s VI_SYNC file:prio fault=true", "+0s VI_SYNC file:prio delta=0",
		})
		if _, err := os.Stat(filepath.Join(dir, "unused")); err == nil {
			t.Error("a file nothing tracks was initialised")
		}

		// Nothing changes, nothing is applied.
		time.Sleep(2500 * time.Millisecond)
		sameCalls(t, "steady", target.take(), nil)

		// -30: VI_A at -300 faults (its delta goes after the fault),
		// VI_B gets -30 × -1 × -1. VI_SYNC, whose weight the sync group
		// turns off, is given its fault again: its weighted value changed,
		// and what that means for it is decided in one place, at apply.
		write("-30\n")
		time.Sleep(time.Second)
		synctest.Wait()
		sameCalls(t, "-30", target.take(), []string{
			"+3s VI_A file:prio fault=true", "+3s VI_A file:prio delta=0",
			"+3s VI_B file:prio delta=-30", "+3s VI_B file:prio fault=false",
			"+3s VI_SYNC file:prio fault=true", "+3s VI_SYNC file:prio delta=0",
		})

		// Junk counts as 0: VI_A recovers with its delta set first.
		write("junk")
		time.Sleep(time.Second)
		synctest.Wait()
		sameCalls(t, "junk", target.take(), []string{
			"+4s VI_A file:prio delta=0", "+4s VI_A file:prio fault=false",
			"+4s VI_B file:prio delta=0", "+4s VI_B file:prio fault=false",
			"+4s VI_FLAG file:prio delta=0", "+4s VI_FLAG file:prio fault=false",
			"+4s VI_REV file:prio fault=true", "+4s VI_REV file:prio delta=0",
			"+4s VI_SYNC file:prio delta=0", "+4s VI_SYNC file:prio fault=false",
		})

		// A number beyond 32 bits is ignored, the value stays.
		write("7\n")
		time.Sleep(time.Second)
		synctest.Wait()
		target.take()
		write("99999999999\n")
		time.Sleep(3 * time.Second)
		synctest.Wait()
		sameCalls(t, "out of range", target.take(), nil)

		// A missing file counts as 0.
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := target.take(); len(got) != 10 || !strings.Contains(strings.Join(got, " "), "+9s VI_A file:prio delta=0") {
			t.Errorf("missing file:\n\t%s", strings.Join(got, "\n\t"))
		}
		stop()

		log := logs.String()
		for _, want := range []string{"holds no number", "(ignored)", "no such file", "value 0 -> 7", "readable again"} {
			if !strings.Contains(log, want) {
				t.Errorf("the log does not say %q:\n%s", want, log)
			}
		}
		// Each problem is said once, however often it is read.
		if n := strings.Count(log, "(ignored)"); n != 1 {
			t.Errorf("the out-of-range value was logged %d times:\n%s", n, log)
		}
	})
}
