package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Track is one check an instance tracks, with keepalived's weight rules:
// a positive weight is added to the priority while the check is up, a
// negative one while it is down, and weight 0 puts the instance in FAULT
// while it is down. Reverse swaps up and down. The Router clamps the result
// to 1-254 and never changes an address owner (priority 255).
type Track struct {
	// Check names a Check of the Tracker.
	Check string
	// Weight is -253 to 253.
	Weight int
	// Reverse inverts the check's state.
	Reverse bool
}

// Effect returns what the check being up (or not) means for the instance:
// a priority delta, or a fault.
func (t Track) Effect(up bool) (delta int, fault bool) {
	if t.Reverse {
		up = !up
	}
	switch {
	case t.Weight == 0:
		return 0, !up
	case t.Weight > 0 && up, t.Weight < 0 && !up:
		return t.Weight, false
	}
	return 0, false
}

// state returns what the check being up (or not) says about an instance
// tracking it with t, under source: keepalived's weight rules above,
// before the sync group rule (see apply).
func (t Track) state(source string, up bool) vrrp.TrackState {
	up = up != t.Reverse
	ts := vrrp.TrackState{Source: source, Weight: t.Weight, Down: !up}
	if t.Weight != 0 && (t.Weight > 0) == up {
		ts.Delta = t.Weight
	}
	return ts
}

// apply hands ts, what a check or track file says of instance, to target,
// which applies the weight rule (vrrp.TrackState.Effect). Errors are
// logged; an instance the Target does not know (gone with a reload) only
// at debug level.
func apply(target Target, log *slog.Logger, instance string, ts vrrp.TrackState) {
	switch err := target.SetTrack(instance, ts); {
	case err == nil:
	case errors.Is(err, vrrp.ErrUnknownInstance):
		log.Debug("health result for an instance that is gone", "instance", instance, "source", ts.Source)
	default:
		log.Error("applying a health result", "instance", instance, "source", ts.Source, "err", err)
	}
}

// withdraw takes back from instance what source gave it.
func withdraw(target Target, log *slog.Logger, instance, source string) {
	apply(target, log, instance, vrrp.TrackState{Source: source})
}

// instanceSet is implemented by Targets that can say which instances they
// have, as *vrrp.Router does: Validate then refuses tracks of instances
// the Target does not have.
type instanceSet interface {
	InstanceStatus(name string) (vrrp.Status, bool)
}

// Target is what a Tracker moves: *vrrp.Router.
type Target interface {
	// SetTrack applies what a check or track file says of an instance:
	// a priority delta, or a fault (vrrp.TrackState.Effect).
	SetTrack(instance string, t vrrp.TrackState) error
	// Await makes an instance wait, for at most within, for the first
	// report of source before it contends for Master.
	Await(instance, source string, within time.Duration) error
}

var _ Target = (*vrrp.Router)(nil)

// Tracker runs Checks and applies their state to the instances that track
// them, through a Target. Reload changes what a running Tracker runs. A
// Tracker must not be copied once it is used.
type Tracker struct {
	// Target receives priority changes and faults.
	Target Target
	// Clock drives the monitors: give it the Router's clock. Nil means
	// vrrp.SystemClock.
	Clock vrrp.Clock
	// Checks are the checks, by unique name.
	Checks []Check
	// Tracks lists, by instance name, the checks it tracks.
	Tracks map[string][]Track
	// Files are the track files, by unique name (keepalived's track_file).
	Files []File
	// FileTracks lists, by instance name, the files it tracks.
	FileTracks map[string][]FileTrack
	// Logger receives logs; nil means slog.Default().
	Logger *slog.Logger
	// WrapProbe, when not nil, runs every probe of the Tracker's checks:
	// it is given the check, as configured, and probe, which calls the
	// check's Checker, and returns what the probe found; it must call
	// probe, or fail. examples/vrrpd runs its scripts with their thread
	// in a network namespace with it.
	WrapProbe func(ctx context.Context, c Check, probe func(context.Context) error) error

	mu  sync.Mutex
	cfg *TrackerConfig // the last Reload's
	run *trackerRun    // while Run runs
}

// TrackerConfig is the part of a Tracker that Reload replaces: the
// fields of the same names.
type TrackerConfig struct {
	// Checks are the checks, by unique name.
	Checks []Check
	// Tracks lists, by instance name, the checks it tracks.
	Tracks map[string][]Track
	// Files are the track files, by unique name.
	Files []File
	// FileTracks lists, by instance name, the files it tracks.
	FileTracks map[string][]FileTrack
}

// Runner is implemented by checkers that need a goroutine of their own,
// such as Interface for its link subscription. Run works until ctx is
// done. Tracker.Run runs it, once for each distinct checker of a tracked
// check, for as long as that check runs.
type Runner interface {
	Run(ctx context.Context) error
}

// Verifier is implemented by checkers that can check their configuration
// against the system before they run, such as Script (which exists, can be
// executed, is secure). Tracker.Validate calls Verify.
type Verifier interface {
	Verify() error
}

// Validate checks the Tracker's configuration: the checks and files, the
// tracks, and, when the Target can say which instances it has (a
// *vrrp.Router can), that every tracking instance is one of them.
func (t *Tracker) Validate() error {
	var errs []error
	names := map[string]bool{}
	for _, c := range t.Checks {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
		if names[c.Name] {
			errs = append(errs, fmt.Errorf("%w: %q defined twice", ErrCheck, c.Name))
		}
		names[c.Name] = true
		if v, ok := c.Checker.(Verifier); ok {
			if err := v.Verify(); err != nil {
				errs = append(errs, fmt.Errorf("check %q: %w", c.Name, err))
			}
		}
	}
	if t.Target == nil {
		errs = append(errs, fmt.Errorf("%w: Tracker.Target is required", ErrCheck))
	}
	if is, ok := t.Target.(instanceSet); ok {
		insts := map[string]bool{}
		for inst := range t.Tracks {
			insts[inst] = true
		}
		for inst := range t.FileTracks {
			insts[inst] = true
		}
		for _, inst := range slices.Sorted(maps.Keys(insts)) {
			if _, ok := is.InstanceStatus(inst); !ok {
				errs = append(errs, fmt.Errorf("%w: instance %s is not one of the Target's", ErrCheck, inst))
			}
		}
	}
	for inst, tracks := range t.Tracks {
		for _, tr := range tracks {
			if !names[tr.Check] {
				errs = append(errs, fmt.Errorf("%w: instance %s tracks unknown check %q", ErrCheck, inst, tr.Check))
			}
			if tr.Weight < -253 || tr.Weight > 253 {
				errs = append(errs, fmt.Errorf("%w: instance %s: weight %d of %q is not in -253..253", ErrCheck, inst, tr.Weight, tr.Check))
			}
		}
	}
	files := map[string]bool{}
	for _, f := range t.Files {
		if err := f.Validate(); err != nil {
			errs = append(errs, err)
		}
		if files[f.Name] {
			errs = append(errs, fmt.Errorf("%w: track file %q defined twice", ErrCheck, f.Name))
		}
		files[f.Name] = true
	}
	for inst, tracks := range t.FileTracks {
		seen := map[string]bool{}
		for _, tr := range tracks {
			if !files[tr.File] {
				errs = append(errs, fmt.Errorf("%w: instance %s tracks unknown track file %q", ErrCheck, inst, tr.File))
			}
			if seen[tr.File] {
				errs = append(errs, fmt.Errorf("%w: instance %s tracks track file %q twice", ErrCheck, inst, tr.File))
			}
			seen[tr.File] = true
			if w := tr.Weight; w != nil && (*w < MinFileWeight || *w > MaxFileWeight) {
				errs = append(errs, fmt.Errorf("%w: instance %s: weight %d of track file %q is not in %d..%d", ErrCheck, inst, *w, tr.File, MinFileWeight, MaxFileWeight))
			}
		}
	}
	return errors.Join(errs...)
}

// Await tells the Target that every instance tracking a check awaits the
// check's first result before it contends for Master (at most the check's
// Timeout and a second): a node restarted while its service is down never
// takes over on the strength of a check not run yet. Run does the same as
// it starts each check; call Await before the Router's Run as well to be
// sure that no instance starts first (an address owner goes to Master at
// once).
func (t *Tracker) Await() error {
	t.mu.Lock()
	cfg := t.configLocked()
	t.mu.Unlock()
	var errs []error
	for _, inst := range slices.Sorted(maps.Keys(cfg.Tracks)) {
		for _, tr := range cfg.Tracks[inst] {
			for _, c := range cfg.Checks {
				if c.Name != tr.Check {
					continue
				}
				if err := t.Target.Await(inst, "check:"+c.Name, c.withDefaults().Timeout+firstResultGrace); err != nil {
					errs = append(errs, fmt.Errorf("health: instance %s awaiting check %q: %w", inst, c.Name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Run runs the checks and files until ctx is done: those of the last
// Reload, or else the Tracker's fields. It validates them first, returns
// an error if the Tracker is already running, and returns nil once ctx is
// done and its goroutines have ended, but for a probe stuck in a Checker
// that ignores its context, which is left to end by itself (see Monitor).
//
// Each check runs in a Monitor of its own; its first result, and then
// every change, is applied at once to every instance tracking the check,
// under the source "check:NAME".
//
// Run first initialises the track files that ask for it (File.Init,
// with File.Overwrite), then reads each tracked file every Interval and
// applies its effect on every instance tracking it, under the source
// "file:NAME", at once at the start and then at each change. The checkers
// of tracked checks that are Runners run for as long as their checks
// (once for a checker shared by several checks). Checks and files that no
// instance tracks are left alone, as keepalived leaves them.
func (t *Tracker) Run(ctx context.Context) error {
	log := t.Logger
	if log == nil {
		log = slog.Default()
	}
	clock := t.Clock
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	r := &trackerRun{
		target: t.Target, clock: clock, log: log, wrap: t.WrapProbe, ctx: ctx,
		reloads: make(chan reloadRequest), events: make(chan trackerEvent), done: make(chan struct{}),
		checks: map[string]*runningCheck{}, files: map[string]*runningFile{},
		runners: map[Runner]*runningRunner{}, applied: map[sourcePair]vrrp.TrackState{},
	}
	t.mu.Lock()
	if t.run != nil {
		t.mu.Unlock()
		return errors.New("health: Tracker.Run: the Tracker is already running")
	}
	t.run = r
	cfg, reloaded := t.configLocked(), t.cfg != nil
	t.mu.Unlock()
	defer func() {
		r.stopAll()
		t.mu.Lock()
		t.run = nil
		t.mu.Unlock()
		close(r.done) // after t.run is cleared: a Reload waiting on it retries
	}()
	if !reloaded { // a Reload's configuration is validated already
		v := &Tracker{Target: t.Target, Checks: cfg.Checks, Tracks: cfg.Tracks, Files: cfg.Files, FileTracks: cfg.FileTracks}
		if err := v.Validate(); err != nil {
			return err
		}
	}
	r.reload(cfg, true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case req := <-r.reloads:
			r.reload(req.cfg, false)
			t.mu.Lock()
			t.cfg = &req.cfg
			t.mu.Unlock()
			close(req.done)
		case ev := <-r.events:
			r.handle(ev)
		}
	}
}

// configLocked returns the configuration the Tracker runs (or will run):
// the last Reload's, or else its fields. t.mu must be held.
func (t *Tracker) configLocked() TrackerConfig {
	if t.cfg != nil {
		return *t.cfg
	}
	return TrackerConfig{Checks: t.Checks, Tracks: t.Tracks, Files: t.Files, FileTracks: t.FileTracks}
}

// Reload replaces the checks, tracks and files of the Tracker. It
// validates cfg as Validate does and, on error, changes nothing. Before
// Run, or after it, it sets the configuration the next Run starts with.
// While Run runs, it returns once the change is applied:
//
//   - A check that keeps its name and settings (interval, timeout, rise,
//     fall, init_fail, and a Checker of the same type with the same
//     exported fields) goes on running with its state, which is applied
//     again, at once, to the instances that track it now: their tracks,
//     weights and sync groups may have changed, and the Router starts an
//     instance whose interface, VRID, version, family or group changed
//     afresh, without the effects it had. A changed check starts afresh,
//     and its first result decides its state; until then its instances
//     keep what the old one gave them. A check no longer defined or no
//     longer tracked stops.
//   - A track file with the same settings goes on being read, and its
//     last value is applied again to the instances that track it now; a
//     changed one is read again from the start, after File.Init (without
//     File.Overwrite, which keepalived does not apply at a reload either),
//     as is a file tracked anew. A file no longer tracked is no longer
//     read.
//   - Effects that no check or file gives any longer (a track removed, a
//     check gone) are taken back: the instance's priority change from
//     that source is set to 0 and its fault cleared.
//
// Reload returns ctx's error if ctx ends before Run takes the change. cfg
// must not be modified afterwards.
func (t *Tracker) Reload(ctx context.Context, cfg TrackerConfig) error {
	v := &Tracker{Target: t.Target, Checks: cfg.Checks, Tracks: cfg.Tracks, Files: cfg.Files, FileTracks: cfg.FileTracks}
	if err := v.Validate(); err != nil {
		return err
	}
	for {
		t.mu.Lock()
		r := t.run
		if r == nil {
			t.cfg = &cfg
			t.mu.Unlock()
			return nil
		}
		t.mu.Unlock()
		req := reloadRequest{cfg: cfg, done: make(chan struct{})}
		select {
		case r.reloads <- req:
			<-req.done
			return nil
		case <-r.done:
			// Run ended meanwhile: the change is for the next one.
		case <-ctx.Done():
			return fmt.Errorf("health: Tracker.Reload: %w", ctx.Err())
		}
	}
}
