package vrrp_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// conn0 returns the only Conn of host h.
func conn0(t *testing.T, h *fake.Host) *fake.Conn {
	t.Helper()
	cs := h.Conns()
	if len(cs) != 1 {
		t.Fatalf("%s has %d Conns, want 1", h, len(cs))
	}
	return cs[0]
}

// masterBackup starts a Master (priority 200, host m) and a Backup
// (priority 100, host b, on clk when not nil) of VI_1 on seg. Both stop
// when the test ends (Backup first); stopM stops the Master earlier.
func masterBackup(t *testing.T, seg *fake.Segment, clk vrrp.Clock) (hm, hb *fake.Host, b *vrrp.Router, stopM func()) {
	t.Helper()
	hm, hb = seg.NewHost("m", addr4(1)), seg.NewHost("b", addr4(2))
	_, stopM = runRouter(t, vrrp.Config{Transport: hm, Instances: []vrrp.InstanceConfig{v3inst(200)}})
	b, stopB := runRouter(t, vrrp.Config{Transport: hb, Clock: clk, Instances: []vrrp.InstanceConfig{v3inst(100)}})
	t.Cleanup(stopM)
	t.Cleanup(stopB)
	return hm, hb, b, stopM
}

// backupDeferred checks that VI_1 of b is a Backup and its Conn on hb
// defers.
func backupDeferred(t *testing.T, b *vrrp.Router, hb *fake.Host, when string) {
	t.Helper()
	if s := stateOf(t, b, "VI_1"); s != vrrp.Backup || !conn0(t, hb).Deferred() {
		t.Errorf("%s: %v, deferred %v; want Backup, true", when, s, conn0(t, hb).Deferred())
	}
}

// A Backup on a DeferredReader reads its Master's adverts when its timer
// falls due, once per Master_Down_Interval (RFC 5798 section 6.4.2 only
// needs the latest advert's arrival), yet takes over exactly
// Master_Down_Interval after the last one; its Conn reads eagerly while it
// is Master and defers again once it is preempted.
func TestRouterDeferredBackup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		lastM, untap := lastFrame(seg, "m")
		defer untap()
		clk := &countingClock{}
		hm, hb, b, _ := masterBackup(t, seg, clk)
		time.Sleep(7 * time.Second)
		synctest.Wait()
		if !conn0(t, hb).Deferred() || conn0(t, hm).Deferred() {
			t.Fatalf("deferred: Backup %v, Master %v; want true, false", conn0(t, hb).Deferred(), conn0(t, hm).Deferred())
		}
		s0, _ := b.InstanceStatus("VI_1")
		f0 := clk.fires.Load()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		s1, _ := b.InstanceStatus("VI_1")
		fires := clk.fires.Load() - f0
		adverts := s1.Stats.AdvertsReceived - s0.Stats.AdvertsReceived
		if s1.State != vrrp.Backup || s1.Stats.Transitions != 1 || adverts < 27 {
			t.Fatalf("Backup %v after %d transitions read %d adverts", s1.State, s1.Stats.Transitions, adverts)
		}
		// Master_Down_Interval is 3.6 s: the timer fires every 3 s.
		if fires < 9 || fires > 11 {
			t.Errorf("%d adverts read in %d timer fires, want one fire per 3 adverts", adverts, fires)
		}
		if s1.Master != addr4(1) || s1.MasterPriority != 200 {
			t.Errorf("Backup follows %v/%d, want %v/200", s1.Master, s1.MasterPriority, addr4(1))
		}

		hm.SetLink(false) // m is cut off: nothing more from it
		time.Sleep(5 * time.Second)
		synctest.Wait()
		s2, _ := b.InstanceStatus("VI_1")
		took := s2.Since.Sub(lastM())
		if s2.State != vrrp.Master || took != masterDown(100) {
			t.Fatalf("Backup is %v, %v after the last advert; want Master after %v", s2.State, took, masterDown(100))
		}
		if conn0(t, hb).Deferred() {
			t.Error("a Master's Conn is deferred")
		}

		hm.SetLink(true) // m (200) is back and preempts
		time.Sleep(3 * time.Second)
		synctest.Wait()
		backupDeferred(t, b, hb, "after m came back")
	})
}

// RFC 5798 section 6.4.2 (425)-(430): a priority 0 advert reaches a deferred
// Backup at once, which takes over after Skew_Time; the older adverts of
// the same Master that it reads after it are superseded: neither taken as
// a live Master nor counted as drops.
func TestRouterDeferredPriorityZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		_, hb, b, stopM := masterBackup(t, seg, nil)
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if !conn0(t, hb).Deferred() || conn0(t, hb).Held() == 0 {
			t.Fatalf("Backup deferred %v with %d held; want true with adverts held", conn0(t, hb).Deferred(), conn0(t, hb).Held())
		}
		stopAt := time.Now()
		stopM()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		s, _ := b.InstanceStatus("VI_1")
		if want := 156 * time.Second / 256; s.State != vrrp.Master || s.Since.Sub(stopAt) != want {
			t.Errorf("Backup %v %v after the stop, want Master after Skew_Time %v", s.State, s.Since.Sub(stopAt), want)
		}
		if s.Stats.PriorityZeroReceived != 1 || s.Stats.Drops[vrrp.DropStale] != 0 {
			t.Errorf("priority 0 received %d, stale drops %d; want 1 and none", s.Stats.PriorityZeroReceived, s.Stats.Drops[vrrp.DropStale])
		}
	})
}

// Too many held adverts: the Conn drops some (DropOverflow, counted by the
// Router), the Backup does not take over on the strength of a silence that
// may be the overflow's, and the Conn reads eagerly for 30 s.
func TestRouterDeferredOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1, QueueLen: 16})
		t.Cleanup(func() { seg.Close() })
		clk := &countingClock{}
		_, hb, b, _ := masterBackup(t, seg, clk)
		time.Sleep(8 * time.Second)
		synctest.Wait()
		if !conn0(t, hb).Deferred() {
			t.Fatal("the Backup's Conn is not deferred")
		}
		// Just after the Backup read what it held, fill the held queue
		// with adverts of another VRID: the Master's next ones find it
		// full, and its timer expires.
		for f := clk.fires.Load(); clk.fires.Load() == f; {
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
		}
		adv := vrrp.Advertisement{Version: 3, VRID: 99, Priority: 100, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
		msg, err := adv.Append(nil, addr4(9), vrrp.Group4)
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			seg.Inject(hb, vrrp.PacketInfo{Src: addr4(9), Dst: vrrp.Group4, TTL: 255}, msg)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		st := b.Stats()
		s, _ := b.InstanceStatus("VI_1")
		if st.Drops[vrrp.DropOverflow] < 24 || s.State != vrrp.Backup || s.Stats.Transitions != 1 {
			t.Fatalf("overflow drops %d, Backup %v after %d transitions; want 24 or more, Backup, 1",
				st.Drops[vrrp.DropOverflow], s.State, s.Stats.Transitions)
		}
		if conn0(t, hb).Deferred() {
			t.Error("the Conn still defers after an overflow")
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		backupDeferred(t, b, hb, "30 s later")
	})
}

// A Conn whose virtual routers are all in Fault has no timer to read held
// adverts by: it reads eagerly (and drops what comes) until one is a
// Backup again.
func TestRouterDeferredFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		_, hb, b, _ := masterBackup(t, seg, nil)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if err := b.SetFault("VI_1", "test", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		s, _ := b.InstanceStatus("VI_1")
		if s.State != vrrp.Fault || conn0(t, hb).Deferred() || conn0(t, hb).Held() != 0 || s.Stats.Drops[vrrp.DropNotRunning] < 2 {
			t.Errorf("in Fault: %v, deferred %v, %d held, %d not-running drops; want eager reads that drop",
				s.State, conn0(t, hb).Deferred(), conn0(t, hb).Held(), s.Stats.Drops[vrrp.DropNotRunning])
		}
		if err := b.SetFault("VI_1", "test", false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		backupDeferred(t, b, hb, "fault cleared")
	})
}

// A hostile advert of priority 0 that fails the checks (here TTL 64) is
// read at once and dropped; it must not make the held adverts of the live
// Master, which arrived before it, look stale: the Backup stays Backup.
func TestRouterDeferredBadPriorityZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		t.Cleanup(func() { seg.Close() })
		_, hb, b, _ := masterBackup(t, seg, nil)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		adv := vrrp.Advertisement{Version: 3, VRID: 51, Priority: 0, Interval: 100, Addresses: []netip.Addr{vip4.Addr()}}
		msg, err := adv.Append(nil, addr4(9), vrrp.Group4)
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			time.Sleep(500 * time.Millisecond)
			seg.Inject(hb, vrrp.PacketInfo{Src: addr4(9), Dst: vrrp.Group4, TTL: 64}, msg)
		}
		synctest.Wait()
		s, _ := b.InstanceStatus("VI_1")
		if s.State != vrrp.Backup || s.Stats.Transitions != 1 || s.Stats.Drops[vrrp.DropTTL] != 40 || s.Stats.Drops[vrrp.DropStale] != 0 {
			t.Errorf("Backup %v after %d transitions, %d TTL and %d stale drops; want Backup, 1, 40, 0",
				s.State, s.Stats.Transitions, s.Stats.Drops[vrrp.DropTTL], s.Stats.Drops[vrrp.DropStale])
		}
		backupDeferred(t, b, hb, "after the bad adverts")
	})
}
