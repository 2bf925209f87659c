package sim

import "github.com/vrrpkit/vrrpkit/vrrp"

type eventKind uint8

const (
	evStart   eventKind = iota // a router starts for the first time
	evDeliver                  // a copy of an advert arrives at router r
	evTimer                    // the timer of router r
	evFault                    // inject a random fault
	evHeal                     // the fault phase ends
	evCheck                    // the settled checks begin
	evOp                       // the binder call under way of router r's VRID index v ends
	evReturn                   // the OnMaster call of router r's VRID index v returns
	evReport                   // the first result of router r's check v
)

// event is something that happens at global time at. Events at the same
// time happen in the order they were scheduled (seq).
type event struct {
	at   int64
	seq  uint64
	kind eventKind
	r, v int
	gen  uint64          // evTimer, evReturn: the generation; evOp: the router's life
	inc  uint64          // evReturn, evReport: the router's Node
	info vrrp.PacketInfo // evDeliver
	msg  []byte          // evDeliver
}

func (a *event) before(b *event) bool {
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

// queue is a binary min-heap of events by (at, seq). It holds values, so
// scheduling allocates nothing once the slice has grown.
type queue []event

// push schedules e, giving it the next sequence number.
func (s *sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.q = append(s.q, e)
	q := s.q
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q[i].before(&q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

// pop removes and returns the earliest event.
func (q *queue) pop() event {
	h := *q
	e := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = event{} // drop the message reference
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].before(&h[l]) {
			c = r
		}
		if !h[c].before(&h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	*q = h
	return e
}
