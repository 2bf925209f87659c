package sim

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// start starts a Node on r, as a process starting: the link states first,
// then each instance (which asks to remove the VIPs a crashed predecessor
// left), the checks' first reports or the waits for them, and Start.
// SetPriority, AdjustPriority and SetFault calls are the process's: a new
// one starts without them.
func (s *sim) start(r *router) {
	if r.state == down {
		s.orphans(r)
	}
	r.state = running
	r.inc++
	r.armed, r.spins, r.splitFrom, r.splitSaid = false, 0, -1, false
	r.node = vrrp.NewNode(vrrp.NodeOptions{SyncGroups: s.syncGroups(r), MasterCalls: true})
	r.byID = r.byID[:0]
	now := r.local(s.now)
	r.node.LinkChanged(now, s.eth0(r))
	r.node.LinkChanged(now, vrrp.LinkState{Interface: trackedIface, Exists: true, Up: r.eth1Up})
	tracks := s.cfg.Tracks[r.idx]
	for v := range r.vrs {
		r.vrs[v] = vr{cfg: r.vrs[v].cfg, ops: r.vrs[v].ops, views: make([]view, len(tracks)), state: vrrp.Init}
		vr := &r.vrs[v]
		for i, t := range tracks {
			vr.views[i] = view{reported: t.Link, down: t.Link && !r.eth1Up}
		}
		vr.id = r.node.Add(vr.cfg, vrrp.Addressing{Source: r.addr, Group: s.group})
		r.byID = append(r.byID, v)
		s.effects(r, input{kind: inStart, v: v})
	}
	for i, t := range tracks {
		switch {
		case t.Link:
		case s.cfg.AwaitChecks == 0:
			s.report(r, i)
		default:
			for _, v := range t.VRIDs {
				r.node.Await(now, r.vrs[v].id, checkSource(i), s.cfg.AwaitChecks)
			}
			s.effects(r, input{kind: inTrack, v: -1})
			if s.rng.IntN(5) > 0 { // else it reports only when it changes
				s.push(event{at: s.now + s.rng.Int64N(2*int64(s.cfg.AwaitChecks)), kind: evReport, r: r.idx, v: i, inc: r.inc})
			}
		}
	}
	for v := range r.vrs {
		s.feed(r, input{kind: inStart, v: v}, func(now time.Time) { r.node.Start(now, r.vrs[v].id) })
	}
	s.dirty = true
}

// orphans removes the VIPs a crashed process left bound that are no
// longer in its configuration (a reload removed them, and the crash lost
// the unbind): the new process cannot know them, so no Node can release
// them; the operator does (or, in production, an address lifetime).
func (s *sim) orphans(r *router) {
	for _, x := range r.binder.Bound(iface) {
		if !slices.Contains(r.vrs[s.vrids[x.Prefix]].cfg.VIPs, x) {
			s.logf("%s: the operator removes %v, left by the crash and no longer configured", r.name, x.Prefix)
			_ = r.binder.Unbind(context.Background(), iface, []vrrp.VIP{x})
		}
	}
}

func checkSource(i int) string { return fmt.Sprintf("check:chk%d", i) }

// eth0 returns the state of r's eth0 as the Node takes it.
func (s *sim) eth0(r *router) vrrp.LinkState {
	ls := vrrp.LinkState{Interface: iface, Exists: true, Up: r.eth0Up}
	if r.eth0Addr {
		ls.Addrs = []netip.Addr{r.addr}
	}
	return ls
}

// crash drops r's Node: like a killed process, it leaves its VIPs bound,
// and its binder calls under way never end.
func (s *sim) crash(r *router) {
	r.state = down
	r.node = nil
	r.inc++
	r.life++
	for v := range r.vrs {
		vr := &r.vrs[v]
		vr.ops = nil
		vr.state = vrrp.Init
	}
	s.dirty = true
}

// stop stops r's Node gracefully: every Master sends priority 0 and
// releases its addresses. The process waits for its OnMaster calls to
// return and its binder calls to end.
func (s *sim) stop(r *router) {
	s.feed(r, input{kind: inStop, v: -1}, func(now time.Time) { r.node.Stop(now) })
	r.state = stopped
	r.node = nil
	r.inc++
	s.dirty = true
}

// report gives every instance of r that tracks check i its state.
func (s *sim) report(r *router, i int) {
	t := s.cfg.Tracks[r.idx][i]
	down := r.checks[i]
	ts := vrrp.TrackState{Source: checkSource(i), Weight: t.Weight, Delta: trackDelta(t.Weight, down), Down: down}
	for _, v := range t.VRIDs {
		r.vrs[v].views[i] = view{reported: true, down: down}
		s.feed(r, input{kind: inTrack, v: v}, func(now time.Time) { r.node.SetTrack(now, r.vrs[v].id, ts) })
	}
}

// firstReport is a check's first result after a start.
func (s *sim) firstReport(ev event) {
	r := s.routers[ev.r]
	if ev.inc != r.inc || r.node == nil {
		return
	}
	s.logf("%s chk%d first result: %s", r.name, ev.v, choose(r.checks[ev.v], "down", "up"))
	s.report(r, ev.v)
}

// feed gives r's Node one input at the router's local time and carries
// out its effects.
func (s *sim) feed(r *router, in input, fn func(now time.Time)) {
	if in.v >= 0 {
		in.prio = s.effective(r, in.v)
	}
	fn(r.local(s.now))
	s.effects(r, in)
}

// batch is what the effects of one input did to each instance, for the
// cause check.
type batch struct {
	bind, unbind []bool
	timedOut     []bool // its unbind ends a bind not confirmed in time
	// For the tests: pretend that no bind, or no unbind, was asked.
	noBind, noUnbind bool
	trans            []vrrp.Transition // in order
	vs               []int             // the instance of each of trans
}

// effects checks and carries out the effects of the input in, in order,
// as the Router does, then rearms the timer.
func (s *sim) effects(r *router, in input) {
	node := r.node
	es := node.Effects()
	if len(es) == 0 {
		s.arm(r)
		return
	}
	b := batch{bind: make([]bool, len(r.vrs)), unbind: make([]bool, len(r.vrs)), timedOut: make([]bool, len(r.vrs))}
	before := make([]vrrp.State, len(r.vrs))
	for v := range r.vrs {
		before[v] = r.vrs[v].state
	}
	for _, e := range es {
		if e.Kind == vrrp.EffectGroupTransition {
			g := node.GroupTransition(e.Ref)
			s.logf("%s group %s %v -> %v", r.name, g.Group, g.From, g.To)
			continue
		}
		v := r.byID[e.ID]
		vr := &r.vrs[v]
		switch e.Kind {
		case vrrp.EffectSend:
			s.send(r, v, e.Priority, node.Outgoing(e.Ref))
		case vrrp.EffectBind:
			b.bind[v] = true
			s.bindAsked(r, v, e)
		case vrrp.EffectUnbind:
			b.unbind[v] = true
			b.timedOut[v] = s.unbindAsked(r, v, e)
		case vrrp.EffectTransition:
			t := node.Transition(e.Ref)
			if msg := s.cause(r, v, in, t, &b); msg != "" {
				s.violate("%s vrid %d: %s", r.name, vr.cfg.VRID, msg)
			}
			b.trans = append(b.trans, t)
			b.vs = append(b.vs, v)
			vr.state = t.To
			s.stats.Transitions++
			s.dirty = true
			s.logf("%s vrid %d %v -> %v (%v) prio %d", r.name, vr.cfg.VRID, t.From, t.To, t.Reason, s.effective(r, v))
		case vrrp.EffectStartMaster:
			s.startCall(r, v)
		case vrrp.EffectStopMaster:
			s.stopCall(r, v)
		}
	}
	for _, v := range r.byID { // the instances added so far
		vr := &r.vrs[v]
		if got := node.State(vr.id); got != vr.state && (r.state == running) {
			s.violate("%s vrid %d: %v moved %v -> %v without a transition", r.name, vr.cfg.VRID, in.kind, before[v], got)
			vr.state = got
		}
		if in.kind == inReceive && v == in.v && before[v] == vrrp.Master && in.drop == vrrp.DropNone &&
			in.better() && vr.state == vrrp.Master {
			s.violate("%s vrid %d: Master at prio %d stays Master after accepting an advert of prio %d from greater %v",
				r.name, vr.cfg.VRID, in.prio, in.advPrio, in.src)
		}
		if vr.calling && !vr.stopAsked && (vr.state != vrrp.Master || !vr.bound) {
			s.violate("%s vrid %d: its OnMaster call runs, not asked to stop, while %v with VIPs bound=%v",
				r.name, vr.cfg.VRID, vr.state, vr.bound)
			vr.stopAsked = true
		}
	}
	s.arm(r)
}

// send checks and routes an advert of router r's VRID index v.
func (s *sim) send(r *router, v int, prio uint8, out vrrp.Outgoing) {
	vr := &r.vrs[v]
	if want := s.effective(r, v); prio != 0 && prio != want {
		s.violate("%s vrid %d: advert with priority %d, effective priority %d", r.name, vr.cfg.VRID, prio, want)
	}
	if out.Msg == nil {
		s.violate("%s vrid %d: the Node could not encode an advert", r.name, vr.cfg.VRID)
		return
	}
	s.stats.Adverts++
	ds := s.seg.Route(r.host, vrrp.PacketInfo{Src: out.Src, Dst: out.Dst, TTL: 255}, out.Msg)
	var to strings.Builder
	for _, d := range ds {
		i := s.index(d.To)
		s.push(event{at: s.now + int64(d.Delay), kind: evDeliver, r: i, info: d.Info, msg: d.Msg})
		if s.cfg.Verbose {
			fmt.Fprintf(&to, " %s", s.routers[i].name)
			if d.Delay > 0 {
				fmt.Fprintf(&to, "+%v", d.Delay.Round(100*time.Microsecond))
			}
		}
	}
	if s.cfg.Verbose {
		s.logf("%s vrid %d advert prio %d to [%s]", r.name, vr.cfg.VRID, prio, strings.TrimSpace(to.String()))
	}
}

// deliver hands a copy of an advert to its router, through the codec.
func (s *sim) deliver(ev event) {
	r := s.routers[ev.r]
	if r.node == nil || !r.host.LinkUp() {
		return // nobody listens, or the link went down in flight
	}
	if err := s.rx.Unmarshal(ev.msg, s.ipv6); err != nil {
		s.drop(r, "%v", err)
		return
	}
	form := vrrp.VerifyChecksum(ev.msg, ev.info.Src, ev.info.Dst, s.group)
	if form == vrrp.ChecksumBad {
		s.drop(r, "bad checksum, vrid %d from %s", s.rx.VRID, s.name(ev.info.Src))
		return
	}
	v := r.find(s.rx.VRID)
	if v < 0 {
		s.drop(r, "unknown vrid %d from %s", s.rx.VRID, s.name(ev.info.Src))
		return
	}
	s.stats.Received++
	info := ev.info
	info.Time = r.local(s.now) // the kernel's arrival time: now
	in := input{kind: inReceive, v: v, advPrio: s.rx.Priority, src: info.Src, local: r.addr, prio: s.effective(r, v)}
	res := r.node.Receive(r.local(s.now), r.vrs[v].id, &vrrp.Received{Adv: &s.rx, Info: info, Form: form})
	in.drop = res.Drop
	if res.Drop != vrrp.DropNone && s.cfg.Verbose {
		s.logf("%s vrid %d drops advert from %s prio %d: %v", r.name, r.vrs[v].cfg.VRID, s.name(in.src), in.advPrio, res.Drop)
	}
	s.effects(r, in)
}

func (s *sim) drop(r *router, format string, args ...any) {
	s.stats.Dropped++
	if s.cfg.Verbose {
		s.logf("%s drops packet: %s", r.name, fmt.Sprintf(format, args...))
	}
}

// timer handles a timer event: Tick if the Node's next time has come on
// the router's clock, else rearm for the later time.
func (s *sim) timer(ev event) {
	r := s.routers[ev.r]
	if r.node == nil || ev.gen != r.gen {
		return
	}
	r.armed = false
	if d := r.node.Next(); !d.IsZero() && !r.local(s.now).Before(d) {
		if r.spins++; r.spins > 1000 {
			s.violate("%s: Node.Next stays at %v after 1000 ticks", r.name, d)
			r.spins = 0
			r.armed, r.at = true, s.now+int64(time.Millisecond)
			r.gen++
			s.push(event{at: r.at, kind: evTimer, r: r.idx, gen: r.gen})
			return
		}
		s.feed(r, input{kind: inTick, v: -1}, func(now time.Time) { r.node.Tick(now) })
		return
	}
	s.arm(r)
}

// arm makes sure a timer event is pending no later than the global time at
// which r's clock reaches the Node's next time. A later time is left to
// the pending event, which rearms when it finds the time moved.
func (s *sim) arm(r *router) {
	if r.node == nil {
		return
	}
	d := r.node.Next()
	if d.IsZero() {
		return
	}
	at := max(r.global(d), s.now)
	if at > s.now {
		r.spins = 0
	}
	if r.armed && r.at <= at {
		return
	}
	r.gen++
	r.armed, r.at = true, at
	s.push(event{at: at, kind: evTimer, r: r.idx, gen: r.gen})
}

// bindAsked records a bind the Node asked for and queues it on the
// binder. It fails, or answers slowly or late (past the Node's timeout),
// as r's binder is set to.
func (s *sim) bindAsked(r *router, v int, e vrrp.Effect) {
	vr := &r.vrs[v]
	now := r.local(s.now)
	s.stats.Binds++
	switch {
	case vr.bound:
		// Addresses added by a reload.
		if vr.addAt.IsZero() {
			vr.addAt = now
			vr.floor = max(vr.cfg.AdvertInterval, bindTimeoutFloor)
		}
	case vr.bindAt.IsZero():
		// A takeover's (a bind asked again before it was confirmed keeps
		// the first one's time).
		vr.bindAt, vr.late = now, false
		vr.floor = max(vr.cfg.AdvertInterval, bindTimeoutFloor)
	}
	vr.pend = e.Seq
	o := op{bind: true, vips: slices.Clone(e.VIPs), routes: slices.Clone(e.Routes), rules: slices.Clone(e.Rules), seq: e.Seq, inc: r.inc, id: e.ID, at: s.now,
		dur: s.rng.Int64N(int64(20 * time.Millisecond))}
	floor := int64(max(vr.cfg.AdvertInterval, bindTimeoutFloor))
	if s.rng.Float64() < r.bindSlow {
		if s.rng.IntN(2) == 0 {
			o.dur = floor*3/10 + s.rng.Int64N(floor*6/10) // slow, in time
		} else {
			o.dur = floor*11/10 + s.rng.Int64N(floor*2) // late
		}
	}
	o.fail = s.rng.Float64() < r.bindFail
	if o.fail || o.dur > floor*9/10 {
		s.logf("%s vrid %d bind %d will %s after %v", r.name, vr.cfg.VRID, e.Seq, choose(o.fail, "fail", "succeed"), time.Duration(o.dur).Round(time.Millisecond))
	}
	s.enqueue(r, v, o)
}

// unbindAsked records an unbind the Node asked for and queues it. It
// reports whether the unbind ends a takeover, or VIPs a reload added, whose
// bind was not confirmed in time: the Node takes that as a failed bind.
func (s *sim) unbindAsked(r *router, v int, e vrrp.Effect) (timedOut bool) {
	vr := &r.vrs[v]
	if slices.ContainsFunc(e.VIPs, func(x vrrp.VIP) bool { return slices.Contains(vr.cfg.VIPs, x) }) {
		if !vr.bound && !vr.bindAt.IsZero() && !s.before(r, vr.bindAt.Add(vr.floor)) ||
			vr.bound && !vr.addAt.IsZero() && !s.before(r, vr.addAt.Add(vr.floor)) {
			timedOut = true
		}
		vr.bound, vr.held, vr.pend, vr.bindAt, vr.addAt = false, nil, 0, time.Time{}, time.Time{}
	}
	s.enqueue(r, v, op{vips: slices.Clone(e.VIPs), routes: slices.Clone(e.Routes), rules: slices.Clone(e.Rules), inc: r.inc, id: e.ID, at: s.now,
		dur: s.rng.Int64N(int64(5 * time.Millisecond))})
	s.dirty = true
	return timedOut
}

// before reports whether the global time now comes before local time t of
// r's clock.
func (s *sim) before(r *router, t time.Time) bool { return s.now < r.global(t) }

func (s *sim) enqueue(r *router, v int, o op) {
	vr := &r.vrs[v]
	vr.ops = append(vr.ops, o)
	if len(vr.ops) == 1 {
		s.push(event{at: s.now + o.dur, kind: evOp, r: r.idx, v: v, gen: r.life})
	}
}

// opDone ends the binder call under way of an instance, reports a bind's
// result to the Node that asked, and starts the next call.
func (s *sim) opDone(ev event) {
	r := s.routers[ev.r]
	if ev.gen != r.life {
		return
	}
	vr := &r.vrs[ev.v]
	o := vr.ops[0]
	vr.ops = vr.ops[1:]
	if len(vr.ops) > 0 {
		s.push(event{at: s.now + vr.ops[0].dur, kind: evOp, r: r.idx, v: ev.v, gen: r.life})
	}
	s.dirty = true
	if !o.bind {
		if s.broken&brokenRoutes == 0 {
			_ = r.binder.UnbindRoutes(context.Background(), o.routes, o.rules)
		}
		_ = r.binder.Unbind(context.Background(), iface, o.vips)
		return
	}
	if o.fail || s.now-o.at > int64(max(vr.cfg.AdvertInterval, bindTimeoutFloor))*9/10 {
		// The instance may fail its bind (now, or at its timeout), stay
		// in FAULT, and then not preempt a live Master, for a while.
		s.troubleUntil = max(s.troubleUntil, s.now+int64(2*bindRetryMax)+int64(2*bindTimeoutFloor))
	}
	var err error
	switch {
	case o.fail:
		s.stats.BindFailures++
		err = errBind
	case s.broken&brokenBinds != 0:
	default:
		_ = r.binder.Bind(context.Background(), iface, o.vips)
		_ = r.binder.BindRoutes(context.Background(), o.routes, o.rules)
	}
	if o.inc != r.inc || r.node == nil {
		return
	}
	if o.seq == vr.pend && vr.state == vrrp.Master {
		// The Node takes this result.
		vr.pend = 0
		if err == nil {
			vr.addAt = time.Time{}
			if s.broken&brokenBinds == 0 {
				vr.bound, vr.bindAt = true, time.Time{}
				vr.held = vr.held[:0]
				for _, x := range o.vips {
					if slices.Contains(vr.cfg.VIPs, x) {
						vr.held = append(vr.held, x.Prefix)
					}
				}
			}
		}
	}
	s.feed(r, input{kind: inBind, v: ev.v, on: err != nil}, func(now time.Time) { r.node.BindDone(now, o.id, o.seq, err) })
}

// startCall starts the OnMaster call of router r's VRID index v. Some
// calls return on their own; the others when asked to stop.
func (s *sim) startCall(r *router, v int) {
	vr := &r.vrs[v]
	s.stats.MasterCalls++
	switch {
	case vr.calling:
		s.violate("%s vrid %d: OnMaster call started while the previous one has not returned", r.name, vr.cfg.VRID)
	case vr.state != vrrp.Master || !vr.bound:
		s.violate("%s vrid %d: OnMaster call started while %v with VIPs bound=%v", r.name, vr.cfg.VRID, vr.state, vr.bound)
	}
	vr.calling, vr.stopAsked = true, false
	vr.callGen++
	s.logf("%s vrid %d OnMaster call starts", r.name, vr.cfg.VRID)
	if s.rng.IntN(4) == 0 {
		s.push(event{at: s.now + int64(10*time.Millisecond) + s.rng.Int64N(int64(5*time.Second)), kind: evReturn, r: r.idx, v: v, inc: r.inc, gen: vr.callGen})
	}
}

// stopCall cancels the context of an OnMaster call: it returns a while
// later, sometimes beyond an advert interval.
func (s *sim) stopCall(r *router, v int) {
	vr := &r.vrs[v]
	if !vr.calling {
		s.violate("%s vrid %d: StopMaster with no OnMaster call running", r.name, vr.cfg.VRID)
		return
	}
	vr.stopAsked = true
	d := s.rng.Int64N(int64(50 * time.Millisecond))
	if s.rng.IntN(3) == 0 {
		d = int64(100*time.Millisecond) + s.rng.Int64N(int64(3*time.Second))
	}
	s.push(event{at: s.now + d, kind: evReturn, r: r.idx, v: v, inc: r.inc, gen: vr.callGen})
	if s.broken&brokenCalls != 0 {
		r.node.MasterReturned(r.local(s.now), vr.id) // a lie: the call still runs
	}
}

// callReturned is the return of an OnMaster call.
func (s *sim) callReturned(ev event) {
	r := s.routers[ev.r]
	vr := &r.vrs[ev.v]
	if ev.inc != r.inc || ev.gen != vr.callGen || !vr.calling {
		return
	}
	vr.calling = false
	s.logf("%s vrid %d OnMaster call returns", r.name, vr.cfg.VRID)
	s.feed(r, input{kind: inReturned, v: ev.v}, func(now time.Time) { r.node.MasterReturned(now, vr.id) })
}
