package fake

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// DefaultQueueLen is the capacity of a Conn's receive queue when
// SegmentConfig.QueueLen is zero.
const DefaultQueueLen = 1024

// Errors returned by Host.Open and the Conn methods. Returned errors wrap
// them, so callers branch with errors.Is.
var (
	// ErrNoAddress is returned by Host.Open when the host has no address
	// of the endpoint's family.
	ErrNoAddress = errors.New("fake: host has no address of the family")
	// ErrEndpoint is returned by Host.Open when the endpoint's family is
	// neither IPv4 nor IPv6, or its group is not a multicast address of
	// that family.
	ErrEndpoint = errors.New("fake: bad endpoint")
	// ErrAddress is returned by Conn.WriteTo when dst is not a valid
	// address of the Conn's family, or src is valid but of another family.
	ErrAddress = errors.New("fake: bad address")
	// ErrClosed is returned when a Conn is used after its Close or the
	// Segment's Close, and by Host.Open after Segment.Close. It wraps
	// net.ErrClosed, so errors.Is(err, net.ErrClosed) holds too.
	ErrClosed = fmt.Errorf("fake: %w", net.ErrClosed)
)

// Faults are the impairments a Segment applies to each copy of a packet,
// that is to each receiving host. Probabilities are in [0, 1]: 0 (or less)
// never, 1 (or more) always. Negative durations count as zero.
type Faults struct {
	// Loss is the probability that a copy is lost.
	Loss float64
	// Duplicate is the probability that a copy is delivered twice. The
	// second copy has its own jitter and reordering.
	Duplicate float64
	// Delay is the fixed delay of every copy.
	Delay time.Duration
	// Jitter is the upper bound of a uniformly drawn extra delay in
	// [0, Jitter).
	Jitter time.Duration
	// Reorder is the probability that a copy is held back by ReorderDelay
	// more, so that packets sent after it overtake it.
	Reorder float64
	// ReorderDelay is the extra delay of a reordered copy; zero means
	// Delay + Jitter + 1ms, which lets a packet sent at the same time but
	// not reordered arrive first.
	ReorderDelay time.Duration
	// Hops is the number of routers on a simulated routed path: the TTL (or
	// hop limit) a receiver sees is the one sent minus Hops, and a packet
	// whose TTL would reach zero is lost. Zero, the default, is a plain
	// link where receivers see TTL 255.
	Hops uint8
}

// SegmentConfig configures a Segment.
type SegmentConfig struct {
	// Clock times delayed deliveries and Frame times; nil means
	// vrrp.SystemClock{}.
	Clock vrrp.Clock
	// Seed seeds the segment's own random source, which draws losses,
	// duplicates, jitter and reordering. The same seed and the same
	// sequence of calls give the same decisions.
	Seed int64
	// Faults are the faults in force until SetFaults changes them.
	Faults Faults
	// QueueLen is the capacity of each Conn's receive queue; zero means
	// DefaultQueueLen. A packet that arrives at a full queue is dropped
	// and counted in Stats.DroppedFull.
	QueueLen int
}

// Delivery is one copy of a packet bound for one host, as decided by
// Segment.Route.
type Delivery struct {
	// To is the receiving host.
	To *Host
	// Info is the packet information the receiver sees, TTL included.
	Info vrrp.PacketInfo
	// Msg is the VRRP message, a copy owned by this Delivery.
	Msg []byte
	// Delay is how long after sending the copy arrives.
	Delay time.Duration
}

// Frame is a packet observed by a Tap, as written and before any fault.
type Frame struct {
	// Time is the segment Clock's time when the packet was written.
	Time time.Time
	// From is the name of the sending host; empty for Segment.Inject.
	From string
	// Info is the packet information as written (TTL 255 from a Conn).
	Info vrrp.PacketInfo
	// Msg is a copy of the message, owned by the observer.
	Msg []byte
}

// Stats are a Segment's packet counters since NewSegment.
type Stats struct {
	// Sent counts packets written by Conns or passed to Route, before
	// faults.
	Sent uint64
	// Injected counts packets passed to Inject.
	Injected uint64
	// Delivered counts packets queued on a Conn (a copy that reaches two
	// Conns of one host counts twice).
	Delivered uint64
	// Lost counts copies lost to Faults.Loss or to TTL expiry (Faults.Hops).
	Lost uint64
	// Duplicated counts extra copies made by Faults.Duplicate.
	Duplicated uint64
	// Blocked counts copies stopped by a partition or by a sending or
	// receiving host whose link is down.
	Blocked uint64
	// Filtered counts packets the mutation hook dropped.
	Filtered uint64
	// DroppedFull counts packets dropped because a Conn's receive queue
	// was full.
	DroppedFull uint64
	// Batches counts calls of Conn.WriteBatch.
	Batches uint64
}

// MutateFunc is a mutation hook: it receives the sending host (nil for
// none), the packet information, which it may change, and a copy of the
// message, which it may change in place. It returns the message to deliver
// instead, or nil to drop the packet.
type MutateFunc func(from *Host, info *vrrp.PacketInfo, msg []byte) []byte

type tap struct{ fn func(Frame) }

type counters struct {
	sent, injected, delivered, lost, duplicated, blocked, filtered, droppedFull, batches atomic.Uint64
}

// Segment is an in-memory link carrying VRRP messages between its Hosts.
// It is safe for concurrent use. Create one with NewSegment.
type Segment struct {
	clock    vrrp.Clock
	queueLen int
	done     chan struct{} // closed by Close
	wg       sync.WaitGroup
	stats    counters

	mu     sync.Mutex
	rng    *rand.Rand
	faults Faults
	mutate MutateFunc
	taps   []*tap // copy on write
	hosts  []*Host
	part   map[*Host]int // partition group; absent = 0
	closed bool
}

// NewSegment returns an empty segment.
func NewSegment(cfg SegmentConfig) *Segment {
	clock := cfg.Clock
	if clock == nil {
		clock = vrrp.SystemClock{}
	}
	qlen := cfg.QueueLen
	if qlen <= 0 {
		qlen = DefaultQueueLen
	}
	seed := uint64(cfg.Seed)
	return &Segment{
		clock:    clock,
		queueLen: qlen,
		done:     make(chan struct{}),
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		faults:   cfg.Faults,
	}
}

// NewHost attaches a host with the given name and addresses to the
// segment. IPv4-mapped IPv6 addresses count as IPv4. It panics if an
// address is invalid.
func (s *Segment) NewHost(name string, addrs ...netip.Addr) *Host {
	h := &Host{seg: s, name: name, addrs: make([]netip.Addr, len(addrs))}
	for i, a := range addrs {
		if !a.IsValid() {
			panic(fmt.Sprintf("fake: NewHost %q: invalid address at index %d", name, i))
		}
		h.addrs[i] = a.Unmap()
	}
	s.mu.Lock()
	s.hosts = append(s.hosts, h)
	s.mu.Unlock()
	return h
}

// Hosts returns the segment's hosts in the order they were created.
func (s *Segment) Hosts() []*Host {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hosts)
}

// SetFaults replaces the faults in force. Packets already in flight keep
// the delay they were given.
func (s *Segment) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the faults in force.
func (s *Segment) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetMutate installs the mutation hook called by Route once for each
// packet, after the taps and before faults; nil removes it. Its result is
// delivered instead of the packet, with the information as it left it.
// It runs on the writer's goroutine without any lock held, possibly
// concurrently with itself.
func (s *Segment) SetMutate(fn MutateFunc) {
	s.mu.Lock()
	s.mutate = fn
	s.mu.Unlock()
}

// Tap adds an observer called with every packet written to the segment or
// injected, before faults and mutation. It runs on the writer's goroutine
// without any lock held, possibly concurrently with itself, so it must be
// safe for concurrent use and must not block for long. The returned
// function removes the observer.
func (s *Segment) Tap(fn func(Frame)) (remove func()) {
	t := &tap{fn: fn}
	s.mu.Lock()
	s.taps = append(slices.Clip(s.taps), t)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.taps, t); i >= 0 {
			s.taps = slices.Delete(slices.Clone(s.taps), i, i+1)
		}
	}
}

// Partition splits the segment: a host reaches only the hosts of its own
// group. Hosts named in no group, including hosts created later, form one
// more group together. A host named in several groups belongs to the last.
// A new Partition replaces the previous one; Partition with no group heals.
func (s *Segment) Partition(groups ...[]*Host) {
	part := make(map[*Host]int)
	for i, g := range groups {
		for _, h := range g {
			part[h] = i + 1
		}
	}
	s.mu.Lock()
	s.part = part
	s.mu.Unlock()
}

// Heal removes the partition: every host reaches every other again.
func (s *Segment) Heal() {
	s.mu.Lock()
	s.part = nil
	s.mu.Unlock()
}

// Stats returns the packet counters.
func (s *Segment) Stats() Stats {
	c := &s.stats
	return Stats{
		Sent:        c.sent.Load(),
		Injected:    c.injected.Load(),
		Delivered:   c.delivered.Load(),
		Lost:        c.lost.Load(),
		Duplicated:  c.duplicated.Load(),
		Blocked:     c.blocked.Load(),
		Filtered:    c.filtered.Load(),
		DroppedFull: c.droppedFull.Load(),
		Batches:     c.batches.Load(),
	}
}

// Close closes every open Conn, stops the delayed deliveries in flight and
// returns when their goroutines have ended. Later Opens fail with
// ErrClosed. Route, Deliver and Inject still work. Close is idempotent and
// returns nil.
func (s *Segment) Close() error {
	s.mu.Lock()
	var conns []*Conn
	if !s.closed {
		s.closed = true
		close(s.done)
		for _, h := range s.hosts {
			conns = append(conns, h.conns...)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return nil
}

// Route decides the fate of a packet written by from (nil for a packet
// with no sending host) and returns one Delivery for each copy that
// arrives, in host creation order, a duplicate right after its original.
// It calls the taps and the mutation hook but uses neither goroutines nor
// the Clock (except Clock.Now for Frame times when a tap is set), so a
// simulator can call it and schedule the Deliveries itself; Conn.WriteTo
// does exactly that with Deliver.
//
// The candidate receivers are the hosts other than from that have an
// address of the family of info.Dst: all of them for a multicast Dst (the
// segment floods multicast as a switch without snooping does; group
// membership is checked by each Conn on delivery), and those that have Dst
// for a unicast Dst. Open Conns play no part. A candidate is blocked when
// from or it has its link down or they are in different partition groups;
// otherwise the faults apply: Hops, Loss, Duplicate, Delay, Jitter and
// Reorder.
//
// Route draws the same number of random values for every candidate,
// blocked or not and whatever the faults, so that with a fixed Seed the
// same sequence of calls gives the same Deliveries, and changing one fault
// does not reshuffle the draws of the others. Route counts in Stats.
func (s *Segment) Route(from *Host, info vrrp.PacketInfo, msg []byte) []Delivery {
	s.stats.sent.Add(1)
	s.mu.Lock()
	taps, mutate := s.taps, s.mutate
	s.mu.Unlock()
	s.tap(taps, from, info, msg)
	buf := bytes.Clone(msg)
	if buf == nil {
		buf = []byte{}
	}
	if mutate != nil {
		if buf = mutate(from, &info, buf); buf == nil {
			s.stats.filtered.Add(1)
			return nil
		}
	}
	dst := info.Dst.Unmap()
	if !dst.IsValid() {
		return nil
	}
	fam := vrrp.FamilyOf(dst)

	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults
	delay, jitter := max(f.Delay, 0), max(f.Jitter, 0)
	reorder := f.ReorderDelay
	if reorder <= 0 {
		reorder = delay + jitter + time.Millisecond
	}
	var out []Delivery
	for _, h := range s.hosts {
		if h == from || !h.hasFamily(fam) || (!dst.IsMulticast() && !h.has(dst)) {
			continue
		}
		var u [6]float64
		for i := range u {
			u[i] = s.rng.Float64()
		}
		if h.down || from != nil && (from.down || s.part[from] != s.part[h]) {
			s.stats.blocked.Add(1)
			continue
		}
		ri := info
		if f.Hops > 0 {
			if info.TTL <= f.Hops {
				s.stats.lost.Add(1)
				continue
			}
			ri.TTL -= f.Hops
		}
		if u[0] < f.Loss {
			s.stats.lost.Add(1)
			continue
		}
		copies := 1
		if u[1] < f.Duplicate {
			copies = 2
			s.stats.duplicated.Add(1)
		}
		for c := range copies {
			d := delay + time.Duration(u[2+2*c]*float64(jitter))
			if u[3+2*c] < f.Reorder {
				d += reorder
			}
			out = append(out, Delivery{To: h, Info: ri, Msg: bytes.Clone(buf), Delay: d})
		}
	}
	return out
}

// tap calls the observers. It must be called without s.mu held.
func (s *Segment) tap(taps []*tap, from *Host, info vrrp.PacketInfo, msg []byte) {
	if len(taps) == 0 {
		return
	}
	f := Frame{Time: s.clock.Now(), Info: info}
	if from != nil {
		f.From = from.name
	}
	for _, t := range taps {
		f.Msg = bytes.Clone(msg)
		t.fn(f)
	}
}

// Deliver queues d now on the open Conns of d.To that accept it: those of
// the family of d.Info.Dst that, for a multicast Dst, joined that group
// or, for a unicast Dst, belong to a host that has it. Nothing is queued
// when d.To's link is down (counted as blocked). It returns the number of
// Conns that queued the packet; a full queue drops it (counted in
// Stats.DroppedFull). The Conns copy nothing: d.Msg must not be changed
// afterwards.
func (s *Segment) Deliver(d Delivery) int {
	if d.To == nil || d.To.seg != s {
		return 0
	}
	return s.deliver(d.To, d.Info, d.Msg, false)
}

// Inject delivers a crafted packet at once as if from the wire, with the
// given Src, Dst and TTL, bypassing faults, partitions and the mutation
// hook; taps see it with an empty From. With to nil, every host's Conns
// that accept it as Deliver says receive it. With a host, every open Conn
// of that host of the family of info.Dst (of info.Src when Dst is invalid,
// of any family when both are) receives it whatever its group, so that a
// test can present unexpected destinations. A receiver whose link is down
// gets nothing. Inject copies msg and returns the number of Conns that
// queued it.
func (s *Segment) Inject(to *Host, info vrrp.PacketInfo, msg []byte) int {
	s.stats.injected.Add(1)
	s.mu.Lock()
	taps := s.taps
	s.mu.Unlock()
	s.tap(taps, nil, info, msg)
	buf := bytes.Clone(msg)
	if buf == nil {
		buf = []byte{}
	}
	if to != nil {
		if to.seg != s {
			return 0
		}
		return s.deliver(to, info, buf, true)
	}
	n := 0
	for _, h := range s.Hosts() {
		n += s.deliver(h, info, buf, false)
	}
	return n
}

// deliver queues msg on the Conns of h that accept info, or with force on
// all its Conns of the family of info.
func (s *Segment) deliver(h *Host, info vrrp.PacketInfo, msg []byte, force bool) int {
	dst := info.Dst.Unmap()
	addr := dst
	if !addr.IsValid() {
		addr = info.Src.Unmap()
	}
	s.mu.Lock()
	if h.down {
		s.mu.Unlock()
		s.stats.blocked.Add(1)
		return 0
	}
	var conns []*Conn
	for _, c := range h.conns {
		switch {
		case force:
			if addr.IsValid() && vrrp.FamilyOf(addr) != c.family {
				continue
			}
		case !dst.IsValid() || vrrp.FamilyOf(dst) != c.family:
			continue
		case dst.IsMulticast():
			if dst != c.group {
				continue
			}
		case !h.has(dst):
			continue
		}
		conns = append(conns, c)
	}
	s.mu.Unlock()
	n := 0
	for _, c := range conns {
		if c.enqueue(packet{info: info, msg: msg}) {
			n++
		}
	}
	return n
}

// schedule delivers each Delivery now or, when it has a Delay, from a
// goroutine after the delay on the Clock.
func (s *Segment) schedule(ds []Delivery) {
	for _, d := range ds {
		if d.Delay <= 0 {
			s.Deliver(d)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.later(d)
	}
}

// later delivers d after d.Delay unless the segment closes first.
func (s *Segment) later(d Delivery) {
	defer s.wg.Done()
	t, c := s.clock.NewTimer(d.Delay)
	select {
	case <-c:
		s.Deliver(d)
	case <-s.done:
		t.Stop()
	}
}
