// Command vrrpd is the reference daemon of vrrpkit: it runs an existing
// keepalived.conf (its VRRP part) unchanged, with keepalived's command
// line, signals and notify scripts.
//
//	vrrpd [-f FILE] [-t] [-l] [-D] [--log-json] [-p PIDFILE] [-n] [-v]
//	      [-i CONFIG_ID] [--status ADDR] [--metrics ADDR]
//	      [--data-file FILE] [--stats-file FILE]
//
// It runs on one P (GOMAXPROCS=1) unless the GOMAXPROCS environment
// variable is set: see oneProc.
//
// SIGTERM and SIGINT stop it gracefully (priority 0 adverts, addresses
// removed, notify STOP); SIGHUP reloads the configuration, keeping the
// state of unchanged instances; SIGUSR1 writes the state to
// /tmp/keepalived.data and SIGUSR2 the statistics to
// /tmp/keepalived.stats, as keepalived does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"github.com/vrrpkit/vrrpkit/announce"
	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// version is printed by -v.
const version = "vrrpd (vrrpkit) 0.1"

// options are the command line flags.
type options struct {
	file       string
	configTest bool
	console    bool
	debug      bool
	logJSON    bool
	pidFile    string
	noFork     bool
	version    bool
	metrics    string
	status     string
	configID   string
	dataFile   string
	statsFile  string
}

// parseFlags parses args (without the program name) as keepalived's
// command line.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("vrrpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, def, usage string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, def, usage)
		}
	}
	boolean := func(p *bool, usage string, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, usage)
		}
	}
	str(&o.file, "/etc/keepalived/keepalived.conf", "keepalived configuration `FILE`", "f", "use-file")
	boolean(&o.configTest, "check the configuration, print every diagnostic and exit", "t", "config-test")
	boolean(&o.console, "log to the console (standard error)", "l", "log-console")
	boolean(&o.debug, "detailed (debug) log", "D", "log-detail")
	boolean(&o.logJSON, "log as JSON", "log-json")
	str(&o.pidFile, "", "write the pid to `PIDFILE`", "p", "pid", "vrrp_pid")
	boolean(&o.noFork, "do not fork (accepted: vrrpd never forks)", "n", "dont-fork")
	boolean(&o.version, "print the version and exit", "v", "version")
	str(&o.metrics, "", "serve Prometheus metrics on `ADDR`", "metrics")
	str(&o.status, "", "serve the JSON status on `ADDR`", "status")
	str(&o.configID, "", "configuration id for @id conditionals (default: the short host name)", "i", "config-id")
	str(&o.dataFile, "/tmp/keepalived.data", "where SIGUSR1 writes the state", "data-file")
	str(&o.statsFile, "/tmp/keepalived.stats", "where SIGUSR2 writes the statistics", "stats-file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return o, nil
}

func main() {
	oneProc()
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// oneProc runs the daemon on one P unless GOMAXPROCS says otherwise. The
// Router's work is one owner goroutine fed by a reader per socket: with
// more Ps, each hand-off from a reader or the timer to the owner wakes an
// idle thread that finds nothing to do, which cost a daemon that only runs
// VRRP half its CPU per advert (BENCHMARKS.md); health checks and scripts
// wait on I/O and other processes, not on CPU.
func oneProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}

// realMain runs vrrpd and returns its exit status.
func realMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, version)
		return 0
	}
	if o.configTest {
		return configTest(o, stderr)
	}
	log := newLogger(o, stderr)
	if err := run(context.Background(), o, log); err != nil {
		log.Error("vrrpd stopped", "err", err)
		return 1
	}
	return 0
}

// newLogger returns the daemon's logger. vrrpd always logs to standard
// error (systemd's journal takes it from there); -l is accepted for
// keepalived compatibility.
func newLogger(o options, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	if o.logJSON {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}

// loadOptions returns the kaconf options of o: -i, or keepalived's
// default config id (the short host name).
func loadOptions(o options) kaconf.LoadOptions {
	id := o.configID
	if id == "" {
		id, _ = kaconf.DefaultConfigID()
	}
	return kaconf.LoadOptions{ConfigID: id, Host: kaconf.OSHost{}}
}

// load reads and converts the configuration file, returning the
// diagnostics for the caller to log.
func load(o options) (*daemonConfig, kaconf.Diagnostics, error) {
	cfg, diags, err := kaconf.Load(o.file, loadOptions(o))
	if err != nil {
		return nil, diags, err
	}
	d, err := convert(cfg, diags)
	if d != nil {
		for _, w := range d.Warnings {
			diags = append(diags, kaconf.Diagnostic{Severity: kaconf.Warning, Message: w})
		}
	}
	return d, diags, err
}

// configTest implements -t: every diagnostic on w, non-zero on errors.
func configTest(o options, w io.Writer) int {
	d, diags, err := load(o)
	for _, dg := range diags {
		fmt.Fprintln(w, dg.String())
	}
	if err != nil {
		if !diags.HasErrors() {
			fmt.Fprintln(w, err)
		}
		return 1
	}
	fmt.Fprintf(w, "%s: configuration OK (%d instances, %d sync groups)\n", o.file, len(d.Instances), len(d.SyncGroups))
	return 0
}

// logDiags logs every diagnostic at a level matching its severity.
func logDiags(log *slog.Logger, diags kaconf.Diagnostics) {
	for _, d := range diags {
		level := slog.LevelInfo
		switch d.Severity {
		case kaconf.Error:
			level = slog.LevelError
		case kaconf.Warning:
			level = slog.LevelWarn
		}
		log.Log(context.Background(), level, d.String())
	}
}

// daemon is a running vrrpd.
type daemon struct {
	opts     options
	log      *slog.Logger
	router   *vrrp.Router
	notifier *notifier

	// statusAddr and metricsAddr are where --status and --metrics listen.
	statusAddr, metricsAddr string
	// masterTime accumulates the time as Master, for --metrics.
	masterTime *masterClock

	mu  sync.Mutex
	cfg *daemonConfig
}

// run runs the daemon until ctx ends or SIGTERM / SIGINT arrives.
func run(ctx context.Context, o options, log *slog.Logger) error {
	cfg, diags, err := load(o)
	logDiags(log, diags)
	if err != nil {
		return fmt.Errorf("loading %s: %w", o.file, err)
	}
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		defer os.Remove(o.pidFile)
	}
	binder, err := vip.New(vip.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("addresses: %w", err)
	}
	defer binder.Close()
	ann, err := announce.New(announce.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("announcer: %w", err)
	}
	defer ann.Close()

	d := &daemon{opts: o, log: log, cfg: cfg, masterTime: &masterClock{}, notifier: newNotifier(log, notifyTimeout)}
	defer d.notifier.close()
	r, err := vrrp.NewRouter(vrrp.Config{
		Instances:         cfg.Instances,
		SyncGroups:        cfg.SyncGroups,
		Clock:             vrrp.PreciseClock{},
		Transport:         &transport.Linux{Logger: log},
		Links:             &transport.Monitor{Logger: log},
		Binder:            binder,
		Announcer:         ann,
		Logger:            log,
		OnTransition:      d.onTransition,
		OnGroupTransition: d.onGroupTransition,
	})
	if err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	d.router = r

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop() // ends every goroutine below before wg.Wait

	checks := &trackerRunner{log: log}
	defer checks.stop()
	if err := checks.start(ctx, cfg, r); err != nil {
		return err
	}
	if err := d.startServers(ctx, &wg); err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				d.handleSignal(ctx, s, checks)
			}
		}
	}()
	log.Info("Starting VRRP child process", "pid", os.Getpid(), "config", o.file, "instances", len(cfg.Instances))
	wg.Add(1)
	go func() {
		defer wg.Done()
		notifyWhenStarted(ctx, r, log)
	}()
	return r.Run(ctx)
}

// handleSignal handles SIGHUP, SIGUSR1 and SIGUSR2.
func (d *daemon) handleSignal(ctx context.Context, s os.Signal, checks *trackerRunner) {
	switch s {
	case syscall.SIGHUP:
		d.reload(ctx, checks)
	case syscall.SIGUSR1:
		if err := writeAtomic(d.opts.dataFile, d.dataDump()); err != nil {
			d.log.Error("writing the state dump", "err", err)
		} else {
			d.log.Info("state written", "file", d.opts.dataFile)
		}
	case syscall.SIGUSR2:
		if err := writeAtomic(d.opts.statsFile, d.statsDump()); err != nil {
			d.log.Error("writing the statistics", "err", err)
		} else {
			d.log.Info("statistics written", "file", d.opts.statsFile)
		}
	}
}

// reload rereads the configuration: an invalid one leaves the running one
// in place; a valid one replaces the instances and groups (unchanged
// instances keep their state) and restarts the health checks.
func (d *daemon) reload(ctx context.Context, checks *trackerRunner) {
	d.log.Info("Reloading", "config", d.opts.file)
	cfg, diags, err := load(d.opts)
	logDiags(d.log, diags)
	if err != nil {
		d.log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	checks.stop()
	d.mu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.mu.Unlock()
	if err := d.router.ReloadGroups(ctx, cfg.Instances, cfg.SyncGroups); err != nil {
		d.log.Error("reload failed; the running configuration stays", "err", err)
		d.mu.Lock()
		d.cfg = old
		d.mu.Unlock()
		cfg = old
	}
	if err := checks.start(ctx, cfg, d.router); err != nil {
		d.log.Error("health checks not restarted", "err", err)
		return
	}
	d.log.Info("Reload finished", "instances", len(cfg.Instances))
}

// notifyState returns keepalived's name of s for notify scripts.
func notifyState(s vrrp.State) string {
	if s == vrrp.Init {
		return "STOP"
	}
	return s.String()
}

// onTransition runs the notify scripts of an instance.
func (d *daemon) onTransition(t vrrp.Transition) {
	d.masterTime.transition(t)
	d.mu.Lock()
	scripts, ok := d.cfg.Notify[t.Instance]
	d.mu.Unlock()
	if !ok {
		return
	}
	d.notifier.notify(notification{kind: "INSTANCE", name: t.Instance, state: notifyState(t.To),
		priority: int(t.Priority), scripts: scripts})
}

// onGroupTransition runs the notify scripts of a sync group.
func (d *daemon) onGroupTransition(t vrrp.GroupTransition) {
	d.log.Info(fmt.Sprintf("(%s) Syncing instances to %s state", t.Group, t.To))
	d.mu.Lock()
	scripts, ok := d.cfg.GroupNotify[t.Group]
	d.mu.Unlock()
	if !ok {
		return
	}
	// keepalived passes priority 0 for groups.
	d.notifier.notify(notification{kind: "GROUP", name: t.Group, state: notifyState(t.To), scripts: scripts})
}

// trackerRunner owns the health.Tracker goroutine, so that a reload can
// replace it.
type trackerRunner struct {
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts a Tracker for cfg, if cfg has health checks.
func (t *trackerRunner) start(ctx context.Context, cfg *daemonConfig, target health.Target) error {
	if !cfg.hasHealth() {
		return nil
	}
	tr := cfg.tracker(target, t.log)
	if err := tr.Validate(); err != nil {
		return fmt.Errorf("health checks: %w", err)
	}
	ctx, t.cancel = context.WithCancel(ctx)
	t.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := tr.Run(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("health checks stopped", "err", err)
		}
	}(t.done)
	return nil
}

// stop stops the running Tracker, if any, and waits for it.
func (t *trackerRunner) stop() {
	if t.cancel == nil {
		return
	}
	t.cancel()
	<-t.done
	t.cancel, t.done = nil, nil
}
