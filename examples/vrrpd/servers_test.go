package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/privnet"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// TestServers serves --status and --metrics, in a private network
// (internal/privnet), for a Router on the fake segment, which runs and
// becomes Master.
func TestServers(t *testing.T) { privnet.Run(t, testServers) }

func testServers(t *testing.T, n privnet.Net) {
	seg := fake.NewSegment(fake.SegmentConfig{})
	host := seg.NewHost("h1", netip.MustParseAddr("198.18.0.1"))
	listen := netip.AddrPortFrom(n.A, 0).String()
	d := &daemon{opts: options{status: listen, metrics: listen}, log: slog.New(slog.DiscardHandler)}
	r, err := vrrp.NewRouter(vrrp.Config{
		Transport: host,
		Instances: []vrrp.InstanceConfig{{Name: "VI_1", Interface: "eth0", VRID: 1, Priority: 200,
			AdvertInterval: 100 * time.Millisecond, VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.router = r
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Run(ctx)
	}()
	if err := d.startServers(ctx, &wg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := r.InstanceStatus("VI_1")
		if st.State == vrrp.Master {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Master: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Transport: &http.Transport{}} // no proxy from the environment
	defer client.CloseIdleConnections()
	get := func(url string) string {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
		}
		return string(b)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(get("http://"+d.statusAddr+"/")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 1 || st.Instances[0].Name != "VI_1" || st.Instances[0].State != vrrp.Master {
		t.Errorf("status: %+v", st)
	}
	m := get("http://" + d.metricsAddr + "/metrics")
	for _, want := range []string{
		`vrrpkit_instance_state{instance="VI_1",interface="eth0",state="MASTER",vrid="1"} 1`,
		`vrrpkit_instance_priority{instance="VI_1",interface="eth0",vrid="1"} 200`,
		`vrrpkit_instance_effective_priority{`,
		`vrrpkit_adverts_sent_total{`,
		`vrrpkit_adverts_received_total{`,
		`vrrpkit_adverts_dropped_total{`,
		`vrrpkit_transitions_total{`,
		`vrrpkit_master_seconds_total{`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
}
