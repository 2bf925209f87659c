//go:build linux

package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Path returns the path of the host's namespace, /run/netns/NAME, which
// setns(2) and "ip netns exec" take.
func (h *Host) Path() string { return filepath.Join(RunDir, h.Name) }

// Do runs fn in the host's network namespace: on a goroutine of its own,
// locked to an OS thread that is switched into the namespace for fn and
// back afterwards (a thread that cannot be switched back is never reused).
// Sockets that fn opens belong to the namespace and may be used from any
// goroutine afterwards; goroutines that fn starts run outside it. fn must
// not call t.FailNow or its kin, since it does not run on the test's
// goroutine. A panic in fn is raised again in the caller. Do returns fn's
// error, or why the thread could not be switched.
func (h *Host) Do(fn func() error) error {
	return nsthread.DoPath(h.Path(), fn)
}

// Command returns a command that runs name with args in the host's
// namespace through "ip netns exec" (which execs name in place, so the
// command's pid is that of name). ctx kills it as in exec.CommandContext.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.lab.ipPath, append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Run runs name with args in the host's namespace with a 10 s timeout and
// returns its combined output; it fails the test if the command fails or
// times out.
func (h *Host) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := h.Command(ctx, name, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (timed out after %v)", err, cmdTimeout)
		}
		t.Fatalf("netns: %s %s in host %d (%s): %v\n%s", name, strings.Join(args, " "), h.Index, h.Name, err, out)
	}
	return string(out)
}

// SetLink sets the host's eth0 administratively up or down, as
// "ip link set eth0 up|down" in the host would. Taking it down makes the
// kernel drop its IPv6 addresses, as it does on any host; setting it up
// adds Addr4 and Addr6 back if they are missing (as a network manager
// would) and, when the link has carrier, waits at most 5 s for its
// link-local address to be usable again. Other addresses, such as VIPs,
// are left to the kernel's rules.
func (h *Host) SetLink(up bool) error {
	err := withHandle(h.Path(), func(nh *netlink.Handle) error {
		eth, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Iface, err)
		}
		if !up {
			if err := nh.LinkSetDown(eth); err != nil {
				return fmt.Errorf("setting %s down: %w", h.Iface, err)
			}
			return nil
		}
		if err := nh.LinkSetUp(eth); err != nil {
			return fmt.Errorf("setting %s up: %w", h.Iface, err)
		}
		return h.addAddrs(nh, eth)
	})
	if err != nil {
		return fmt.Errorf("netns: host %d: %w", h.Index, err)
	}
	if !up {
		return nil
	}
	// Without carrier (cable pulled) there is no link-local address to
	// wait for.
	if lower, err := h.lowerUp(); err != nil || !lower {
		return err
	}
	if _, err := h.waitLinkLocal(time.Now().Add(setupTimeout)); err != nil {
		return fmt.Errorf("netns: host %d: %w", h.Index, err)
	}
	return nil
}

// lowerUp reports whether the host's interface has carrier.
func (h *Host) lowerUp() (bool, error) {
	var up bool
	err := withHandle(h.Path(), func(nh *netlink.Handle) error {
		eth, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("netns: host %d: %s: %w", h.Index, h.Iface, err)
		}
		up = eth.Attrs().RawFlags&unix.IFF_LOWER_UP != 0
		return nil
	})
	return up, err
}

// Addrs returns every address on every interface of the host (lo
// included), as prefixes.
func (h *Host) Addrs() ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := withHandle(h.Path(), func(nh *netlink.Handle) error {
		var addrs []netlink.Addr
		var err error
		// A dump interrupted by a concurrent change is retried.
		for range 10 {
			addrs, err = nh.AddrList(nil, netlink.FAMILY_ALL)
			if !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("listing addresses: %w", err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ones, _ := a.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("netns: host %d: %w", h.Index, err)
	}
	return out, nil
}

// HasAddr reports whether the host holds address a, on any interface, now
// (as netlink in its namespace tells).
func (h *Host) HasAddr(a netip.Addr) (bool, error) {
	addrs, err := h.Addrs()
	if err != nil {
		return false, err
	}
	for _, p := range addrs {
		if p.Addr() == a.Unmap() {
			return true, nil
		}
	}
	return false, nil
}

// WaitAddr waits at most timeout until the host holds address a, and
// fails the test if it does not.
func (h *Host) WaitAddr(t testing.TB, a netip.Addr, timeout time.Duration) {
	t.Helper()
	h.waitAddr(t, a, true, timeout)
}

// WaitNoAddr waits at most timeout until the host no longer holds address
// a, and fails the test if it still does.
func (h *Host) WaitNoAddr(t testing.TB, a netip.Addr, timeout time.Duration) {
	t.Helper()
	h.waitAddr(t, a, false, timeout)
}

func (h *Host) waitAddr(t testing.TB, a netip.Addr, want bool, timeout time.Duration) {
	t.Helper()
	var lastErr error
	what := fmt.Sprintf("host %d to hold %v", h.Index, a)
	if !want {
		what = fmt.Sprintf("host %d to drop %v", h.Index, a)
	}
	WaitFor(t, timeout, what, func() bool {
		has, err := h.HasAddr(a)
		if err != nil {
			lastErr = err
			return false
		}
		return has == want
	})
	if lastErr != nil {
		t.Logf("netns: (an earlier look failed: %v)", lastErr)
	}
}

// WaitFor calls cond every 10 ms until it returns true, at most for
// timeout, and fails the test with what (what was waited for) if it never
// does. cond is called at least once.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("netns: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// withHandle calls fn with a netlink route handle in the namespace at
// path, and closes it afterwards.
func withHandle(path string, fn func(*netlink.Handle) error) error {
	ns, err := vnetns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("netns: opening %s: %w", path, err)
	}
	nh, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	ns.Close()
	if err != nil {
		return fmt.Errorf("netns: netlink handle in %s: %w", path, err)
	}
	defer nh.Close()
	return fn(nh)
}

// nsProcess is a process found in one of the lab's namespaces.
type nsProcess struct {
	pid  int
	comm string
	ns   string // the namespace path
}

// killProcessesIn sends SIGKILL, by pid, to every process (other than this
// one) whose network namespace is one of the namespace files paths, and
// returns them. Only the lab's own namespaces are ever passed, so these
// are processes that a test started there.
func killProcessesIn(paths []string) []nsProcess {
	type key struct{ dev, ino uint64 }
	want := map[key]string{}
	for _, p := range paths {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue
		}
		// An unmounted (empty) file is not a namespace.
		if st.Dev == 0 || !isNSFS(p) {
			continue
		}
		want[key{st.Dev, st.Ino}] = p
	}
	if len(want) == 0 {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var killed []nsProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st); err != nil {
			continue
		}
		ns, ok := want[key{st.Dev, st.Ino}]
		if !ok {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err := unix.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, nsProcess{pid: pid, comm: string(bytes.TrimSpace(comm)), ns: ns})
		}
	}
	return killed
}

// isNSFS reports whether path is a namespace (a file of the nsfs file
// system, as a bind-mounted namespace is).
func isNSFS(path string) bool {
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return false
	}
	return sfs.Type == unix.NSFS_MAGIC
}
