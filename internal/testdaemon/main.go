// Command testdaemon runs a vrrp.Router on the real network for the
// project's namespace tests and benchmarks: the tests start it inside a
// network namespace (ip netns exec), kill it, stop it and reload it like a
// daemon. It reads a JSON file holding a Config and prints one JSON line
// per transition on standard output.
//
//	testdaemon -config FILE [-status FILE] [-cpuprofile FILE]
//
// SIGTERM and SIGINT stop it gracefully (priority 0, addresses removed);
// SIGHUP reloads the instances from FILE.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/vrrpkit/vrrpkit/announce"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/transport"
	"github.com/vrrpkit/vrrpkit/vip"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Config is the file testdaemon reads.
type Config struct {
	// Instances are the virtual routers; durations are in nanoseconds.
	Instances []vrrp.InstanceConfig
	// Lease, if set, adds the VIPs with this kernel lifetime.
	Lease time.Duration
	// RouterFlag sets the R flag in unsolicited neighbour advertisements.
	RouterFlag bool
	// LogLevel is the slog level: -4 debug, 0 info (the default), 4 warn.
	LogLevel int
	// SyncGroups are the sync groups.
	SyncGroups []vrrp.SyncGroup
	// Scripts and Processes are health checks; Tracks says, by instance,
	// which ones move it.
	Scripts   []ScriptCheck
	Processes []ProcessCheck
	Tracks    map[string][]health.Track
}

// Schedule is the schedule of a check (health.Check without its Checker).
type Schedule struct {
	Name              string
	Interval, Timeout time.Duration
	Rise, Fall        int
	InitFail          bool
}

// ScriptCheck is a vrrp_script.
type ScriptCheck struct {
	Schedule
	Script health.Script
}

// ProcessCheck is a vrrp_track_process.
type ProcessCheck struct {
	Schedule
	Process health.Process
}

// checks builds the health checks of cfg.
func (cfg *Config) checks() []health.Check {
	var out []health.Check
	add := func(s Schedule, c health.Checker) {
		out = append(out, health.Check{Name: s.Name, Checker: c, Interval: s.Interval, Timeout: s.Timeout,
			Rise: s.Rise, Fall: s.Fall, InitFail: s.InitFail})
	}
	for _, s := range cfg.Scripts {
		add(s.Schedule, s.Script)
	}
	for i := range cfg.Processes {
		add(cfg.Processes[i].Schedule, &cfg.Processes[i].Process)
	}
	return out
}

// Event is one line of standard output.
type Event struct {
	Time     time.Time `json:"time"`
	Instance string    `json:"instance"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Reason   string    `json:"reason"`
	Priority uint8     `json:"priority"`
}

func main() {
	// One P unless GOMAXPROCS says otherwise, as examples/vrrpd runs: the
	// Router's hand-offs between goroutines wake idle threads otherwise.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	path := flag.String("config", "", "JSON configuration file")
	status := flag.String("status", "", "file that SIGUSR1 fills with the JSON status")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to FILE until the daemon stops gracefully")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "testdaemon: cpuprofile:", err)
			os.Exit(1)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if err := run(*path, *status); err != nil {
		pprof.StopCPUProfile() // os.Exit skips the deferred stop
		fmt.Fprintln(os.Stderr, "testdaemon:", err)
		os.Exit(1)
	}
}

func load(path string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Dump is what SIGUSR1 writes to the status file.
type Dump struct {
	Instances []vrrp.Status
	Router    vrrp.RouterStats
}

func run(path, statusPath string) error {
	cfg, err := load(path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.Level(cfg.LogLevel)}))
	binder, err := vip.New(vip.Options{Lease: cfg.Lease, Logger: log})
	if err != nil {
		return err
	}
	defer binder.Close()
	ann, err := announce.New(announce.Options{RouterFlag: cfg.RouterFlag, Logger: log})
	if err != nil {
		return err
	}
	defer ann.Close()
	var outMu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	r, err := vrrp.NewRouter(vrrp.Config{
		Instances:  cfg.Instances,
		SyncGroups: cfg.SyncGroups,
		Clock:      vrrp.PreciseClock{},
		Transport:  &transport.Linux{Logger: log},
		Links:      &transport.Monitor{Logger: log},
		Binder:     binder,
		Announcer:  ann,
		Logger:     log,
		OnTransition: func(t vrrp.Transition) {
			outMu.Lock()
			defer outMu.Unlock()
			_ = enc.Encode(Event{Time: t.Time, Instance: t.Instance, From: t.From.String(), To: t.To.String(),
				Reason: t.Reason.String(), Priority: t.Priority})
		},
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	var wg sync.WaitGroup
	defer func() {
		stop() // ends the other goroutines if Run failed to start
		wg.Wait()
	}()
	tracker := &health.Tracker{Target: r, Checks: cfg.checks(), Tracks: cfg.Tracks, Logger: log}
	if len(tracker.Checks) > 0 {
		if err := tracker.Validate(); err != nil {
			return err
		}
		// Before the Router runs: no instance contends before its
		// checks' first results.
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
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-usr1:
				if err := writeStatus(statusPath, Dump{Instances: r.Status(), Router: r.Stats()}); err != nil {
					log.Error("writing the status", "err", err)
				}
			case <-hup:
				next, err := load(path)
				if err == nil {
					err = r.Reload(ctx, next.Instances)
				}
				if err != nil {
					log.Error("reload failed; the running configuration stays", "err", err)
				}
			}
		}
	}()
	return r.Run(ctx)
}

// writeStatus writes d to path atomically, so that a reader never sees half
// of it.
func writeStatus(path string, d Dump) error {
	if path == "" {
		return fmt.Errorf("no -status file given")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
