//go:build linux

package bench

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// TestHeap measures the Go heap that a Router holds per instance: Routers
// of 1, 255 and 1,000 Master instances at 100 ms on the in-memory
// transport (no sockets, no netlink), in this process. With
// VRRPKIT_BENCH_PROFILE it writes a heap profile of the 255-instance
// Router, for go tool pprof -sample_index=inuse_space.
func TestHeap(t *testing.T) {
	requested(t, "heap")
	var b strings.Builder
	b.WriteString("#### Go heap held by a Router (in-memory transport, Master instances at 100 ms)\n\n")
	b.WriteString("HeapInuse after a forced GC, the Router running with every instance Master, minus the same before it was built.\n\n")
	b.WriteString("| instances | heap in use | per instance |\n|---:|---:|---:|\n")
	for _, n := range []int{1, 255, 1000} {
		heap := routerHeap(t, n, profilePath(t, fmt.Sprintf("heap-%d", n)))
		fmt.Fprintf(&b, "| %d | %.2f MiB | %.1f KiB |\n", n, float64(heap)/(1<<20), float64(heap)/1024/float64(n))
	}
	report(t, b.String())
}

// routerHeap runs a Router of n Master instances and returns the heap it
// holds; profile, if not empty, receives a heap profile.
func routerHeap(t *testing.T, n int, profile string) uint64 {
	inuse := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := inuse()
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	host := seg.NewHost("h1", netip.MustParseAddr("198.18.0.1"))
	var insts []vrrp.InstanceConfig
	for i, in := range instances(n) {
		insts = append(insts, vrrp.InstanceConfig{
			Name: fmt.Sprintf("VI_%d", i+1), Interface: in.iface, VRID: in.vrid, Priority: 200,
			AdvertInterval: 100 * time.Millisecond, VIPs: []vrrp.VIP{{Prefix: in.vip}},
		})
	}
	r, err := vrrp.NewRouter(vrrp.Config{Instances: insts, Transport: host, Binder: &vipfake.Binder{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		masters := 0
		for _, s := range r.Status() {
			if s.State == vrrp.Master {
				masters++
			}
		}
		if masters == n {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("%d instances: %d Master after 30 s", n, masters)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	held := inuse() - before
	if profile != "" {
		f, err := os.Create(profile)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			t.Error(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
	runtime.KeepAlive(r)
	return held
}
