package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"

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
func (t Track) state(source string, up bool) trackState {
	up = up != t.Reverse
	ts := trackState{Source: source, Weight: t.Weight, Down: !up}
	if t.Weight != 0 && (t.Weight > 0) == up {
		ts.Delta = t.Weight
	}
	return ts
}

// trackState is what one check or track file says about one instance,
// as its leaf computes it: Weight is the track's weight, Delta what it
// adds to the priority, Down whether it is down. It has the fields of the
// Router's coming vrrp.TrackState, so that apply can hand it over as it
// is.
type trackState struct {
	Source string
	Weight int
	Delta  int
	Down   bool
}

// fileFault is the Delta of a track file that puts its instance in FAULT
// whatever the weight: keepalived's own mark (-254) for a value times
// weight at or below it.
const fileFault = -254

// apply gives instance the effect of ts through target. It is the one
// place where a result becomes a priority change or a fault, and where the
// sync group rule is: when ts.Weight is 0, or weights do not apply to the
// instance (a sync group member without TrackingWeight, as in keepalived),
// the instance is in FAULT while ts.Down; otherwise ts.Delta is added to
// its priority (a track file's fileFault is a FAULT). A fault is raised
// before the delta changes and cleared after, so that the instance never
// runs meanwhile with a priority it should not have. Errors are logged; an
// instance the Target does not know (gone with a reload) only at debug
// level.
func apply(target Target, log *slog.Logger, instance string, ts trackState) {
	delta, fault := ts.Delta, false
	switch {
	case ts.Weight == 0 || !target.TracksWeights(instance):
		delta, fault = 0, ts.Down
	case ts.Delta <= fileFault:
		delta, fault = 0, true
	}
	report := func(err error) {
		switch {
		case err == nil:
		case errors.Is(err, vrrp.ErrUnknownInstance):
			log.Debug("health result for an instance that is gone", "instance", instance, "source", ts.Source)
		default:
			log.Error("applying a health result", "instance", instance, "source", ts.Source, "err", err)
		}
	}
	if fault {
		report(target.SetFault(instance, ts.Source, true))
	}
	report(target.AdjustPriority(instance, ts.Source, delta))
	if !fault {
		report(target.SetFault(instance, ts.Source, false))
	}
}

// Target is what a Tracker moves: *vrrp.Router.
type Target interface {
	AdjustPriority(instance, source string, delta int) error
	SetFault(instance, source string, faulted bool) error
	// TracksWeights reports whether weights apply to the instance; when
	// not (a member of a sync group, as in keepalived), every track acts
	// as weight 0.
	TracksWeights(instance string) bool
}

var _ Target = (*vrrp.Router)(nil)

// Tracker runs Checks and applies their state to the instances that track
// them, through a Target.
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
	// Logger receives logs; nil discards them.
	Logger *slog.Logger
}

// Runner is implemented by checkers that need a goroutine of their own,
// such as Interface for its link subscription. Run works until ctx is
// done. Tracker.Run runs it, once for each distinct checker of a tracked
// check, for as long as it runs itself.
type Runner interface {
	Run(ctx context.Context) error
}

// Verifier is implemented by checkers that can check their configuration
// against the system before they run, such as Script (which exists, can be
// executed, is secure). Tracker.Validate calls Verify.
type Verifier interface {
	Verify() error
}

// Validate checks the Tracker's configuration.
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

// Run runs every check until ctx is done and returns when all its
// goroutines have ended. Each state change is applied at once to every
// instance tracking the check, under the source "check:NAME".
//
// It first initialises the track files that ask for it (File.Init), then
// reads each tracked file every Interval and applies its effect on every
// instance tracking it, under the source "file:NAME", at once at the start
// and then at each change. The checkers of tracked checks that are
// Runners run for as long as Run does. Checks and files that no instance
// tracks are left alone, as keepalived leaves them.
func (t *Tracker) Run(ctx context.Context) error {
	if err := t.Validate(); err != nil {
		return err
	}
	log := t.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	type user struct {
		instance string
		track    Track
	}
	users := map[string][]user{}
	for inst, tracks := range t.Tracks {
		for _, tr := range tracks {
			users[tr.Check] = append(users[tr.Check], user{inst, tr})
		}
	}
	var mons []*Monitor
	for _, c := range t.Checks {
		if len(users[c.Name]) == 0 {
			continue // keepalived runs no script that nothing tracks
		}
		m, err := NewMonitor(c, t.Clock, log)
		if err != nil {
			return err
		}
		mons = append(mons, m)
	}
	clock := t.Clock
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	fileUsers := map[string][]fileUser{}
	for _, inst := range slices.Sorted(maps.Keys(t.FileTracks)) {
		for _, tr := range t.FileTracks[inst] {
			for _, f := range t.Files {
				if f.Name == tr.File {
					w, r := tr.weight(f)
					fileUsers[f.Name] = append(fileUsers[f.Name], fileUser{instance: inst, weight: w, reverse: r})
				}
			}
		}
	}
	var pollers []*filePoller
	for _, f := range t.Files {
		if len(fileUsers[f.Name]) == 0 {
			continue // keepalived reads no file that nothing tracks
		}
		if err := f.Initialize(); err != nil {
			// keepalived reports it and tracks the file anyway.
			log.Error(fmt.Sprintf("Track file %s: %v", f.Name, err), "file", f.Name, "err", err)
		}
		pollers = append(pollers, &filePoller{file: f, users: fileUsers[f.Name], target: t.Target, clock: clock, log: log})
	}
	var runners []Runner
	for _, c := range t.Checks {
		r, ok := c.Checker.(Runner)
		if !ok || len(users[c.Name]) == 0 || slicesContainsRunner(runners, r) {
			continue
		}
		runners = append(runners, r)
	}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				log.Error("a checker's Run failed", "checker", fmt.Sprintf("%T", r), "err", err)
			}
		}()
	}
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx)
		}()
	}
	for _, m := range mons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source := "check:" + m.Name()
			_ = m.Run(ctx, func(up bool) {
				for _, u := range users[m.Name()] {
					apply(t.Target, log, u.instance, u.track.state(source, up))
				}
			})
		}()
	}
	wg.Wait()
	return nil
}

// slicesContainsRunner reports whether rs holds r itself: the same pointer
// (other kinds of values are never taken for the same, since they may not
// be comparable).
func slicesContainsRunner(rs []Runner, r Runner) bool {
	if reflect.TypeOf(r).Kind() != reflect.Pointer {
		return false
	}
	// Comparing with a pointer never panics.
	return slices.Contains(rs, r)
}
