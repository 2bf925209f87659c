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
	"github.com/vrrpkit/vrrpkit/vrrp/metrics"
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
		reg.MustRegister(metrics.NewCollector(d.router))
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
