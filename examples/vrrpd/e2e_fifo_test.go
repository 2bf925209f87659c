//go:build linux

package main

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// fifoReader reads the lines a daemon writes to a notify FIFO that the
// daemon creates: it waits for the FIFO to appear, opens it and reads it
// until stopped.
type fifoReader struct {
	mu   sync.Mutex
	data []byte
	err  error
	mode os.FileMode
	stop chan struct{}
	done chan struct{}
}

// readFIFO starts reading path, which the daemon must create within
// 10 s.
func readFIFO(path string) *fifoReader {
	r := &fifoReader{stop: make(chan struct{}), done: make(chan struct{})}
	go r.run(path)
	return r
}

func (r *fifoReader) run(path string) {
	defer close(r.done)
	fail := func(err error) {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
	}
	deadline := time.Now().Add(10 * time.Second)
	var fd int
	for {
		st, err := os.Lstat(path)
		if err == nil {
			r.mode = st.Mode()
			if st.Mode()&os.ModeNamedPipe == 0 {
				fail(errors.New(path + " is not a FIFO: " + st.Mode().String()))
				return
			}
			fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			fail(errors.New(path + ": no FIFO within 10 s: " + err.Error()))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	drain := func() {
		for {
			n, err := unix.Read(fd, buf)
			if n <= 0 || err != nil {
				return
			}
			r.mu.Lock()
			r.data = append(r.data, buf[:n]...)
			r.mu.Unlock()
		}
	}
	for {
		drain()
		select {
		case <-r.stop:
			drain()
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lines returns the lines read so far.
func (r *fifoReader) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.TrimSuffix(string(r.data), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// close stops the reader and returns every line it read.
func (r *fifoReader) close() ([]string, error) {
	close(r.stop)
	<-r.done
	return r.lines(), r.err
}

// waitLines waits at most timeout until the reader has read want lines.
func (r *fifoReader) waitLines(t *testing.T, timeout time.Duration, want int, what string) {
	t.Helper()
	netns.WaitFor(t, timeout, what, func() bool { return len(r.lines()) >= want })
}

// TestE2ENotifyFIFO runs keepalived, then vrrpd, with a vrrp_notify_fifo
// through the same transitions (start as Backup, then Master; preempted by
// a higher priority keepalived; Master again when it stops; stop) and
// compares the lines on the FIFOs. Independent instances change state
// concurrently, so their lines may interleave differently: the lines are
// compared per sync group with its members, and per instance. The FIFO
// is created by the daemon.
func TestE2ENotifyFIFO(t *testing.T) {
	got := map[string][]string{}
	for _, kind := range []string{"keepalived", "vrrpd"} {
		t.Run(kind, func(t *testing.T) {
			lab := netns.New(t, 2)
			h1, h2 := lab.Host(1), lab.Host(2)
			fifo := filepath.Join(t.TempDir(), "vrrp.fifo")
			vip2 := netip.MustParsePrefix("198.18.0.101/24")
			conf := moreConf([]string{"vrrp_notify_fifo " + fifo},
				moreSyncGroup("G1", "VI_1", "VI_2"),
				moreInstance{name: "VI_1", vrid: 51, prio: 100, vips: []netip.Prefix{e2eVIP}}.String(),
				moreInstance{name: "VI_2", vrid: 52, prio: 100, vips: []netip.Prefix{vip2}}.String(),
				moreInstance{name: "VI_3", vrid: 53, prio: 100, vips: []netip.Prefix{netip.MustParsePrefix("198.18.0.102/24")}}.String(),
			)
			r := readFIFO(fifo)
			p := startPeer(t, kind, h1, conf)
			// BACKUP of G1, VI_1, VI_2, VI_3; MASTER of the same.
			r.waitLines(t, 15*time.Second, 8, "the start lines")
			hi := moreConf(nil,
				moreInstance{name: "VI_1", vrid: 51, prio: 200, vips: []netip.Prefix{e2eVIP}}.String(),
				moreInstance{name: "VI_3", vrid: 53, prio: 200, vips: []netip.Prefix{netip.MustParsePrefix("198.18.0.102/24")}}.String())
			p2 := startPeer(t, "keepalived", h2, hi)
			r.waitLines(t, 15*time.Second, 12, "the lines of the preemption")
			p2.stop()
			r.waitLines(t, 15*time.Second, 16, "the lines after the peer stopped")
			p.stop()
			lines, err := r.close()
			if err != nil {
				t.Fatal(err)
			}
			if want := os.ModeNamedPipe | 0o600; r.mode != want {
				t.Errorf("FIFO mode %v, want %v", r.mode, want)
			}
			if _, err := os.Lstat(fifo); !os.IsNotExist(err) {
				t.Errorf("the FIFO is still there after the daemon stopped: %v", err)
			}
			t.Logf("%s wrote:\n%s", kind, strings.Join(lines, "\n"))
			got[kind] = lines
		})
	}
	ka, vd := got["keepalived"], got["vrrpd"]
	if ka == nil || vd == nil {
		return
	}
	for _, names := range [][]string{{"G1", "VI_1", "VI_2"}, {"VI_3"}} {
		k, v := fifoSubseq(ka, names), fifoSubseq(vd, names)
		if strings.Join(k, "\n") != strings.Join(v, "\n") {
			t.Errorf("lines for %v:\nkeepalived:\n%s\nvrrpd:\n%s", names, strings.Join(k, "\n"), strings.Join(v, "\n"))
		}
	}
}

// fifoSubseq returns the lines about the named instances and groups.
func fifoSubseq(lines []string, names []string) []string {
	var out []string
	for _, l := range lines {
		for _, n := range names {
			if strings.Contains(l, " \""+n+"\" ") {
				out = append(out, l)
			}
		}
	}
	return out
}
