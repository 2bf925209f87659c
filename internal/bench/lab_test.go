//go:build linux

package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/netns"
)

// segIface names the interface of segment k in every host: eth0 is the
// lab's own segment, eth1 to eth3 are added by addSegments.
func segIface(k int) string { return fmt.Sprintf("eth%d", k) }

// segAddr is host h's address on segment k: 198.18.k.i/24.
func segAddr(h *netns.Host, k int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(k), byte(h.Index)}), 24)
}

// newLab builds a lab of n hosts (internal/netns) whose switch, like a
// real one, does not pass bridged frames through netfilter: the
// bridge-nf-call-* sysctls of the switch namespace (its own, per
// namespace) are turned off where br_netfilter is loaded.
func newLab(t *testing.T, n int) *netns.Lab {
	t.Helper()
	lab := netns.New(t, n)
	for _, f := range []string{"iptables", "ip6tables", "arptables"} {
		key := "net.bridge.bridge-nf-call-" + f
		// This process's namespace is the host's: its value must not move.
		hostPath := "/proc/sys/net/bridge/bridge-nf-call-" + f
		before, _ := os.ReadFile(hostPath)
		out, err := lab.SwitchCommand(t.Context(), "sh", "-c",
			"[ ! -e /proc/sys/net/bridge ] || sysctl -q -w "+key+"=0").CombinedOutput()
		if err != nil {
			t.Fatalf("switch: sysctl %s=0: %v\n%s", key, err, out)
		}
		if after, _ := os.ReadFile(hostPath); string(after) != string(before) {
			// Not a per-namespace setting on this kernel: put it back.
			_ = os.WriteFile(hostPath, before, 0o644)
			t.Fatalf("%s is not per namespace here; restored the host's value", key)
		}
	}
	return lab
}

// addSegments adds segments 1 to n-1 to the lab: segment k is a bridge
// brk in the switch namespace with, for every host, a veth pair from a
// port pkhi on the bridge to ethk in the host, which gets 198.18.k.i/24.
// Each segment is a broadcast domain of its own, so that VRIDs can repeat
// across segments. Everything lives in the lab's namespaces and goes with
// them.
func addSegments(t *testing.T, lab *netns.Lab, n int) {
	t.Helper()
	sw := func(args ...string) {
		t.Helper()
		out, err := lab.SwitchCommand(t.Context(), "ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("switch: ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for k := 1; k < n; k++ {
		br := fmt.Sprintf("br%d", k)
		sw("link", "add", br, "type", "bridge", "mcast_snooping", "0")
		sw("link", "set", br, "up")
		for _, h := range lab.Hosts {
			port := fmt.Sprintf("p%dh%d", k, h.Index)
			sw("link", "add", port, "type", "veth", "peer", "name", segIface(k), "netns", h.Name)
			sw("link", "set", port, "master", br)
			sw("link", "set", port, "up")
			h.Run(t, "ip", "addr", "add", segAddr(h, k).String(), "dev", segIface(k))
			h.Run(t, "ip", "link", "set", segIface(k), "up")
		}
	}
}

// --- a capture with kernel timestamps ---

// tsCapture records the VRRP and ARP frames that an interface sends or
// receives, each with the kernel's timestamp (SO_TIMESTAMPNS on an
// AF_PACKET socket): the time the frame passed the interface, free of the
// reader's scheduling delays.
type tsCapture struct {
	fd      int
	closing atomic.Bool
	done    chan struct{}

	mu     sync.Mutex
	frames []netns.Frame
	err    error
}

// vrrpOrARP is a classic BPF filter that keeps IPv4 VRRP (protocol 112),
// IPv6 VRRP (next header 112) and ARP frames.
var vrrpOrARP = []bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2},                         // EtherType
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0806, SkipTrue: 5},  // ARP: keep
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 2}, // IPv4?
	bpf.LoadAbsolute{Off: 23, Size: 1},                         // IPv4 protocol
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipTrue: 2, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 20, Size: 1}, // IPv6 next header (IPv4 and ARP left above)
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipFalse: 1},
	bpf.RetConstant{Val: 1 << 16},
	bpf.RetConstant{Val: 0},
}

// vrrpOnly keeps the IPv4 VRRP frames an interface receives (not those it
// sends), and only 1 byte of each: for counting.
var vrrpOnly = []bpf.Instruction{
	bpf.LoadExtension{Num: bpf.ExtType},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 5},
	bpf.LoadAbsolute{Off: 12, Size: 2},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: 3},
	bpf.LoadAbsolute{Off: 23, Size: 1},
	bpf.JumpIf{Cond: bpf.JumpEqual, Val: 112, SkipFalse: 1},
	bpf.RetConstant{Val: 1},
	bpf.RetConstant{Val: 0},
}

// packetSocket opens an AF_PACKET socket on iface in h's namespace with
// filter attached before it sees any frame.
func packetSocket(h *netns.Host, iface string, filter []bpf.Instruction, rcvbuf int) (int, error) {
	raw, err := bpf.Assemble(filter)
	if err != nil {
		return -1, err
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fd := -1
	err = h.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		// Protocol 0: no frame arrives before bind.
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fmt.Errorf("SO_ATTACH_FILTER: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
			return fmt.Errorf("SO_RCVBUFFORCE: %w", err)
		}
		all := htons(unix.ETH_P_ALL)
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: all, Ifindex: ifi.Index})
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("AF_PACKET socket on %s of host %d: %w", iface, h.Index, err)
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startCapture captures on iface of h until the test ends.
func startCapture(t *testing.T, h *netns.Host, iface string) *tsCapture {
	t.Helper()
	fd, err := packetSocket(h, iface, vrrpOrARP, 4<<20)
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		if err == nil {
			err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000})
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	c := &tsCapture{fd: fd, done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *tsCapture) read() {
	defer close(c.done)
	buf := make([]byte, 1<<16)
	oob := make([]byte, 256)
	for !c.closing.Load() {
		n, oobn, _, _, err := unix.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENETDOWN) {
				continue
			}
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		ts, ok := kernelTime(oob[:oobn])
		if !ok {
			ts = time.Now()
		}
		f := netns.Frame{Time: ts, Data: append([]byte(nil), buf[:n]...)}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

// kernelTime returns the SCM_TIMESTAMPNS of a control message.
func kernelTime(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
			return time.Unix(sec, nsec), true
		}
	}
	return time.Time{}, false
}

// since returns the frames captured at or after from, oldest first.
func (c *tsCapture) since(from time.Time) []netns.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []netns.Frame
	for _, f := range c.frames {
		if !f.Time.Before(from) {
			out = append(out, f)
		}
	}
	return out
}

// forget drops the frames older than before.
func (c *tsCapture) forget(before time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.frames) && c.frames[i].Time.Before(before) {
		i++
	}
	c.frames = append(c.frames[:0], c.frames[i:]...)
}

func (c *tsCapture) error() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *tsCapture) close() {
	if c.closing.CompareAndSwap(false, true) {
		<-c.done
		unix.Close(c.fd)
	}
}

// --- counting adverts in the kernel ---

// counter counts the IPv4 VRRP frames an interface sees, in the kernel: an
// AF_PACKET socket with a filter that is never read; PACKET_STATISTICS
// counts every frame the filter passed, queued or dropped.
type counter struct{ fds []int }

// newCounter counts on the given interfaces of h until the test ends.
func newCounter(t *testing.T, h *netns.Host, ifaces ...string) *counter {
	t.Helper()
	c := &counter{}
	t.Cleanup(func() {
		for _, fd := range c.fds {
			unix.Close(fd)
		}
	})
	for _, iface := range ifaces {
		fd, err := packetSocket(h, iface, vrrpOnly, 4096)
		if err != nil {
			t.Fatalf("counter: %v", err)
		}
		c.fds = append(c.fds, fd)
	}
	return c
}

// take returns the frames counted since the last take (or since the
// counter was made).
func (c *counter) take(t *testing.T) uint64 {
	t.Helper()
	var n uint64
	for _, fd := range c.fds {
		st, err := unix.GetsockoptTpacketStats(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			t.Fatalf("PACKET_STATISTICS: %v", err)
		}
		n += uint64(st.Packets)
	}
	return n
}

// --- address events through netlink ---

// addrEvent is an IPv4 address added (New) or removed in a namespace, with
// the time the event was read.
type addrEvent struct {
	Time time.Time
	Addr netip.Addr
	New  bool
}

// addrWatch reads RTM_NEWADDR / RTM_DELADDR for IPv4 from a netlink socket
// in a namespace, time-stamping each message as it is read by a goroutine
// that does nothing else.
type addrWatch struct {
	fd      int
	closing atomic.Bool
	done    chan struct{}

	mu     sync.Mutex
	events []addrEvent
	err    error
}

func watchAddrs(t *testing.T, h *netns.Host) *addrWatch {
	t.Helper()
	fd := -1
	err := h.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20); err != nil {
			return err
		}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100000}); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR})
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		t.Fatalf("netlink address subscription in host %d: %v", h.Index, err)
	}
	w := &addrWatch{fd: fd, done: make(chan struct{})}
	go w.read()
	t.Cleanup(w.close)
	return w
}

func (w *addrWatch) read() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for !w.closing.Load() {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		now := time.Now()
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		evs := parseAddrMsgs(buf[:n], now)
		w.mu.Lock()
		w.events = append(w.events, evs...)
		w.mu.Unlock()
	}
}

// parseAddrMsgs decodes the IPv4 address messages of a netlink datagram.
func parseAddrMsgs(b []byte, now time.Time) []addrEvent {
	var out []addrEvent
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		msg := b[unix.NLMSG_HDRLEN:l]
		if (typ == unix.RTM_NEWADDR || typ == unix.RTM_DELADDR) && len(msg) >= unix.SizeofIfAddrmsg && msg[0] == unix.AF_INET {
			var local, addr netip.Addr
			attrs := msg[unix.SizeofIfAddrmsg:]
			for len(attrs) >= 4 {
				al := int(binary.NativeEndian.Uint16(attrs[0:2]))
				at := binary.NativeEndian.Uint16(attrs[2:4])
				if al < 4 || al > len(attrs) {
					break
				}
				if al == 8 {
					a := netip.AddrFrom4([4]byte(attrs[4:8]))
					switch at {
					case unix.IFA_LOCAL:
						local = a
					case unix.IFA_ADDRESS:
						addr = a
					}
				}
				attrs = attrs[min((al+3)&^3, len(attrs)):]
			}
			if local.IsValid() {
				addr = local
			}
			if addr.IsValid() {
				out = append(out, addrEvent{Time: now, Addr: addr, New: typ == unix.RTM_NEWADDR})
			}
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return out
}

// first returns the first event for addr (added if added) at or after
// from.
func (w *addrWatch) first(addr netip.Addr, added bool, from time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.Addr == addr && e.New == added && !e.Time.Before(from) {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

func (w *addrWatch) forget(before time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for i < len(w.events) && w.events[i].Time.Before(before) {
		i++
	}
	w.events = append(w.events[:0], w.events[i:]...)
}

func (w *addrWatch) close() {
	if w.closing.CompareAndSwap(false, true) {
		<-w.done
		unix.Close(w.fd)
	}
}

// --- process accounting ---

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time a process has used so far.
type cpuSample struct {
	// Stat is utime+stime from /proc/PID/stat (the whole thread group, in
	// clock ticks of 10 ms), and User its utime alone.
	Stat, User time.Duration
	// Sched is the sum of the first field of /proc/PID/task/*/schedstat:
	// the time on CPU of the live threads, in nanoseconds.
	Sched time.Duration
	// Switches counts the context switches of the live threads (voluntary
	// and not): about how often the process woke up.
	Switches int64
}

func (a cpuSample) sub(b cpuSample) cpuSample {
	return cpuSample{Stat: a.Stat - b.Stat, User: a.User - b.User, Sched: a.Sched - b.Sched, Switches: a.Switches - b.Switches}
}

// readCPU samples process pid.
func readCPU(pid int) (cpuSample, error) {
	var s cpuSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After comm: state(0) ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, err
	}
	s.Stat = time.Duration(ut+st) * clockTick
	s.User = time.Duration(ut) * clockTick
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return s, err
	}
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // a thread that just ended
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil {
			s.Sched += time.Duration(ns)
		}
		st, err := os.ReadFile(filepath.Join(filepath.Dir(p), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(st), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				s.Switches += n
			}
		}
	}
	return s, nil
}

// rawDrops sums the drops of the raw VRRP sockets (protocol 112) in the
// network namespace of process pid, from /proc/PID/net/raw and raw6.
func rawDrops(pid int) uint64 {
	var n uint64
	for _, f := range []string{"raw", "raw6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 13 || !strings.HasSuffix(fs[1], ":0070") {
				continue
			}
			d, _ := strconv.ParseUint(fs[len(fs)-1], 10, 64)
			n += d
		}
	}
	return n
}

// memKB returns VmRSS and VmHWM of process pid, in KiB.
func memKB(pid int) (rss, hwm int64, err error) {
	m, err := memStatus(pid)
	return m["VmRSS"], m["VmHWM"], err
}

// memStatus returns the memory fields of /proc/PID/status, in KiB.
func memStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			m[k] = n
		}
	}
	return m, nil
}
