package vrrp

// The Router's slow calls and callbacks: binds, unbinds and
// announcements beside the owner loop, in order per instance, their
// results posted back; Status published; OnTransition, OnGroupTransition
// and OnMaster handed over once it is; the LinkMonitor's goroutine.

import (
	"context"
	"errors"
	"sync"
	"time"
)

// opTimeout bounds one Binder, Announcer or VMAC call.
const opTimeout = 5 * time.Second

// bind adds addresses beside the owner loop and reports the result to the
// Node.
func (r *Router) bind(io *instIO, e Effect) {
	id, seq, iface, vips, name, stats, filter := e.ID, e.Seq, e.Iface, e.VIPs, io.name, io.stats, e.Filter
	routes, rules := e.Routes, e.Rules
	r.ops.do(r, id, func(ctx context.Context) {
		var err error
		if filter {
			// Filtered before they are bound: no packet reaches them
			// unfiltered.
			err = r.filter(ctx, iface, vips, true)
		}
		if err == nil {
			err = r.binder.Bind(ctx, iface, vips)
		}
		if err != nil {
			stats.bindErrors.Add(1)
			r.log.Error("adding virtual addresses", "instance", name, "err", err)
		} else if len(routes)+len(rules) > 0 {
			// The routes may use the addresses (src): they come after
			// them. Validate made sure the Binder is a RouteBinder.
			if rb, ok := r.binder.(RouteBinder); !ok {
				err = errors.New("vrrp: the Binder does not manage routes and rules")
			} else {
				err = rb.BindRoutes(ctx, routes, rules)
			}
			if err != nil {
				stats.bindErrors.Add(1)
				r.log.Error("adding virtual routes and rules", "instance", name, "err", err)
			}
		}
		r.result(command{kind: cmdBindDone, id: id, seq: seq, err: err})
	})
}

// unbind removes addresses beside the owner loop.
func (r *Router) unbind(io *instIO, e Effect) {
	if r.binder == nil {
		return
	}
	iface, vips, name, stats, filter := e.Iface, e.VIPs, io.name, io.stats, e.Filter
	routes, rules := e.Routes, e.Rules
	r.ops.do(r, e.ID, func(ctx context.Context) {
		if len(routes)+len(rules) > 0 {
			if rb, ok := r.binder.(RouteBinder); ok {
				if err := rb.UnbindRoutes(ctx, routes, rules); err != nil {
					stats.bindErrors.Add(1)
					r.log.Error("removing virtual routes and rules", "instance", name, "err", err)
				}
			}
		}
		if len(vips) == 0 {
			return
		}
		if err := r.binder.Unbind(ctx, iface, vips); err != nil {
			stats.bindErrors.Add(1)
			r.log.Error("removing virtual addresses", "instance", name, "err", err)
		}
		if !filter {
			return
		}
		if err := r.filter(ctx, iface, vips, false); err != nil {
			stats.bindErrors.Add(1)
			r.log.Error("removing the filter of virtual addresses", "instance", name, "err", err)
		}
	})
}

// filter filters vips (on) or removes their filter, through the Binder,
// which Validate made sure is a FilterBinder.
func (r *Router) filter(ctx context.Context, iface string, vips []VIP, on bool) error {
	fb, ok := r.binder.(FilterBinder)
	if !ok {
		return errors.New("vrrp: the Binder does not filter addresses (NoAccept)")
	}
	if on {
		r.log.Debug("filtering virtual addresses (no_accept)", "iface", iface, "vips", len(vips))
		return fb.Filter(ctx, iface, vips)
	}
	return fb.Unfilter(ctx, iface, vips)
}

// announce sends gratuitous ARP / NA beside the owner loop.
func (r *Router) announce(io *instIO, e Effect) {
	if r.announcer == nil {
		return
	}
	iface, addrs, name, stats := e.Iface, e.Addrs, io.name, io.stats
	r.ops.do(r, e.ID, func(ctx context.Context) {
		if err := r.announcer.Announce(ctx, iface, addrs); err != nil {
			stats.announceErrors.Add(1)
			r.log.Warn("announcing virtual addresses", "instance", name, "err", err)
		}
	})
}

// result hands the result of a slow call to the owner loop.
func (r *Router) result(c command) {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	r.signal()
}

// publish copies the Status of every instance changed since the last call
// where Status and InstanceStatus read it: once per event of the owner
// loop, not once per change. Then it hands over the event's callbacks.
func (r *Router) publish() {
	// The callbacks of the event run once its Status is published, so
	// that one that reads Status sees its transition.
	defer r.release()
	changed := r.node.Changed()
	if len(changed) == 0 {
		return
	}
	r.mu.Lock()
	for _, id := range changed {
		io := r.ios[id]
		if io == nil {
			continue
		}
		if io.pub == nil {
			io.pub = r.status[io.name]
			if io.pub == nil {
				io.pub = new(published)
				r.status[io.name] = io.pub
			}
		}
		io.pub.s = r.node.Status(id)
		io.pub.c = io.stats
	}
	// Wake the WaitState calls.
	if r.published != nil {
		close(r.published)
		r.published = nil
	}
	r.mu.Unlock()
}

// release hands the event's callbacks over: the transitions to the
// dispatcher, and each OnMaster to a goroutine of its own. The Node starts
// a call of an instance only once the previous one returned.
func (r *Router) release() {
	r.disp.release()
	for _, id := range r.onMaster {
		io := r.ios[id]
		if io == nil {
			continue
		}
		ctx, cancel := context.WithCancel(r.ctx)
		io.cancel = cancel
		name := io.name
		r.masters.Add(1)
		go func() {
			defer r.masters.Done()
			defer cancel()
			r.cfg.OnMaster(ctx, name)
			r.result(command{kind: cmdMasterDone, id: id})
		}()
	}
	clear(r.onMaster)
	r.onMaster = r.onMaster[:0]
}

// maxOpWorkers bounds the goroutines that run slow calls at once.
const maxOpWorkers = 16

// opRunner runs the slow calls of instances (binds, unbinds,
// announcements, VMAC removal) beside the owner loop: in order for each
// instance, the instances' in turn, on at most maxOpWorkers goroutines
// that live while calls are queued. A slow call holds up its instance's
// later calls and one worker, no other instance's.
type opRunner struct {
	mu      sync.Mutex
	queues  map[int][]func(context.Context) // by instance, while it has calls queued or running
	ready   []int                           // instances with calls queued and none running
	running map[int]bool
	workers int
	wg      sync.WaitGroup
}

// do queues fn for instance id.
func (o *opRunner) do(r *Router, id int, fn func(context.Context)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.queues == nil {
		o.queues, o.running = map[int][]func(context.Context){}, map[int]bool{}
	}
	o.queues[id] = append(o.queues[id], fn)
	if len(o.queues[id]) == 1 && !o.running[id] {
		o.ready = append(o.ready, id)
	}
	if o.workers < maxOpWorkers && len(o.ready) > 0 {
		o.workers++
		o.wg.Add(1)
		go o.work(r)
	}
}

// work runs ready calls until none is left.
func (o *opRunner) work(r *Router) {
	defer o.wg.Done()
	o.mu.Lock()
	for len(o.ready) > 0 {
		id := o.ready[0]
		o.ready = o.ready[1:]
		fn := o.queues[id][0]
		o.queues[id] = o.queues[id][1:]
		o.running[id] = true
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), opTimeout)
		fn(ctx)
		cancel()
		o.mu.Lock()
		delete(o.running, id)
		if len(o.queues[id]) > 0 {
			o.ready = append(o.ready, id)
		} else {
			delete(o.queues, id)
		}
	}
	o.workers--
	o.mu.Unlock()
}

// wait waits for every queued call to end.
func (o *opRunner) wait() { o.wg.Wait() }

// dispatcher runs OnTransition and OnGroupTransition callbacks in order on
// a goroutine of its own, so that a slow callback never blocks the owner
// loop.
type dispatcher struct {
	fn      func(Transition)
	groupFn func(GroupTransition)
	lowerFn func(LowerPriority)
	// pending are the callbacks of the owner loop's current event, held
	// until release: they run only once the Status they report has been
	// published. The owner loop alone touches it.
	pending []callback
	mu      sync.Mutex
	queue   []callback
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// callback is one queued call: a Transition, or a GroupTransition when
// group is set.
type callback struct {
	t     Transition
	g     GroupTransition
	group bool
	lower *LowerPriority
}

func newDispatcher(fn func(Transition), groupFn func(GroupTransition), lowerFn func(LowerPriority)) *dispatcher {
	return &dispatcher{fn: fn, groupFn: groupFn, lowerFn: lowerFn, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (d *dispatcher) pushLower(l LowerPriority) {
	if d.lowerFn != nil {
		d.pending = append(d.pending, callback{lower: &l})
	}
}

func (d *dispatcher) push(t Transition) {
	if d.fn != nil {
		d.pending = append(d.pending, callback{t: t})
	}
}

func (d *dispatcher) pushGroup(g GroupTransition) {
	if d.groupFn != nil {
		d.pending = append(d.pending, callback{g: g, group: true})
	}
}

// release hands the pending callbacks to the dispatcher's goroutine.
func (d *dispatcher) release() {
	if len(d.pending) == 0 {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, d.pending...)
	d.mu.Unlock()
	clear(d.pending)
	d.pending = d.pending[:0]
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	var batch []callback
	for {
		d.mu.Lock()
		batch, d.queue = d.queue, batch[:0]
		closed := d.closed
		d.mu.Unlock()
		for _, c := range batch {
			switch {
			case c.lower != nil:
				d.lowerFn(*c.lower)
			case c.group:
				d.groupFn(c.g)
			default:
				d.fn(c.t)
			}
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-d.wake
		}
	}
}

// close delivers what is pending or queued, then ends the goroutine and
// waits for it.
func (d *dispatcher) close() {
	d.release()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	<-d.done
}

// startLinks runs the LinkMonitor, if any, on a goroutine owned by Run. Its
// reports are kept latest-wins per interface and applied by the owner loop.
func (r *Router) startLinks(ctx context.Context) {
	r.linkDone = nil
	if r.cfg.Links == nil {
		return
	}
	ctx, r.linkCancel = context.WithCancel(ctx)
	r.linkDone = make(chan struct{})
	go func() {
		defer close(r.linkDone)
		err := r.cfg.Links.Watch(ctx, func(ls LinkState) {
			r.mu.Lock()
			if r.links == nil {
				r.links = map[string]LinkState{}
			}
			r.links[ls.Interface] = ls
			r.mu.Unlock()
			r.signal()
		})
		if err != nil && ctx.Err() == nil {
			r.log.Error("link monitor stopped", "err", err)
		}
	}()
}

// stopLinks stops the LinkMonitor goroutine and waits for it.
func (r *Router) stopLinks() {
	if r.linkDone == nil {
		return
	}
	r.linkCancel()
	<-r.linkDone
	r.mu.Lock()
	r.links = nil
	r.mu.Unlock()
}
