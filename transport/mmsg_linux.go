//go:build linux

package transport

import (
	"errors"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The VRRP sockets are read and written with recvmmsg and sendmmsg made as
// raw system calls (syscall.RawSyscall6) inside the runtime poller's
// callbacks, not through golang.org/x/net's ReadBatch and WriteBatch: those
// enter the scheduler's blocking-syscall path, and each entry wakes the
// runtime's monitor thread from its idle sleep (a futex wake-up, a sleep
// and another futex) once per advert in a mostly idle process, which cost
// more than the system call itself. These calls never block: the socket is
// non-blocking, and EAGAIN hands the wait to the poller.

// mmsghdr is the kernel's struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// errShortBatch reports a sendmmsg that sent nothing without an error.
var errShortBatch = errors.New("sendmmsg sent no message")

// recvmmsg reads into hs once at least one message is queued. It always
// tries the system call first: each RawRead starts by discarding the
// readiness the poller recorded, so a read that waited for the poller
// first would miss an advert queued between two calls until another came.
func (s *sock) recvmmsg(hs []mmsghdr) (int, error) {
	return mmsg(s.rc.Read, unix.SYS_RECVMMSG, "recvmmsg", hs)
}

// sendmmsg sends hs, waiting on the poller while the send buffer is full.
func (s *sock) sendmmsg(hs []mmsghdr) (int, error) {
	n, err := mmsg(s.rc.Write, unix.SYS_SENDMMSG, "sendmmsg", hs)
	if err == nil && n == 0 {
		return 0, errShortBatch
	}
	return n, err
}

// mmsg makes the system call trap (recvmmsg or sendmmsg) on hs through
// the poller's Read or Write (io), retrying on EINTR and waiting on EAGAIN.
func mmsg(io func(func(uintptr) bool) error, trap uintptr, op string, hs []mmsghdr) (int, error) {
	var (
		n     int
		errno syscall.Errno
	)
	err := io(func(fd uintptr) bool {
		n, errno = rawMmsg(trap, fd, hs)
		return errno != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, &netOpError{op: op, err: errno}
	}
	return n, nil
}

// rawMmsg makes the system call trap (recvmmsg or sendmmsg) on fd without
// blocking, retrying on EINTR; EAGAIN means nothing could be done.
func rawMmsg(trap, fd uintptr, hs []mmsghdr) (int, syscall.Errno) {
	for {
		r, _, e := syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), unix.MSG_DONTWAIT, 0, 0)
		if e != unix.EINTR {
			return int(r), e
		}
	}
}

// netOpError names the system call that failed; it unwraps to the errno.
type netOpError struct {
	op  string
	err syscall.Errno
}

func (e *netOpError) Error() string { return e.op + ": " + e.err.Error() }
func (e *netOpError) Unwrap() error { return e.err }

// sendBuf is the memory of the messages of one sendmmsg.
type sendBuf struct {
	hs    []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte
}

// sendOOB is the control-message space of one sent message: IPv4 packet
// info, or IPv6 packet info and hop limit.
var sendOOB = unix.CmsgSpace(unix.SizeofInet6Pktinfo) + unix.CmsgSpace(4)

func (sb *sendBuf) grow(n int) {
	if cap(sb.hs) >= n {
		return
	}
	sb.hs = make([]mmsghdr, n)
	sb.iovs = make([]unix.Iovec, n)
	sb.names = make([]unix.RawSockaddrInet6, n)
	sb.oob = make([]byte, n*sendOOB)
}

// clear drops the references to sent messages.
func (sb *sendBuf) clear() {
	clear(sb.hs)
	clear(sb.iovs)
}

// set prepares message i: msg from src to dst, out of interface index.
func (sb *sendBuf) set(i int, msg []byte, src, dst netip.Addr, index int, v6, hdrincl bool) {
	h := &sb.hs[i]
	*h = mmsghdr{}
	iov := &sb.iovs[i]
	*iov = unix.Iovec{}
	if len(msg) > 0 {
		iov.Base = &msg[0]
	}
	iov.SetLen(len(msg))
	h.hdr.Iov = iov
	h.hdr.SetIovlen(1)
	name := &sb.names[i]
	*name = unix.RawSockaddrInet6{}
	oob := sb.oob[i*sendOOB : (i+1)*sendOOB]
	clear(oob)
	if v6 {
		name.Family = unix.AF_INET6
		name.Addr = dst.As16()
		h.hdr.Name = (*byte)(unsafe.Pointer(name))
		h.hdr.Namelen = unix.SizeofSockaddrInet6
		pi := unix.Inet6Pktinfo{Addr: src.As16(), Ifindex: uint32(index)}
		off := putCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet6Pktinfo))
		hop := int32(ttlVRRP)
		off += putCmsg(oob[off:], unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, unsafe.Slice((*byte)(unsafe.Pointer(&hop)), 4))
		h.hdr.Control = &oob[0]
		h.hdr.SetControllen(off)
		return
	}
	sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
	sa.Family = unix.AF_INET
	sa.Addr = dst.As4()
	h.hdr.Name = (*byte)(unsafe.Pointer(sa))
	h.hdr.Namelen = unix.SizeofSockaddrInet4
	if hdrincl {
		// The datagram's header names its source; the kernel takes
		// no IP_PKTINFO with IP_HDRINCL.
		return
	}
	pi := unix.Inet4Pktinfo{Ifindex: int32(index), Spec_dst: src.As4()}
	off := putCmsg(oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet4Pktinfo))
	h.hdr.Control = &oob[0]
	h.hdr.SetControllen(off)
}

// putCmsg writes one control message into b and returns the space it
// took.
func putCmsg(b []byte, level, typ int32, data []byte) int {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return unix.CmsgSpace(len(data))
}
