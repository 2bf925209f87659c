//go:build linux

package bench

import (
	"github.com/vrrpkit/vrrpkit/internal/netns/vrrpcap"

	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// The failover pair: host 1 is the Master, host 2 the Backup, host 3 an
// observer on the same segment.
const (
	masterPrio = 150
	backupPrio = 100
	pairVRID   = 51
)

var pairVIP = netip.MustParsePrefix("198.18.0.100/24")

// intervals are the advert intervals measured, with the default number of
// trials of each kind.
var intervals = []struct {
	d time.Duration
	n int
}{
	{time.Second, 5},
	{100 * time.Millisecond, 20},
	{10 * time.Millisecond, 20},
}

// wantInterval reports whether VRRPKIT_BENCH_INTERVALS (default: all)
// lists d.
func wantInterval(t *testing.T, d time.Duration) bool {
	v := os.Getenv(envIntervs)
	if v == "" {
		return true
	}
	for _, f := range strings.Split(v, ",") {
		w, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			t.Fatalf("%s: %v", envIntervs, err)
		}
		if w == d {
			return true
		}
	}
	return false
}

// failoverResult is what one implementation did at one interval.
type failoverResult struct {
	impl     kind
	interval time.Duration
	ran      bool
	load     string
	note     string
	// disturbed counts the times the pair had not stayed quiet while it
	// settled before a trial (the trial waited and went on).
	disturbed int

	killToVIP, killToGARP, lateness []time.Duration // crash trials
	graceful, overSkew              []time.Duration // graceful trials

	// For vrrpkit, the lateness split at the Backup's transition to
	// Master (the time its Router's clock gave the tick): how late the
	// timer fired after the deadline computed from the capture, and from
	// there to the advert on the wire.
	crashFired, crashToWire       []time.Duration
	gracefulFired, gracefulToWire []time.Duration
}

// TestFailover measures crash failover (SIGKILL of the Master) and
// graceful failover (SIGTERM: priority 0) of each implementation, the
// Master and the Backup being the same implementation, at each interval.
// Timestamps come from a capture on the Backup's interface (kernel
// timestamps) and a netlink address subscription in the Backup's
// namespace.
func TestFailover(t *testing.T) {
	requested(t, "failover")
	var results []*failoverResult
	for _, iv := range intervals {
		if !wantInterval(t, iv.d) {
			continue
		}
		n := envInt(t, envN, iv.n)
		for _, k := range impls() {
			r := &failoverResult{impl: k, interval: iv.d}
			results = append(results, r)
			t.Run(fmt.Sprintf("%v/%s", iv.d, k), func(t *testing.T) {
				r.ran, r.load = true, loadavg()
				defer func() {
					r.load += " -> " + loadavg()
					if t.Failed() && r.note == "" {
						r.note = "run failed; see the test log"
					}
				}()
				runFailover(t, r, n)
			})
		}
	}
	report(t, failoverTables(results))
}

func runFailover(t *testing.T, r *failoverResult, n int) {
	iv := r.interval
	lab := newLab(t, 3)
	h1, h2 := lab.Host(1), lab.Host(2)
	capt := startCapture(t, h2, "eth0")
	watch := watchAddrs(t, h2)
	pair := []inst{{iface: "eth0", vrid: pairVRID, vip: pairVIP}}
	vip := pairVIP.Addr()
	src1, src2 := h1.Addr4.Addr(), h2.Addr4.Addr()
	mdi := masterDown(backupPrio, iv)
	skew := skewTime(backupPrio, iv)
	settle := max(5*iv, 300*time.Millisecond)

	backup := start(t, r.impl, h2, setup{insts: pair, prio: backupPrio, interval: iv}, "")
	bd, _ := backup.(*daemon)
	// becameMaster returns when our Backup said it became Master, at or
	// after from (zero for keepalived or if not yet printed).
	becameMaster := func(from time.Time) time.Time {
		if bd == nil {
			return time.Time{}
		}
		for _, e := range bd.transitions(from) {
			if e.To == "MASTER" {
				return e.Time
			}
		}
		return time.Time{}
	}
	var master speaker
	// startMaster (re)starts the Master and waits until it holds the VIP,
	// the Backup does not, and the Backup has heard it for a while.
	startMaster := func() {
		t.Helper()
		delAddr(t, h1, pairVIP, "eth0")
		master = start(t, r.impl, h1, setup{insts: pair, prio: masterPrio, interval: iv}, "")
		netns.WaitFor(t, 2*masterDown(masterPrio, iv)+10*time.Second, "host 1 holding the VIP alone", func() bool {
			a, err1 := h1.HasAddr(vip)
			b, err2 := h2.HasAddr(vip)
			return err1 == nil && err2 == nil && a && !b
		})
		time.Sleep(settle + rand.N(iv))
	}
	startMaster()

	// The Master must advertise the interval asked for (keepalived could
	// round or refuse it).
	for _, f := range capt.since(time.Now().Add(-settle)) {
		if v, ok := vrrpcap.Decode(f); ok && v.Src == src1 {
			if got := v.Advert.IntervalDuration(); got != iv {
				r.note = fmt.Sprintf("%s advertised %v for advert_int %v; not measured", r.impl, got, iv)
				t.Log(r.note)
				master.Stop(t)
				return
			}
			break
		}
	}

	isAdvert := func(f netns.Frame, src netip.Addr, prio int) bool {
		v, ok := vrrpcap.Decode(f)
		return ok && v.Src == src && v.Advert.VRID == pairVRID && (prio < 0 || int(v.Advert.Priority) == prio)
	}
	isGARP := func(f netns.Frame) bool {
		a, ok := f.ARP()
		return ok && a.Gratuitous() && a.SenderIP == vip && bytes.Equal(a.SenderMAC, h2.MAC)
	}
	// Frames and address events of earlier trials are forgotten, keeping
	// enough of the past to hold the Master's last adverts.
	forget := func() {
		now := time.Now()
		capt.forget(now.Add(-10*iv - time.Second))
		watch.forget(now)
	}
	// ready makes sure that a trial starts from a quiet pair: the Backup
	// sent no advert while the pair settled (a load spike can make it take
	// over for a moment) and host 1 alone holds the VIP. A disturbed pair
	// is counted, left to settle again and checked anew.
	ready := func(trial string) {
		t.Helper()
		for try := 0; ; try++ {
			quiet := true
			for _, f := range capt.since(time.Now().Add(-settle * 9 / 10)) {
				if isAdvert(f, src2, -1) {
					quiet = false
					break
				}
			}
			a, err1 := h1.HasAddr(vip)
			b, err2 := h2.HasAddr(vip)
			if quiet && err1 == nil && err2 == nil && a && !b {
				return
			}
			r.disturbed++
			t.Logf("%s: the pair was disturbed while settling (the Backup advertised or the VIP moved); settling again", trial)
			if try == 5 {
				t.Fatalf("%s: the pair never settled", trial)
			}
			netns.WaitFor(t, 2*masterDown(masterPrio, iv)+10*time.Second, "host 1 holding the VIP alone", func() bool {
				a, err1 := h1.HasAddr(vip)
				b, err2 := h2.HasAddr(vip)
				return err1 == nil && err2 == nil && a && !b
			})
			time.Sleep(settle + rand.N(iv))
		}
	}

	// Crash failover.
	for i := 0; i < n; i++ {
		ready(fmt.Sprintf("crash trial %d", i))
		forget()
		killed := time.Now()
		master.Kill(t)
		var first, garp netns.Frame
		var vipAt, fired time.Time
		netns.WaitFor(t, mdi+10*time.Second, fmt.Sprintf("crash trial %d: host 2 advertising, announcing and holding the VIP", i), func() bool {
			if fired.IsZero() {
				fired = becameMaster(killed)
			}
			if first.Data == nil || garp.Data == nil {
				for _, f := range capt.since(killed) {
					if first.Data == nil && isAdvert(f, src2, backupPrio) {
						first = f
					}
					if garp.Data == nil && isGARP(f) {
						garp = f
					}
				}
			}
			if vipAt.IsZero() {
				vipAt, _ = watch.first(vip, true, killed)
			}
			return first.Data != nil && garp.Data != nil && !vipAt.IsZero() && (bd == nil || !fired.IsZero())
		})
		var last netns.Frame
		for _, f := range capt.since(killed.Add(-5*iv - time.Second)) {
			if f.Time.Before(first.Time) && isAdvert(f, src1, -1) {
				last = f
			}
		}
		if last.Data == nil {
			t.Fatalf("crash trial %d: no advert of the old Master captured before the takeover", i)
		}
		late := first.Time.Sub(last.Time.Add(mdi))
		r.killToVIP = append(r.killToVIP, vipAt.Sub(killed))
		r.killToGARP = append(r.killToGARP, garp.Time.Sub(killed))
		r.lateness = append(r.lateness, late)
		t.Logf("crash %2d: last advert %s ms before the kill; kill->first advert %s, kill->VIP %s, kill->GARP %s, lateness %s ms",
			i, ms(killed.Sub(last.Time)), ms(first.Time.Sub(killed)), ms(vipAt.Sub(killed)), ms(garp.Time.Sub(killed)), ms(late))
		if bd != nil {
			a, b := fired.Sub(last.Time.Add(mdi)), first.Time.Sub(fired)
			r.crashFired, r.crashToWire = append(r.crashFired, a), append(r.crashToWire, b)
			t.Logf("          of which: timer fired %s ms after the deadline, then %s ms to the wire", ms(a), ms(b))
		}
		startMaster()
	}

	// Graceful failover.
	for i := 0; i < n; i++ {
		ready(fmt.Sprintf("graceful trial %d", i))
		forget()
		stopped := time.Now()
		master.Stop(t)
		var zero, first netns.Frame
		var fired time.Time
		netns.WaitFor(t, mdi+10*time.Second, fmt.Sprintf("graceful trial %d: priority 0, then host 2 advertising", i), func() bool {
			if fired.IsZero() {
				fired = becameMaster(stopped)
			}
			for _, f := range capt.since(stopped) {
				if zero.Data == nil && isAdvert(f, src1, 0) {
					zero = f
				}
				if zero.Data != nil && first.Data == nil && !f.Time.Before(zero.Time) && isAdvert(f, src2, backupPrio) {
					first = f
				}
			}
			return zero.Data != nil && first.Data != nil && (bd == nil || !fired.IsZero())
		})
		d := first.Time.Sub(zero.Time)
		r.graceful = append(r.graceful, d)
		r.overSkew = append(r.overSkew, d-skew)
		t.Logf("graceful %2d: priority 0 -> first advert %s ms (Skew_Time %s ms)", i, ms(d), ms(skew))
		if bd != nil {
			a, b := fired.Sub(zero.Time.Add(skew)), first.Time.Sub(fired)
			r.gracefulFired, r.gracefulToWire = append(r.gracefulFired, a), append(r.gracefulToWire, b)
			t.Logf("          of which: timer fired %s ms after the deadline, then %s ms to the wire", ms(a), ms(b))
		}
		startMaster()
	}
	if err := capt.error(); err != nil {
		t.Errorf("capture: %v", err)
	}
	master.Stop(t)
}

// failoverTables formats the results as markdown.
func failoverTables(rs []*failoverResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### Crash failover (SIGKILL of the Master)\n\n")
	fmt.Fprintf(&b, "Backup priority %d, Master priority %d, VRRPv3 IPv4, same implementation on both. "+
		"Times in ms, median / worst; lateness = first advert of the new Master − (last advert of the old Master + Master_Down_Interval). "+
		"Target: lateness ≤ 1 ms median and ≤ 2 ms worst.\n\n", backupPrio, masterPrio)
	b.WriteString("| interval | implementation | trials | Master_Down_Interval | kill → VIP on Backup | kill → first GARP | takeover lateness | target | disturbed while settling | load avg (before -> after) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|---|\n")
	for _, r := range rs {
		if !r.ran {
			continue
		}
		late := summarize(r.lateness)
		target := "-"
		if late.n > 0 {
			target = yesNo(late.median <= time.Millisecond && late.worst <= 2*time.Millisecond)
		}
		if r.note != "" {
			target = r.note
		}
		fmt.Fprintf(&b, "| %v | %s | %d | %s | %s | %s | %s | %s | %d | %s |\n", r.interval, r.impl, late.n,
			ms(masterDown(backupPrio, r.interval)), summarize(r.killToVIP).mw(), summarize(r.killToGARP).mw(),
			late.mw(), target, r.disturbed, r.load)
	}
	fmt.Fprintf(&b, "\n#### Graceful failover (SIGTERM of the Master: priority 0)\n\n")
	b.WriteString("Delay from the old Master's priority 0 advert to the Backup's first advert, in ms, median / worst. " +
		"Target: ≤ Skew_Time + 1 ms.\n\n")
	b.WriteString("| interval | implementation | trials | Skew_Time | priority 0 → first advert | minus Skew_Time | target |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if !r.ran {
			continue
		}
		over := summarize(r.overSkew)
		target := "-"
		if over.n > 0 {
			target = yesNo(over.median <= time.Millisecond && over.worst <= time.Millisecond)
		}
		if r.note != "" {
			target = r.note
		}
		fmt.Fprintf(&b, "| %v | %s | %d | %s | %s | %s | %s |\n", r.interval, r.impl, over.n,
			ms(skewTime(backupPrio, r.interval)), summarize(r.graceful).mw(), over.mw(), target)
	}
	b.WriteString("\n#### Where vrrpkit's Backup loses the time\n\n")
	b.WriteString("The lateness split at the Backup's transition to Master, as its Router's clock dated it (the time of the tick that fired): " +
		"the timer fired this late after the deadline (the old Master's last advert, or its priority 0, as captured + Master_Down_Interval or Skew_Time; " +
		"it includes the delay from the wire to the Router reading the advert), and the first advert reached the wire this long after. ms, median / worst.\n\n")
	b.WriteString("| interval | crash: timer fired late | crash: tick → advert on the wire | graceful: timer fired late | graceful: tick → advert on the wire |\n")
	b.WriteString("|---|---:|---:|---:|---:|\n")
	for _, r := range rs {
		if !r.ran || r.impl != ours {
			continue
		}
		fmt.Fprintf(&b, "| %v | %s | %s | %s | %s |\n", r.interval, summarize(r.crashFired).mw(), summarize(r.crashToWire).mw(),
			summarize(r.gracefulFired).mw(), summarize(r.gracefulToWire).mw())
	}
	return b.String()
}
