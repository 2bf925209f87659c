//go:build linux

package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// needPing skips the test when ping (iputils-ping) is missing.
func needPing(t *testing.T) {
	t.Helper()
	if _, err := lookPath("ping", "/usr/bin/ping", "/bin/ping"); err != nil {
		testenv.Skip(t, "netns: %v (Debian package iputils-ping)", err)
	}
}

// ping sends one echo request from h to dst and reports whether a reply
// came within a second.
func ping(h *Host, dst netip.Addr) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return h.Command(ctx, "ping", "-n", "-c", "1", "-W", "1", dst.String()).Run() == nil
}

// waitPing pings dst from h until it answers, for at most timeout.
func waitPing(t *testing.T, h *Host, dst netip.Addr, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, fmt.Sprintf("host %d to reach %v", h.Index, dst), func() bool { return ping(h, dst) })
}

// isEcho reports whether f is an ICMP or ICMPv6 echo request from src to
// dst.
func isEcho(f Frame, src, dst netip.Addr) bool {
	p, ok := f.IP()
	if !ok || p.Src != src || p.Dst != dst || len(p.Payload) < 1 {
		return false
	}
	return (p.Protocol == ProtoICMP && p.Payload[0] == 8) || (p.Protocol == ProtoICMPv6 && p.Payload[0] == 128)
}

func TestLab(t *testing.T) {
	t.Parallel()
	needPing(t)
	start := time.Now()
	lab := New(t, 3)
	t.Logf("3-host lab built in %v", time.Since(start))

	if len(lab.Hosts) != 3 || lab.Host(2) != lab.Hosts[1] {
		t.Fatalf("hosts: %d, Host(2) = %p, Hosts[1] = %p", len(lab.Hosts), lab.Host(2), lab.Hosts[1])
	}
	for i, h := range lab.Hosts {
		if h.Index != i+1 || h.Iface != "eth0" || !strings.HasPrefix(h.Name, Prefix) {
			t.Errorf("host %d: %+v", i+1, h)
		}
		if want := netip.MustParsePrefix(fmt.Sprintf("198.18.0.%d/24", i+1)); h.Addr4 != want {
			t.Errorf("host %d: Addr4 %v, want %v", i+1, h.Addr4, want)
		}
		if want := netip.MustParsePrefix(fmt.Sprintf("fd00::%d/64", i+1)); h.Addr6 != want {
			t.Errorf("host %d: Addr6 %v, want %v", i+1, h.Addr6, want)
		}
		if !h.LinkLocal.IsLinkLocalUnicast() {
			t.Errorf("host %d: LinkLocal %v", i+1, h.LinkLocal)
		}
		if _, err := os.Stat(h.Path()); err != nil {
			t.Errorf("host %d: %v", i+1, err)
		}
		for _, a := range []netip.Addr{h.Addr4.Addr(), h.Addr6.Addr(), h.LinkLocal} {
			if has, err := h.HasAddr(a); err != nil || !has {
				t.Errorf("host %d: HasAddr(%v) = %v, %v", i+1, a, has, err)
			}
		}
	}
	h1, h2 := lab.Host(1), lab.Host(2)
	if has, err := h1.HasAddr(h2.Addr4.Addr()); err != nil || has {
		t.Errorf("host 1 holds host 2's address: %v, %v", has, err)
	}

	// Do runs in the namespace: eth0 there has the host's MAC.
	var mac net.HardwareAddr
	if err := h2.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if !bytes.Equal(mac, h2.MAC) {
		t.Errorf("eth0 in host 2 has MAC %v, want %v", mac, h2.MAC)
	}
	wantErr := errors.New("from fn")
	if err := h2.Do(func() error { return wantErr }); !errors.Is(err, wantErr) {
		t.Errorf("Do returned %v, want %v", err, wantErr)
	}

	capture := h2.Capture(t, "eth0")
	out := h1.Run(t, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "198.18.0.2")
	t.Logf("ping 198.18.0.2:\n%s", out)
	h1.Run(t, "ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", "fd00::2")
	h1.Run(t, "ping", "-n", "-c", "1", "-W", "2", h2.LinkLocal.String()+"%eth0")

	f := capture.WaitFrame(t, time.Second, "ICMP echo from host 1", func(f Frame) bool {
		return isEcho(f, h1.Addr4.Addr(), h2.Addr4.Addr())
	})
	if e, _ := f.Ethernet(); !bytes.Equal(e.Src, h1.MAC) || !bytes.Equal(e.Dst, h2.MAC) {
		t.Errorf("echo request from %v to %v, want %v to %v", e.Src, e.Dst, h1.MAC, h2.MAC)
	}
	capture.WaitFrame(t, time.Second, "ICMPv6 echo from host 1", func(f Frame) bool {
		return isEcho(f, h1.Addr6.Addr(), h2.Addr6.Addr())
	})
	// Replies are captured too (the interface's own frames).
	capture.WaitFrame(t, time.Second, "ICMP echo reply from host 2", func(f Frame) bool {
		p, ok := f.IP()
		return ok && p.Src == h2.Addr4.Addr() && p.Protocol == ProtoICMP && len(p.Payload) > 0 && p.Payload[0] == 0
	})
	if err := capture.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := capture.Err(); err != nil {
		t.Errorf("capture: %v", err)
	}

	t.Run("cable", func(t *testing.T) {
		if err := lab.SetCable(h2, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lab.SetCable(h2, true) })
		if ping(h1, h2.Addr4.Addr()) || ping(h1, h2.Addr6.Addr()) {
			t.Errorf("host 2 answered with its cable pulled")
		}
		if lower, err := h2.lowerUp(); err != nil || lower {
			t.Errorf("host 2's eth0 has carrier with its cable pulled: %v, %v", lower, err)
		}
		if ping(h1, lab.Host(3).Addr4.Addr()) != true {
			t.Errorf("host 3 unreachable while host 2's cable is pulled")
		}
		if err := lab.SetCable(h2, true); err != nil {
			t.Fatal(err)
		}
		waitPing(t, h1, h2.Addr4.Addr(), 5*time.Second)
		waitPing(t, h1, h2.Addr6.Addr(), 5*time.Second)
	})

	t.Run("isolate", func(t *testing.T) {
		port := lab.CaptureSwitch(t, h2.Port)
		if err := lab.Isolate(h2, true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lab.Isolate(h2, false) })
		if ping(h1, h2.Addr4.Addr()) {
			t.Errorf("host 2 answered while isolated")
		}
		// What host 2 sends still reaches its port, and no further.
		if ping(h2, h1.Addr4.Addr()) {
			t.Errorf("host 2 reached host 1 while isolated")
		}
		port.WaitFrame(t, time.Second, "host 2's echo request on its port", func(f Frame) bool {
			return isEcho(f, h2.Addr4.Addr(), h1.Addr4.Addr())
		})
		if lower, err := h2.lowerUp(); err != nil || !lower {
			t.Errorf("host 2 lost carrier when isolated: %v, %v", lower, err)
		}
		if err := lab.Isolate(h2, false); err != nil {
			t.Fatal(err)
		}
		waitPing(t, h1, h2.Addr4.Addr(), 5*time.Second)
	})

	t.Run("link", func(t *testing.T) {
		c := h2.Capture(t, "eth0")
		if err := h2.SetLink(false); err != nil {
			t.Fatal(err)
		}
		if ping(h1, h2.Addr4.Addr()) {
			t.Errorf("host 2 answered with eth0 down")
		}
		if err := h2.SetLink(true); err != nil {
			t.Fatal(err)
		}
		// The kernel dropped the IPv6 addresses with the link; SetLink put
		// them back.
		for _, a := range []netip.Addr{h2.Addr6.Addr(), h2.LinkLocal} {
			if has, err := h2.HasAddr(a); err != nil || !has {
				t.Errorf("after SetLink(true), HasAddr(%v) = %v, %v", a, has, err)
			}
		}
		waitPing(t, h1, h2.Addr4.Addr(), 5*time.Second)
		waitPing(t, h1, h2.Addr6.Addr(), 5*time.Second)
		// The capture outlived the link going down and up.
		c.WaitFrame(t, time.Second, "an echo request after the link came back", func(f Frame) bool {
			return isEcho(f, h1.Addr6.Addr(), h2.Addr6.Addr())
		})
		if err := c.Err(); err != nil {
			t.Errorf("capture: %v", err)
		}
	})
}

// netnsList returns the names "ip netns list" shows.
func netnsList(t *testing.T) []string {
	t.Helper()
	ipPath, err := findIP()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ipPath, "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

// waitInNS waits until process pid runs in the namespace at path, and
// fails at once, with what it wrote, if it exits first. The bound is
// generous: on a loaded machine (CI runs every package's namespace tests
// at once) entering took more than 5 s.
func waitInNS(t *testing.T, pid int, path string, exited <-chan struct{}, stderr *bytes.Buffer) {
	t.Helper()
	var want unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 30*time.Second, fmt.Sprintf("process %d to enter %s", pid, path), func() bool {
		select {
		case <-exited:
			t.Fatalf("process %d exited before it entered %s: %s", pid, path, stderr)
		default:
		}
		var st unix.Stat_t
		err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st)
		return err == nil && st.Dev == want.Dev && st.Ino == want.Ino
	})
}

// failedTB is a testing.TB that has failed and keeps its cleanups for
// the test to run.
type failedTB struct {
	*testing.T
	cleanups []func()
}

func (f *failedTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *failedTB) Failed() bool      { return true }

func TestCleanupDeletesEverything(t *testing.T) {
	t.Parallel()
	tb := &failedTB{T: t}
	lab := New(tb, 2)
	names := lab.Namespaces()
	for _, name := range names {
		if !slices.Contains(netnsList(t), name) {
			t.Errorf("ip netns list lacks %s", name)
		}
	}
	// A process the test forgets: the lab's cleanup kills it.
	cmd := lab.Host(1).Command(context.Background(), "sleep", "30")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	waitInNS(t, cmd.Process.Pid, lab.Host(1).Path(), exited, &stderr)

	// The cleanup of a failed test.
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	list := netnsList(t)
	for _, name := range names {
		if slices.Contains(list, name) {
			t.Errorf("%s still listed by ip netns list after the test", name)
		}
		if _, err := os.Stat(filepath.Join(RunDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v", name, err)
		}
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("the process left in the lab still runs")
		_ = cmd.Process.Kill()
	}
}

func TestRemoveLeftovers(t *testing.T) {
	t.Parallel()
	lab := New(t, 1) // skips without root or ip
	ipPath := lab.ipPath

	// A pid that no longer runs: that of a finished child.
	var dead int
	for range 10 {
		cmd := exec.Command(ipPath, "-V")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		if !pidAlive(cmd.Process.Pid) {
			dead = cmd.Process.Pid
			break
		}
	}
	if dead == 0 {
		t.Fatal("found no dead pid")
	}
	deadNames := []string{fmt.Sprintf("%s%d-1-sw", Prefix, dead), fmt.Sprintf("%s%d-1-h1", Prefix, dead)}
	liveName := fmt.Sprintf("%s%d-999999999-sw", Prefix, os.Getpid())
	foreign := fmt.Sprintf("vrrpkitx-%d-1-sw", dead) // not the lab's form
	all := append([]string{liveName, foreign}, deadNames...)
	t.Cleanup(func() {
		for _, name := range all {
			if err := deleteNamespace(name); err != nil {
				t.Error(err)
			}
		}
	})
	if err := addNamespaces(ipPath, all); err != nil {
		t.Fatal(err)
	}
	// A process of the crashed run, still in its namespace. nsenter joins
	// the network namespace alone, without the mount namespace work of
	// "ip netns exec", which a loaded machine (other tests adding and
	// deleting namespaces) made take more than waitInNS's bound.
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		testenv.Skip(t, "nsenter (util-linux) is needed: %v", err)
	}
	cmd := exec.Command(nsenter, "--net="+filepath.Join(RunDir, deadNames[1]), "sleep", "30")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	waitInNS(t, cmd.Process.Pid, filepath.Join(RunDir, deadNames[1]), exited, &stderr)

	New(t, 1)

	list := netnsList(t)
	for _, name := range deadNames {
		if slices.Contains(list, name) {
			t.Errorf("leftover %s not deleted", name)
		}
	}
	for _, name := range []string{liveName, foreign} {
		if !slices.Contains(list, name) {
			t.Errorf("%s deleted, but it is not a leftover", name)
		}
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Errorf("the process in the leftover namespace still runs")
	}
}
