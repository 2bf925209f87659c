package clock

import (
	"testing"
	"time"
)

func TestScaled(t *testing.T) {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewScaled(epoch, 100)
	start := time.Now()
	tm, ch := c.NewTimer(5 * time.Second) // 50 ms of real time
	at := <-ch
	real := time.Since(start)
	if real < 40*time.Millisecond {
		t.Errorf("a 5 s scaled timer fired after %v of real time, want about 50 ms", real)
	}
	if d := at.Sub(epoch); d < 5*time.Second {
		t.Errorf("the timer sent %v after the epoch, want at least 5 s", d)
	}
	if tm.Reset(time.Hour) {
		t.Error("Reset reported an active timer after it fired")
	}
	if !tm.Stop() {
		t.Error("Stop did not stop the reset timer")
	}
	select {
	case <-ch:
		t.Error("a stopped timer fired")
	case <-time.After(20 * time.Millisecond):
	}
}
