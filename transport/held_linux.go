//go:build linux

package transport

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"
	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// Deferred reads (vrrpio.DeferredReader). Each receiving Conn has two raw
// sockets on its interface: the one the Go poller waits on, and a held
// socket that no poller watches, so that a packet queued on it wakes
// nothing. Eager, the first has no filter and the held socket drops
// everything. Deferred, a classic BPF filter on the first passes only
// adverts of priority 0, and the held socket's filter the rest (malformed
// packets too, so that they are still counted), which wait there until
// the Router reads them with ReadPending, each with its arrival time
// (SO_TIMESTAMPNS).

// heldRcvBuf is the receive buffer asked for the held socket (the kernel
// doubles it for its accounting): about 8,000 adverts, what 1,000 virtual
// routers at 10 ms send in 80 ms, well beyond the Master_Down_Interval
// between two reads.
const heldRcvBuf = 8 << 20

var (
	// urgent4 passes the IPv4 packets whose VRRP priority is 0: the
	// filter of an IPv4 raw socket sees the IP header.
	urgent4 = []unix.SockFilter{
		{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},  // X = IP header length
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_IND, K: 2},   // A = priority (short: drop)
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jf: 1}, // priority 0?
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	// held4 passes every other IPv4 packet, those too short to have a
	// priority included.
	held4 = []unix.SockFilter{
		{Code: unix.BPF_LDX | unix.BPF_B | unix.BPF_MSH, K: 0},        // X = IP header length
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_LEN},               // A = packet length
		{Code: unix.BPF_ALU | unix.BPF_SUB | unix.BPF_X},              // A = VRRP message length
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 3, Jf: 2}, // shorter than a priority: pass
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_IND, K: 2},         // A = priority
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1},       // priority 0: drop
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	// urgent6 and held6 do the same for IPv6, whose raw socket filter
	// sees the VRRP message.
	urgent6 = []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 2},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
	// passNone passes no packet.
	passNone = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	held6    = []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_LEN},
		{Code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, K: 3, Jf: 2},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 2},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
	}
)

func attach(fd int, prog []unix.SockFilter) error {
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp))
}

// openHeld opens the held socket of s, receiving nothing until
// setDeferred.
func (c *conn) openHeld(s *sock) error {
	domain := unix.AF_INET
	if c.fam == vrrpio.IPv6 {
		domain = unix.AF_INET6
	}
	var fd int
	err := nsthread.Do(c.ns, func() error {
		var err error
		fd, err = unix.Socket(domain, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, vrrpio.IPProtocol)
		return err
	})
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	// Nothing queues until setDeferred lifts the first filter; the
	// interface is bound before the group is joined.
	err = errors.Join(
		attach(fd, passNone),
		wrapOpt("SO_BINDTODEVICE", unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, c.name)),
	)
	if err == nil {
		err = errors.Join(setRcvBuf(fd, heldRcvBuf), multicastAllOff(fd, c.fam), setTimestamps(fd))
	}
	if err == nil && c.fam == vrrpio.IPv4 {
		mreq := &unix.IPMreqn{Multiaddr: c.group.As4(), Ifindex: int32(s.index)}
		err = wrapOpt("IP_ADD_MEMBERSHIP", unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq))
	} else if err == nil {
		mreq := &unix.IPv6Mreq{Multiaddr: c.group.As16(), Interface: uint32(s.index)}
		err = errors.Join(
			wrapOpt("IPV6_RECVHOPLIMIT", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1)),
			wrapOpt("IPV6_RECVPKTINFO", unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)),
			wrapOpt("IPV6_JOIN_GROUP", unix.SetsockoptIPv6Mreq(fd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq)),
		)
	}
	if err != nil {
		return fmt.Errorf("held socket: %w", err)
	}
	s.hfd, ok = fd, true
	return nil
}

// setDeferred sets the filters of s for deferred (on) or eager reads. The
// socket that is to pass more changes first, so that a packet arriving in
// between is queued on both rather than lost (read twice, an advert moves
// a deadline to the same place).
func (s *sock) setDeferred(on, v6 bool) error {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.hfd < 0 {
		return net.ErrClosed
	}
	urgent, held := urgent4, held4
	if v6 {
		urgent, held = urgent6, held6
	}
	return control(s.rc, func(fd int) error {
		if on {
			if err := attach(s.hfd, held); err != nil {
				return err
			}
			return attach(fd, urgent)
		}
		err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return os.NewSyscallError("setsockopt SO_DETACH_FILTER", err)
		}
		return attach(s.hfd, passNone)
	})
}

// readHeld reads held messages into hs without blocking; none queued is 0.
// It is a raw system call, as the poller's reads (mmsg_linux.go): the
// socket is non-blocking, and the scheduler's syscall path would wake the
// runtime's monitor thread each time.
func (s *sock) readHeld(hs []mmsghdr) (int, error) {
	switch n, e := rawMmsg(unix.SYS_RECVMMSG, uintptr(s.hfd), hs); e {
	case 0:
		return n, nil
	case unix.EAGAIN:
		return 0, nil
	default:
		return 0, &netOpError{op: "recvmmsg", err: e}
	}
}

// heldDrops returns how many packets the held socket dropped in all
// (SK_MEMINFO_DROPS of SO_MEMINFO).
func (s *sock) heldDrops() (uint32, error) {
	var info [unix.SK_MEMINFO_VARS]uint32
	n := uint32(unsafe.Sizeof(info))
	_, _, e := syscall.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(s.hfd), unix.SOL_SOCKET, unix.SO_MEMINFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return 0, os.NewSyscallError("getsockopt SO_MEMINFO", e)
	}
	return info[unix.SK_MEMINFO_DROPS], nil
}

// SetDeferred switches the Conn between eager reads (false) and deferred
// ones (true), which hold back every packet but adverts of priority 0 for
// ReadPending. The mode outlives a re-opened socket. A send-only Conn
// reads nothing and ignores it. It implements vrrpio.DeferredReader.
func (c *conn) SetDeferred(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.errClosed()
	}
	c.deferred = on
	if c.s == nil || c.sendOnly {
		return nil
	}
	if err := c.s.setDeferred(on, c.fam == vrrpio.IPv6); err != nil {
		return fmt.Errorf("transport: %s %v: set deferred %v: %w", c.name, c.fam, on, err)
	}
	return nil
}

// ReadPending reads up to len(ms) held messages, oldest first, without
// blocking, as ReadBatch reads them; dropped is how many the held socket
// dropped since the previous call (its receive buffer was full). While the
// interface is gone there is nothing held.
func (c *conn) ReadPending(ms []vrrpio.Incoming) (n int, dropped uint64, err error) {
	if len(ms) == 0 {
		return 0, 0, nil
	}
	c.mu.Lock()
	s, closed := c.s, c.closed
	c.mu.Unlock()
	if closed {
		return 0, 0, c.errClosed()
	}
	if s == nil || c.sendOnly {
		return 0, 0, nil
	}
	rb := c.getReadBuf()
	defer c.putReadBuf(rb)
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.hfd < 0 {
		return 0, 0, nil // closed, or replaced by the recovery goroutine
	}
	n, err = s.readBatch(ms, rb, true)
	if err != nil {
		return 0, 0, fmt.Errorf("transport: read held on %s: %w", c.name, err)
	}
	if n == len(ms) {
		return n, 0, nil
	}
	// All read: the drop count cannot grow from a queue with room, so
	// a later call would miss nothing it should see now.
	total, err := s.heldDrops()
	if err != nil {
		return n, 0, fmt.Errorf("transport: %s: %w", c.name, err)
	}
	d := total - s.hdrops
	s.hdrops = total
	return n, uint64(d), nil
}
