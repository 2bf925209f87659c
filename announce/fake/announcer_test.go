package fake

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func (c *stepClock) NewTimer(d time.Duration) (vrrp.Timer, <-chan time.Time) {
	panic("not used")
}

func TestAnnounce(t *testing.T) {
	clock := &stepClock{now: time.Unix(1000, 0)}
	a := NewAnnouncer(clock)
	ctx := context.Background()
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::1")}
	if err := a.Announce(ctx, "eth0", addrs); err != nil {
		t.Fatal(err)
	}
	addrs[0] = netip.MustParseAddr("10.0.0.1")
	if err := a.Announce(ctx, "eth1", addrs[1:]); err != nil {
		t.Fatal(err)
	}
	got := a.Announcements()
	if len(got) != 2 || a.Len() != 2 {
		t.Fatalf("Announcements = %+v", got)
	}
	if g := got[0]; !g.Time.Equal(time.Unix(1001, 0)) || g.Iface != "eth0" || len(g.Addrs) != 2 || g.Addrs[0] != netip.MustParseAddr("192.0.2.10") || g.Err != nil {
		t.Errorf("first = %+v", g)
	}
	if g := got[1]; !g.Time.Equal(time.Unix(1002, 0)) || g.Iface != "eth1" || len(g.Addrs) != 1 {
		t.Errorf("second = %+v", g)
	}
	got[0].Addrs[0] = netip.Addr{}
	if a.Announcements()[0].Addrs[0] != netip.MustParseAddr("192.0.2.10") {
		t.Error("Announcements shares its addresses")
	}
	a.Reset()
	if a.Len() != 0 {
		t.Error("Reset")
	}
}

func TestSystemClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var a Announcer
		start := time.Now()
		time.Sleep(time.Minute)
		a.Announce(context.Background(), "eth0", nil)
		if got := a.Announcements()[0].Time; got.Sub(start) != time.Minute {
			t.Errorf("time %v, want start+1m", got)
		}
		if NewAnnouncer(nil).Announce(context.Background(), "eth0", nil) != nil {
			t.Error("NewAnnouncer(nil) fails")
		}
	})
}

func TestAnnounceError(t *testing.T) {
	var a Announcer
	boom := errors.New("boom")
	a.SetError(boom)
	if err := a.Announce(context.Background(), "eth0", nil); !errors.Is(err, boom) {
		t.Errorf("Announce = %v, want boom", err)
	}
	a.SetError(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Announce(ctx, "eth0", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Announce with a canceled context = %v", err)
	}
	got := a.Announcements()
	if len(got) != 2 || !errors.Is(got[0].Err, boom) || !errors.Is(got[1].Err, context.Canceled) {
		t.Errorf("Announcements = %+v", got)
	}
}

func TestConcurrent(t *testing.T) {
	a := NewAnnouncer(nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				a.Announce(context.Background(), "eth0", []netip.Addr{netip.MustParseAddr("192.0.2.1")})
				a.Announcements()
			}
		})
	}
	wg.Wait()
	if a.Len() != 800 {
		t.Errorf("Len = %d", a.Len())
	}
}
