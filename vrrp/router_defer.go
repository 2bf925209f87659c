package vrrp

import (
	"fmt"
	"time"
)

// Deferred reads. While a Conn has a Backup and no Master (the others in
// Init or Fault), the Router asks a DeferredReader to hold back every
// advert but those of priority 0, and reads the held ones when its timer
// falls due, before it looks at any deadline: a Backup's deadline only
// moves to the arrival of the latest advert plus Master_Down_Interval, and
// the arrival time the Conn records makes that exact however late the
// advert is read. A Backup then wakes once per Master_Down_Interval rather
// than once per advert. As soon as a virtual router on the Conn becomes
// Master, the Conn reads eagerly again.

// eagerAfterOverflow is how long a Conn reads eagerly after its held
// adverts overflowed.
const eagerAfterOverflow = 30 * time.Second

// heldBatches bounds the reads of held adverts of one Conn per tick (16
// messages each); a Conn that still has more is flooded and goes eager.
const heldBatches = 1024

// checkMode queues c for updateModes, which sets its read mode once the
// current event is handled.
func (r *Router) checkMode(c *conn) {
	if c == nil || c.dr == nil || c.queued {
		return
	}
	c.queued = true
	r.modeq = append(r.modeq, c)
}

// updateModes sets the read mode of every queued Conn (wantDeferred). A Conn that turns
// eager has its held adverts read at once.
func (r *Router) updateModes() {
	if len(r.modeq) == 0 {
		return
	}
	now := r.clock.Now()
	// Reading held adverts can queue Conns again; each turn handles
	// those queued before it.
	for turn := 0; turn < 4 && len(r.modeq) > 0; turn++ {
		q := r.modeq
		r.modeq = nil
		for _, c := range q {
			c.queued = false
			r.setMode(c, r.wantDeferred(c, now), now)
		}
	}
}

// wantDeferred reports whether c should hold adverts back: while it has a
// Backup, whose timer reads them, and no Master. A Conn whose virtual
// routers are all in Init or Fault has no timer to read by, and reads
// eagerly (and drops) what comes.
func (r *Router) wantDeferred(c *conn, now time.Time) bool {
	if c.closed || c.users == 0 || now.Before(c.eagerUntil) {
		return false
	}
	backup := false
	for _, io := range c.vrids {
		if io == nil {
			continue
		}
		switch r.node.State(io.id) {
		case Master:
			return false
		case Backup:
			backup = true
		}
	}
	return backup
}

// setMode switches c to deferred or eager reads.
func (r *Router) setMode(c *conn, deferred bool, now time.Time) {
	if deferred == c.deferred || c.closed {
		return
	}
	if err := c.dr.SetDeferred(deferred); err != nil {
		r.log.Warn("switching VRRP socket reads", "interface", c.key.iface, "family", c.key.fam, "deferred", deferred, "err", err)
		if deferred {
			return
		}
		// Not sure what the Conn does now: read what it holds, and try
		// again at the next change.
	}
	c.deferred = deferred
	if !deferred {
		r.readConn(c, now)
	}
}

// readHeld reads the held adverts of every deferred Conn, before a tick
// looks at the deadlines, in the order the Conns were opened (a seeded
// simulation runs the same way each time).
func (r *Router) readHeld(now time.Time) {
	for _, c := range r.byOpen {
		if c.deferred {
			r.readConn(c, now)
		}
		r.eagerEnds(c, now)
	}
}

// eagerEnds lets c defer again once the time of eager reads after an
// overflow is over. The Router checks at ticks and when c reads eagerly.
func (r *Router) eagerEnds(c *conn, now time.Time) {
	if !c.eagerUntil.IsZero() && !now.Before(c.eagerUntil) {
		c.eagerUntil = time.Time{}
		r.checkMode(c)
	}
}

// readConn reads and handles the adverts c holds.
func (r *Router) readConn(c *conn, now time.Time) {
	if c.closed {
		return
	}
	r.checkStep(now)
	b := r.free.Get().(*inbatch)
	defer r.free.Put(b)
	var dropped uint64
	more, failed := true, false
	for i := 0; i < heldBatches && more; i++ {
		n, d, err := c.dr.ReadPending(b.in[:])
		dropped += d
		if err != nil {
			r.rstats.readErrors.Add(1)
			r.log.Warn("reading held VRRP adverts", "interface", c.key.iface, "family", c.key.fam, "err", err)
			failed = true
			break
		}
		for j := range n {
			decode(c, &b.ps[j], b.in[j].N, b.in[j].Info)
			r.receive(c, &b.ps[j], now)
		}
		more = n == len(b.in)
	}
	if dropped > 0 || more || failed {
		r.overflowed(c, dropped, now)
	}
}

// overflowed handles a Conn whose held adverts overflowed (dropped of them
// lost), that holds more than a tick reads, or whose held adverts cannot
// be read: it reads eagerly for a while, and its Backups whose
// Master_Down_Timer has expired wait one more Master_Down_Interval instead
// of taking over, since the advert that would have kept them may be among
// those not read.
func (r *Router) overflowed(c *conn, dropped uint64, now time.Time) {
	r.rstats.drops[DropOverflow].Add(dropped)
	c.eagerUntil = now.Add(eagerAfterOverflow)
	r.checkMode(c)
	for _, io := range c.vrids {
		if io != nil {
			r.node.HoldExpired(now, io.id)
		}
	}
	r.effects(now)
	l := &c.overflow
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	r.log.Warn(fmt.Sprintf("(%s) held adverts lost (%d) or unread; reading each at once for %v", c.key.iface, dropped, eagerAfterOverflow),
		"interface", c.key.iface, "family", c.key.fam, "dropped", dropped, "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}

// checkStep notes whether the wall clock was stepped since the previous
// read: the kernel dates packets by the wall clock, and the Router's
// deadlines run on the monotonic one, so across a step the arrival times
// cannot be trusted (receive then dates adverts by the time they are
// read). Both clocks are slewed alike, so any change of their offset is a
// step.
func (r *Router) checkStep(now time.Time) {
	if now == r.stepNow {
		// Another read of the same event (a tick reads every deferred
		// Conn): it keeps the event's finding.
		return
	}
	r.stepNow = now
	off := r.wallOffset(now)
	d := off - r.wallOff
	r.stepped = d > time.Millisecond || d < -time.Millisecond
	r.wallOff = off
	if r.stepped {
		r.node.ClockStepped()
	}
}

// wallOffset returns how far the monotonic clock has run ahead of the wall
// clock since Run began (zero until the wall clock is stepped).
func (r *Router) wallOffset(now time.Time) time.Duration {
	if r.offsetOf != nil {
		return r.offsetOf(now)
	}
	return now.Sub(r.wallRef) - now.Round(0).Sub(r.wallRef.Round(0))
}
