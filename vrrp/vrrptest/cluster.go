// Package vrrptest builds clusters of Routers on an in-memory segment for
// the tests of code that embeds vrrpkit: a line to start N nodes, and
// questions a test asks of them (who is Master, who holds an address).
// Inside a testing/synctest bubble the protocol's timers run on fake time,
// so a failover takes no real time.
package vrrptest

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	announcefake "github.com/vrrpkit/vrrpkit/announce/fake"
	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// TB is the part of testing.TB a Cluster uses; a *testing.T is one.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Config describes a cluster.
type Config struct {
	// Instances are the instances every node runs, as configured on the
	// first node; the priorities of the others come from Priorities.
	Instances []vrrp.InstanceConfig
	// Priorities are the priority of each node's instances: one entry a
	// node.
	Priorities []uint8
	// Configure, if set, changes node i's Router configuration before the
	// Router is made: callbacks, a Logger, sync groups...
	Configure func(i int, c *vrrp.Config)
	// Seed seeds the segment's faults (see fake.SegmentConfig).
	Seed int64
}

// Cluster is Routers on one fake segment, each on a host of its own with
// an in-memory binder, announcer and link monitor.
type Cluster struct {
	// Segment is the segment the nodes share: set faults, partitions,
	// taps on it.
	Segment *fake.Segment
	// Nodes are the nodes, in the order of Config.Priorities.
	Nodes []*Node
}

// Node is one Router of a Cluster.
type Node struct {
	// Name is "n1", "n2"...; Addr is 198.18.0.N.
	Name string
	Addr netip.Addr
	// Host is the node's host on the segment.
	Host *fake.Host
	// Binder, Announcer and Links are the node's fakes.
	Binder    *vipfake.Binder
	Announcer *announcefake.Announcer
	Links     *fake.Links
	// Router is the node's Router.
	Router *vrrp.Router

	t      TB
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// Start builds the cluster and runs every node; the test's cleanup stops
// them (gracefully) and closes the segment. A configuration error fails
// the test.
func Start(t TB, cfg Config) *Cluster {
	t.Helper()
	c := &Cluster{Segment: fake.NewSegment(fake.SegmentConfig{Seed: cfg.Seed})}
	t.Cleanup(func() { c.Segment.Close() })
	for i, prio := range cfg.Priorities {
		n := &Node{Name: fmt.Sprintf("n%d", i+1), Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), t: t}
		n.Host = c.Segment.NewHost(n.Name, n.Addr)
		n.Binder, n.Announcer = &vipfake.Binder{}, announcefake.NewAnnouncer(nil)
		insts := slices.Clone(cfg.Instances)
		ifaces := map[string]bool{}
		for j := range insts {
			insts[j].Priority = prio
			ifaces[insts[j].Interface] = true
		}
		n.Links = fake.NewLinks()
		for iface := range ifaces {
			n.Links.Set(fake.Up(iface, n.Addr))
		}
		rc := vrrp.Config{Instances: insts, Transport: n.Host, Binder: n.Binder, Announcer: n.Announcer, Links: n.Links}
		if cfg.Configure != nil {
			cfg.Configure(i, &rc)
		}
		r, err := vrrp.NewRouter(rc)
		if err != nil {
			t.Fatalf("vrrptest: node %s: %v", n.Name, err)
		}
		n.Router = r
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		n.start()
		t.Cleanup(n.Stop)
	}
	return c
}

func (n *Node) start() {
	ctx, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.cancel, n.done = cancel, make(chan error, 1)
	done := n.done
	n.mu.Unlock()
	go func() { done <- n.Router.Run(ctx) }()
}

// Stop stops the node gracefully, as SIGTERM stops a daemon: a Master
// sends priority 0 and releases its addresses. Stopping a stopped node
// does nothing.
func (n *Node) Stop() {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel, n.done = nil, nil
	n.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	if err := <-done; err != nil {
		n.t.Errorf("vrrptest: node %s: Run: %v", n.Name, err)
	}
}

// Crash stops the node as SIGKILL would, as far as its peers can tell:
// its link goes down first, so that its last words (priority 0) reach
// nobody, and they take over only when its adverts stop. Its addresses go
// from its binder, as a lease makes them go from a killed host. Restart
// brings it back.
func (n *Node) Crash() {
	n.Host.SetLink(false)
	n.Stop()
}

// Restart runs a stopped or crashed node again, its link up.
func (n *Node) Restart() {
	n.Host.SetLink(true)
	n.start()
}

// State returns the state of the node's instance.
func (n *Node) State(instance string) vrrp.State {
	s, _ := n.Router.InstanceStatus(instance)
	return s.State
}

// Master returns the node whose instance is Master, or nil: the first in
// Nodes order when several are.
func (c *Cluster) Master(instance string) *Node {
	for _, n := range c.Nodes {
		if n.State(instance) == vrrp.Master {
			return n
		}
	}
	return nil
}

// Holders returns the nodes whose binder holds prefix.
func (c *Cluster) Holders(prefix netip.Prefix) []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Binder.Has(prefix) {
			out = append(out, n)
		}
	}
	return out
}

// WaitMaster waits until exactly one node is Master of instance and holds
// want (one of the instance's VIPs), and returns it, or ctx's error.
func (c *Cluster) WaitMaster(ctx context.Context, instance string, want netip.Prefix) (*Node, error) {
	// Binds finish beside each Router's loop, after the Status says
	// Master: look every pollEvery (no real time in a synctest bubble).
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if m := c.Master(instance); m != nil {
			if h := c.Holders(want); len(h) == 1 && h[0] == m && c.masters(instance) == 1 {
				return m, nil
			}
		}
		t.Reset(pollEvery)
	}
}

// pollEvery is how often WaitMaster looks.
const pollEvery = 10 * time.Millisecond

func (c *Cluster) masters(instance string) int {
	k := 0
	for _, n := range c.Nodes {
		if n.State(instance) == vrrp.Master {
			k++
		}
	}
	return k
}
