// Package lvs programs Linux IPVS (LVS) for a pool.Pool, as keepalived's
// checker process does for its virtual_server blocks: IPVS implements
// pool.Balancer with github.com/moby/ipvs (generic netlink), so that a
// pool.BalancerSync can keep a virtual service's real servers in step
// with the pool.
//
// Memory is an in-memory pool.Balancer that also schedules connections
// (round robin, weighted round robin, persistence with its granularity,
// firewall marks), a model of IPVS for tests where the kernel's table
// cannot be used.
//
// It lives under examples because the library packages stay free of the
// IPVS dependency; copy it, or import it as it is. It needs the ip_vs
// kernel module and CAP_NET_ADMIN.
//
//	lb, err := lvs.New()
//	if err != nil {
//		return err
//	}
//	defer lb.Close()
//	sync := &pool.BalancerSync{Balancer: lb, Service: pool.Service{
//		Addr: netip.MustParseAddrPort("192.0.2.10:80"), Scheduler: "wrr", Forwarding: pool.ForwardDR,
//	}}
//	pool, err := pool.New(pool.Config{Backends: backends, Quorum: 2, OnChange: sync.Apply})
//	...
//	err = pool.Run(ctx)
//	_ = sync.Remove(context.Background()) // as keepalived does on stop
package lvs

import (
	"github.com/vrrpkit/vrrpkit/health/pool"

	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/moby/ipvs"
)

// IPVS is a pool.Balancer on the kernel's IPVS table of one network
// namespace. It is safe for concurrent use.
type IPVS struct {
	mu sync.Mutex // moby/ipvs handles are not safe for concurrent use
	h  *ipvs.Handle
}

var _ pool.Balancer = (*IPVS)(nil)

// New returns an IPVS on the current network namespace.
func New() (*IPVS, error) { return NewIn("") }

// ErrUnavailable is returned by NewIn when the kernel has no IPVS (the
// ip_vs module is not loaded, or not built).
var ErrUnavailable = errors.New("lvs: IPVS is not available in this kernel (load the ip_vs module)")

// NewIn returns an IPVS on the network namespace bound at nsPath (such as
// /var/run/netns/NAME); "" means the current one. It fails with an error
// wrapping ErrUnavailable when the kernel has no IPVS (no /proc/net/ip_vs):
// moby/ipvs opens its socket anyway, and its requests then fail, or
// succeed with nothing in them, one by one.
func NewIn(nsPath string) (*IPVS, error) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	h, err := ipvs.New(nsPath)
	if err != nil {
		return nil, fmt.Errorf("lvs: opening IPVS netlink in %q: %w", nsPath, err)
	}
	return &IPVS{h: h}, nil
}

// Close releases the netlink socket. It leaves the table as it is.
func (x *IPVS) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.h.Close()
	return nil
}

// ipvsPersistent is IPVS's IP_VS_SVC_F_PERSISTENT service flag.
const ipvsPersistent = 0x1

// toService converts s (with its defaults filled in by BalancerSync).
func toService(s pool.Service) (*ipvs.Service, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("lvs: %w", err)
	}
	svc := &ipvs.Service{
		Protocol:  uint16(s.Protocol),
		SchedName: s.Scheduler,
		PEName:    s.PersistenceEngine,
	}
	if svc.Protocol == 0 {
		svc.Protocol = syscall.IPPROTO_TCP
	}
	if svc.SchedName == "" {
		svc.SchedName = pool.DefaultScheduler
	}
	ipv6 := s.IPv6
	if s.FWMark != 0 {
		svc.FWMark = s.FWMark
	} else {
		a := s.Addr.Addr().Unmap()
		svc.Address, svc.Port = net.IP(a.AsSlice()), s.Addr.Port()
		ipv6 = a.Is6()
	}
	// The netmask is the full address unless a persistent service sets
	// one, as keepalived does. IPVS reads an IPv4 mask in network byte
	// order and an IPv6 one as a prefix length; moby/ipvs writes the
	// number in native byte order.
	if ipv6 {
		svc.AddressFamily, svc.Netmask = syscall.AF_INET6, 128
	} else {
		svc.AddressFamily, svc.Netmask = syscall.AF_INET, 0xffffffff
	}
	if s.Persistence > 0 {
		svc.Flags |= ipvsPersistent
		// Validate has bounded it to whole uint32 seconds, rounded up.
		svc.Timeout = uint32((s.Persistence + time.Second - 1) / time.Second)
		if m := s.PersistenceMask; m.IsValid() {
			if ipv6 {
				bits, _ := pool.MaskBits(m) // contiguous: Validate checked
				svc.Netmask = uint32(bits)
			} else {
				b := m.As4()
				svc.Netmask = binary.NativeEndian.Uint32(b[:])
			}
		}
	}
	return svc, nil
}

// toDestination converts d.
func toDestination(d pool.Destination) (*ipvs.Destination, error) {
	if !d.Addr.IsValid() {
		return nil, fmt.Errorf("lvs: destination address %v is not valid", d.Addr)
	}
	a := d.Addr.Addr().Unmap()
	dst := &ipvs.Destination{
		Address: net.IP(a.AsSlice()),
		Port:    d.Addr.Port(),
		Weight:  d.Weight,
	}
	if a.Is4() {
		dst.AddressFamily = syscall.AF_INET
	} else {
		dst.AddressFamily = syscall.AF_INET6
	}
	switch d.Forwarding {
	case pool.ForwardDefault, pool.ForwardNAT:
		dst.ConnectionFlags = ipvs.ConnFwdMasq
	case pool.ForwardDR:
		dst.ConnectionFlags = ipvs.ConnFwdDirectRoute
	case pool.ForwardTUN:
		dst.ConnectionFlags = ipvs.ConnFwdTunnel
	default:
		return nil, fmt.Errorf("lvs: destination %s: unknown forwarding %v", d.Addr, d.Forwarding)
	}
	return dst, nil
}

// fromDestination converts a destination read from the kernel. A
// forwarding method health does not know (local, bypass) comes back as
// ForwardDefault, which BalancerSync then corrects.
func fromDestination(d *ipvs.Destination) (pool.Destination, error) {
	a, ok := netip.AddrFromSlice(d.Address)
	if !ok {
		return pool.Destination{}, fmt.Errorf("lvs: destination address %v is not valid", d.Address)
	}
	out := pool.Destination{Addr: netip.AddrPortFrom(a.Unmap(), d.Port), Weight: d.Weight}
	switch d.ConnectionFlags & ipvs.ConnFwdMask {
	case ipvs.ConnFwdMasq:
		out.Forwarding = pool.ForwardNAT
	case ipvs.ConnFwdDirectRoute:
		out.Forwarding = pool.ForwardDR
	case ipvs.ConnFwdTunnel:
		out.Forwarding = pool.ForwardTUN
	}
	return out, nil
}

// EnsureService adds the virtual service, or brings an existing one to
// s: its scheduler, persistence, persistence mask and engine.
func (x *IPVS) EnsureService(ctx context.Context, s pool.Service) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	svc, err := toService(s)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.h.IsServicePresent(svc) {
		if err := x.h.NewService(svc); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("lvs: adding service %s: %w", s, err)
		}
		return nil
	}
	cur, err := x.h.GetService(svc)
	if err != nil {
		return fmt.Errorf("lvs: reading service %s: %w", s, err)
	}
	// moby/ipvs does not read the engine back: a service with one is
	// always updated.
	if cur.SchedName != svc.SchedName || cur.Flags&ipvsPersistent != svc.Flags&ipvsPersistent ||
		cur.Timeout != svc.Timeout || cur.Netmask != svc.Netmask || svc.PEName != "" {
		if err := x.h.UpdateService(svc); err != nil {
			return fmt.Errorf("lvs: updating service %s (scheduler %s, persistence %ds): %w", s, svc.SchedName, svc.Timeout, err)
		}
	}
	return nil
}

// RemoveService deletes the virtual service and its destinations; a
// service already gone is not an error.
func (x *IPVS) RemoveService(ctx context.Context, s pool.Service) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	svc, err := toService(s)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.h.DelService(svc); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lvs: deleting service %s: %w", s, err)
	}
	return nil
}

// Destinations lists the real servers of s.
func (x *IPVS) Destinations(ctx context.Context, s pool.Service) ([]pool.Destination, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	svc, err := toService(s)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	ds, err := x.h.GetDestinations(svc)
	x.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("lvs: listing the destinations of %s: %w", s, err)
	}
	out := make([]pool.Destination, 0, len(ds))
	for _, d := range ds {
		hd, err := fromDestination(d)
		if err != nil {
			return nil, fmt.Errorf("lvs: service %s: %w", s, err)
		}
		out = append(out, hd)
	}
	return out, nil
}

// AddDestination adds d to s; if it is already there, it is updated
// instead, as keepalived's ipvs_talk does.
func (x *IPVS) AddDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	return x.destination(ctx, s, d, true)
}

// UpdateDestination changes d's weight and forwarding; if it is missing,
// it is added instead.
func (x *IPVS) UpdateDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	return x.destination(ctx, s, d, false)
}

func (x *IPVS) destination(ctx context.Context, s pool.Service, d pool.Destination, add bool) error {
	return x.onDestination(ctx, s, d, func(svc *ipvs.Service, dst *ipvs.Destination) error {
		if add {
			err := x.h.NewDestination(svc, dst)
			if errors.Is(err, syscall.EEXIST) {
				err = x.h.UpdateDestination(svc, dst)
			}
			if err != nil {
				return fmt.Errorf("lvs: adding %s (weight %d, %s) to %s: %w", d.Addr, d.Weight, d.Forwarding, s, err)
			}
			return nil
		}
		err := x.h.UpdateDestination(svc, dst)
		if errors.Is(err, syscall.ENOENT) {
			err = x.h.NewDestination(svc, dst)
		}
		if err != nil {
			return fmt.Errorf("lvs: updating %s (weight %d, %s) in %s: %w", d.Addr, d.Weight, d.Forwarding, s, err)
		}
		return nil
	})
}

// onDestination converts s and d to their IPVS forms and runs fn with them
// under x.mu.
func (x *IPVS) onDestination(ctx context.Context, s pool.Service, d pool.Destination, fn func(*ipvs.Service, *ipvs.Destination) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	svc, err := toService(s)
	if err != nil {
		return err
	}
	dst, err := toDestination(d)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return fn(svc, dst)
}

// RemoveDestination removes d from s; a destination already gone is not
// an error.
func (x *IPVS) RemoveDestination(ctx context.Context, s pool.Service, d pool.Destination) error {
	return x.onDestination(ctx, s, d, func(svc *ipvs.Service, dst *ipvs.Destination) error {
		if err := x.h.DelDestination(svc, dst); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("lvs: removing %s from %s: %w", d.Addr, s, err)
		}
		return nil
	})
}
