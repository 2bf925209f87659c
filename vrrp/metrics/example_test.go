package metrics_test

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vrrpkit/vrrpkit/vrrp"
	"github.com/vrrpkit/vrrpkit/vrrp/metrics"
)

// A service registers the collector of its Router and serves /metrics.
func ExampleNewCollector() {
	var r *vrrp.Router // the service's Router, from vrrp.NewRouter
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(r))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	_ = mux // serve it with http.Server{Handler: mux}
	fmt.Println("registered")
	// Output: registered
}
