//go:build linux

package vrrp

import (
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// preciseTimer is a one-shot Timer on a Linux timerfd. Go's timers wake
// through epoll_wait, whose timeout counts whole milliseconds, so they fire
// up to a millisecond late; a timerfd wakes the poller when it expires, to
// the microsecond. The Router uses one for its loop when its clock is the
// PreciseClock, since a Backup's takeover is due at Master_Down_Interval to
// the microsecond (RFC 5798 6.4.2).
//
// Its goroutine reads the timerfd through the runtime's poller and ends on
// Close.
type preciseTimer struct {
	f    *os.File
	rc   syscall.RawConn
	fd   int
	c    chan time.Time
	done chan struct{}

	mu    sync.Mutex
	armed bool
}

// newPreciseTimer returns a stopped preciseTimer.
func newPreciseTimer() (*preciseTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("timerfd_create", err)
	}
	t := &preciseTimer{
		f:    os.NewFile(uintptr(fd), "timerfd"),
		fd:   fd,
		c:    make(chan time.Time, 1),
		done: make(chan struct{}),
	}
	if t.rc, err = t.f.SyscallConn(); err != nil {
		t.f.Close()
		return nil, err
	}
	go t.run()
	return t, nil
}

// The timerfd's system calls are raw (syscall.RawSyscall6): none blocks,
// and the scheduler's blocking-syscall path would wake the runtime's
// monitor thread from its idle sleep on every call, which costs more than
// the call.

func (t *preciseTimer) run() {
	defer close(t.done)
	var b [8]byte
	// One RawRead for the timer's life: each RawRead starts by discarding
	// the readiness the poller recorded, so an expiry that came between two
	// calls would be lost had each call waited before reading. Within one
	// call, a callback that returns false waits for the next readiness
	// without that reset: after an expiry has been read and handled, the
	// next one is awaited without a read that would find nothing.
	_ = t.rc.Read(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case unix.EINTR:
				continue
			case 0:
				t.expired()
			}
			// Handled, not expired yet, or a re-arm reset the count:
			// wait for the next expiry. Read returns an error once the
			// timer is closed.
			return false
		}
	})
}

// expired sends the time on the channel if the current arming has fired:
// the expiry read may be of an earlier arming, replaced since, and the
// current one has fired only when the one-shot timer is disarmed.
func (t *preciseTimer) expired() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var cur unix.ItimerSpec
	if t.armed && t.gettime(&cur) == nil && cur.Value.Sec == 0 && cur.Value.Nsec == 0 {
		t.armed = false
		select {
		case t.c <- now:
		default:
		}
	}
}

func (t *preciseTimer) C() <-chan time.Time { return t.c }

// Reset arms the timer to fire after d (at once when d <= 0).
func (t *preciseTimer) Reset(d time.Duration) bool {
	d = max(d, time.Nanosecond) // a zero value would disarm
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.armed
	t.drain()
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := t.settime(&spec); err != nil {
		// Cannot happen with a valid descriptor; fire now rather than
		// never.
		t.armed = false
		t.c <- time.Now()
		return was
	}
	t.armed = true
	return was
}

// Stop disarms the timer; no stale time arrives on C after it returns.
func (t *preciseTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.armed
	t.armed = false
	t.drain()
	var zero unix.ItimerSpec
	_ = t.settime(&zero)
	return was
}

func (t *preciseTimer) settime(spec *unix.ItimerSpec) error {
	_, _, e := syscall.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(t.fd), 0, uintptr(unsafe.Pointer(spec)), 0, 0, 0)
	if e != 0 {
		return os.NewSyscallError("timerfd_settime", e)
	}
	return nil
}

func (t *preciseTimer) gettime(spec *unix.ItimerSpec) error {
	_, _, e := syscall.RawSyscall(unix.SYS_TIMERFD_GETTIME, uintptr(t.fd), uintptr(unsafe.Pointer(spec)), 0)
	if e != 0 {
		return os.NewSyscallError("timerfd_gettime", e)
	}
	return nil
}

func (t *preciseTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}

// Close releases the timerfd and waits for the goroutine to end.
func (t *preciseTimer) Close() error {
	t.Stop()
	err := t.f.Close()
	<-t.done
	return err
}
