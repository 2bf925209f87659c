//go:build linux

package transport

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// oobLen is the control-message space of one received packet: the arrival
// timestamp, and for IPv4 the TTL and packet info, for IPv6 the hop limit
// and packet info (each at most 40 bytes with its header).
const oobLen = 128

// readBuf is the reusable memory of one ReadBatch call.
type readBuf struct {
	hs    []mmsghdr
	iovs  [][2]unix.Iovec
	hdrs  [][ipv4.HeaderLen]byte
	names []unix.RawSockaddrInet6
	oob   []byte
}

func (rb *readBuf) grow(n int) {
	if cap(rb.hs) >= n {
		return
	}
	rb.hs = make([]mmsghdr, n)
	rb.iovs = make([][2]unix.Iovec, n)
	rb.hdrs = make([][ipv4.HeaderLen]byte, n)
	rb.names = make([]unix.RawSockaddrInet6, n)
	rb.oob = make([]byte, n*oobLen)
}

// ReadFrom reads the next VRRP message into b. While the interface is gone
// it blocks until the interface is back or the Conn is closed.
func (c *conn) ReadFrom(b []byte) (int, vrrpio.PacketInfo, error) {
	ms := []vrrpio.Incoming{{Buf: b}}
	if _, err := c.ReadBatch(ms); err != nil {
		return 0, vrrpio.PacketInfo{}, err
	}
	return ms[0].N, ms[0].Info, nil
}

// ReadBatch reads up to len(ms) messages with one recvmmsg once at least
// one is queued. Each comes without its IP header, with its source (IPv4
// unmapped), destination, TTL or hop limit, and arrival time. While the
// interface is gone it blocks until the interface is back or the Conn is
// closed.
func (c *conn) ReadBatch(ms []vrrpio.Incoming) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	rb := c.getReadBuf()
	defer c.putReadBuf(rb)
	for {
		s, err := c.waitSock()
		if err != nil {
			return 0, err
		}
		n, err := s.readBatch(ms, rb, false)
		if err == nil {
			return n, nil
		}
		if s.dead.Load() {
			// Closed by Close, or replaced by the recovery goroutine.
			continue
		}
		return 0, fmt.Errorf("transport: read on %s: %w", c.name, err)
	}
}

func (c *conn) getReadBuf() *readBuf {
	rb, _ := c.rpool.Get().(*readBuf)
	if rb == nil {
		rb = new(readBuf)
	}
	return rb
}

func (c *conn) putReadBuf(rb *readBuf) {
	// Keep no reference to the caller's buffers.
	clear(rb.iovs)
	clear(rb.hs)
	c.rpool.Put(rb)
}

// readBatch reads into ms from the socket the poller watches, or from the
// held socket (which the caller locks) without blocking.
func (s *sock) readBatch(ms []vrrpio.Incoming, rb *readBuf, held bool) (int, error) {
	rb.grow(len(ms))
	v6 := s.p6 != nil
	hs := rb.hs[:len(ms)]
	for i := range hs {
		h := &hs[i]
		*h = mmsghdr{}
		iov := &rb.iovs[i]
		n := 0
		if !v6 && !s.ah {
			// An IPv4 raw socket receives the IP header too.
			iov[n] = unix.Iovec{Base: &rb.hdrs[i][0]}
			iov[n].SetLen(ipv4.HeaderLen)
			n++
		}
		iov[n] = unix.Iovec{}
		if len(ms[i].Buf) > 0 {
			iov[n].Base = &ms[i].Buf[0]
			iov[n].SetLen(len(ms[i].Buf))
			n++
		}
		h.hdr.Iov = &iov[0]
		h.hdr.SetIovlen(n)
		if v6 {
			h.hdr.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
			h.hdr.Namelen = unix.SizeofSockaddrInet6
		}
		h.hdr.Control = &rb.oob[i*oobLen]
		h.hdr.SetControllen(oobLen)
	}
	var (
		n   int
		err error
	)
	if held {
		n, err = s.readHeld(hs)
	} else {
		n, err = s.recvmmsg(hs)
	}
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		h := &hs[i]
		in := &ms[i]
		in.Info = vrrpio.PacketInfo{}
		switch {
		case s.ah:
			// The whole datagram, header included.
			in.N = min(int(h.n), len(in.Buf))
			if in.N >= ipv4.HeaderLen {
				header4((*[ipv4.HeaderLen]byte)(in.Buf), nil, ipv4.HeaderLen, &in.Info)
			}
		case !v6:
			in.N = header4(&rb.hdrs[i], in.Buf, int(h.n), &in.Info)
		default:
			in.N = min(int(h.n), len(in.Buf))
			if h.hdr.Namelen >= unix.SizeofSockaddrInet6 {
				in.Info.Src = netip.AddrFrom16(rb.names[i].Addr)
			}
		}
		if h.hdr.Flags&unix.MSG_TRUNC != 0 {
			in.N = len(in.Buf)
		}
		ctl := min(int(h.hdr.Controllen), oobLen)
		parseControl(rb.oob[i*oobLen:i*oobLen+ctl], &in.Info, v6)
	}
	return n, nil
}

// header4 takes the source, destination and TTL from the IPv4 header of a
// packet of total length n read into h and buf, moves the payload to the
// start of buf when the header has options, and returns the payload's
// length.
func header4(h *[ipv4.HeaderLen]byte, buf []byte, n int, info *vrrpio.PacketInfo) int {
	if n < ipv4.HeaderLen {
		return 0
	}
	info.Src = netip.AddrFrom4([4]byte(h[12:16]))
	info.Dst = netip.AddrFrom4([4]byte(h[16:20]))
	info.TTL = h[8]
	hlen := int(h[0]&0x0f) << 2
	n -= ipv4.HeaderLen
	n = min(n, len(buf))
	if d := hlen - ipv4.HeaderLen; d > 0 {
		if d > n {
			return 0
		}
		copy(buf, buf[d:n])
		n -= d
	}
	return n
}

// parseControl reads the arrival time, and for IPv6 the destination and hop
// limit, from the control messages of a received packet.
func parseControl(b []byte, info *vrrpio.PacketInfo, v6 bool) {
	// A header must fit before ParseOneSocketControlMessage looks at it:
	// it reads the header first and checks the length after.
	for len(b) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(b)
		if err != nil {
			return
		}
		b = rest
		switch {
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= 16:
			sec := int64(binary.NativeEndian.Uint64(data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:16]))
			info.Time = time.Unix(sec, nsec)
		case v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			info.TTL = uint8(binary.NativeEndian.Uint32(data[0:4]))
		case v6 && h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= 16:
			info.Dst = netip.AddrFrom16([16]byte(data[0:16]))
		}
	}
}
