//go:build linux

package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/nsthread"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

const (
	// RunDir is where "ip netns" keeps its named namespaces, and so where
	// the lab's namespaces are.
	RunDir = "/run/netns"
	// Prefix begins the name of every namespace the lab creates:
	// "vrrpkit-<pid>-<lab>-sw" for the switch and "vrrpkit-<pid>-<lab>-h<i>"
	// for host i.
	Prefix = "vrrpkit-"
	// Bridge is the name of the bridge in the switch namespace.
	Bridge = "br0"
	// Iface is the name of every host's interface.
	Iface = "eth0"
	// MaxHosts is the largest lab New builds: host i has 198.18.0.i/24.
	MaxHosts = 254

	// setupTimeout bounds the wait for a host's IPv6 link-local address.
	setupTimeout = 5 * time.Second
	// cmdTimeout bounds each ip command the lab runs itself.
	cmdTimeout = 10 * time.Second
)

// labCounter numbers the labs of this process, so that names are unique.
var labCounter atomic.Uint64

// nameRE matches the namespace names the lab creates; the first group is
// the pid of the process that created it.
var nameRE = regexp.MustCompile(`^vrrpkit-([0-9]+)-([0-9]+)-(sw|h[0-9]+)$`)

// errNoPrivilege is returned when the kernel refuses to create a namespace.
var errNoPrivilege = errors.New("netns: not allowed to create network namespaces")

// Lab is a switched Ethernet segment of hosts, each in a network namespace
// of its own, built by New for one test and deleted when the test ends.
type Lab struct {
	// Hosts are the hosts, Hosts[0] being host 1.
	Hosts []*Host
	// Switch is the name of the switch namespace, which holds the bridge
	// br0 and one port per host.
	Switch string
	// ID is the prefix of every namespace name of this lab,
	// "vrrpkit-<pid>-<n>".
	ID string

	ipPath string
}

// Host is one host of a Lab: a network namespace with one interface, eth0,
// cabled to a port of the lab's bridge.
type Host struct {
	// Name is the name of the host's network namespace.
	Name string
	// Index is the host's number, from 1.
	Index int
	// Iface is the host's interface, "eth0".
	Iface string
	// Port is the veth peer of Iface, a port of br0 in the switch
	// namespace.
	Port string
	// MAC is the hardware address of Iface, 02:76:6b:00:00:Index.
	MAC net.HardwareAddr
	// Addr4 is the IPv4 address of Iface, 198.18.0.Index/24.
	Addr4 netip.Prefix
	// Addr6 is the IPv6 address of Iface, fd00::Index/64, added without
	// duplicate address detection.
	Addr6 netip.Prefix
	// LinkLocal is the IPv6 link-local address of Iface.
	LinkLocal netip.Addr

	lab *Lab
}

// New creates, for one test, a switch namespace holding a bridge br0 and n
// host namespaces, each with a veth interface eth0 whose peer is a port of
// br0 in the switch namespace. Host i (1-based) gets Addr4 198.18.0.i/24,
// Addr6 fd00::i/64 (nodad), its loopback up and eth0 up; IPv6 duplicate
// address detection is off in the hosts, and New returns once every host's
// link-local address is usable (waiting at most 5 s).
//
// It skips the test through testenv.Skip (a failure under
// VRRPKIT_REQUIRE_ALL=1) when the process is not root, the ip command is
// missing or the kernel refuses to create namespaces, and it fails the test
// on any other error. A cleanup registered with t.Cleanup deletes the
// namespaces, with everything in them, however the test ends. New first
// deletes the leftovers of crashed runs: namespaces named by the lab whose
// creating process is gone.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	if n < 1 || n > MaxHosts {
		t.Fatalf("netns.New: %d hosts; want 1 to %d", n, MaxHosts)
	}
	if euid := os.Geteuid(); euid != 0 {
		testenv.Skip(t, "netns: the test lab needs root (euid is %d)", euid)
	}
	ipPath, err := findIP()
	if err != nil {
		testenv.Skip(t, "netns: %v", err)
	}
	if err := RemoveLeftovers(); err != nil {
		t.Logf("netns: removing leftovers of earlier runs: %v", err)
	}

	id := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), labCounter.Add(1))
	l := &Lab{ID: id, Switch: id + "-sw", ipPath: ipPath}
	for i := 1; i <= n; i++ {
		l.Hosts = append(l.Hosts, &Host{
			Name:  fmt.Sprintf("%s-h%d", id, i),
			Index: i,
			Iface: Iface,
			Port:  fmt.Sprintf("port%d", i),
			MAC:   net.HardwareAddr{0x02, 0x76, 0x6b, 0x00, 0x00, byte(i)},
			Addr4: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}), 24),
			Addr6: netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(i)}), 64),
			lab:   l,
		})
	}
	// Registered before anything exists, so that a half-built lab is
	// deleted too.
	t.Cleanup(func() { l.destroy(t) })

	if err := l.build(); err != nil {
		if errors.Is(err, errNoPrivilege) {
			testenv.Skip(t, "netns: %v", err)
		}
		t.Fatalf("netns: building lab %s: %v", id, err)
	}
	return l
}

// Host returns host i, counting from 1.
func (l *Lab) Host(i int) *Host {
	if i < 1 || i > len(l.Hosts) {
		panic(fmt.Sprintf("netns: host %d of a lab of %d", i, len(l.Hosts)))
	}
	return l.Hosts[i-1]
}

// SwitchPath returns the path of the switch namespace.
func (l *Lab) SwitchPath() string { return filepath.Join(RunDir, l.Switch) }

// SwitchCommand returns a command that runs name with args in the switch
// namespace through "ip netns exec" (for example tcpdump on a port, or
// bridge). ctx kills it as in exec.CommandContext.
func (l *Lab) SwitchCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, l.ipPath, append([]string{"netns", "exec", l.Switch, name}, args...)...)
}

// SetCable plugs (up) or pulls (down) h's cable: it sets h's bridge port
// up or down in the switch namespace. h's eth0 stays administratively up
// but, as with a real cable, loses its carrier while the port is down.
func (l *Lab) SetCable(h *Host, up bool) error {
	return withHandle(l.SwitchPath(), func(nh *netlink.Handle) error {
		port, err := nh.LinkByName(h.Port)
		if err != nil {
			return fmt.Errorf("netns: port %s of host %d: %w", h.Port, h.Index, err)
		}
		if up {
			err = nh.LinkSetUp(port)
		} else {
			err = nh.LinkSetDown(port)
		}
		if err != nil {
			return fmt.Errorf("netns: setting port %s of host %d up=%v: %w", h.Port, h.Index, up, err)
		}
		return nil
	})
}

// Isolate cuts h off the segment without any carrier change (isolated
// true), or reconnects it: it takes h's port out of br0 or puts it back.
// Both ends of the veth stay up, so h sees only silence: a partition
// rather than a link failure.
func (l *Lab) Isolate(h *Host, isolated bool) error {
	return withHandle(l.SwitchPath(), func(nh *netlink.Handle) error {
		port, err := nh.LinkByName(h.Port)
		if err != nil {
			return fmt.Errorf("netns: port %s of host %d: %w", h.Port, h.Index, err)
		}
		if isolated {
			err = nh.LinkSetNoMaster(port)
		} else {
			var br netlink.Link
			if br, err = nh.LinkByName(Bridge); err == nil {
				err = nh.LinkSetMaster(port, br)
			}
		}
		if err != nil {
			return fmt.Errorf("netns: isolating host %d (%v): %w", h.Index, isolated, err)
		}
		return nil
	})
}

// Namespaces returns the names of the lab's namespaces, the switch first.
func (l *Lab) Namespaces() []string {
	names := []string{l.Switch}
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	return names
}

// build creates the namespaces, the bridge and the hosts' interfaces.
func (l *Lab) build() error {
	if err := addNamespaces(l.ipPath, l.Namespaces()); err != nil {
		return err
	}
	// The switch sends nothing of its own: no IPv6 (and so no link-local
	// address, MLD or router solicitation) on the bridge and its ports.
	if err := nsthread.DoPath(l.SwitchPath(), func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		})
	}); err != nil {
		return fmt.Errorf("switch %s: %w", l.Switch, err)
	}
	swNS, err := openNS(l.SwitchPath())
	if err != nil {
		return err
	}
	defer unix.Close(swNS)

	err = withHandle(l.SwitchPath(), func(sw *netlink.Handle) error {
		snooping := false
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: Bridge}, MulticastSnooping: &snooping}
		if err := sw.LinkAdd(br); err != nil {
			return fmt.Errorf("adding bridge %s: %w", Bridge, err)
		}
		if err := sw.LinkSetUp(br); err != nil {
			return fmt.Errorf("setting bridge %s up: %w", Bridge, err)
		}
		for _, h := range l.Hosts {
			if err := h.build(sw, br, swNS); err != nil {
				return fmt.Errorf("host %d (%s): %w", h.Index, h.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(setupTimeout)
	for _, h := range l.Hosts {
		ll, err := h.waitLinkLocal(deadline)
		if err != nil {
			return fmt.Errorf("host %d (%s): %w", h.Index, h.Name, err)
		}
		h.LinkLocal = ll
	}
	return nil
}

// build configures host h: sysctls, the veth pair from its eth0 to a port
// of br in the switch namespace swNS (sw is a handle there), addresses and
// links up.
func (h *Host) build(sw *netlink.Handle, br netlink.Link, swNS int) error {
	if err := h.Do(func() error {
		return writeSysctls(map[string]string{
			"net/ipv6/conf/all/accept_dad":               "0",
			"net/ipv6/conf/default/accept_dad":           "0",
			"net/ipv6/conf/default/router_solicitations": "0",
		})
	}); err != nil {
		return err
	}
	hostNS, err := openNS(h.Path())
	if err != nil {
		return err
	}
	defer unix.Close(hostNS)

	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{
			Name:         h.Iface,
			HardwareAddr: h.MAC,
			Namespace:    netlink.NsFd(hostNS),
		},
		PeerName:      h.Port,
		PeerNamespace: netlink.NsFd(swNS),
	}
	if err := sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("adding veth %s/%s: %w", h.Iface, h.Port, err)
	}
	port, err := sw.LinkByName(h.Port)
	if err != nil {
		return fmt.Errorf("port %s: %w", h.Port, err)
	}
	if err := sw.LinkSetMaster(port, br); err != nil {
		return fmt.Errorf("adding port %s to %s: %w", h.Port, Bridge, err)
	}
	if err := sw.LinkSetUp(port); err != nil {
		return fmt.Errorf("setting port %s up: %w", h.Port, err)
	}
	return withHandle(h.Path(), func(nh *netlink.Handle) error {
		lo, err := nh.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("lo: %w", err)
		}
		if err := nh.LinkSetUp(lo); err != nil {
			return fmt.Errorf("setting lo up: %w", err)
		}
		eth, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Iface, err)
		}
		if err := h.addAddrs(nh, eth); err != nil {
			return err
		}
		if err := nh.LinkSetUp(eth); err != nil {
			return fmt.Errorf("setting %s up: %w", h.Iface, err)
		}
		return nil
	})
}

// addAddrs adds (or confirms) the host's Addr4 and Addr6 on eth.
func (h *Host) addAddrs(nh *netlink.Handle, eth netlink.Link) error {
	for _, p := range []netip.Prefix{h.Addr4, h.Addr6} {
		a := &netlink.Addr{IPNet: prefixNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := nh.AddrReplace(eth, a); err != nil {
			return fmt.Errorf("adding %v to %s: %w", p, h.Iface, err)
		}
	}
	return nil
}

// waitLinkLocal waits until deadline for a link-local IPv6 address on the
// host's interface that is not tentative, and returns it.
func (h *Host) waitLinkLocal(deadline time.Time) (netip.Addr, error) {
	var found netip.Addr
	err := withHandle(h.Path(), func(nh *netlink.Handle) error {
		eth, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Iface, err)
		}
		for {
			addrs, err := nh.AddrList(eth, netlink.FAMILY_V6)
			if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
				return fmt.Errorf("listing addresses of %s: %w", h.Iface, err)
			}
			if err == nil {
				for _, a := range addrs {
					ip, ok := netip.AddrFromSlice(a.IP)
					if !ok || !ip.IsLinkLocalUnicast() {
						continue
					}
					if a.Flags&unix.IFA_F_DADFAILED != 0 {
						return fmt.Errorf("duplicate address detection failed for %v on %s", ip, h.Iface)
					}
					if a.Flags&unix.IFA_F_TENTATIVE == 0 {
						found = ip
						return nil
					}
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no usable IPv6 link-local address on %s after %v", h.Iface, setupTimeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	return found, err
}

// destroy deletes the lab's namespaces, first killing any process still
// inside them (each one started by the test, and left running).
func (l *Lab) destroy(t testing.TB) {
	names := l.Namespaces()
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(RunDir, name)
	}
	for _, p := range killProcessesIn(paths) {
		t.Logf("netns: killed process %d (%s), still running in %s when the test ended", p.pid, p.comm, filepath.Base(p.ns))
	}
	var errs []error
	for i := len(names) - 1; i >= 0; i-- {
		if err := deleteNamespace(names[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("netns: deleting lab %s: %v", l.ID, err)
	}
}

// RemoveLeftovers deletes the namespaces of labs whose creating process is
// no longer alive (those of crashed or killed test binaries), after killing
// any process still inside them. New calls it; it is safe to call from
// concurrent processes.
func RemoveLeftovers() error {
	entries, err := os.ReadDir(RunDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("netns: reading %s: %w", RunDir, err)
	}
	var dead []string
	for _, e := range entries {
		m := nameRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || pidAlive(pid) {
			continue
		}
		dead = append(dead, e.Name())
	}
	if len(dead) == 0 {
		return nil
	}
	paths := make([]string, len(dead))
	for i, name := range dead {
		paths[i] = filepath.Join(RunDir, name)
	}
	killProcessesIn(paths)
	var errs []error
	for _, name := range dead {
		if err := deleteNamespace(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pidAlive reports whether a process pid exists.
func pidAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// findIP returns the path of the ip command.
func findIP() (string, error) {
	return lookPath("ip", "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
}

// lookPath finds name in PATH or else at one of the fallback paths, which
// cover a PATH without the sbin directories.
func lookPath(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not installed (not in PATH nor at %s)", name, strings.Join(fallbacks, ", "))
}

// addNamespaces creates the named namespaces with "ip netns add", which
// also makes RunDir a shared mount the first time (under a lock of its own
// on RunDir, so that concurrent processes do not race there).
func addNamespaces(ipPath string, names []string) error {
	for _, name := range names {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		out, err := exec.CommandContext(ctx, ipPath, "netns", "add", name).CombinedOutput()
		cancel()
		if err != nil {
			msg := strings.TrimSpace(string(out))
			if strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "Permission denied") {
				return fmt.Errorf("%w: ip netns add %s: %s", errNoPrivilege, name, msg)
			}
			return fmt.Errorf("ip netns add %s: %w: %s", name, err, msg)
		}
	}
	return nil
}

// deleteNamespace deletes a named namespace as "ip netns del" does:
// detach its bind mount (which propagates to the mount namespaces of
// "ip netns exec") and remove the file. A missing namespace is no error.
func deleteNamespace(name string) error {
	p := filepath.Join(RunDir, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// openNS opens a namespace file and returns its descriptor.
func openNS(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening namespace %s: %w", path, err)
	}
	return fd, nil
}

// writeSysctls writes values under /proc/sys in the network namespace of
// the calling thread.
func writeSysctls(kv map[string]string) error {
	for k, v := range kv {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(k, "/", "."), v, err)
		}
	}
	return nil
}

// prefixNet converts p to the *net.IPNet that netlink takes.
func prefixNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}
