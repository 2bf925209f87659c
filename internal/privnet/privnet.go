// Package privnet runs a test's body in a network of its own, so that
// tests of TCP and HTTP probes, status servers and packet captures never
// listen on, connect through or send on the host's interfaces, loopback
// included.
//
// Run starts the test binary again, for that one test, in a child process
// whose network namespace is new: it holds only a loopback interface, which
// the child brings up with four addresses from the lab's ranges (Net). The
// namespace dies with the child, so there is nothing to delete. As root the
// child gets a new network namespace only; otherwise it also gets a user
// namespace that maps the caller to root, which Linux allows unprivileged
// unless the host forbids user namespaces (then the test skips, saying so,
// or fails where testenv.RequireAll forbids skips).
//
//	func TestProbe(t *testing.T) {
//		privnet.Run(t, func(t *testing.T, n privnet.Net) {
//			ln, _ := net.Listen("tcp", netip.AddrPortFrom(n.A, 0).String())
//			...
//		})
//	}
package privnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// Net is the private network a body runs in: addresses on the loopback of
// a network namespace of its own.
type Net struct {
	// A and B are IPv4 addresses (198.18.0.1 and 198.18.0.2).
	A, B netip.Addr
	// A6 and B6 are IPv6 addresses (fd00::1 and fd00::2).
	A6, B6 netip.Addr
}

// The environment of a child: the test it runs, and the inode of the
// parent's network namespace, which the child's must differ from.
const (
	envTest   = "VRRPKIT_PRIVNET_TEST"
	envParent = "VRRPKIT_PRIVNET_PARENT_NS"
)

// Addrs returns the Net every private network has, for helpers that run
// inside one without being handed it.
func Addrs() Net {
	return Net{
		A: netip.MustParseAddr("198.18.0.1"), B: netip.MustParseAddr("198.18.0.2"),
		A6: netip.MustParseAddr("fd00::1"), B6: netip.MustParseAddr("fd00::2"),
	}
}

// Run runs body in a private network. In the test process it starts the
// child, waits for it and reports its result as the test's own (its output
// is logged with -v or on failure); in the child it sets up the network
// and calls body. A test or subtest that calls Run should do nothing else
// outside body, since that part runs in both processes.
func Run(t *testing.T, body func(t *testing.T, n Net)) {
	t.Helper()
	if name := os.Getenv(envTest); name != "" {
		// The child: the whole process is in the private namespace, so a
		// subtest of the test it runs needs no child of its own.
		if name != t.Name() && !strings.HasPrefix(name, t.Name()+"/") {
			t.Fatalf("privnet: child for %s asked to run %s", name, t.Name())
		}
		n, err := setUp()
		if err != nil {
			t.Fatalf("privnet: %v", err)
		}
		body(t, n)
		return
	}
	runChild(t)
}

// runChild runs t alone in a child process in a new network namespace.
func runChild(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("privnet: %v", err)
	}
	ino, err := nsInode()
	if err != nil {
		t.Fatalf("privnet: %v", err)
	}
	ctx := t.Context()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run="+runPattern(t.Name()), "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envTest+"="+t.Name(), fmt.Sprintf("%s=%d", envParent, ino))
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	cmd.SysProcAttr = attr
	// Pdeathsig follows the thread that started the child, not the
	// process: keep this goroutine on that thread until the child ends.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		// The child never ran: the namespaces were refused.
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) {
			testenv.Skip(t, "privnet: cannot start the test in a network namespace of its own (%v); "+
				"it needs root, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)", err)
		}
		t.Fatalf("privnet: start the test in a network namespace of its own: %v", err)
	}
	switch {
	case err != nil:
		t.Fatalf("privnet: the test failed in its private network (%v):\n%s", err, out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") && strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skipf("privnet: skipped in its private network:\n%s", out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("privnet: the child did not run %s:\n%s", t.Name(), out)
	case testing.Verbose():
		t.Logf("privnet: in its private network:\n%s", out)
	}
}

// runPattern returns the -test.run pattern that selects the test or
// subtest named name alone.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// nsInode returns the inode of this process's network namespace.
func nsInode() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return st.Ino, nil
}

// setUp checks that the child is not in its parent's network namespace,
// then brings its loopback up with the Net's addresses.
func setUp() (Net, error) {
	ino, err := nsInode()
	if err != nil {
		return Net{}, err
	}
	if parent := os.Getenv(envParent); parent == "" || parent == fmt.Sprint(ino) {
		// Never configure the host's loopback.
		return Net{}, fmt.Errorf("not in a network namespace of its own (namespace %d, parent's %q)", ino, parent)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return Net{}, fmt.Errorf("list links: %w", err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" {
		return Net{}, fmt.Errorf("the new network namespace has %d links, want only lo", len(links))
	}
	lo := links[0]
	if err := netlink.LinkSetUp(lo); err != nil {
		return Net{}, fmt.Errorf("bring lo up: %w", err)
	}
	n := Addrs()
	for _, a := range []netip.Addr{n.A, n.B, n.A6, n.B6} {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
		if a.Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(lo, addr); err != nil {
			return Net{}, fmt.Errorf("add %s to lo: %w", a, err)
		}
	}
	return n, nil
}
