package vrrp

// The Router's sockets: instances set up and torn down, the readers, what
// is read handed to the Node, adverts written (batched while ticking).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// maxMessage bounds a received VRRP message: 255 IPv6 addresses need 4088
// bytes; a read that fills the buffer is too long and fails to decode.
const maxMessage = 4160

// readBatch is how many messages a reader reads with one system call
// (BatchReader) and hands to the owner loop at once.
const readBatch = 16

// inbound is one received message, decoded and checksummed by the reader.
type inbound struct {
	info PacketInfo
	n    int
	off  int // where the VRRP message starts in buf: after the IP and AH headers on an AH Conn
	err  error
	form ChecksumForm
	adv  Advertisement
	buf  [maxMessage]byte
}

// inbatch is what a reader hands to the owner loop: the messages of one
// read.
type inbatch struct {
	c  *conn
	n  int
	ps [readBatch]inbound
	in [readBatch]Incoming
}

func newInbatch() any {
	b := new(inbatch)
	for i := range b.in {
		b.in[i].Buf = b.ps[i].buf[:]
	}
	return b
}

// addInstance sets up an instance, its socket and its VMAC, and adds it to
// the Node.
func (r *Router) addInstance(c InstanceConfig) (int, error) {
	key := connKey{c.Interface, c.Family(), c.AuthAH}
	cn := r.conns[key]
	if cn == nil {
		group := c.Group
		if !group.IsValid() {
			group = Group4
			if key.fam == IPv6 {
				group = Group6
			}
		}
		conn0, err := r.cfg.Transport.Open(r.ctx, Endpoint{Interface: c.Interface, Family: key.fam, Group: group, Protocol: key.protocol()})
		if err != nil {
			r.log.Error("cannot open VRRP socket", "instance", c.Name, "interface", c.Interface, "family", key.fam, "err", err)
			return 0, fmt.Errorf("vrrp: instance %s: open %s %v: %w", c.Name, c.Interface, key.fam, err)
		}
		cn = &conn{key: key, conn: conn0, group: group}
		if !r.cfg.EagerReads && !key.ah {
			// An AH Conn is read eagerly: a deferring filter would
			// have to find the priority behind the AH.
			cn.dr, _ = conn0.(DeferredReader)
		}
		r.conns[key] = cn
		r.byOpen = append(r.byOpen, cn)
		r.readers.Add(1)
		go r.read(cn)
	}
	if local := cn.conn.LocalAddr(); local.IsValid() {
		for _, v := range slices.Concat(c.VIPs, c.ExcludedVIPs) {
			if v.Prefix.Addr() == local {
				// Bound and released as a VIP, it would be deleted from
				// the interface when the instance leaves Master.
				return 0, fmt.Errorf("%w: instance %s: VIP %v is the address of %s itself", ErrConfig, c.Name, v.Prefix, c.Interface)
			}
		}
	}
	io := &instIO{name: c.Name, vrid: c.VRID, c: cn, out: cn.conn, stats: new(counters)}
	var err error
	if c.UseVMAC {
		err = r.openVMAC(io, &c)
	}
	io.id = r.node.Add(c, r.addressing(io, &c))
	r.ios = append(r.ios, io)
	cn.users++
	cn.vrids[c.VRID] = io
	if err != nil {
		r.node.SetFault(r.clock.Now(), io.id, "vmac", true)
	}
	r.effects(r.clock.Now())
	return io.id, nil
}

// addressing is what the Node needs to know of io's sockets.
func (r *Router) addressing(io *instIO, c *InstanceConfig) Addressing {
	a := Addressing{Source: io.c.conn.LocalAddr(), Group: io.c.group}
	if io.vmacConn != nil && c.Family() == IPv6 {
		// The VMAC has a link-local address of its own.
		a.Source = io.vmacConn.LocalAddr()
	}
	return a
}

// openVMAC creates the VMAC interface of an instance and, unless adverts
// leave by the parent, a send-only Conn on it.
func (r *Router) openVMAC(io *instIO, c *InstanceConfig) error {
	name := c.vmacName()
	vb := r.binder.(VMACBinder)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), opTimeout)
	defer cancel()
	if err := vb.AddVMAC(ctx, c.Interface, name, c.VRID, c.Family()); err != nil {
		r.log.Error("cannot create VMAC interface", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	io.vmac = name
	if c.VMACXmitBase {
		return nil
	}
	vc, err := r.cfg.Transport.Open(r.ctx, Endpoint{Interface: name, Family: c.Family(), Group: io.c.group, SendOnly: true, Protocol: io.c.key.protocol()})
	if err != nil {
		r.log.Error("cannot open VRRP socket on the VMAC", "instance", c.Name, "vmac", name, "err", err)
		return err
	}
	io.vmacConn, io.out = vc, vc
	return nil
}

// removeInstance stops instance id (priority 0, addresses released) and
// releases its sockets and VMAC.
func (r *Router) removeInstance(id int, now time.Time) {
	r.node.Remove(now, id)
	r.detach(id, now)
}

// detach carries out the effects of the removal of instance id from the
// Node, and releases its sockets and VMAC.
func (r *Router) detach(id int, now time.Time) {
	io := r.ios[id]
	r.effects(now)
	r.publish()
	io.pub = nil
	r.ios[id] = nil
	cn := io.c
	cn.vrids[io.vrid] = nil
	cn.users--
	if cn.users == 0 {
		r.closeConn(cn)
		delete(r.conns, cn.key)
		r.byOpen = slices.DeleteFunc(r.byOpen, func(c *conn) bool { return c == cn })
	} else {
		r.checkMode(cn)
	}
	if io.vmacConn != nil {
		if err := io.vmacConn.Close(); err != nil {
			r.log.Warn("closing the VMAC socket", "instance", io.name, "err", err)
		}
	}
	if io.vmac != "" {
		// After the addresses on it are released.
		vmac := io.vmac
		r.ops.do(r, id, func(ctx context.Context) {
			if err := r.binder.(VMACBinder).RemoveVMAC(ctx, vmac); err != nil {
				r.log.Warn("removing the VMAC interface", "instance", io.name, "err", err)
			}
		})
	}
}

func (r *Router) closeConn(c *conn) {
	if !c.closed {
		c.closed = true
		if err := c.conn.Close(); err != nil {
			r.log.Warn("closing VRRP socket", "interface", c.key.iface, "err", err)
		}
	}
}

// read is the reader goroutine of one Conn: it reads a batch of packets
// (one at a time when the Conn is no BatchReader), decodes and checksums
// each, and hands the batch to the owner loop.
func (r *Router) read(c *conn) {
	defer r.readers.Done()
	br, _ := c.conn.(BatchReader)
	for {
		b := r.free.Get().(*inbatch)
		n, err := 0, error(nil)
		if br != nil {
			n, err = br.ReadBatch(b.in[:])
		} else {
			b.in[0].N, b.in[0].Info, err = c.conn.ReadFrom(b.in[0].Buf)
			n = 1
		}
		if err != nil {
			r.free.Put(b)
			if errors.Is(err, net.ErrClosed) || r.quitting() {
				return
			}
			r.rstats.readErrors.Add(1)
			r.log.Warn("reading VRRP socket", "interface", c.key.iface, "err", err)
			if !r.pause(100 * time.Millisecond) {
				return
			}
			continue
		}
		b.c, b.n = c, n
		for i := range n {
			decode(c, &b.ps[i], b.in[i].N, b.in[i].Info)
		}
		select {
		case r.in <- b:
		case <-r.quit:
			return
		}
	}
}

// decode decodes and checksums one message of n bytes in p.buf.
func decode(c *conn, p *inbound, n int, info PacketInfo) {
	info.Src, info.Dst = info.Src.Unmap(), info.Dst.Unmap()
	p.info, p.n = info, n
	msg := p.buf[:n]
	p.err = nil
	p.off = 0
	p.form = ChecksumBad
	if c.key.ah && n < len(p.buf) {
		// A whole datagram: the message follows the IP and AH headers.
		var m []byte
		if _, m, p.err = ParseAH(msg); p.err != nil {
			p.off = n // no VRID to find
			return
		}
		p.off = n - len(m)
		msg = m
	}
	if n == len(p.buf) {
		p.err = fmt.Errorf("%w: message of %d bytes or more", ErrLength, n)
	} else if p.err = p.adv.Unmarshal(msg, c.key.fam == IPv6); p.err == nil {
		p.form = VerifyChecksum(msg, info.Src, info.Dst, c.group)
	}
}

// quitting reports whether the loop is quitting, for read errors that do
// not wrap net.ErrClosed.
func (r *Router) quitting() bool {
	select {
	case <-r.quit:
		return true
	default:
		return false
	}
}

// pause waits d on the Router's clock; it returns false if the Router quits.
func (r *Router) pause(d time.Duration) bool {
	t, ch := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-r.quit:
		return false
	}
}

func dropFor(err error) DropReason {
	switch {
	case errors.Is(err, ErrTruncated):
		return DropTruncated
	case errors.Is(err, ErrLength):
		return DropLength
	case errors.Is(err, ErrVersion):
		return DropVersion
	case errors.Is(err, ErrType):
		return DropType
	case errors.Is(err, ErrInterval):
		return DropInterval
	case errors.Is(err, ErrFamily):
		return DropFamily
	case errors.Is(err, ErrVRID):
		return DropUnknownVRID
	case errors.Is(err, ErrAH):
		return DropAuthType
	}
	return DropLength
}

// receiveBatch handles the messages of one read, and frees the batch.
func (r *Router) receiveBatch(b *inbatch) {
	now := r.clock.Now()
	r.checkStep(now)
	for i := range b.n {
		r.receive(b.c, &b.ps[i], now)
	}
	r.eagerEnds(b.c, now)
	r.free.Put(b)
}

// unknownVRID logs an advert for a VRID no instance has on c, at most once
// per dropLogEvery for c.
func (r *Router) unknownVRID(c *conn, p *inbound, now time.Time) {
	l := &c.unknown
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	r.log.Info(fmt.Sprintf("(%s) Unknown VRID %d received from %v, ignoring", c.key.iface, p.buf[p.off+1], p.info.Src),
		"interface", c.key.iface, "family", c.key.fam, "vrid", p.buf[p.off+1], "src", p.info.Src, "suppressed", l.suppressed)
	l.last, l.suppressed = now, 0
}

// receive hands one message to the Node, and counts it.
func (r *Router) receive(c *conn, p *inbound, now time.Time) {
	var io *instIO
	if p.n >= p.off+2 {
		io = c.vrids[p.buf[p.off+1]]
	}
	r.rstats.received.Add(1)
	if io == nil || c.closed {
		d := DropUnknownVRID
		if p.err != nil {
			d = dropFor(p.err)
		}
		r.rstats.drops[d].Add(1)
		if d == DropUnknownVRID && r.cfg.LogUnknownVRIDs && !c.closed && p.n >= p.off+2 {
			r.unknownVRID(c, p, now)
		}
		return
	}
	rc := Received{Adv: &p.adv, Info: p.info, Err: p.err, Form: p.form, Untimed: r.stepped}
	if c.key.ah {
		rc.Packet = p.buf[:p.n]
	}
	res := r.node.Receive(now, io.id, &rc)
	if res.Counted {
		io.stats.advertsReceived.Add(1)
		io.stats.checksums[p.form].Add(1)
		if p.adv.Priority == 0 {
			io.stats.priorityZeroReceived.Add(1)
		}
	}
	if res.Drop != DropNone {
		r.dropped(io, res.Drop, now, p)
	}
	r.effects(now)
}

// dropped counts a drop of the advert p and logs it, at most once per
// dropLogEvery for each reason of each instance, so that a flood cannot
// flood the log. The drops that mean a peer configured differently or in
// conflict (another version, other addresses, another password or
// interval, our own address, a second Master) are warnings that name the
// sender and say what differs.
func (r *Router) dropped(io *instIO, d DropReason, now time.Time, p *inbound) {
	io.stats.drops[d].Add(1)
	if io.dropLog == nil {
		io.dropLog = new([NumDropReasons]dropLog)
	}
	l := &io.dropLog[d]
	if !l.last.IsZero() && now.Sub(l.last) < dropLogEvery {
		l.suppressed++
		return
	}
	if detail := r.dropDetail(io, d, p); detail != "" {
		r.log.Warn(fmt.Sprintf("(%s) %s", io.name, detail),
			"instance", io.name, "reason", d.String(), "src", p.info.Src, "suppressed", l.suppressed)
	} else {
		r.log.Info(fmt.Sprintf("(%s) dropped an advert from %v: %s", io.name, p.info.Src, d),
			"instance", io.name, "reason", d.String(), "src", p.info.Src, "suppressed", l.suppressed)
	}
	l.last, l.suppressed = now, 0
}

// dropDetail describes a drop that means a peer configured differently or
// in conflict; "" for the others.
func (r *Router) dropDetail(io *instIO, d DropReason, p *inbound) string {
	m := r.node.Machine(io.id)
	c := m.Config()
	src := p.info.Src
	switch d {
	case DropVersion:
		if p.err != nil {
			return ""
		}
		return fmt.Sprintf("VRRPv%d advert for VRID %d from %v, this instance runs VRRPv%d: neither side hears the other, and both may be Master of the same addresses",
			p.adv.Version, c.VRID, src, c.Version)
	case DropAddressList:
		return fmt.Sprintf("advert for VRID %d from %v lists %v, this instance %v: neither side hears the other, and both may be Master",
			c.VRID, src, p.adv.Addresses, c.Addresses)
	case DropAuthType, DropAuth:
		return fmt.Sprintf("advert for VRID %d from %v has other authentication: neither side hears the other, and both may be Master", c.VRID, src)
	case DropInterval:
		if p.err != nil {
			return ""
		}
		return fmt.Sprintf("advert for VRID %d from %v at an interval of %v, this instance %v: VRRPv2 peers must agree", c.VRID, src, p.adv.IntervalDuration(), c.AdvertInterval)
	case DropLoop:
		return fmt.Sprintf("advert for VRID %d from this instance's own address %v came from another router: an address conflict", c.VRID, src)
	case DropLowerPriority:
		if m.State() != Master {
			return ""
		}
		return fmt.Sprintf("another Master for VRID %d: %v at priority %d (this one %d); it should step down", c.VRID, src, p.adv.Priority, m.Priority())
	}
	return ""
}

// send writes an advert of io with priority prio, or queues it while a
// tick batches.
func (r *Router) send(io *instIO, prio uint8, out Outgoing) {
	if out.Msg == nil {
		r.sent(io, prio, out.Dst, errEncode)
		return
	}
	if _, batch := io.out.(BatchConn); batch && r.out.batching {
		r.out.queue(io, prio, out)
		return
	}
	r.sent(io, prio, out.Dst, io.out.WriteTo(out.Msg, out.Src, out.Dst))
}

// errEncode is the send error of an advert the Node could not encode.
var errEncode = errors.New("vrrp: the advert could not be encoded")

// sent counts the outcome of one advert.
func (r *Router) sent(io *instIO, prio uint8, dst netip.Addr, err error) {
	if err != nil {
		io.stats.sendErrors.Add(1)
		r.log.Warn("sending advert", "instance", io.name, "dst", dst, "err", err)
		return
	}
	io.stats.advertsSent.Add(1)
	if prio == 0 {
		io.stats.priorityZeroSent.Add(1)
	}
}

// flush writes the adverts queued by a tick, and counts them.
func (r *Router) flush() { r.out.flush(r.sent) }

// sender queues adverts, while a tick batches, for one WriteBatch per
// Conn.
type sender struct {
	batching bool
	pending  []pendingOut
	batch    []Outgoing
	rank     map[Conn]int
	starts   []int
	cursor   []int
	order    []int
}

type pendingOut struct {
	io   *instIO
	out  Outgoing
	prio uint8
	rank int // order of the Conn's first advert in the tick
}

// queue queues out, an advert of io, for the batch of io's Conn. Its
// message must stay valid until flush.
func (s *sender) queue(io *instIO, prio uint8, out Outgoing) {
	s.pending = append(s.pending, pendingOut{io: io, prio: prio, out: out})
}

// flush writes the queued adverts, one WriteBatch for each Conn, and
// reports each outcome to sent. Instances on several Conns fall due
// interleaved (the same interval on each segment), so the adverts are
// grouped by Conn first (a counting sort of their indexes), each Conn's in
// the order they were queued, the Conns in the order of their first advert.
func (s *sender) flush(sent func(io *instIO, prio uint8, dst netip.Addr, err error)) {
	if len(s.pending) == 0 {
		return
	}
	if s.rank == nil {
		s.rank = map[Conn]int{}
	}
	for i := range s.pending {
		p := &s.pending[i]
		if i > 0 && p.io.out == s.pending[i-1].io.out {
			p.rank = s.pending[i-1].rank
			continue
		}
		rk, ok := s.rank[p.io.out]
		if !ok {
			rk = len(s.rank)
			s.rank[p.io.out] = rk
		}
		p.rank = rk
	}
	conns := len(s.rank)
	clear(s.rank)
	// starts[k] is where the adverts of Conn k begin in order.
	s.starts = append(s.starts[:0], make([]int, conns+1)...)
	for _, p := range s.pending {
		s.starts[p.rank+1]++
	}
	for k := 1; k <= conns; k++ {
		s.starts[k] += s.starts[k-1]
	}
	s.cursor = append(s.cursor[:0], s.starts[:conns]...)
	s.order = append(s.order[:0], make([]int, len(s.pending))...)
	for i, p := range s.pending {
		s.order[s.cursor[p.rank]] = i
		s.cursor[p.rank]++
	}
	for k := range conns {
		idx := s.order[s.starts[k]:s.starts[k+1]]
		s.batch = s.batch[:0]
		for _, i := range idx {
			s.batch = append(s.batch, s.pending[i].out)
		}
		n, err := s.pending[idx[0]].io.out.(BatchConn).WriteBatch(s.batch)
		for m, i := range idx {
			p := &s.pending[i]
			if m < n {
				sent(p.io, p.prio, p.out.Dst, nil)
			} else {
				sent(p.io, p.prio, p.out.Dst, shortErr(err))
			}
		}
	}
	clear(s.batch)
	clear(s.pending)
	s.pending = s.pending[:0]
}

// shortErr is the error for the messages of a batch that WriteBatch did
// not send: its own error, or one saying it stopped short.
func shortErr(err error) error {
	if err == nil {
		return errors.New("vrrp: batch write stopped short")
	}
	return err
}
