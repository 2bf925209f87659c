//go:build linux

package bench

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// segments is how many segments (and so interfaces per host) the
// many-instance benchmarks use: 4 × 250 VRIDs hold 1,000 instances.
const segments = 4

// vipRange holds every VIP of the many-instance benchmarks.
var vipRange = netip.MustParsePrefix("198.19.0.0/16")

// instances returns n IPv4 instances: up to 255 on eth0, beyond that 250 on
// each of eth0 to eth3. Instance VRID v on segment k has VIP 198.19.k.v/32.
func instances(n int) []inst {
	per := 255
	if n > 255 {
		per = 250
	}
	var out []inst
	for i := 0; i < n; i++ {
		k, v := i/per, i%per+1
		out = append(out, inst{
			iface: segIface(k),
			vrid:  uint8(v),
			vip:   netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 19, byte(k), byte(v)}), 32),
		})
	}
	if n > per*segments {
		panic(fmt.Sprintf("bench: %d instances need more than %d segments", n, segments))
	}
	return out
}

// allIfaces are the interfaces of every segment.
func allIfaces() []string {
	var out []string
	for k := 0; k < segments; k++ {
		out = append(out, segIface(k))
	}
	return out
}

// profilePath returns where our daemon writes a CPU profile named name, or
// "" without VRRPKIT_BENCH_PROFILE.
func profilePath(t *testing.T, name string) string {
	dir := os.Getenv(envProfile)
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := filepath.Abs(filepath.Join(dir, name+".pprof"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cpuResult is one CPU and memory measurement.
type cpuResult struct {
	impl      kind
	n         int
	ran       bool
	elapsed   time.Duration
	cpu       cpuSample // the Master process
	cpuB      cpuSample // the Backup process
	adverts   uint64    // counted on the wire
	reported  uint64    // AdvertsSent from our status dump
	rss, hwm  int64     // KiB, the Master
	anon      int64     // KiB of RssAnon (heap, stacks) in rss
	rssB      int64     // KiB, the Backup
	parentRSS int64     // keepalived's parent process, KiB
	trans     int       // transitions of both during the period
	load      string
	note      string
}

// TestCPU measures, for 1, 255 and 1,000 instances at 100 ms in one
// process, the CPU time per advert sent by a Master process and per advert
// received by a Backup process of the same instances on another host
// (utime+stime over a fixed period, over the adverts counted on the
// Backup's host), and their resident memory.
func TestCPU(t *testing.T) {
	requested(t, "cpu")
	period := envDuration(t, envPeriod, 30*time.Second)
	const interval = 100 * time.Millisecond
	lab := newLab(t, 2)
	addSegments(t, lab, segments)
	h1, h2 := lab.Host(1), lab.Host(2)
	cnt := newCounter(t, h2, allIfaces()...)
	var results []*cpuResult
	for _, n := range sizes(t, envCPUN, []int{1, 255, 1000}) {
		for _, k := range impls() {
			r := &cpuResult{impl: k, n: n}
			results = append(results, r)
			t.Run(fmt.Sprintf("%d/%s", n, k), func(t *testing.T) {
				r.ran, r.load = true, loadavg()
				defer func() {
					r.load += " -> " + loadavg()
					if t.Failed() && r.note == "" {
						r.note = "run failed; see the test log"
					}
				}()
				measureCPU(t, r, h1, h2, cnt, interval, period)
			})
		}
	}
	report(t, cpuTable(results, interval, period))
}

func measureCPU(t *testing.T, r *cpuResult, h1, h2 *netns.Host, cnt *counter, interval, period time.Duration) {
	insts := instances(r.n)
	m := start(t, r.impl, h1, setup{insts: insts, prio: 200, interval: interval}, profilePath(t, fmt.Sprintf("cpu-%d-master", r.n)))
	netns.WaitFor(t, 120*time.Second, fmt.Sprintf("%d VIPs on host 1", r.n), func() bool {
		return countAddrs(t, h1, vipRange) == r.n
	})
	// Past the second burst of gratuitous ARPs, 5 s after the takeover.
	time.Sleep(7 * time.Second)
	// The Backup starts at 1 s, so that all its instances are set up
	// before the Master_Down_Interval learned from the Master applies,
	// then reloads to the Master's interval.
	b := start(t, r.impl, h2, setup{insts: insts, prio: 100, interval: time.Second}, profilePath(t, fmt.Sprintf("cpu-%d-backup", r.n)))
	time.Sleep(7 * time.Second)
	b.Reload(t, h2, setup{insts: insts, prio: 100, interval: interval})
	time.Sleep(5 * time.Second)
	if n := countAddrs(t, h2, vipRange); n != 0 {
		r.note = fmt.Sprintf("the Backup held %d VIPs before the measurement", n)
	}
	pm, pb := m.Pid(t), b.Pid(t)
	md, isOurs := m.(*daemon)
	var d0 dump
	if isOurs {
		d0 = md.dump(t)
	}
	c0, err1 := readCPU(pm)
	cb0, err2 := readCPU(pb)
	cnt.take(t)
	markAll(m, b)
	began := time.Now()
	time.Sleep(period)
	c1, err3 := readCPU(pm)
	cb1, err4 := readCPU(pb)
	r.adverts = cnt.take(t)
	r.elapsed = time.Since(began)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.cpu, r.cpuB = c1.sub(c0), cb1.sub(cb0)
	r.trans = countTransitions(m, began) + countTransitions(b, began)
	mem, err := memStatus(pm)
	if err != nil {
		t.Fatal(err)
	}
	r.rss, r.hwm, r.anon = mem["VmRSS"], mem["VmHWM"], mem["RssAnon"]
	r.rssB, _, _ = memKB(pb)
	if isOurs {
		d1 := md.dump(t)
		r.reported = sentAdverts(d1) - sentAdverts(d0)
		if bad := notMaster(d1); bad > 0 {
			r.note = strings.TrimPrefix(r.note+fmt.Sprintf("; %d instances not Master", bad), "; ")
		}
	} else if ks, ok := m.(*keepalivedSpeaker); ok {
		r.parentRSS, _, _ = memKB(ks.k.Pid())
	}
	want := float64(r.n) * float64(r.elapsed) / float64(interval)
	t.Logf("%s with %d instances: %d adverts counted (%.0f expected), Master CPU %v (stat) %v (schedstat), %d context switches, RSS %d KiB; Backup CPU %v, %d transitions",
		r.impl, r.n, r.adverts, want, r.cpu.Stat, r.cpu.Sched, r.cpu.Switches, r.rss, r.cpuB.Sched, r.trans)
	b.Stop(t)
	m.Stop(t)
	netns.WaitFor(t, 60*time.Second, "the VIPs gone from both hosts", func() bool {
		return countAddrs(t, h1, vipRange) == 0 && countAddrs(t, h2, vipRange) == 0
	})
}

func sentAdverts(d dump) uint64 {
	var n uint64
	for _, s := range d.Instances {
		n += s.Stats.AdvertsSent
	}
	return n
}

func notMaster(d dump) int {
	n := 0
	for _, s := range d.Instances {
		if s.State != vrrp.Master {
			n++
		}
	}
	return n
}

// perAdvert returns d over n adverts, in microseconds.
func perAdvert(d time.Duration, n uint64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)/float64(n))
}

func cpuTable(rs []*cpuResult, interval, period time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### CPU time per advert and resident memory (instances at %v, %v measured)\n\n", interval, period)
	b.WriteString("A Master process (priority 200) and a Backup process (priority 100, started at 1 s and reloaded to 100 ms) of the same instances on two hosts. " +
		"CPU from /proc/PID/stat (utime+stime, 10 ms ticks) and from the threads' schedstat (ns); the adverts are counted in the kernel on the Backup's host " +
		"(for vrrpkit also AdvertsSent from its status). keepalived: its VRRP child process. " +
		"The sender's CPU includes the kernel's forwarding of its packets through the lab's veths and bridge (softirq work done in its context). " +
		"Targets: CPU per advert ≤ half of keepalived's; < 15 MB resident at 255 instances.\n\n")
	b.WriteString("| instances | implementation | adverts counted (status) | Master CPU stat / schedstat (ms) | user share | % of a core | Master µs per advert sent (stat / schedstat) | context switches per advert | Backup µs per advert received | Master VmRSS (VmHWM) | of which anonymous | Backup VmRSS | transitions | notes |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if !r.ran {
			continue
		}
		status := ""
		if r.impl == ours {
			status = fmt.Sprintf(" (%d)", r.reported)
		}
		pct := "-"
		if r.elapsed > 0 {
			pct = fmt.Sprintf("%.2f", 100*float64(r.cpu.Sched)/float64(r.elapsed))
		}
		note := r.note
		if r.parentRSS > 0 {
			note = strings.TrimPrefix(note+fmt.Sprintf("; parent process %.1f MiB", float64(r.parentRSS)/1024), "; ")
		}
		user := "-"
		if r.cpu.Stat > 0 {
			user = fmt.Sprintf("%.0f%%", 100*float64(r.cpu.User)/float64(r.cpu.Stat))
		}
		sw := "-"
		if r.adverts > 0 {
			sw = fmt.Sprintf("%.3f", float64(r.cpu.Switches)/float64(r.adverts))
		}
		fmt.Fprintf(&b, "| %d | %s | %d%s | %d / %.1f | %s | %s | %s / %s | %s | %s | %.1f MiB (%.1f) | %.1f MiB | %.1f MiB | %d | %s |\n",
			r.n, r.impl, r.adverts, status,
			r.cpu.Stat.Milliseconds(), float64(r.cpu.Sched)/float64(time.Millisecond), user, pct,
			perAdvert(r.cpu.Stat, r.adverts), perAdvert(r.cpu.Sched, r.adverts), sw, perAdvert(r.cpuB.Sched, r.adverts),
			float64(r.rss)/1024, float64(r.hwm)/1024, float64(r.anon)/1024, float64(r.rssB)/1024, r.trans, note)
	}
	// The targets, for each size measured with both implementations.
	b.WriteString("\n| instances | vrrpkit / keepalived CPU per advert sent (schedstat) | per advert received | target ≤ 0.5 | vrrpkit Master VmRSS | target < 15 MB at 255 |\n")
	b.WriteString("|---:|---:|---:|---|---:|---|\n")
	per := func(d time.Duration, n uint64) float64 { return float64(d) / float64(n) }
	for _, r := range rs {
		if r.impl != ours || !r.ran {
			continue
		}
		sent, recv, target := "-", "-", "-"
		for _, k := range rs {
			if k.impl == keepalived && k.ran && k.n == r.n && k.adverts > 0 && r.adverts > 0 && k.cpu.Sched > 0 && k.cpuB.Sched > 0 {
				x := per(r.cpu.Sched, r.adverts) / per(k.cpu.Sched, k.adverts)
				y := per(r.cpuB.Sched, r.adverts) / per(k.cpuB.Sched, k.adverts)
				sent, recv, target = fmt.Sprintf("%.2f", x), fmt.Sprintf("%.2f", y), yesNo(x <= 0.5 && y <= 0.5)
			}
		}
		mem := "-"
		if r.n == 255 {
			mem = yesNo(r.rss*1024 < 15*1000*1000)
			if r.hwm*1024 >= 15*1000*1000 {
				mem += fmt.Sprintf(" (peak VmHWM %.1f MB is not)", float64(r.hwm)*1024/1e6)
			}
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %.1f MiB (%.1f MB) | %s |\n", r.n, sent, recv, target, float64(r.rss)/1024, float64(r.rss)*1024/1e6, mem)
	}
	return b.String()
}

// stableResult is one stability run.
type stableResult struct {
	impl                    kind
	n                       int
	ran                     bool
	elapsed                 time.Duration
	transM, transB          int
	cpuM, cpuB              cpuSample
	adverts                 uint64 // counted on the Backup's host
	sentM, recvB, dropsB    uint64 // our status
	sendErrM, routerRecvB   uint64 // our status: send errors, packets read
	coldM, coldB, coldVIPsB int    // cold start: transitions, VIPs taken
	stagedM, stagedB        int    // staged start: transitions
	rawDropsB               uint64 // kernel drops at the Backup's raw sockets
	vipsM, vipsB            int
	rssM, rssB              int64
	load                    string
	note                    string
	details                 []string
}

// sizes returns the instance counts listed in the environment variable
// name, or def.
func sizes(t *testing.T, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 250*segments {
			t.Fatalf("%s=%q: want a list of 1 to %d", name, v, 250*segments)
		}
		out = append(out, n)
	}
	return out
}

// TestStable runs 1,000 instances at 10 ms in one Master process against
// a Backup process of the same 1,000 instances on a second host, and
// counts the state changes over a fixed period (none is "stable").
func TestStable(t *testing.T) {
	requested(t, "stable")
	period := envDuration(t, envStable, 30*time.Second)
	var results []*stableResult
	for _, n := range sizes(t, envStableN, []int{1000}) {
		for _, k := range impls() {
			r := &stableResult{impl: k, n: n}
			results = append(results, r)
			t.Run(fmt.Sprintf("%d/%s", n, k), func(t *testing.T) {
				r.ran, r.load = true, loadavg()
				defer func() {
					r.load += " -> " + loadavg()
					if t.Failed() && r.note == "" {
						r.note = "run failed; see the test log"
					}
				}()
				runStable(t, r, period)
			})
		}
	}
	report(t, stableTable(results, period))
}

func runStable(t *testing.T, r *stableResult, period time.Duration) {
	n := r.n
	const interval = 10 * time.Millisecond
	lab := newLab(t, 2)
	addSegments(t, lab, segments)
	h1, h2 := lab.Host(1), lab.Host(2)
	cnt := newCounter(t, h2, allIfaces()...)
	insts := instances(n)
	master := setup{insts: insts, prio: 200, interval: interval}
	backup := setup{insts: insts, prio: 100, interval: interval}
	m := start(t, r.impl, h1, master, profilePath(t, "stable-master"))
	settled := func(what string) {
		t.Helper()
		netns.WaitFor(t, 120*time.Second, what, func() bool {
			return countAddrs(t, h1, vipRange) == n && countAddrs(t, h2, vipRange) == 0
		})
		// Past the second burst of gratuitous ARPs, 5 s after a takeover.
		time.Sleep(7 * time.Second)
	}
	settled(fmt.Sprintf("%d VIPs on host 1", n))
	md, _ := m.(*daemon)

	// Cold start: the Backup starts at 10 ms at once. Every instance's
	// Master_Down_Interval (36 ms) runs from its start, while the others
	// are still being set up.
	markAll(m)
	coldFrom := time.Now()
	b := start(t, r.impl, h2, backup, "")
	time.Sleep(10 * time.Second)
	r.coldM, r.coldB = countTransitions(m, coldFrom), countTransitions(b, coldFrom)
	r.coldVIPsB = countAddrs(t, h2, vipRange)
	b.Stop(t)
	settled("host 1 alone holding the VIPs after the cold start")

	// Staged start: the Backup starts with 1 s adverts, so that its
	// instances are all set up before the Master_Down_Interval learned
	// from the Master's 10 ms adverts (RFC 5798 6.4.2) applies, then
	// reloads to 10 ms in place.
	markAll(m)
	stagedFrom := time.Now()
	b = start(t, r.impl, h2, setup{insts: insts, prio: 100, interval: time.Second}, profilePath(t, "stable-backup"))
	time.Sleep(7 * time.Second)
	b.Reload(t, h2, backup)
	time.Sleep(5 * time.Second)
	r.stagedM, r.stagedB = countTransitions(m, stagedFrom), countTransitions(b, stagedFrom)
	pm, pb := m.Pid(t), b.Pid(t)
	bd, _ := b.(*daemon)
	var m0, b0 dump
	if md != nil {
		m0, b0 = md.dump(t), bd.dump(t)
	}
	rd0 := rawDrops(pb)
	cm0, err1 := readCPU(pm)
	cb0, err2 := readCPU(pb)
	cnt.take(t)
	markAll(m, b)
	began := time.Now()
	time.Sleep(period)
	cm1, err3 := readCPU(pm)
	cb1, err4 := readCPU(pb)
	r.adverts = cnt.take(t)
	r.elapsed = time.Since(began)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	r.rawDropsB = rawDrops(pb) - rd0
	r.cpuM, r.cpuB = cm1.sub(cm0), cb1.sub(cb0)
	r.rssM, _, _ = memKB(pm)
	r.rssB, _, _ = memKB(pb)
	r.vipsM, r.vipsB = countAddrs(t, h1, vipRange), countAddrs(t, h2, vipRange)
	r.transM, r.transB = countTransitions(m, began), countTransitions(b, began)
	if md != nil {
		m1, b1 := md.dump(t), bd.dump(t)
		r.sentM = sentAdverts(m1) - sentAdverts(m0)
		for i, s := range m1.Instances {
			r.sendErrM += s.Stats.SendErrors - m0.Instances[i].Stats.SendErrors
		}
		r.routerRecvB = b1.Router.Received - b0.Router.Received
		for i, s := range b1.Instances {
			r.recvB += s.Stats.AdvertsReceived - b0.Instances[i].Stats.AdvertsReceived
			for j, d := range s.Stats.Drops {
				r.dropsB += d - b0.Instances[i].Stats.Drops[j]
			}
		}
		for _, e := range append(md.transitions(began), bd.transitions(began)...) {
			if len(r.details) < 10 {
				r.details = append(r.details, fmt.Sprintf("%s %s: %s -> %s (%s)", e.Time.Format("15:04:05.000000"), e.Instance, e.From, e.To, e.Reason))
			}
		}
	}
	t.Logf("%s: cold start %d/%d transitions (%d VIPs on the Backup), staged start %d/%d; steady: %d adverts, transitions %d/%d, VIPs %d/%d, CPU master %v backup %v; kernel drops at the Backup's sockets %d",
		r.impl, r.coldM, r.coldB, r.coldVIPsB, r.stagedM, r.stagedB, r.adverts, r.transM, r.transB, r.vipsM, r.vipsB, r.cpuM.Sched, r.cpuB.Sched, r.rawDropsB)
	for _, d := range r.details {
		t.Log(d)
	}
	b.Stop(t)
	m.Stop(t)
}

// markAll records, for keepalived, how many transitions its log holds now.
func markAll(ss ...speaker) {
	for _, s := range ss {
		if k, ok := s.(*keepalivedSpeaker); ok {
			k.mark()
		}
	}
}

// countTransitions counts the state changes of a speaker since from: our
// daemon's printed transitions, or the "Entering ... STATE" lines that
// keepalived logged since the last markAll at or before from.
func countTransitions(s speaker, from time.Time) int {
	switch s := s.(type) {
	case *daemon:
		return len(s.transitions(from))
	case *keepalivedSpeaker:
		return s.transitionsSince(from)
	}
	return 0
}

func stableTable(rs []*stableResult, period time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### Stability: instances at 10 ms in one process\n\n")
	fmt.Fprintf(&b, "A Master process (priority 200) and a Backup process (priority 100) of the same VRRPv3 IPv4 instances "+
		"(up to 255 on one segment, 1,000 as 4 segments × 250 VRIDs) on two hosts of the lab, which share the machine's cores. "+
		"Transitions leave out each instance's initial entry into BACKUP. "+
		"Cold start: the Backup started at 10 ms; transitions (Master / Backup) in its first 10 s and the VIPs it held then. "+
		"Staged start: the Backup started at 1 s and was reloaded (SIGHUP) to 10 ms. "+
		"Steady: the %v that follow the staged start. Target: no state change in the steady period.\n\n", period)
	b.WriteString("| instances | implementation | cold start: transitions, VIPs taken | staged start: transitions | steady: transitions Master / Backup | VIPs on Master / Backup | adverts counted (expected) | CPU Master / Backup (% of a core) | VmRSS Master / Backup | target | load avg |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rs {
		if !r.ran {
			continue
		}
		want := float64(r.n) * float64(r.elapsed) / float64(10*time.Millisecond)
		stable := r.elapsed > 0 && r.transM == 0 && r.transB == 0 && r.vipsM == r.n && r.vipsB == 0
		target := yesNo(stable)
		if r.note != "" {
			target = r.note
		}
		pct := func(c cpuSample) string {
			if r.elapsed == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", 100*float64(c.Sched)/float64(r.elapsed))
		}
		fmt.Fprintf(&b, "| %d | %s | %d / %d, %d | %d / %d | %d / %d | %d / %d | %d (%.0f) | %s / %s | %.1f / %.1f MiB | %s | %s |\n",
			r.n, r.impl, r.coldM, r.coldB, r.coldVIPsB, r.stagedM, r.stagedB, r.transM, r.transB, r.vipsM, r.vipsB,
			r.adverts, want, pct(r.cpuM), pct(r.cpuB), float64(r.rssM)/1024, float64(r.rssB)/1024, target, r.load)
	}
	for _, r := range rs {
		if !r.ran || r.elapsed == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%d instances, %s, steady period: the kernel dropped %d adverts at the Backup's VRRP sockets (full receive buffers).", r.n, r.impl, r.rawDropsB)
		if r.impl == ours {
			fmt.Fprintf(&b, " Status: the Master sent %d adverts (%d send errors); the Backup read %d packets, "+
				"its instances received %d adverts and dropped %d.", r.sentM, r.sendErrM, r.routerRecvB, r.recvB, r.dropsB)
		}
		b.WriteString("\n")
		for _, d := range r.details {
			fmt.Fprintf(&b, "- %s\n", d)
		}
	}
	return b.String()
}
