package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// statusJSON is what --status serves.
type statusJSON struct {
	Instances []vrrp.Status
	Router    vrrp.RouterStats
}

// startServers starts the --status and --metrics HTTP servers, each
// stopped when ctx ends; wg waits for them.
func (d *daemon) startServers(ctx context.Context, wg *sync.WaitGroup) error {
	if d.opts.status != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(statusJSON{Instances: d.router.Status(), Router: d.router.Stats()})
		})
		addr, err := serve(ctx, wg, d.log, "status", d.opts.status, mux)
		if err != nil {
			return err
		}
		d.statusAddr = addr
	}
	if d.opts.metrics != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(newCollector(d.router, d.masterTime))
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		addr, err := serve(ctx, wg, d.log, "metrics", d.opts.metrics, mux)
		if err != nil {
			return err
		}
		d.metricsAddr = addr
	}
	return nil
}

// serve listens on addr and serves h until ctx ends. It returns the
// address it listens on.
func serve(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, what, addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s server: %w", what, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" server stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info(what+" server listening", "addr", ln.Addr().String())
	return ln.Addr().String(), nil
}

// masterClock accumulates the time each instance spent as Master.
type masterClock struct {
	mu    sync.Mutex
	total map[string]time.Duration
	since map[string]time.Time
}

// transition records t.
func (m *masterClock) transition(t vrrp.Transition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.total == nil {
		m.total, m.since = map[string]time.Duration{}, map[string]time.Time{}
	}
	if start, ok := m.since[t.Instance]; ok {
		m.total[t.Instance] += t.Time.Sub(start)
		delete(m.since, t.Instance)
	}
	if t.To == vrrp.Master {
		m.since[t.Instance] = t.Time
	}
}

// seconds returns the time instance has spent as Master up to now.
func (m *masterClock) seconds(instance string, now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.total[instance]
	if start, ok := m.since[instance]; ok {
		d += now.Sub(start)
	}
	return d.Seconds()
}

// collector exports Router.Status at each scrape.
type collector struct {
	router *vrrp.Router
	master *masterClock

	state, prio, eff, in, out, drops, trans, masterSecs, becameMaster *prometheus.Desc
}

func newCollector(r *vrrp.Router, m *masterClock) *collector {
	lbl := []string{"instance", "interface", "vrid"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("vrrpd_"+name, help, append(append([]string(nil), lbl...), extra...), nil)
	}
	return &collector{router: r, master: m,
		state:        desc("instance_state", "1 for the current state of the instance.", "state"),
		prio:         desc("instance_priority", "Configured priority."),
		eff:          desc("instance_effective_priority", "Advertised (effective) priority."),
		in:           desc("adverts_received_total", "Advertisements received."),
		out:          desc("adverts_sent_total", "Advertisements sent."),
		drops:        desc("adverts_dropped_total", "Advertisements dropped, by reason.", "reason"),
		trans:        desc("transitions_total", "State transitions."),
		becameMaster: desc("became_master_total", "Transitions to Master."),
		masterSecs:   desc("master_seconds_total", "Seconds spent as Master."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.prio, c.eff, c.in, c.out, c.drops, c.trans, c.becameMaster, c.masterSecs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, s := range c.router.Status() {
		l := []string{s.Name, s.Interface, fmt.Sprint(s.VRID)}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(append([]string(nil), l...), extra...)...)
		}
		counter := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append(append([]string(nil), l...), extra...)...)
		}
		for _, st := range []vrrp.State{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault} {
			v := 0.0
			if s.State == st {
				v = 1
			}
			gauge(c.state, v, st.String())
		}
		gauge(c.prio, float64(s.Priority))
		gauge(c.eff, float64(s.EffectivePriority))
		counter(c.in, float64(s.Stats.AdvertsReceived))
		counter(c.out, float64(s.Stats.AdvertsSent))
		for i, n := range s.Stats.Drops {
			if i != int(vrrp.DropNone) {
				counter(c.drops, float64(n), vrrp.DropReason(i).String())
			}
		}
		counter(c.trans, float64(s.Stats.Transitions))
		counter(c.becameMaster, float64(s.Stats.BecameMaster))
		counter(c.masterSecs, c.master.seconds(s.Name, now))
	}
}

// notifyWhenStarted sends READY=1 to systemd once every instance of r has
// left INIT (the sockets are open), or after 10 s, or not at all if ctx
// ends first.
func notifyWhenStarted(ctx context.Context, r *vrrp.Router, log *slog.Logger) {
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		started := true
		for _, s := range r.Status() {
			if s.State == vrrp.Init {
				started = false
			}
		}
		if started || time.Now().After(deadline) {
			sdNotifyReady(log)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sdNotifyReady tells systemd (Type=notify) that vrrpd has started; it
// does nothing when not run by systemd.
func sdNotifyReady(log *slog.Logger) {
	if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
		log.Warn("sd_notify READY=1 failed", "err", err)
	}
}
