package health

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// trackerRun is a running Tracker. Its owner, Run's goroutine, holds all
// its state: the monitors, file pollers and runners send what they find
// to it as events, and only it calls the Target, so that every result is
// applied in order and no lock is held meanwhile.
type trackerRun struct {
	target Target
	clock  vrrp.Clock
	log    *slog.Logger
	wrap   func(context.Context, Check, func(context.Context) error) error
	ctx    context.Context

	reloads chan reloadRequest
	events  chan trackerEvent
	done    chan struct{} // closed when Run has returned

	checks    map[string]*runningCheck
	files     map[string]*runningFile
	runners   map[Runner]*runningRunner      // shared ones: pointers
	users     map[string][]checkUser         // by check name
	fileUsers map[string][]fileUser          // by file name
	applied   map[sourcePair]vrrp.TrackState // given to the Target, not taken back
}

// reloadRequest is a Reload handed to Run.
type reloadRequest struct {
	cfg  TrackerConfig
	done chan struct{}
}

// trackerEvent is a check's state or a file's value.
type trackerEvent struct {
	check *runningCheck
	up    bool
	file  *runningFile
	value int64
	first bool // the file's first reading
}

// checkUser is an instance tracking a check.
type checkUser struct {
	instance string
	track    Track
}

// sourcePair is an instance and a source of priority changes or faults.
type sourcePair struct{ instance, source string }

func compareSourcePairs(a, b sourcePair) int {
	return cmp.Or(cmp.Compare(a.instance, b.instance), cmp.Compare(a.source, b.source))
}

// running is a goroutine of a trackerRun.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// runningCheck is a check being monitored.
type runningCheck struct {
	running
	check    Check // as configured: compared at a reload
	runner   *runningRunner
	up       bool // the last state reported, once reported
	reported bool
}

// runningFile is a file being read.
type runningFile struct {
	running
	file  File // as configured: compared at a reload
	value int64
	read  bool
}

// runningRunner is a Runner running for the checks that use it.
type runningRunner struct {
	running
	key  Runner // in trackerRun.runners, when shared
	refs int
}

// reload makes the running checks and files those of cfg (validated), as
// Tracker.Reload describes; start is true at the start of Run.
func (r *trackerRun) reload(cfg TrackerConfig, start bool) {
	users := map[string][]checkUser{}
	for _, inst := range slices.Sorted(maps.Keys(cfg.Tracks)) {
		for _, tr := range cfg.Tracks[inst] {
			users[tr.Check] = append(users[tr.Check], checkUser{inst, tr})
		}
	}
	checks := map[string]Check{}
	for _, c := range cfg.Checks {
		checks[c.Name] = c
	}
	files := map[string]File{}
	for _, f := range cfg.Files {
		files[f.Name] = f
	}
	fileUsers := map[string][]fileUser{}
	for _, inst := range slices.Sorted(maps.Keys(cfg.FileTracks)) {
		for _, tr := range cfg.FileTracks[inst] {
			if f, ok := files[tr.File]; ok {
				w, rev := tr.weight(f)
				fileUsers[f.Name] = append(fileUsers[f.Name], fileUser{instance: inst, weight: w, reverse: rev})
			}
		}
	}

	// Stop what changed or is no longer tracked. Their goroutines may be
	// sending an event: they give up when their context ends.
	var stopping []running
	var released []*runningRunner
	for _, name := range slices.Sorted(maps.Keys(r.checks)) {
		rc := r.checks[name]
		if c, ok := checks[name]; ok && len(users[name]) > 0 && sameCheck(rc.check, c) {
			continue
		}
		delete(r.checks, name)
		stopping = append(stopping, rc.running)
		if rc.runner != nil {
			released = append(released, rc.runner)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.files)) {
		rf := r.files[name]
		if f, ok := files[name]; ok && len(fileUsers[name]) > 0 && f == rf.file {
			continue
		}
		delete(r.files, name)
		stopping = append(stopping, rf.running)
	}
	stopAll(stopping)
	for _, rn := range released {
		r.release(rn)
	}

	// Take back what is no longer given.
	given := map[sourcePair]bool{}
	for name, us := range users {
		if _, ok := checks[name]; ok {
			for _, u := range us {
				given[sourcePair{u.instance, "check:" + name}] = true
			}
		}
	}
	for name, us := range fileUsers {
		for _, u := range us {
			given[sourcePair{u.instance, "file:" + name}] = true
		}
	}
	for _, p := range slices.SortedFunc(maps.Keys(r.applied), compareSourcePairs) {
		if !given[p] {
			withdraw(r.target, r.log, p.instance, p.source)
			delete(r.applied, p)
		}
	}
	r.users, r.fileUsers = users, fileUsers

	// Give what the kept checks and files found to who tracks them now.
	for _, name := range slices.Sorted(maps.Keys(r.checks)) {
		if rc := r.checks[name]; rc.reported {
			r.applyCheck(name, rc.up)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.files)) {
		if rf := r.files[name]; rf.read {
			r.applyFile(name, rf.value, true)
		}
	}

	// Start the new ones: files first, initialised (keepalived overwrites
	// a file at its start only).
	for _, f := range cfg.Files {
		if len(fileUsers[f.Name]) == 0 || r.files[f.Name] != nil {
			continue // keepalived reads no file that nothing tracks
		}
		init := f
		if !start {
			init.Overwrite = false
		}
		if err := init.Initialize(); err != nil {
			// keepalived reports it and tracks the file anyway.
			r.log.Error(fmt.Sprintf("Track file %s: %v", f.Name, err), "file", f.Name, "err", err)
		}
		r.startFile(f)
	}
	for _, c := range cfg.Checks {
		if len(users[c.Name]) == 0 || r.checks[c.Name] != nil {
			continue // keepalived runs no script that nothing tracks
		}
		// Its first result decides whether its instances may contend.
		for _, u := range users[c.Name] {
			await(r.target, r.log, u.instance, c)
		}
		r.startCheck(c)
	}
}

// firstResultGrace is how much longer than a check's Timeout an instance
// waits for the check's first result, for the report to reach it.
const firstResultGrace = time.Second

// await makes instance wait for the first result of c before it contends
// for Master: at most c's Timeout plus firstResultGrace (the first probe
// starts at once).
func await(target Target, log *slog.Logger, instance string, c Check) {
	within := c.withDefaults().Timeout + firstResultGrace
	if err := target.Await(instance, "check:"+c.Name, within); err != nil && !errors.Is(err, vrrp.ErrUnknownInstance) {
		log.Error("awaiting a check's first result", "instance", instance, "check", c.Name, "err", err)
	}
}

// startCheck starts monitoring c, and its checker if it is a Runner.
func (r *trackerRun) startCheck(c Check) {
	run := c
	if wrap := r.wrap; wrap != nil {
		inner := c.Checker
		run.Checker = CheckerFunc(func(ctx context.Context) error { return wrap(ctx, c, inner.Check) })
	}
	m, err := NewMonitor(run, r.clock, r.log)
	if err != nil { // validated: cannot happen
		r.log.Error("health check not started", "check", c.Name, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(r.ctx)
	rc := &runningCheck{running: running{cancel: cancel, done: make(chan struct{})}, check: c}
	if rn, ok := c.Checker.(Runner); ok {
		rc.runner = r.acquire(rn)
	}
	r.checks[c.Name] = rc
	go func() {
		defer close(rc.done)
		_ = m.Run(ctx, func(up bool) { r.send(ctx, trackerEvent{check: rc, up: up}) })
	}()
}

// startFile starts reading f.
func (r *trackerRun) startFile(f File) {
	ctx, cancel := context.WithCancel(r.ctx)
	rf := &runningFile{running: running{cancel: cancel, done: make(chan struct{})}, file: f}
	r.files[f.Name] = rf
	p := &filePoller{file: f, clock: r.clock, log: r.log, report: func(value int64, first bool) {
		r.send(ctx, trackerEvent{file: rf, value: value, first: first})
	}}
	go func() {
		defer close(rf.done)
		p.run(ctx)
	}()
}

// acquire runs rn for one more check: once for a pointer however many
// checks share it (other kinds of values are never taken for the same,
// since they may not be comparable).
func (r *trackerRun) acquire(rn Runner) *runningRunner {
	shared := reflect.TypeOf(rn).Kind() == reflect.Pointer
	if x := r.runners[rn]; shared && x != nil {
		x.refs++
		return x
	}
	ctx, cancel := context.WithCancel(r.ctx)
	x := &runningRunner{running: running{cancel: cancel, done: make(chan struct{})}, refs: 1}
	if shared {
		x.key = rn
		r.runners[rn] = x
	}
	go func() {
		defer close(x.done)
		if err := rn.Run(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("a checker's Run failed", "checker", fmt.Sprintf("%T", rn), "err", err)
		}
	}()
	return x
}

// release stops x when no check uses it any longer.
func (r *trackerRun) release(x *runningRunner) {
	if x.refs--; x.refs > 0 {
		return
	}
	if x.key != nil {
		delete(r.runners, x.key)
	}
	stopAll([]running{x.running})
}

// send hands ev to the owner, unless ctx (the sender's) ends first.
func (r *trackerRun) send(ctx context.Context, ev trackerEvent) {
	select {
	case r.events <- ev:
	case <-ctx.Done():
	}
}

// handle applies an event, unless its check or file was stopped or
// replaced meanwhile.
func (r *trackerRun) handle(ev trackerEvent) {
	switch {
	case ev.check != nil:
		name := ev.check.check.Name
		if r.checks[name] != ev.check {
			return
		}
		ev.check.up, ev.check.reported = ev.up, true
		r.applyCheck(name, ev.up)
	case ev.file != nil:
		name := ev.file.file.Name
		if r.files[name] != ev.file {
			return
		}
		ev.file.value, ev.file.read = ev.value, true
		r.applyFile(name, ev.value, ev.first)
	}
}

// applyCheck applies the state of check name to the instances tracking
// it.
func (r *trackerRun) applyCheck(name string, up bool) {
	source := "check:" + name
	for _, u := range r.users[name] {
		ts := u.track.state(source, up)
		apply(r.target, r.log, u.instance, ts)
		r.applied[sourcePair{u.instance, source}] = ts
	}
}

// applyFile applies the value of file name to the instances tracking it:
// to those whose state it changes, or to all with force.
func (r *trackerRun) applyFile(name string, value int64, force bool) {
	source := "file:" + name
	for _, u := range r.fileUsers[name] {
		ts := fileState(source, value, u.weight, u.reverse)
		p := sourcePair{u.instance, source}
		if old, ok := r.applied[p]; ok && old == ts && !force {
			continue
		}
		apply(r.target, r.log, u.instance, ts)
		r.applied[p] = ts
	}
}

// stopAll stops every check, file and runner, and waits for them.
func (r *trackerRun) stopAll() {
	var all []running
	for _, rc := range r.checks {
		all = append(all, rc.running)
	}
	for _, rf := range r.files {
		all = append(all, rf.running)
	}
	for _, rn := range r.runners {
		all = append(all, rn.running)
	}
	for _, rc := range r.checks {
		if rc.runner != nil && rc.runner.key == nil {
			all = append(all, rc.runner.running)
		}
	}
	clear(r.checks)
	clear(r.files)
	clear(r.runners)
	stopAll(all)
}

// stopAll cancels rs and then waits for them.
func stopAll(rs []running) {
	for _, x := range rs {
		x.cancel()
	}
	for _, x := range rs {
		<-x.done
	}
}

// sameCheck reports whether two checks have the same settings.
func sameCheck(a, b Check) bool {
	a, b = a.withDefaults(), b.withDefaults()
	return a.Name == b.Name && a.Interval == b.Interval && a.Timeout == b.Timeout && a.Rise == b.Rise &&
		a.Fall == b.Fall && a.InitFail == b.InitFail && sameChecker(a.Checker, b.Checker)
}

// sameChecker reports whether two checkers have the same settings: the
// same type and, for structs (or pointers to them), equal exported fields.
// The unexported ones are a running checker's state (a Process's
// processes seen), which is not configuration. Checkers of other kinds,
// such as functions, are never the same.
func sameChecker(a, b Checker) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if !va.IsValid() || !vb.IsValid() {
		return !va.IsValid() && !vb.IsValid()
	}
	if va.Type() != vb.Type() {
		return false
	}
	if va.Kind() == reflect.Pointer {
		if va.IsNil() || vb.IsNil() {
			return va.IsNil() && vb.IsNil()
		}
		va, vb = va.Elem(), vb.Elem()
	}
	if va.Kind() != reflect.Struct {
		return reflect.DeepEqual(va.Interface(), vb.Interface())
	}
	for i := range va.NumField() {
		if !va.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}
