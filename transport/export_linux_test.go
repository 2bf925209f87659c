//go:build linux

package transport

import (
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/vrrp/vrrpio"
)

// SetHeldRcvBuf sets the receive buffer of c's held socket, for tests of
// its overflow.
func SetHeldRcvBuf(c vrrpio.Conn, n int) error {
	s, _, err := c.(*conn).current()
	if err != nil {
		return err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return unix.SetsockoptInt(s.hfd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
}
