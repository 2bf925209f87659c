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
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"

	"github.com/vrrpkit/vrrpkit/announce"
	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/nsthread"
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
	vipLease   time.Duration
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
	fs.DurationVar(&o.vipLease, "vip-lease", vrrp.DefaultVIPLease,
		"the kernel lifetime of the virtual addresses, renewed by the Master, so that a killed vrrpd's addresses expire; 0 makes them permanent, as keepalived's")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.vipLease < 0 {
		return o, fmt.Errorf("--vip-lease %v: a lifetime cannot be negative (0 makes the addresses permanent)", o.vipLease)
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
		diags = append(diags, d.LVSWarnings...)
		for _, w := range d.Warnings {
			diags = append(diags, kaconf.Diagnostic{Severity: kaconf.Warning, Message: w})
		}
	}
	return d, diags, err
}

// The exit statuses of -t, keepalived 2.2.7's for the same file (measured
// with keepalived -t -l -f FILE in a network namespace holding the
// interfaces the file names).
const (
	// exitStopped is for a line that lacks its parameter ("*** Configuration
	// line starting ... is missing a parameter"): keepalived stops reading
	// there and exits with 2.
	exitStopped = 2
	// exitCannotRun is for a file that cannot be read, or is refused
	// whole (a directory, an executable file): keepalived's
	// KEEPALIVED_EXIT_CONFIG. keepalived 2.2.7 itself exits with 0 there,
	// as it runs such a file as an empty configuration; vrrpd does not
	// run it, so -t does not pass it.
	exitCannotRun = 4
	// exitConfigTest is for a file with errors or warnings:
	// KEEPALIVED_EXIT_CONFIG_TEST. keepalived -t gives it for any
	// configuration error it reports, fatal or not, a missing interface
	// included.
	exitConfigTest = 5
	// exitSecurity is for scripts that would run as root without
	// enable_script_security (SECURITY VIOLATION), whatever else the file
	// has: KEEPALIVED_EXIT_CONFIG_TEST_SECURITY. keepalived 2.2.7 also
	// exits with 6 when an includea, includem or includew names files
	// that are missing.
	exitSecurity = 6
)

// configTest implements -t, keepalived's gate before a reload: every
// diagnostic on w as "FILE:LINE: severity: message", then a summary line,
// and keepalived's exit status (see exitConfigTest and its kin; 0 for a
// clean file). Remarks (kaconf.Diagnostic.Remark), the settings vrrpd
// runs differently from keepalived and the warnings keepalived prints
// without failing (a plain include whose files are missing) are printed
// but do not fail the test: keepalived -t passes such a file. The
// interfaces and scripts the file names are looked for on this host, in
// vrrpd's own network namespace.
func configTest(o options, w io.Writer) int {
	return configTestHost(o, kaconf.OSHost{}, w)
}

// configTestHost is configTest with host's view of scripts, users and
// interfaces.
func configTestHost(o options, host kaconf.Host, w io.Writer) int {
	if st, err := os.Stat(o.file); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		fmt.Fprintf(w, "%s: error: Configuration file '%s' is not a regular non-executable file\n", o.file, o.file)
		fmt.Fprintf(w, "%s: 1 error: vrrpd cannot run this file\n", o.file)
		return exitCannotRun
	}
	lo := loadOptions(o)
	lo.Host = host
	cfg, diags, err := kaconf.Load(o.file, lo)
	if err != nil {
		fmt.Fprintf(w, "%s: error: %v\n", o.file, err)
		fmt.Fprintf(w, "%s: 1 error: vrrpd cannot run this file\n", o.file)
		return exitCannotRun
	}
	d, convErr := convert(cfg, diags)
	var own []string
	if d != nil {
		own = d.Warnings
		diags = append(diags, d.LVSWarnings...)
	}
	for _, dg := range diags {
		fmt.Fprintln(w, dg.String())
	}
	for _, msg := range own {
		fmt.Fprintln(w, "warning: "+msg)
	}
	if convErr != nil && !diags.HasErrors() {
		// Refused by the conversion or the vrrp package.
		fmt.Fprintln(w, "error: "+convErr.Error())
	}
	t := tally(diags, includeKinds(diags))
	if convErr != nil && t.errors == 0 {
		t.errors = 1
	}
	t.remarks += len(own)
	counts := fmt.Sprintf("%s, %s", plural(t.errors, "error"), plural(t.warnings, "warning"))
	if t.remarks > 0 {
		counts += fmt.Sprintf(" (and %s keepalived -t does not fail on)", plural(t.remarks, "warning"))
	}
	if t.infos > 0 {
		counts += ", " + plural(t.infos, "info")
	}
	runs := "vrrpd would refuse this configuration"
	if t.errors == 0 {
		runs = fmt.Sprintf("%s, %s", plural(len(d.Instances), "instance"), plural(len(d.SyncGroups), "sync group"))
	}
	switch t.status() {
	case exitStopped:
		fmt.Fprintf(w, "%s: %s: a line lacks its parameter, where keepalived stops reading; %s\n", o.file, counts, runs)
	case exitSecurity:
		why := "SECURITY VIOLATION - scripts would run as root without enable_script_security"
		if !t.security {
			why = "files an includea, includem or includew names are missing"
		}
		fmt.Fprintf(w, "%s: %s: %s; %s\n", o.file, counts, why, runs)
	case exitConfigTest:
		if t.errors == 0 {
			runs = "it runs, not quite as written (" + runs + ")"
		}
		fmt.Fprintf(w, "%s: %s: %s\n", o.file, counts, runs)
	default:
		fmt.Fprintf(w, "%s: configuration OK (%s); %s\n", o.file, runs, counts)
	}
	return t.status()
}

// testTally counts the diagnostics of a configuration test as keepalived
// -t would weigh them.
type testTally struct {
	errors, warnings, remarks, infos int
	// stopped: a line lacks its parameter; security: a SECURITY
	// VIOLATION; strictInclude: an includea, includem or includew whose
	// files are missing.
	stopped, security, strictInclude bool
}

// status returns the exit status keepalived -t gives for t.
func (t testTally) status() int {
	switch {
	case t.stopped:
		return exitStopped
	case t.security, t.strictInclude:
		return exitSecurity
	case t.errors > 0 || t.warnings > 0:
		return exitConfigTest
	}
	return 0
}

// missingInclude reports the diagnostics kaconf gives for an include whose
// files are missing.
func missingInclude(d kaconf.Diagnostic) bool {
	return strings.HasPrefix(d.Message, "Config files missing '") ||
		strings.HasPrefix(d.Message, "Some config files missing: ") ||
		strings.HasPrefix(d.Message, "No config files matched '")
}

// includeKinds returns, for each diagnostic of a missing include, the
// include keyword its line starts with ("include", "includea", ...), read
// from the file; keepalived fails -t on missing files for some kinds only.
func includeKinds(diags kaconf.Diagnostics) map[int]string {
	kinds := map[int]string{}
	files := map[string][]string{}
	for i, d := range diags {
		if !missingInclude(d) || d.File == "" || d.Line < 1 {
			continue
		}
		lines, ok := files[d.File]
		if !ok {
			b, err := os.ReadFile(d.File)
			if err == nil {
				lines = strings.Split(string(b), "\n")
			}
			files[d.File] = lines
		}
		if d.Line <= len(lines) {
			if f := strings.Fields(lines[d.Line-1]); len(f) > 0 {
				kinds[i] = f[0]
			}
		}
	}
	return kinds
}

// tally weighs diags; kinds are their include keywords (includeKinds).
func tally(diags kaconf.Diagnostics, kinds map[int]string) testTally {
	var t testTally
	for i, d := range diags {
		if d.SecurityViolation() {
			t.security = true
		}
		if strings.HasPrefix(d.Message, "*** Configuration line starting ") {
			t.stopped = true
		}
		switch {
		case d.Severity == kaconf.Error:
			t.errors++
		case d.Severity == kaconf.Info:
			t.infos++
		case d.Remark():
			t.remarks++
		case missingInclude(d):
			switch kinds[i] {
			case "includea", "includem", "includew":
				t.strictInclude = true
				t.warnings++
			default:
				// keepalived prints it, and passes the file.
				t.remarks++
			}
		default:
			t.warnings++
		}
	}
	return t
}

// plural returns "1 error", "2 errors".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
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
		log.Log(context.Background(), level, d.Text())
	}
}

// daemon is a running vrrpd.
type daemon struct {
	opts     options
	log      *slog.Logger
	router   *vrrp.Router
	notifier *notifier
	order    notifyOrder
	// netns is the net_namespace it runs in ("" for its own): a reload
	// cannot change it.
	netns string

	// statusAddr and metricsAddr are where --status and --metrics listen.
	statusAddr, metricsAddr string

	mu  sync.Mutex
	cfg *daemonConfig

	// nsPath is the net_namespace's path ("" for its own); lvs runs the
	// virtual_server pools on lvsBal (IPVS), both opened by the first
	// configuration that has any.
	nsPath string
	lvs    *lvsRunner
	lvsBal io.Closer
}

// startLVS runs the virtual_server pools of cfg, replacing those running;
// it opens IPVS the first time a configuration has any.
func (d *daemon) startLVS(ctx context.Context, cfg *daemonConfig) error {
	if d.lvs == nil {
		if len(cfg.LVS) == 0 {
			return nil
		}
		bal, err := newIPVSBalancer(d.nsPath)
		if err != nil {
			return fmt.Errorf("LVS (virtual_server): %w", err)
		}
		d.lvsBal = bal
		d.lvs = newLVSRunner(bal, d.log)
	}
	if err := d.lvs.start(ctx, cfg.LVS); err != nil {
		return fmt.Errorf("LVS (virtual_server): %w", err)
	}
	return nil
}

// stopLVS stops the pools (keepalived removes its services at stop) and
// closes IPVS.
func (d *daemon) stopLVS() {
	if d.lvs == nil {
		return
	}
	d.lvs.stop()
	if err := d.lvsBal.Close(); err != nil {
		d.log.Warn("closing IPVS", "err", err)
	}
}

// netnsDirs are where keepalived looks for a net_namespace NAME: its
// RUN_DIR "netns/", /run/netns or /var/run/netns, where "ip netns add"
// puts them.
var netnsDirs = []string{"/run/netns", "/var/run/netns"}

// netnsPath returns the path of the network namespace name, "" for none.
func netnsPath(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if strings.Contains(name, "/") || name == "." || name == ".." {
		return "", fmt.Errorf("net_namespace %q: not a namespace name", name)
	}
	var first error
	for _, dir := range netnsDirs {
		p := filepath.Join(dir, name)
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", fmt.Errorf("net_namespace %s: no such network namespace in %s (create it with `ip netns add %s`): %w",
		name, strings.Join(netnsDirs, " or "), name, first)
}

// run runs the daemon until ctx ends or SIGTERM / SIGINT arrives.
func run(ctx context.Context, o options, log *slog.Logger) error {
	cfg, diags, err := load(o)
	logDiags(log, diags)
	if err != nil {
		return fmt.Errorf("loading %s: %w", o.file, err)
	}
	// net_namespace: every component works in the namespace while vrrpd
	// stays in its own, where its --status and --metrics servers listen.
	nsPath, err := netnsPath(cfg.NetNamespace)
	if err != nil {
		return err
	}
	ns, err := nsthread.Open(nsPath)
	if err != nil {
		return fmt.Errorf("net_namespace %s: %w", cfg.NetNamespace, err)
	}
	if ns.IsOpen() {
		defer ns.Close()
		log.Info(fmt.Sprintf("Running in network namespace %s", cfg.NetNamespace), "path", nsPath)
	}
	if o.pidFile != "" {
		if err := os.WriteFile(o.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pid file: %w", err)
		}
		defer os.Remove(o.pidFile)
	}
	binder, err := vip.New(vip.Options{Logger: log, Namespace: nsPath, Lease: o.vipLease, FilterTable: cfg.FilterTable})
	if err != nil {
		return fmt.Errorf("addresses: %w", err)
	}
	defer func() {
		// Deletes the no_accept filter's nftables table.
		if err := binder.Close(); err != nil {
			log.Warn("closing the address binder", "err", err)
		}
	}()
	ann, err := announce.New(announce.Options{Logger: log, Namespace: nsPath})
	if err != nil {
		return fmt.Errorf("announcer: %w", err)
	}
	defer ann.Close()

	d := &daemon{opts: o, log: log, cfg: cfg, netns: cfg.NetNamespace, nsPath: nsPath,
		notifier: newNotifier(log, notifyTimeout, ns)}
	if len(cfg.FIFOs) > 0 {
		d.notifier.fifos = openFIFOs(log, cfg.FIFOs, ns)
	}
	defer d.notifier.close()
	defer func() {
		for _, n := range d.order.flush() {
			d.notifier.notify(n)
		}
	}()
	r, err := vrrp.NewRouter(vrrp.Config{
		Instances:         cfg.Instances,
		SyncGroups:        cfg.SyncGroups,
		Static:            cfg.Static,
		Clock:             vrrp.PreciseClock{},
		LogUnknownVRIDs:   cfg.LogUnknownVRIDs,
		Transport:         &transport.Linux{Logger: log, Namespace: nsPath},
		Links:             &transport.Monitor{Logger: log, Namespace: nsPath},
		Binder:            binder,
		Announcer:         ann,
		Logger:            log,
		OnTransition:      d.onTransition,
		OnGroupTransition: d.onGroupTransition,
		OnLowerPriority:   d.onLowerPriority,
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

	if err := validateHealth(cfg, r); err != nil {
		return err
	}
	// The checks start before the instances (and run through the startup
	// delay, as keepalived's scripts do): the Router applies what they
	// found when it starts.
	tracker := cfg.tracker(r, log)
	tracker.WrapProbe = scriptsIn(ns)
	// No instance contends before its checks' first results, as
	// keepalived runs its scripts first.
	if err := tracker.Await(); err != nil {
		return err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := tracker.Run(ctx); err != nil {
			log.Error("health checks stopped", "err", err)
		}
	}()
	defer d.stopLVS()
	if err := d.startLVS(ctx, cfg); err != nil {
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
				d.handleSignal(ctx, s, tracker)
			}
		}
	}()
	log.Info("Starting VRRP child process", "pid", os.Getpid(), "config", o.file, "instances", len(cfg.Instances))
	// A SIGHUP during the delay reloads the configuration the instances
	// will start with; the delay itself is the first configuration's, and
	// is not restarted (keepalived delays only the first start).
	if !waitStartupDelay(ctx, cfg.StartupDelay, log) {
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		notifyWhenStarted(ctx, r, log)
	}()
	return r.Run(ctx)
}

// waitStartupDelay waits for vrrp_startup_delay, as keepalived delays the
// start of its VRRP instances after the daemon starts. It reports false
// when ctx ended first (SIGTERM during the delay: vrrpd stops without
// having started anything).
func waitStartupDelay(ctx context.Context, delay time.Duration, log *slog.Logger) bool {
	if delay <= 0 {
		return true
	}
	log.Info(fmt.Sprintf("Delaying startup for %g seconds", delay.Seconds()), "delay", delay.String())
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		log.Info("Stopped during the startup delay")
		return false
	case <-t.C:
		log.Info("Startup delay over, starting the VRRP instances")
		return true
	}
}

// handleSignal handles SIGHUP, SIGUSR1 and SIGUSR2.
func (d *daemon) handleSignal(ctx context.Context, s os.Signal, tracker *health.Tracker) {
	switch s {
	case syscall.SIGHUP:
		d.reload(ctx, tracker)
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

// reload rereads the configuration: an invalid one (including health
// checks that cannot run, or another net_namespace) leaves the running one
// in place; a valid one replaces the instances and groups (unchanged
// instances keep their state) and then the health checks, where unchanged
// checks keep their state too (see health.Tracker.Reload).
func (d *daemon) reload(ctx context.Context, tracker *health.Tracker) {
	d.log.Info("Reloading", "config", d.opts.file)
	d.mu.Lock()
	old0 := d.cfg
	d.mu.Unlock()
	cfg, diags, err := load(d.opts)
	logDiags(d.log, diags)
	if err == nil && cfg.LogUnknownVRIDs != old0.LogUnknownVRIDs {
		d.log.Warn("log_unknown_vrids changes at the next start of vrrpd, not at a reload")
	}
	if err == nil && fifosKey(cfg.FIFOs) != fifosKey(old0.FIFOs) {
		d.log.Warn("the notify FIFOs and their scripts change at the next start of vrrpd, not at a reload")
	}
	if err == nil && cfg.FilterTable != old0.FilterTable {
		d.log.Warn("the nftables table of the no_accept filter changes at the next start of vrrpd, not at a reload")
	}
	if err == nil && !reflect.DeepEqual(cfg.Static, old0.Static) {
		d.log.Warn("static_ipaddress, static_routes and static_rules change at the next start of vrrpd, not at a reload")
	}
	if err == nil && cfg.NetNamespace != d.netns {
		err = fmt.Errorf("net_namespace cannot change at a reload (running in %q, the file says %q): restart vrrpd", d.netns, cfg.NetNamespace)
	}
	if err == nil {
		err = validateHealth(cfg, d.router)
	}
	if err != nil {
		d.log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	d.mu.Lock()
	old := d.cfg
	d.cfg = cfg
	d.mu.Unlock()
	if err := d.router.ReloadGroups(ctx, cfg.Instances, cfg.SyncGroups); err != nil {
		d.log.Error("reload failed; the running configuration stays", "err", err)
		d.mu.Lock()
		d.cfg = old
		d.mu.Unlock()
		return
	}
	if err := tracker.Reload(ctx, cfg.trackerConfig()); err != nil {
		d.log.Error("reload: health checks not restarted; the running ones stay", "err", err)
	}
	if err := d.startLVS(ctx, cfg); err != nil {
		d.log.Error("reload: the virtual servers could not be replaced; the running ones stay", "err", err)
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

// onTransition runs the notify scripts of an instance and writes its line
// to the notify FIFOs.
func (d *daemon) onTransition(t vrrp.Transition) {
	d.mu.Lock()
	scripts, group := d.cfg.Notify[t.Instance], d.cfg.GroupOf[t.Instance]
	groupScripts := d.cfg.GroupNotify[group]
	d.mu.Unlock()
	note := notification{kind: "INSTANCE", name: t.Instance, state: notifyState(t.To),
		priority: int(t.Priority), scripts: scripts}
	for _, n := range d.order.instance(t, group, note) {
		if n.kind == "GROUP" {
			n.scripts = groupScripts
		}
		d.notifier.notify(n)
	}
}

// onLowerPriority runs the notify_master_rx_lower_pri script of the
// instance, as keepalived does each time its Master hears a lower
// priority.
func (d *daemon) onLowerPriority(l vrrp.LowerPriority) {
	d.mu.Lock()
	s := d.cfg.Notify[l.Instance].MasterRxLowerPri
	d.mu.Unlock()
	if s != nil {
		d.notifier.lowerPriority(l.Instance, *s)
	}
}

// onGroupTransition runs the notify scripts of a sync group and writes its
// line to the notify FIFOs.
func (d *daemon) onGroupTransition(t vrrp.GroupTransition) {
	d.log.Info(fmt.Sprintf("(%s) Syncing instances to %s state", t.Group, t.To))
	d.mu.Lock()
	scripts := d.cfg.GroupNotify[t.Group]
	d.mu.Unlock()
	// keepalived passes priority 0 for groups.
	for _, n := range d.order.group(notification{kind: "GROUP", name: t.Group, state: notifyState(t.To), scripts: scripts}) {
		d.notifier.notify(n)
	}
}

// scriptsIn returns a health.Tracker.WrapProbe that runs the probes of
// scripts with their thread in ns, so that a script forked there runs in
// the namespace, as keepalived's scripts run in its net_namespace (a
// tracked process is looked for in /proc, which the network namespace
// does not change); nil when ns is not open.
func scriptsIn(ns netns.NsHandle) func(context.Context, health.Check, func(context.Context) error) error {
	if !ns.IsOpen() {
		return nil
	}
	return func(ctx context.Context, c health.Check, probe func(context.Context) error) error {
		if _, ok := c.Checker.(health.Script); !ok {
			return probe(ctx)
		}
		return nsthread.Do(ns, func() error { return probe(ctx) })
	}
}

// validateHealth checks cfg's health checks as the Tracker will: the
// settings, the tracks, and the scripts (they exist, can run, are secure
// under enable_script_security).
func validateHealth(cfg *daemonConfig, target health.Target) error {
	if !cfg.hasHealth() {
		return nil
	}
	if err := cfg.tracker(target, nil).Validate(); err != nil {
		return fmt.Errorf("health checks: %w", err)
	}
	return nil
}
