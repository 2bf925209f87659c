//go:build linux

package transport

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// oobLen is the control-message space of one received packet: the arrival
// timestamp, and for IPv4 the TTL and packet info, for IPv6 the hop limit
// and packet info (each at most 40 bytes with its header).
const oobLen = 128

// readBuf is the reusable memory of one ReadBatch call. ipv4.Message and
// ipv6.Message are the same type.
type readBuf struct {
	ms   []ipv4.Message
	hdrs [][ipv4.HeaderLen]byte
	bufs [][2][]byte
	oob  []byte
}

func (rb *readBuf) grow(n int) {
	if cap(rb.ms) >= n {
		return
	}
	rb.ms = make([]ipv4.Message, n)
	rb.hdrs = make([][ipv4.HeaderLen]byte, n)
	rb.bufs = make([][2][]byte, n)
	rb.oob = make([]byte, n*oobLen)
}

// ReadFrom reads the next VRRP message into b. While the interface is gone
// it blocks until the interface is back or the Conn is closed.
func (c *conn) ReadFrom(b []byte) (int, vrrp.PacketInfo, error) {
	ms := []vrrp.Incoming{{Buf: b}}
	if _, err := c.ReadBatch(ms); err != nil {
		return 0, vrrp.PacketInfo{}, err
	}
	return ms[0].N, ms[0].Info, nil
}

// ReadBatch reads up to len(ms) messages with one recvmmsg once at least
// one is queued. Each comes without its IP header, with its source (IPv4
// unmapped), destination, TTL or hop limit, and arrival time. While the
// interface is gone it blocks until the interface is back or the Conn is
// closed.
func (c *conn) ReadBatch(ms []vrrp.Incoming) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	rb, _ := c.rpool.Get().(*readBuf)
	if rb == nil {
		rb = new(readBuf)
	}
	defer func() {
		// Keep no reference to the caller's buffers.
		for i := range rb.ms {
			rb.ms[i] = ipv4.Message{}
			rb.bufs[i] = [2][]byte{}
		}
		c.rpool.Put(rb)
	}()
	for {
		s, err := c.waitSock()
		if err != nil {
			return 0, err
		}
		n, err := s.readBatch(ms, rb)
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

func (s *sock) readBatch(ms []vrrp.Incoming, rb *readBuf) (int, error) {
	rb.grow(len(ms))
	msgs := rb.ms[:len(ms)]
	for i := range msgs {
		oob := rb.oob[i*oobLen : (i+1)*oobLen : (i+1)*oobLen]
		if s.p4 != nil {
			// An IPv4 raw socket receives the IP header too.
			rb.bufs[i] = [2][]byte{rb.hdrs[i][:], ms[i].Buf}
			msgs[i] = ipv4.Message{Buffers: rb.bufs[i][:], OOB: oob}
		} else {
			rb.bufs[i] = [2][]byte{ms[i].Buf}
			msgs[i] = ipv4.Message{Buffers: rb.bufs[i][:1], OOB: oob}
		}
	}
	var (
		n   int
		err error
	)
	if s.p4 != nil {
		n, err = s.p4.ReadBatch(msgs, 0)
	} else {
		n, err = s.p6.ReadBatch(msgs, 0)
	}
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		m := &msgs[i]
		in := &ms[i]
		in.Info = vrrp.PacketInfo{}
		if s.p4 != nil {
			in.N = header4(&rb.hdrs[i], in.Buf, m.N, &in.Info)
		} else {
			in.N = min(m.N, len(in.Buf))
			in.Info.Src = addrOf(m.Addr)
		}
		if m.Flags&unix.MSG_TRUNC != 0 {
			in.N = len(in.Buf)
		}
		parseControl(m.OOB[:m.NN], &in.Info, s.p6 != nil)
	}
	return n, nil
}

// header4 takes the source, destination and TTL from the IPv4 header of a
// packet of total length n read into h and buf, moves the payload to the
// start of buf when the header has options, and returns the payload's
// length.
func header4(h *[ipv4.HeaderLen]byte, buf []byte, n int, info *vrrp.PacketInfo) int {
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
func parseControl(b []byte, info *vrrp.PacketInfo, v6 bool) {
	for len(b) > 0 {
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
