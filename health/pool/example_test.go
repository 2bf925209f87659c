package pool_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vrrpkit/vrrpkit/health/pool"

	"github.com/vrrpkit/vrrpkit/health"
)

// A Pool checks real servers and reports who should receive traffic, as
// keepalived's virtual_server does: here b's service fails and the next
// membership leaves it out. OnChange is where a BalancerSync (IPVS) or
// any other balancer would apply it.
func ExamplePool() {
	var bDown atomic.Bool
	check := func(down *atomic.Bool) health.Check {
		return health.Check{Checker: health.CheckerFunc(func(context.Context) error {
			if down != nil && down.Load() {
				return errors.New("connection refused")
			}
			return nil
		})}
	}
	changes := make(chan pool.Membership, 16)
	p, err := pool.New(pool.Config{
		Name:     "web",
		Interval: 10 * time.Millisecond,
		Backends: []pool.Backend{
			{Name: "a", Addr: netip.MustParseAddrPort("198.18.0.11:80"), Weight: 2, Checks: []health.Check{check(nil)}},
			{Name: "b", Addr: netip.MustParseAddrPort("198.18.0.12:80"), Weight: 1, Checks: []health.Check{check(&bDown)}},
		},
		OnChange: func(_ context.Context, m pool.Membership) error {
			changes <- m
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	show := func(m pool.Membership) {
		fmt.Printf("weight %d, quorum %v:", m.Weight, m.Quorum)
		for _, mb := range m.Members {
			fmt.Printf(" %s=%d", mb.Addr, mb.Weight)
		}
		for _, e := range m.Events {
			fmt.Printf(" [%s %s]", e.Kind, e.Backend)
		}
		fmt.Println()
	}
	show(<-changes)
	bDown.Store(true)
	show(<-changes)
	cancel()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	// Output:
	// weight 3, quorum true: 198.18.0.11:80=2 198.18.0.12:80=1
	// weight 2, quorum true: 198.18.0.11:80=2 [backend-down b]
}
