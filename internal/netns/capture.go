//go:build linux

package netns

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// Capture records every Ethernet frame that an interface sends or
// receives, through an AF_PACKET socket opened in the interface's
// namespace. A goroutine owned by the Capture reads the frames until Close,
// which the test's cleanup calls.
type Capture struct {
	conn    *packet.Conn
	closing atomic.Bool
	done    chan struct{}

	mu     sync.Mutex
	frames []Frame
	err    error

	closeOnce sync.Once
	closeErr  error
}

// Capture starts capturing on the interface iface of host h, and registers
// its Close with t.Cleanup. It fails the test if the socket cannot be
// opened. Frames sent and received by iface are both recorded, from the
// moment Capture returns.
func (h *Host) Capture(t testing.TB, iface string) *Capture {
	t.Helper()
	return startCapture(t, h.Path(), iface, fmt.Sprintf("host %d", h.Index))
}

// CaptureSwitch is Capture on an interface of the switch namespace: br0,
// or a host's Port (which shows what the host sends even while Isolate
// keeps it off the bridge).
func (l *Lab) CaptureSwitch(t testing.TB, iface string) *Capture {
	t.Helper()
	return startCapture(t, l.SwitchPath(), iface, "the switch")
}

// startCapture opens the capture socket on iface in the namespace at path
// and starts its goroutine; where names the namespace in messages.
func startCapture(t testing.TB, path, iface, where string) *Capture {
	t.Helper()
	var conn *packet.Conn
	err := nsthread.DoPath(path, func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return fmt.Errorf("interface %s: %w", iface, err)
		}
		conn, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket on %s: %w", iface, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("netns: capture in %s: %v", where, err)
	}
	c := &Capture{conn: conn, done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("netns: closing capture on %s in %s: %v", iface, where, err)
		}
	})
	return c
}

// read is the Capture's goroutine.
func (c *Capture) read() {
	defer close(c.done)
	buf := make([]byte, 1<<16)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			if c.closing.Load() {
				return
			}
			// The kernel reports the interface going down once; the
			// socket goes on capturing when it comes back up.
			if errors.Is(err, unix.ENETDOWN) {
				time.Sleep(time.Millisecond)
				continue
			}
			c.mu.Lock()
			c.err = fmt.Errorf("netns: capture: %w", err)
			c.mu.Unlock()
			return
		}
		f := Frame{Time: now, Data: append([]byte(nil), buf[:n]...)}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

// Frames returns copies of the frames captured so far, oldest first.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Frame, len(c.frames))
	for i, f := range c.frames {
		out[i] = Frame{Time: f.Time, Data: append([]byte(nil), f.Data...)}
	}
	return out
}

// Clear forgets the frames captured so far.
func (c *Capture) Clear() {
	c.mu.Lock()
	c.frames = nil
	c.mu.Unlock()
}

// Err returns the error that ended the capture early, if any.
func (c *Capture) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// WaitFrame waits at most timeout for a captured frame for which match
// returns true (looking at the frames already captured first), and
// returns the first such frame; it fails the test with what on timeout.
func (c *Capture) WaitFrame(t testing.TB, timeout time.Duration, what string, match func(Frame) bool) Frame {
	t.Helper()
	var found Frame
	WaitFor(t, timeout, what, func() bool {
		for _, f := range c.Frames() {
			if match(f) {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// Close stops the capture, returning only once its goroutine has ended.
// Frames stay readable. Calling Close again returns the first result.
func (c *Capture) Close() error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.closeErr = c.conn.Close()
		<-c.done
		if c.closeErr != nil {
			c.closeErr = fmt.Errorf("netns: closing capture: %w", c.closeErr)
		}
	})
	return c.closeErr
}
