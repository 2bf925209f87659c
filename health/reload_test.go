package health_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
)

// settingCheck is a checker with a setting (Name, exported) and state
// (unexported): two with the same Name have the same settings. It fails
// while down is set, and counts its probes.
type settingCheck struct {
	Name   string
	down   *atomic.Bool
	probes *atomic.Int64
}

func newSettingCheck(name string, down *atomic.Bool) *settingCheck {
	return &settingCheck{Name: name, down: down, probes: new(atomic.Int64)}
}

func (s *settingCheck) Check(context.Context) error {
	s.probes.Add(1)
	if s.down.Load() {
		return errDown
	}
	return nil
}

// reloadTracker reloads tr, failing the test on error.
func reloadTracker(t *testing.T, tr *health.Tracker, cfg health.TrackerConfig) {
	t.Helper()
	if err := tr.Reload(context.Background(), cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
}

// A reload keeps a check with the same name and settings running with its
// state, and gives that state at once to the instances that track it now;
// a changed check starts afresh (its first result decides); a removed one
// stops and what it gave is taken back. An invalid configuration changes
// nothing.
func TestTrackerReloadChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := new(atomic.Bool)
		down.Store(true)
		target := newRecordingTarget()
		cfg := func(c *settingCheck, interval time.Duration, tracks map[string][]health.Track) health.TrackerConfig {
			return health.TrackerConfig{
				Checks: []health.Check{{Name: "chk", Checker: c, Interval: interval, Rise: 2, Fall: 1}},
				Tracks: tracks,
			}
		}
		weight0 := map[string][]health.Track{"VI_1": {{Check: "chk"}}}
		c1 := newSettingCheck("svc", down)
		c := cfg(c1, time.Second, weight0)
		tr := &health.Tracker{Target: target, Checks: c.Checks, Tracks: c.Tracks}
		stop := runTracker(t, tr)
		defer stop()
		synctest.Wait()
		sameCalls(t, "start", target.take(), []string{"+0s VI_1 check:chk fault=true", "+0s VI_1 check:chk delta=0"})

		// The same settings (another checker value): the running check
		// goes on, still failed, its state given again; the new checker
		// value is never probed.
		time.Sleep(1500 * time.Millisecond)
		c2 := newSettingCheck("svc", down)
		reloadTracker(t, tr, cfg(c2, time.Second, weight0))
		sameCalls(t, "same check", target.take(), []string{"+1.5s VI_1 check:chk fault=true", "+1.5s VI_1 check:chk delta=0"})
		before := c1.probes.Load()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c1.probes.Load() != before+2 || c2.probes.Load() != 0 {
			t.Errorf("probes: kept checker %d -> %d, new one %d: the check was restarted", before, c1.probes.Load(), c2.probes.Load())
		}
		sameCalls(t, "kept, failing", target.take(), nil)

		// Other tracks: applied at once from the kept state (down: -20
		// for VI_1, nothing for VI_2's positive weight), not from a fresh
		// start.
		tracks := map[string][]health.Track{"VI_1": {{Check: "chk", Weight: -20}}, "VI_2": {{Check: "chk", Weight: 10}}}
		reloadTracker(t, tr, cfg(newSettingCheck("svc", down), time.Second, tracks))
		sameCalls(t, "new tracks", target.take(), []string{
			"+3.5s VI_1 check:chk delta=-20", "+3.5s VI_1 check:chk fault=false",
			"+3.5s VI_2 check:chk delta=0", "+3.5s VI_2 check:chk fault=false",
		})

		// Another interval: a new check, whose first result (down) is
		// given at once; the old checker stops.
		c4 := newSettingCheck("svc", down)
		n1 := c1.probes.Load()
		reloadTracker(t, tr, cfg(c4, 2*time.Second, tracks))
		synctest.Wait()
		sameCalls(t, "changed check", target.take(), []string{
			"+3.5s VI_1 check:chk delta=-20", "+3.5s VI_1 check:chk fault=false",
			"+3.5s VI_2 check:chk delta=0", "+3.5s VI_2 check:chk fault=false",
		})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if c1.probes.Load() != n1 || c4.probes.Load() != 2 {
			t.Errorf("probes: old checker %d -> %d, changed one %d (want 2)", n1, c1.probes.Load(), c4.probes.Load())
		}
		down.Store(false)
		time.Sleep(4 * time.Second) // Rise 2: up at the second success (probes at 7.5 and 9.5 s)
		synctest.Wait()
		sameCalls(t, "rise", target.take(), []string{
			"+9.5s VI_1 check:chk delta=0", "+9.5s VI_1 check:chk fault=false",
			"+9.5s VI_2 check:chk delta=10", "+9.5s VI_2 check:chk fault=false",
		})

		// Invalid: nothing changes.
		bad := cfg(c4, 2*time.Second, map[string][]health.Track{"VI_1": {{Check: "nope"}}})
		if err := tr.Reload(context.Background(), bad); !errors.Is(err, health.ErrCheck) {
			t.Errorf("invalid Reload: %v", err)
		}
		sameCalls(t, "invalid", target.take(), nil)

		// VI_2 no longer tracks it: its effect is taken back.
		reloadTracker(t, tr, cfg(c4, 2*time.Second, map[string][]health.Track{"VI_1": {{Check: "chk", Weight: -20}}}))
		sameCalls(t, "untracked", target.take(), []string{
			"+10.5s VI_2 check:chk delta=0", "+10.5s VI_2 check:chk fault=false",
			"+10.5s VI_1 check:chk delta=0", "+10.5s VI_1 check:chk fault=false",
		})

		// Removed: stopped, its effects taken back.
		down.Store(true)
		reloadTracker(t, tr, health.TrackerConfig{})
		sameCalls(t, "removed", target.take(), []string{"+10.5s VI_1 check:chk delta=0", "+10.5s VI_1 check:chk fault=false"})
		n4 := c4.probes.Load()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if c4.probes.Load() != n4 {
			t.Error("the removed check still runs")
		}
		sameCalls(t, "after removal", target.take(), nil)
	})
}

// A reload keeps reading a track file with the same settings and gives
// its last value again to the instances that track it now; a changed
// file is read afresh; neither is overwritten by init_file at a reload,
// as keepalived does not; an untracked one is taken back.
func TestTrackerReloadFiles(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		p := filepath.Join(dir, "tf")
		write := func(s string) {
			t.Helper()
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		content := func() string {
			b, _ := os.ReadFile(p)
			return strings.TrimSpace(string(b))
		}
		target := newRecordingTarget()
		file := health.File{Name: "tf", Path: p, Weight: 1, Interval: time.Second, Init: true, InitValue: 5, Overwrite: true}
		cfg := func(f health.File, weight *int) health.TrackerConfig {
			return health.TrackerConfig{Files: []health.File{f},
				FileTracks: map[string][]health.FileTrack{"VI_1": {{File: "tf", Weight: weight}}}}
		}
		write("3\n")
		c := cfg(file, nil)
		tr := &health.Tracker{Target: target, Files: c.Files, FileTracks: c.FileTracks}
		defer runTracker(t, tr)()
		synctest.Wait()
		sameCalls(t, "start (overwritten)", target.take(), []string{"+0s VI_1 file:tf delta=5", "+0s VI_1 file:tf fault=false"})
		write("7\n")
		time.Sleep(1500 * time.Millisecond)
		sameCalls(t, "7", target.take(), []string{"+1s VI_1 file:tf delta=7", "+1s VI_1 file:tf fault=false"})

		reloadTracker(t, tr, cfg(file, nil))
		if got := content(); got != "7" {
			t.Errorf("the reload overwrote the file: %q", got)
		}
		sameCalls(t, "same file", target.take(), []string{"+1.5s VI_1 file:tf delta=7", "+1.5s VI_1 file:tf fault=false"})
		time.Sleep(2 * time.Second)
		sameCalls(t, "same file, later", target.take(), nil)

		two := 2
		reloadTracker(t, tr, cfg(file, &two))
		sameCalls(t, "weight 2", target.take(), []string{"+3.5s VI_1 file:tf delta=14", "+3.5s VI_1 file:tf fault=false"})

		// Changed (another interval): read afresh, not overwritten.
		write("-200\n")
		changed := file
		changed.Interval = 2 * time.Second
		reloadTracker(t, tr, cfg(changed, &two))
		synctest.Wait()
		if got := content(); got != "-200" {
			t.Errorf("the reload overwrote the file: %q", got)
		}
		calls := target.take()
		if want := []string{"+3.5s VI_1 file:tf fault=true", "+3.5s VI_1 file:tf delta=0"}; !slices.Equal(calls[len(calls)-2:], want) {
			t.Errorf("changed file: %q, want it read afresh, ending with %q", calls, want)
		}

		reloadTracker(t, tr, health.TrackerConfig{Files: []health.File{changed}})
		sameCalls(t, "untracked", target.take(), []string{"+3.5s VI_1 file:tf delta=0", "+3.5s VI_1 file:tf fault=false"})
		write("9\n")
		time.Sleep(3 * time.Second)
		sameCalls(t, "untracked, later", target.take(), nil)
	})
}

// A Reload before Run sets what Run starts with, as does one after Run
// has returned; Run refuses to run twice at once.
func TestTrackerReloadOutsideRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := newRecordingTarget()
		down := new(atomic.Bool)
		down.Store(true)
		tr := &health.Tracker{Target: target}
		reloadTracker(t, tr, health.TrackerConfig{
			Checks: []health.Check{{Name: "a", Checker: newSettingCheck("a", down)}},
			Tracks: map[string][]health.Track{"VI_1": {{Check: "a", Weight: -5}}},
		})
		stop := runTracker(t, tr)
		synctest.Wait()
		if err := tr.Run(context.Background()); err == nil {
			t.Error("a second Run ran beside the first")
		}
		stop()
		sameCalls(t, "first run", target.take(), []string{"+0s VI_1 check:a delta=-5", "+0s VI_1 check:a fault=false"})

		reloadTracker(t, tr, health.TrackerConfig{
			Checks: []health.Check{{Name: "b", Checker: newSettingCheck("b", down)}},
			Tracks: map[string][]health.Track{"VI_2": {{Check: "b"}}},
		})
		defer runTracker(t, tr)()
		synctest.Wait()
		sameCalls(t, "second run", target.take(), []string{"+0s VI_2 check:b fault=true", "+0s VI_2 check:b delta=0"})
	})
}

// runnerCheck is a checker that is a Runner; it counts its Runs.
type runnerCheck struct {
	Name    string
	running *atomic.Int32
	starts  *atomic.Int32
}

func (r *runnerCheck) Check(context.Context) error { return nil }

func (r *runnerCheck) Run(ctx context.Context) error {
	r.starts.Add(1)
	r.running.Add(1)
	defer r.running.Add(-1)
	<-ctx.Done()
	return nil
}

// A checker that is a Runner runs once for all the checks that share it,
// for as long as one of them runs: a reload that keeps one keeps it.
func TestTrackerReloadRunners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &runnerCheck{Name: "eth0", running: new(atomic.Int32), starts: new(atomic.Int32)}
		checks := []health.Check{{Name: "a", Checker: rc}, {Name: "b", Checker: rc}}
		both := map[string][]health.Track{"VI_1": {{Check: "a"}, {Check: "b"}}}
		tr := &health.Tracker{Target: newRecordingTarget(), Checks: checks, Tracks: both}
		defer runTracker(t, tr)()
		synctest.Wait()
		if r, s := rc.running.Load(), rc.starts.Load(); r != 1 || s != 1 {
			t.Fatalf("%d running, %d started; want one", r, s)
		}
		reloadTracker(t, tr, health.TrackerConfig{Checks: checks, Tracks: map[string][]health.Track{"VI_1": {{Check: "b"}}}})
		synctest.Wait()
		if r, s := rc.running.Load(), rc.starts.Load(); r != 1 || s != 1 {
			t.Errorf("with b left: %d running, %d started; want the first one", r, s)
		}
		reloadTracker(t, tr, health.TrackerConfig{Checks: checks})
		synctest.Wait()
		if r := rc.running.Load(); r != 0 {
			t.Errorf("with no check tracked: %d running", r)
		}
	})
}

// WrapProbe runs every probe, with its check.
func TestTrackerWrapProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		target := newRecordingTarget()
		var seen atomic.Value
		tr := &health.Tracker{
			Target: target,
			Checks: []health.Check{{Name: "a", Checker: newSettingCheck("a", new(atomic.Bool))}},
			Tracks: map[string][]health.Track{"VI_1": {{Check: "a"}}},
			WrapProbe: func(ctx context.Context, c health.Check, probe func(context.Context) error) error {
				seen.Store(c.Name)
				if err := probe(ctx); err != nil {
					return err
				}
				return errors.New("wrapped: down")
			},
		}
		defer runTracker(t, tr)()
		synctest.Wait()
		if seen.Load() != "a" {
			t.Errorf("WrapProbe saw %v", seen.Load())
		}
		sameCalls(t, "wrapped", target.take(), []string{"+0s VI_1 check:a fault=true", "+0s VI_1 check:a delta=0"})
	})
}
