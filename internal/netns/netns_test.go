//go:build linux

package netns

import (
	"bytes"
	"context"
	"encoding/binary"
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

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vrrp"
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

// waitInNS waits until process pid runs in the namespace at path.
func waitInNS(t *testing.T, pid int, path string) {
	t.Helper()
	var want unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 5*time.Second, fmt.Sprintf("process %d to enter %s", pid, path), func() bool {
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	waitInNS(t, cmd.Process.Pid, lab.Host(1).Path())

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
	waitInNS(t, cmd.Process.Pid, filepath.Join(RunDir, deadNames[1]))

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

// keepalivedConf is a minimal keepalived configuration: one VRRPv2
// instance on eth0 with one VIP.
const keepalivedConf = `global_defs {
	router_id lab
}
vrrp_instance VI_1 {
	state BACKUP
	interface eth0
	virtual_router_id 51
	priority 150
	advert_int 1
	virtual_ipaddress {
		198.18.0.100/24 dev eth0
	}
}
`

// startMaster starts keepalived in host 1 of a two-host lab, with a capture
// on host 2, and waits until it is Master and holds the VIP.
func startMaster(t *testing.T) (lab *Lab, k *Keepalived, capture *Capture) {
	t.Helper()
	lab = New(t, 2)
	h1, h2 := lab.Host(1), lab.Host(2)
	capture = h2.Capture(t, "eth0")
	k = StartKeepalived(t, h1, keepalivedConf)
	if k.Pid() <= 0 {
		t.Fatalf("Pid() = %d", k.Pid())
	}
	k.WaitLog(t, "Entering MASTER STATE", 15*time.Second)
	h1.WaitAddr(t, netip.MustParseAddr("198.18.0.100"), 5*time.Second)
	return lab, k, capture
}

func isAdvertFrom(f Frame, src netip.Addr) bool {
	v, ok := f.VRRP()
	return ok && v.Src == src && v.Advert.VRID == 51
}

func TestKeepalived(t *testing.T) {
	t.Parallel()
	lab, k, capture := startMaster(t)
	h1 := lab.Host(1)
	vip := netip.MustParseAddr("198.18.0.100")

	f := capture.WaitFrame(t, 3*time.Second, "a VRRP advert from host 1", func(f Frame) bool {
		v, ok := f.VRRP()
		return ok && v.Src == h1.Addr4.Addr() && v.Advert.Priority == 150
	})
	v, _ := f.VRRP()
	if v.Advert.Version != 2 || v.TTL != 255 || v.Dst != vrrp.Group4 || v.Advert.Interval != 1 ||
		!slices.Equal(v.Advert.Addresses, []netip.Addr{vip}) {
		t.Errorf("advert: %+v", v)
	}
	if !bytes.Equal(v.EthSrc, h1.MAC) || v.EthDst.String() != "01:00:5e:00:00:12" {
		t.Errorf("advert from %v to %v", v.EthSrc, v.EthDst)
	}
	if form := vrrp.VerifyChecksum(v.Payload, v.Src, v.Dst, vrrp.Group4); form != vrrp.ChecksumOK {
		t.Errorf("advert checksum: %v", form)
	}

	g := capture.WaitFrame(t, 3*time.Second, "a gratuitous ARP for the VIP", func(f Frame) bool {
		a, ok := f.ARP()
		return ok && a.Gratuitous() && a.SenderIP == vip
	})
	a, _ := g.ARP()
	if !bytes.Equal(a.EthSrc, h1.MAC) || !bytes.Equal(a.SenderMAC, h1.MAC) || a.EthDst.String() != "ff:ff:ff:ff:ff:ff" {
		t.Errorf("gratuitous ARP: %+v", a)
	}
	t.Logf("gratuitous ARP: op %v, sender %v %v, target %v %v", a.Op, a.SenderMAC, a.SenderIP, a.TargetMAC, a.TargetIP)

	vrrpPid, err := k.VRRPPid()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if running, _ := procStat(vrrpPid); running || k.Running() || pidAlive(k.Pid()) {
		t.Fatalf("keepalived %d (VRRP child %d) survived Kill", k.Pid(), vrrpPid)
	}
	time.Sleep(2500 * time.Millisecond)
	for _, f := range capture.Frames() {
		if f.Time.After(killed) && isAdvertFrom(f, h1.Addr4.Addr()) {
			t.Errorf("advert from host 1 at %v, after Kill at %v", f.Time, killed)
		}
	}
	// A killed keepalived leaves its VIP behind.
	if has, err := h1.HasAddr(vip); err != nil || !has {
		t.Errorf("after Kill, HasAddr(VIP) = %v, %v", has, err)
	}
	if err := k.Stop(); err != nil {
		t.Errorf("Stop after Kill: %v", err)
	}
}

func TestKeepalivedStop(t *testing.T) {
	t.Parallel()
	lab, k, capture := startMaster(t)
	h1 := lab.Host(1)
	capture.Clear()
	if err := k.Stop(); err != nil {
		t.Fatal(err)
	}
	if k.Running() {
		t.Fatal("keepalived runs after Stop")
	}
	capture.WaitFrame(t, 2*time.Second, "a priority 0 advert from host 1", func(f Frame) bool {
		v, ok := f.VRRP()
		return ok && v.Src == h1.Addr4.Addr() && v.Advert.Priority == 0
	})
	h1.WaitNoAddr(t, netip.MustParseAddr("198.18.0.100"), 2*time.Second)
	if !strings.Contains(k.Log(), "Stopped") {
		t.Logf("log:\n%s", k.Log())
	}
}

// ethernet builds an Ethernet frame.
func ethernet(dst, src net.HardwareAddr, etype uint16, payload []byte) []byte {
	b := append(append([]byte(nil), dst...), src...)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

// ipv6Packet builds an IPv6 packet.
func ipv6Packet(src, dst netip.Addr, next, hop uint8, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6], b[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	return append(b, payload...)
}

func TestDecoders(t *testing.T) {
	t.Parallel()
	mac := net.HardwareAddr{0x02, 0x76, 0x6b, 0, 0, 1}
	ll := netip.MustParseAddr("fe80::1")
	vip6 := netip.MustParseAddr("fd00::100")

	// VRRPv3 over IPv6, behind a hop-by-hop header.
	adv := vrrp.Advertisement{Version: 3, VRID: 7, Priority: 100, Interval: 100, Addresses: []netip.Addr{ll, vip6}}
	msg, err := adv.Append(nil, ll, vrrp.Group6)
	if err != nil {
		t.Fatal(err)
	}
	hbh := append([]byte{vrrp.IPProtocol, 0, 1, 4, 0, 0, 0, 0}, msg...)
	frame := Frame{Data: ethernet(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 0x12}, mac, EtherTypeIPv6, ipv6Packet(ll, vrrp.Group6, 0, 255, hbh))}
	v, ok := frame.VRRP()
	if !ok || v.Src != ll || v.Dst != vrrp.Group6 || v.TTL != 255 || v.Advert.VRID != 7 || v.Advert.Version != 3 ||
		!slices.Equal(v.Advert.Addresses, adv.Addresses) || vrrp.VerifyChecksum(v.Payload, v.Src, v.Dst, vrrp.Group6) != vrrp.ChecksumOK {
		t.Errorf("VRRP() = %+v, %v", v, ok)
	}
	if _, ok := frame.ARP(); ok {
		t.Error("a VRRP frame decoded as ARP")
	}
	if _, ok := frame.NA(); ok {
		t.Error("a VRRP frame decoded as NA")
	}

	// VRRPv2 over IPv4, with Ethernet padding after it.
	adv4 := vrrp.Advertisement{Version: 2, VRID: 51, Priority: 150, Interval: 1, Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.100")}}
	msg4, err := adv4.Append(nil, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	ip4 := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 255, vrrp.IPProtocol, 0, 0, 198, 18, 0, 1, 224, 0, 0, 18}
	binary.BigEndian.PutUint16(ip4[2:], uint16(len(ip4)+len(msg4)))
	pkt4 := append(append(ip4, msg4...), make([]byte, 10)...)
	v4, ok := Frame{Data: ethernet(net.HardwareAddr{1, 0, 0x5e, 0, 0, 0x12}, mac, EtherTypeIPv4, pkt4)}.VRRP()
	if !ok || v4.Src != netip.MustParseAddr("198.18.0.1") || v4.Dst != vrrp.Group4 || v4.TTL != 255 || v4.Advert.Priority != 150 || len(v4.Payload) != len(msg4) {
		t.Errorf("VRRP() over IPv4 = %+v, %v", v4, ok)
	}

	// A gratuitous ARP.
	vip := netip.MustParseAddr("198.18.0.100")
	ap, err := arp.NewPacket(arp.OperationRequest, mac, vip, net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, vip)
	if err != nil {
		t.Fatal(err)
	}
	ab, err := ap.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := Frame{Data: ethernet(net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac, EtherTypeARP, ab)}.ARP()
	if !ok || !a.Gratuitous() || a.Op != arp.OperationRequest || a.SenderIP != vip || !bytes.Equal(a.SenderMAC, mac) || !bytes.Equal(a.EthSrc, mac) {
		t.Errorf("ARP() = %+v, %v", a, ok)
	}

	// An unsolicited neighbour advertisement.
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: vip6, Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}}
	nab, err := ndp.MarshalMessageChecksum(na, ll, netip.MustParseAddr("ff02::1"))
	if err != nil {
		t.Fatal(err)
	}
	n, ok := Frame{Data: ethernet(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, mac, EtherTypeIPv6, ipv6Packet(ll, netip.MustParseAddr("ff02::1"), ProtoICMPv6, 255, nab))}.NA()
	if !ok || n.Target != vip6 || !n.Override || n.Solicited || n.Router || !bytes.Equal(n.TargetMAC, mac) || n.HopLimit != 255 || n.Src != ll {
		t.Errorf("NA() = %+v, %v", n, ok)
	}

	// Garbage decodes as nothing.
	for _, b := range [][]byte{nil, {1, 2, 3}, ethernet(mac, mac, EtherTypeIPv4, []byte{0x45, 0, 0})} {
		f := Frame{Data: b}
		if _, ok := f.VRRP(); ok {
			t.Errorf("VRRP(%x) ok", b)
		}
		if _, ok := f.ARP(); ok {
			t.Errorf("ARP(%x) ok", b)
		}
		if _, ok := f.NA(); ok {
			t.Errorf("NA(%x) ok", b)
		}
	}
}
