package vrrp

import (
	"runtime"
	"testing"
	"time"
)

// RFC 5798 6.4.2: Master_Down_Interval counts from the advert's arrival.
// arrival dates an advert by the kernel's receive time when it is
// plausible.
func TestArrival(t *testing.T) {
	now := time.Now() // with a monotonic reading
	wall := now.Round(0)
	tests := []struct {
		name   string
		kernel time.Time
		want   time.Duration // before now
		dated  bool
	}{
		{"unknown", time.Time{}, 0, false},
		{"queued 300us", wall.Add(-300 * time.Microsecond), 300 * time.Microsecond, true},
		{"held 2.5s", wall.Add(-2500 * time.Millisecond), 2500 * time.Millisecond, true},
		{"in the future: clock stepped", wall.Add(time.Second), 0, false},
		{"too old: clock stepped", wall.Add(-2 * time.Hour), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dated := arrival(now, tt.kernel, 3*time.Second)
			if d := now.Sub(got); d != tt.want || dated != tt.dated {
				t.Errorf("arrival = now - %v, %v; want now - %v, %v", d, dated, tt.want, tt.dated)
			}
		})
	}
}

func TestPreciseTimer(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the precise timer is a Linux timerfd")
	}
	tm, err := newPreciseTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := tm.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	wait := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-tm.C():
			return at
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the timer did not fire", what)
		}
		return time.Time{}
	}
	quiet := func(what string, d time.Duration) {
		t.Helper()
		select {
		case <-tm.C():
			t.Fatalf("%s: the timer fired", what)
		case <-time.After(d):
		}
	}

	// It fires no earlier than asked.
	start := time.Now()
	if tm.Reset(20 * time.Millisecond) {
		t.Error("Reset of a new timer reported it active")
	}
	if at := wait("armed"); at.Sub(start) < 20*time.Millisecond {
		t.Errorf("fired after %v, before 20ms", at.Sub(start))
	}
	// Zero and negative durations fire at once.
	tm.Reset(0)
	wait("Reset(0)")
	tm.Reset(-time.Second)
	wait("Reset(-1s)")

	// Stop: nothing arrives, even once the deadline has passed.
	tm.Reset(10 * time.Millisecond)
	if !tm.Stop() {
		t.Error("Stop of an armed timer reported it stopped")
	}
	quiet("after Stop", 50*time.Millisecond)

	// A Reset after the old deadline passed unseen replaces it: no stale
	// firing, and the new one comes.
	tm.Reset(time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	start = time.Now()
	tm.Reset(60 * time.Millisecond)
	quiet("after Reset past an unseen fire", 30*time.Millisecond)
	if at := wait("re-armed"); at.Sub(start) < 60*time.Millisecond {
		t.Errorf("fired after %v, before 60ms", at.Sub(start))
	}

	// Re-arming earlier and later.
	start = time.Now()
	tm.Reset(time.Hour)
	tm.Reset(10 * time.Millisecond)
	wait("moved earlier")
	tm.Reset(5 * time.Millisecond)
	tm.Reset(80 * time.Millisecond)
	quiet("moved later", 40*time.Millisecond)
	if at := wait("moved later"); at.Sub(start) < 80*time.Millisecond {
		t.Errorf("fired after %v, before 80ms", at.Sub(start))
	}
}

// A wall clock step makes the kernel's arrival times (by the wall clock)
// incomparable with those before it and with the Router's deadlines (by
// the monotonic one): checkStep notices a change of the clocks' offset
// beyond a millisecond, and forgets the arrival times kept for the stale
// rule, so that adverts after a backward step are not dropped as older
// than one before it.
func TestCheckStep(t *testing.T) {
	kept := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	inst := &nodeInst{keptAt: kept}
	var off time.Duration
	r := &Router{node: &Node{insts: []*nodeInst{inst}}, offsetOf: func(time.Time) time.Duration { return off }}
	now := time.Now()
	for i, step := range []struct {
		name    string
		off     time.Duration
		stepped bool
	}{
		{"no change", 0, false},
		{"slewed by 0.5ms", 500 * time.Microsecond, false},
		{"stepped back an hour", time.Hour, true},
		{"steady after the step", time.Hour, false},
		{"stepped forward 5ms", time.Hour - 5*time.Millisecond, true},
		{"slewed again", time.Hour - 5*time.Millisecond - 900*time.Microsecond, false},
	} {
		off = step.off
		inst.keptAt = kept
		at := now.Add(time.Duration(i) * time.Second)
		r.checkStep(at)
		if r.stepped != step.stepped {
			t.Errorf("%s: stepped = %v, want %v", step.name, r.stepped, step.stepped)
		}
		// A second read of the same event (another Conn) keeps what the
		// first found.
		r.checkStep(at)
		if r.stepped != step.stepped {
			t.Errorf("%s, second read of the event: stepped = %v, want %v", step.name, r.stepped, step.stepped)
		}
		if cleared := inst.keptAt.IsZero(); cleared != step.stepped {
			t.Errorf("%s: arrival time kept for the stale rule cleared = %v, want %v", step.name, cleared, step.stepped)
		}
	}
}

// Without a step, the offset the Router reads is zero: both readings of
// one time.Time move together.
func TestWallOffset(t *testing.T) {
	r := &Router{wallRef: time.Now()}
	if off := r.wallOffset(time.Now()); off < -time.Millisecond || off > time.Millisecond {
		t.Errorf("wallOffset = %v without a step", off)
	}
}
