package lvs

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Memory is an in-memory pool.Balancer that also schedules connections: a
// model of IPVS for tests and simulations, where the kernel's table cannot
// be used. The zero value is ready to use; it is safe for concurrent use.
//
// Connect picks the destination of a new connection as IPVS would: the
// service is found by the packet's firewall mark first, then by protocol,
// address and port, then by the catch-all port 0. Scheduler "rr" takes the
// destinations of non-zero weight in turn; every other scheduler is
// modelled as weighted round robin (each destination gets a share of the
// connections proportional to its weight), since the model has no
// connection counts or hashes. A persistent service (Service.Persistence)
// sends a client, its address masked by Service.PersistenceMask, to the
// destination it got last, until Persistence has passed since its last
// connection; as in IPVS, that holds while the destination's weight is 0
// (quiescent), and ends when the destination is removed. Persistence
// engines are not modelled: EnsureService refuses a service with one.
type Memory struct {
	// Now is the clock of persistence; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	svcs map[string]*memService
}

var _ pool.Balancer = (*Memory)(nil)

// memService is one service of a Memory.
type memService struct {
	svc   pool.Service
	dests []pool.Destination // in the order they were added
	// next is rr's position; current holds the weighted round robin's
	// running scores, by destination.
	next    int
	current map[netip.AddrPort]int
	// templates are the persistence entries, by masked client address.
	templates map[netip.Addr]*template
}

// template is a persistence entry: where a client goes, and when it last
// connected.
type template struct {
	dest netip.AddrPort
	last time.Time
}

// Errors of Memory.
var (
	// ErrNoService is returned by Connect when no service takes the
	// connection, and by the Balancer methods for a service that does not
	// exist.
	ErrNoService = errors.New("lvs: no such virtual service")
	// ErrNoDestination is returned by Connect when the service has no
	// destination to schedule (none, or all of weight 0).
	ErrNoDestination = errors.New("lvs: no destination available")
)

// Conn is the first packet of a connection, as Memory.Connect sees it.
type Conn struct {
	// Client is the client's address.
	Client netip.Addr
	// Protocol and Dst are the packet's protocol (the zero value is TCP)
	// and destination address and port.
	Protocol pool.Protocol
	Dst      netip.AddrPort
	// Mark is the packet's firewall mark (0: none).
	Mark uint32
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// key identifies a service: its String, with the default protocol.
func key(s pool.Service) string {
	if s.Protocol == 0 {
		s.Protocol = pool.ProtocolTCP
	}
	return s.String()
}

// EnsureService adds s, or brings the existing service to s. Turning
// persistence off, or changing its mask, forgets the clients.
func (m *Memory) EnsureService(ctx context.Context, s pool.Service) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("lvs: %w", err)
	}
	if s.PersistenceEngine != "" {
		return fmt.Errorf("lvs: service %s: the in-memory balancer does not model persistence engines (%s)", s, s.PersistenceEngine)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.svcs == nil {
		m.svcs = map[string]*memService{}
	}
	k := key(s)
	ms := m.svcs[k]
	if ms == nil {
		ms = &memService{current: map[netip.AddrPort]int{}, templates: map[netip.Addr]*template{}}
		m.svcs[k] = ms
	}
	if s.Persistence == 0 || s.PersistenceMask != ms.svc.PersistenceMask {
		clear(ms.templates)
	}
	ms.svc = s
	return nil
}

// RemoveService deletes s with its destinations; a missing service is not
// an error.
func (m *Memory) RemoveService(ctx context.Context, s pool.Service) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.svcs, key(s))
	return nil
}

// service returns the service s, under m.mu.
func (m *Memory) service(s pool.Service) (*memService, error) {
	ms := m.svcs[key(s)]
	if ms == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoService, s)
	}
	return ms, nil
}

// Services returns the services, sorted by their String.
func (m *Memory) Services() []pool.Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]pool.Service, 0, len(m.svcs))
	for _, ms := range m.svcs {
		out = append(out, ms.svc)
	}
	slices.SortFunc(out, func(a, b pool.Service) int {
		switch ka, kb := key(a), key(b); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return out
}

// Destinations lists the destinations of s, in the order they were added.
func (m *Memory) Destinations(ctx context.Context, s pool.Service) ([]pool.Destination, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, err := m.service(s)
	if err != nil {
		return nil, err
	}
	return slices.Clone(ms.dests), nil
}

// AddDestination adds d to s, or updates it if it is there.
func (m *Memory) AddDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	return m.setDestination(ctx, s, d)
}

// UpdateDestination changes d in s, or adds it if it is missing.
func (m *Memory) UpdateDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	return m.setDestination(ctx, s, d)
}

func (m *Memory) setDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !d.Addr.IsValid() || d.Weight < 0 {
		return fmt.Errorf("lvs: destination %v (weight %d) is not valid", d.Addr, d.Weight)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, err := m.service(s)
	if err != nil {
		return err
	}
	if i := ms.index(d.Addr); i >= 0 {
		ms.dests[i] = d
		return nil
	}
	ms.dests = append(ms.dests, d)
	return nil
}

// RemoveDestination removes d from s; a missing destination is not an
// error. Clients persisting to it are scheduled again.
func (m *Memory) RemoveDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, err := m.service(s)
	if err != nil {
		return err
	}
	if i := ms.index(d.Addr); i >= 0 {
		ms.dests = slices.Delete(ms.dests, i, i+1)
		delete(ms.current, d.Addr)
	}
	return nil
}

func (ms *memService) index(a netip.AddrPort) int {
	return slices.IndexFunc(ms.dests, func(d pool.Destination) bool { return d.Addr == a })
}

// Connect schedules a new connection and returns its destination. The
// error wraps ErrNoService or ErrNoDestination.
func (m *Memory) Connect(c Conn) (pool.Destination, error) {
	client := c.Client.Unmap()
	dst := netip.AddrPortFrom(c.Dst.Addr().Unmap(), c.Dst.Port())
	if !client.IsValid() {
		return pool.Destination{}, fmt.Errorf("lvs: connection from %v: the client address is not valid", c.Client)
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.lookup(c.Protocol, client.Is6(), dst, c.Mark)
	if ms == nil {
		return pool.Destination{}, fmt.Errorf("%w for %s %s (mark %d)", ErrNoService, c.Protocol, dst, c.Mark)
	}
	if ms.svc.Persistence == 0 {
		return ms.schedule()
	}
	tk := persistenceKey(client, ms.svc.PersistenceMask)
	if t := ms.templates[tk]; t != nil {
		if now.Sub(t.last) < ms.svc.Persistence {
			if i := ms.index(t.dest); i >= 0 {
				t.last = now
				return ms.dests[i], nil
			}
		}
		delete(ms.templates, tk)
	}
	ms.expire(now)
	d, err := ms.schedule()
	if err != nil {
		return d, err
	}
	ms.templates[tk] = &template{dest: d.Addr, last: now}
	return d, nil
}

// lookup finds the service of a packet, under m.mu, in IPVS's order: the
// firewall mark, then the protocol, address and port, then port 0.
func (m *Memory) lookup(proto pool.Protocol, ipv6 bool, dst netip.AddrPort, mark uint32) *memService {
	if proto == 0 {
		proto = pool.ProtocolTCP
	}
	if mark != 0 {
		if ms := m.svcs[key(pool.Service{FWMark: mark, IPv6: ipv6})]; ms != nil {
			return ms
		}
	}
	if !dst.IsValid() {
		return nil
	}
	if ms := m.svcs[key(pool.Service{Addr: dst, Protocol: proto})]; ms != nil {
		return ms
	}
	if ms := m.svcs[key(pool.Service{Addr: netip.AddrPortFrom(dst.Addr(), 0), Protocol: proto})]; ms != nil && ms.svc.Persistence > 0 {
		return ms
	}
	return nil
}

// persistenceKey masks the client's address; an invalid mask keeps all of
// it. Validate has checked that the mask is of the client's family when
// the client is of the service's.
func persistenceKey(client, mask netip.Addr) netip.Addr {
	if !mask.IsValid() || mask.BitLen() != client.BitLen() {
		return client
	}
	a, b := client.AsSlice(), mask.AsSlice()
	for i := range a {
		a[i] &= b[i]
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// expire forgets the clients whose persistence has ended.
func (ms *memService) expire(now time.Time) {
	for k, t := range ms.templates {
		if now.Sub(t.last) >= ms.svc.Persistence {
			delete(ms.templates, k)
		}
	}
}

// schedule picks a destination of non-zero weight for a new connection.
func (ms *memService) schedule() (pool.Destination, error) {
	if ms.svc.Scheduler == "rr" {
		for range ms.dests {
			d := ms.dests[ms.next%len(ms.dests)]
			ms.next = (ms.next + 1) % len(ms.dests)
			if d.Weight > 0 {
				return d, nil
			}
		}
		return pool.Destination{}, fmt.Errorf("%w in %s", ErrNoDestination, ms.svc)
	}
	// Smooth weighted round robin: every destination gains its weight,
	// the one with the most is picked and pays the total.
	total, best := 0, -1
	for i, d := range ms.dests {
		if d.Weight <= 0 {
			continue
		}
		total += d.Weight
		ms.current[d.Addr] += d.Weight
		if best < 0 || ms.current[d.Addr] > ms.current[ms.dests[best].Addr] {
			best = i
		}
	}
	if best < 0 {
		return pool.Destination{}, fmt.Errorf("%w in %s", ErrNoDestination, ms.svc)
	}
	d := ms.dests[best]
	ms.current[d.Addr] -= total
	return d, nil
}
