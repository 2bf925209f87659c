package vrrp_test

// Tests of the pure state machine, one table or test function per rule of
// RFC 5798 section 6 (VRRPv3), RFC 3768 (VRRPv2) and RFC 9568. Each case
// names its RFC section (with the pseudocode line numbers of RFC 5798
// section 6.4) and the item of the shared checklist
// (../shared/rfc-checklist.md): timers in its section 1, receive checks
// R1-R19, state machine behaviours S1-S20.
//
// Every helper and test here is prefixed "mach"/"TestMachine" so that it
// cannot collide with the other test files of package vrrp_test.

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// machT0 is the time every scenario starts at.
var machT0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	machVIP4   = netip.MustParseAddr("192.0.2.100")
	machLocal4 = netip.MustParseAddr("192.0.2.1")
	machPeer4  = netip.MustParseAddr("192.0.2.2") // greater than machLocal4
	machVIP6   = netip.MustParseAddr("fe80::100")
	machVIP6g  = netip.MustParseAddr("2001:db8::100")
	machLocal6 = netip.MustParseAddr("fe80::1")
	machPeer6  = netip.MustParseAddr("fe80::2") // greater than machLocal6
)

// Worked timer values (RFC 3768 and RFC 5798 section 6.1). Priority 100
// and 150 give the same Skew_Time in v2 and, at 1 s, in v3.
const (
	machSkew100 = 609375 * time.Microsecond // (256-100)/256 s
	machMD100   = 3*time.Second + machSkew100
	machSkew150 = 414062500 * time.Nanosecond // (256-150)/256 s
	machMD150   = 3*time.Second + machSkew150
	machSkew200 = 218750 * time.Microsecond // (256-200)/256 s
	machMD200   = 3*time.Second + machSkew200
)

// machNone is the expected Deadline of a machine with no timer running (the
// zero time.Time) in machStep.
const machNone = time.Duration(-1 << 62)

// machAddrs parses a list of addresses.
func machAddrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// machCfg returns an IPv4 configuration: VRID 51, one VIP, sent from
// machLocal4.
func machCfg(version, prio uint8, interval time.Duration) vrrp.MachineConfig {
	return vrrp.MachineConfig{
		VRID:           51,
		Version:        version,
		Priority:       prio,
		AdvertInterval: interval,
		Addresses:      []netip.Addr{machVIP4},
		LocalAddr:      machLocal4,
	}
}

// machCfg6 returns a VRRPv3 IPv6 configuration whose first VIP is
// link-local (RFC 5798 section 5.2.9).
func machCfg6(prio uint8, interval time.Duration) vrrp.MachineConfig {
	return vrrp.MachineConfig{
		VRID:           52,
		Version:        3,
		Priority:       prio,
		AdvertInterval: interval,
		Addresses:      []netip.Addr{machVIP6, machVIP6g},
		LocalAddr:      machLocal6,
	}
}

// machCfgPass returns a VRRPv2 configuration with the simple password
// "vrrpPW" (RFC 2338 authentication type 1, checklist T2).
// noAddrs returns c without addresses.
func noAddrs(c vrrp.MachineConfig) vrrp.MachineConfig {
	c.Addresses = nil
	return c
}

func machCfgPass(prio uint8) vrrp.MachineConfig {
	c := machCfg(2, prio, time.Second)
	c.AuthType = vrrp.AuthPass
	c.AuthData = vrrp.PasswordData("vrrpPW")
	return c
}

// machAdv returns the advertisement a correctly configured peer of cfg
// sends with priority prio. It is built by hand, not with FillAdvert, so
// that the receive tests do not depend on the code they check.
func machAdv(cfg vrrp.MachineConfig, prio uint8) *vrrp.Advertisement {
	a := &vrrp.Advertisement{
		Version:   cfg.Version,
		Type:      vrrp.TypeAdvertisement,
		VRID:      cfg.VRID,
		Priority:  prio,
		Addresses: slices.Clone(cfg.Addresses),
	}
	if cfg.Version == 2 {
		a.Interval = uint16(cfg.AdvertInterval / time.Second)
		a.AuthType, a.AuthData = cfg.AuthType, cfg.AuthData
	} else {
		a.Interval = uint16(cfg.AdvertInterval / (10 * time.Millisecond))
	}
	return a
}

// machAdvInt is machAdv with a VRRPv3 Max Adver Int of cs centiseconds.
func machAdvInt(cfg vrrp.MachineConfig, prio uint8, cs uint16) *vrrp.Advertisement {
	a := machAdv(cfg, prio)
	a.Interval = cs
	return a
}

// machInfo returns the IP-level information of an advert from the peer of
// cfg's family to the VRRP group, with TTL 255.
func machInfo(cfg vrrp.MachineConfig) vrrp.PacketInfo {
	if cfg.LocalAddr.Is6() {
		return vrrp.PacketInfo{Src: machPeer6, Dst: vrrp.Group6, TTL: 255}
	}
	return vrrp.PacketInfo{Src: machPeer4, Dst: vrrp.Group4, TTL: 255}
}

// machFrom is machInfo with another source address.
func machFrom(cfg vrrp.MachineConfig, src netip.Addr) vrrp.PacketInfo {
	info := machInfo(cfg)
	info.Src = src
	return info
}

// machInput is one input of a scenario.
type machInput struct {
	name string
	do   func(m *vrrp.Machine, now time.Time) vrrp.Effects
}

func machStartIn() machInput { return machInput{"Start", (*vrrp.Machine).Start} }
func machTickIn() machInput  { return machInput{"Tick", (*vrrp.Machine).Tick} }
func machStopIn() machInput  { return machInput{"Stop", (*vrrp.Machine).Stop} }

func machRecvIn(a *vrrp.Advertisement, info vrrp.PacketInfo) machInput {
	return machInput{
		fmt.Sprintf("Receive(v%d prio %d int %d from %v ttl %d)", a.Version, a.Priority, a.Interval, info.Src, info.TTL),
		func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.Receive(now, a, info) },
	}
}

func machFaultIn(on bool) machInput {
	return machInput{
		fmt.Sprintf("SetFault(%v)", on),
		func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.SetFault(now, on) },
	}
}

func machPrioIn(p uint8) machInput {
	return machInput{
		fmt.Sprintf("SetPriority(%d)", p),
		func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.SetPriority(now, p) },
	}
}

func machReconfigureIn(cfg vrrp.MachineConfig) machInput {
	return machInput{
		"Reconfigure",
		func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.Reconfigure(now, cfg) },
	}
}

// machStep is one input at a time after machT0 with the Effects it must
// return and the State and Deadline (after machT0, or machNone) it must
// leave.
type machStep struct {
	at       time.Duration
	in       machInput
	want     vrrp.Effects
	state    vrrp.State
	deadline time.Duration
}

// machRun feeds steps to m in order and checks each.
func machRun(t *testing.T, m *vrrp.Machine, steps []machStep) {
	t.Helper()
	for i, s := range steps {
		got := s.in.do(m, machT0.Add(s.at))
		if got != s.want {
			t.Errorf("step %d: %s at +%v = %+v, want %+v", i, s.in.name, s.at, got, s.want)
		}
		if m.State() != s.state {
			t.Errorf("step %d: %s at +%v: state %v, want %v", i, s.in.name, s.at, m.State(), s.state)
		}
		machCheckDeadline(t, fmt.Sprintf("step %d: %s at +%v", i, s.in.name, s.at), m, s.deadline)
	}
}

// machCheckDeadline checks that m's Deadline is machT0+want, or zero for
// machNone.
func machCheckDeadline(t *testing.T, what string, m *vrrp.Machine, want time.Duration) {
	t.Helper()
	d := m.Deadline()
	switch {
	case want == machNone && !d.IsZero():
		t.Errorf("%s: deadline +%v, want none", what, d.Sub(machT0))
	case want != machNone && d.IsZero():
		t.Errorf("%s: no deadline, want +%v", what, want)
	case want != machNone && !d.Equal(machT0.Add(want)):
		t.Errorf("%s: deadline +%v, want +%v", what, d.Sub(machT0), want)
	}
}

// machBackup returns a machine for cfg started at machT0, in Backup.
func machBackup(t *testing.T, cfg vrrp.MachineConfig) *vrrp.Machine {
	t.Helper()
	m := vrrp.NewMachine(cfg)
	m.Start(machT0)
	if m.State() != vrrp.Backup {
		t.Fatalf("Start: state %v, want BACKUP", m.State())
	}
	return m
}

// machMaster returns a non-owner machine for cfg that took over at its
// Master_Down_Interval after machT0, and the takeover time after machT0.
func machMaster(t *testing.T, cfg vrrp.MachineConfig) (*vrrp.Machine, time.Duration) {
	t.Helper()
	m := machBackup(t, cfg)
	at := m.Deadline().Sub(machT0)
	m.Tick(m.Deadline())
	if m.State() != vrrp.Master {
		t.Fatalf("Tick at Master_Down: state %v, want MASTER", m.State())
	}
	return m, at
}

// machToMaster is the Effects of a takeover by a machine of priority prio.
func machToMaster(prio uint8, from vrrp.State, r vrrp.Reason) vrrp.Effects {
	return vrrp.Effects{Send: true, SendPriority: prio, Bind: true, Announce: true, From: from, To: vrrp.Master, Reason: r}
}

// machSend is the Effects of a plain advert with priority prio.
func machSend(prio uint8) vrrp.Effects { return vrrp.Effects{Send: true, SendPriority: prio} }

// machDrop is the Effects of a dropped advert.
func machDrop(d vrrp.DropReason) vrrp.Effects { return vrrp.Effects{Drop: d} }

// TestMachineTimers checks Skew_Time and Master_Down_Interval against the
// formulas of RFC 3768 section 6.1 (seconds, local interval) and RFC 5798
// section 6.1 (Master_Adver_Interval), with the worked numbers of checklist
// section 1 that keepalived 2.2.7 was measured at.
func TestMachineTimers(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
		// learned is the Max Adver Int (cs) of a VRRPv3 advert accepted
		// before the check; 0 for none.
		learned          uint16
		wantSkew, wantMD time.Duration
	}{
		// RFC 3768 §6.1; checklist §1: keepalived 0.609 s / 3.609 s.
		{"v2 prio 100 1s", machCfg(2, 100, time.Second), 0, machSkew100, machMD100},
		// RFC 3768 §6.1; checklist §1: keepalived 3.414 s.
		{"v2 prio 150 1s", machCfg(2, 150, time.Second), 0, machSkew150, machMD150},
		// RFC 5798 §6.1; checklist §1: keepalived 3.414 s.
		{"v3 prio 150 1s", machCfg(3, 150, time.Second), 0, machSkew150, machMD150},
		// RFC 3768 §6.1: the v2 Skew_Time is in seconds whatever the
		// interval; only the 3 * Advertisement_Interval part scales.
		{"v2 prio 100 3s", machCfg(2, 100, 3*time.Second), 0, machSkew100, 9*time.Second + machSkew100},
		{"v2 prio 254 1s", machCfg(2, 254, time.Second), 0, 7812500 * time.Nanosecond, 3007812500 * time.Nanosecond},
		// RFC 5798 §6.1; checklist §1: keepalived 40.2 cs / 1.902 s;
		// exactly (206 * 500 ms) / 256.
		{"v3 prio 50 50cs", machCfg(3, 50, 500*time.Millisecond), 0,
			206 * 500 * time.Millisecond / 256, 1500*time.Millisecond + 206*500*time.Millisecond/256},
		// RFC 5798 §6.1; checklist §1: keepalived 1.609 s.
		{"v3 prio 200 50cs", machCfg(3, 200, 500*time.Millisecond), 0, 109375 * time.Microsecond, 1609375 * time.Microsecond},
		// RFC 5798 §6.1 with Master_Adver_Interval learned per §6.4.2
		// (450); checklist §1 and S6: keepalived 7.219 s.
		{"v3 prio 100 learned 200cs", machCfg(3, 100, time.Second), 200, 1218750 * time.Microsecond, 7218750 * time.Microsecond},
		// RFC 5798 §6.1: Skew_Time in nanoseconds is never rounded to
		// zero: (2 * 10 ms) / 256 = 78.125 µs.
		{"v3 prio 254 10ms", machCfg(3, 254, 10*time.Millisecond), 0, 78125 * time.Nanosecond, 30078125 * time.Nanosecond},
		{"v3 IPv6 prio 100 1s", machCfg6(100, time.Second), 0, machSkew100, machMD100},
		{"v3 max interval 40.95s prio 1", machCfg(3, 1, 4095*10*time.Millisecond), 0,
			255 * 4095 * 10 * time.Millisecond / 256, 3*4095*10*time.Millisecond + 255*4095*10*time.Millisecond/256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			if tt.learned == 0 {
				// Master_Adver_Interval starts as Advertisement_Interval
				// (RFC 5798 §6.4.1 (155)), so the values hold before Start.
				if got := m.MasterAdverInterval(); got != tt.cfg.AdvertInterval {
					t.Errorf("MasterAdverInterval before Start = %v, want %v", got, tt.cfg.AdvertInterval)
				}
			}
			m.Start(machT0)
			if tt.learned != 0 {
				e := m.Receive(machT0, machAdvInt(tt.cfg, 254, tt.learned), machInfo(tt.cfg))
				if e != (vrrp.Effects{}) {
					t.Fatalf("Receive = %+v, want an accepted advert", e)
				}
			}
			if got := m.SkewTime(); got != tt.wantSkew {
				t.Errorf("SkewTime = %v (%d ns), want %v", got, int64(got), tt.wantSkew)
			}
			if got := m.SkewTime(); got <= 0 {
				t.Errorf("SkewTime = %v, must be positive", got)
			}
			if got := m.MasterDownInterval(); got != tt.wantMD {
				t.Errorf("MasterDownInterval = %v, want %v", got, tt.wantMD)
			}
			// The running Master_Down_Timer uses the same value (RFC 5798
			// §6.4.1 (160), §6.4.2 (460)).
			machCheckDeadline(t, "Deadline", m, tt.wantMD)
		})
	}
}

// TestMachineStartupOwner: RFC 5798 §6.4.1 (105)-(145), checklist S1. The
// owner sends an advert, binds and announces its addresses, and becomes
// Master with Adver_Timer = Advertisement_Interval.
func TestMachineStartupOwner(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
	}{
		{"v3 IPv4 1s", machCfg(3, 255, time.Second)},
		{"v3 IPv6 50cs", machCfg6(255, 500*time.Millisecond)}, // (125)-(130): NA for IPv6
		{"v2 1s password", machCfgPass(255)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			if m.State() != vrrp.Init || !m.Deadline().IsZero() {
				t.Fatalf("NewMachine: state %v deadline %v, want INIT with none", m.State(), m.Deadline())
			}
			machRun(t, m, []machStep{
				{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, tt.cfg.AdvertInterval},
				// A second Startup changes nothing.
				{10 * time.Millisecond, machStartIn(), vrrp.Effects{}, vrrp.Master, tt.cfg.AdvertInterval},
			})
			if addr, prio := m.Master(); addr != tt.cfg.LocalAddr || prio != 255 {
				t.Errorf("Master() = %v, %d, want %v, 255", addr, prio, tt.cfg.LocalAddr)
			}
			if got := m.MasterAdverInterval(); got != tt.cfg.AdvertInterval {
				t.Errorf("MasterAdverInterval = %v, want %v", got, tt.cfg.AdvertInterval)
			}
		})
	}
}

// TestMachineStartupBackup: RFC 5798 §6.4.1 (150)-(165), checklist S2. A
// non-owner becomes Backup with Master_Down_Timer = Master_Down_Interval and
// sends nothing.
func TestMachineStartupBackup(t *testing.T) {
	tests := []struct {
		name   string
		cfg    vrrp.MachineConfig
		wantMD time.Duration
	}{
		// Checklist S2: keepalived's first advert 3.6-3.64 s after start.
		{"v2 prio 100 1s", machCfg(2, 100, time.Second), machMD100},
		{"v3 prio 150 1s", machCfg(3, 150, time.Second), machMD150},
		{"v3 prio 50 50cs", machCfg(3, 50, 500*time.Millisecond), 1500*time.Millisecond + 206*500*time.Millisecond/256},
		{"v3 IPv6 prio 200 50cs", machCfg6(200, 500*time.Millisecond), 1609375 * time.Microsecond},
		{"v3 prio 254 1s", machCfg(3, 254, time.Second), 3007812500 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			machRun(t, m, []machStep{
				{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, tt.wantMD},
				{time.Second, machStartIn(), vrrp.Effects{}, vrrp.Backup, tt.wantMD},
			})
			if addr, prio := m.Master(); addr.IsValid() || prio != 0 {
				t.Errorf("Master() = %v, %d before any advert, want none", addr, prio)
			}
		})
	}
}

// TestMachineInitialMaster: keepalived's "state MASTER" with a priority
// below 255 (keepalived 2.2 vrrp_state_become_backup: ms_down_timer =
// master_adver_int + VRRP_TIMER_SKEW_MIN). RFC 5798 §6.4.1 (150)-(165)
// still makes it Backup at Startup, but its first Master_Down_Timer is
// Advertisement_Interval plus the smallest skew (Advertisement_Interval/256
// in VRRPv3, 1 s/256 in VRRPv2), so that with no Master it takes over after
// about one interval; a Master heard before then is followed as usual
// (§6.4.2 (445)-(460)). Only Startup uses it: a return from Fault, a sync
// group's Demote and a followed Master's silence use Master_Down_Interval.
// The owner (§6.4.1 (110)) is Master at once either way.
func TestMachineInitialMaster(t *testing.T) {
	initial := func(c vrrp.MachineConfig) vrrp.MachineConfig { c.InitialMaster = true; return c }
	v3 := initial(machCfg(3, 100, time.Second))
	v3fast := initial(machCfg(3, 200, 500*time.Millisecond))
	v2 := initial(machCfg(2, 100, time.Second))
	v2slow := initial(machCfg(2, 100, 3*time.Second))
	v6 := initial(machCfg6(100, 10*time.Millisecond))
	const (
		first3     = time.Second + time.Second/256 // 1.00390625 s
		first3fast = 500*time.Millisecond + 500*time.Millisecond/256
		first2     = time.Second + time.Second/256
		first2slow = 3*time.Second + time.Second/256 // the v2 skew is in seconds
		first6     = 10*time.Millisecond + 10*time.Millisecond/256
	)
	started := vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}
	demoteIn := machInput{"Demote", (*vrrp.Machine).Demote}
	tests := []struct {
		name  string
		cfg   vrrp.MachineConfig
		steps []machStep
	}{
		{"v3 no Master: takes over after one interval", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{first3 - time.Nanosecond, machTickIn(), vrrp.Effects{}, vrrp.Backup, first3},
			{first3, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first3 + time.Second},
		}},
		{"v3 50cs no Master", v3fast, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3fast},
			{first3fast, machTickIn(), machToMaster(200, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first3fast + 500*time.Millisecond},
		}},
		{"v3 IPv6 10ms no Master", v6, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first6},
			{first6, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first6 + 10*time.Millisecond},
		}},
		{"v2 no Master", v2, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first2},
			{first2, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first2 + time.Second},
		}},
		{"v2 3s interval: skew stays 1s/256", v2slow, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first2slow},
			{first2slow, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first2slow + 3*time.Second},
		}},
		// A better Master heard in time: followed, the timer now
		// Master_Down_Interval (§6.4.2 (460)).
		{"v3 better Master heard before the deadline", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{500 * time.Millisecond, machRecvIn(machAdv(v3, 200), machInfo(v3)), vrrp.Effects{}, vrrp.Backup, 500*time.Millisecond + machMD100},
			{first3, machTickIn(), vrrp.Effects{}, vrrp.Backup, 500*time.Millisecond + machMD100},
			{1500 * time.Millisecond, machRecvIn(machAdv(v3, 200), machInfo(v3)), vrrp.Effects{}, vrrp.Backup, 1500*time.Millisecond + machMD100},
			// The Master goes silent: Master_Down_Interval, not the short
			// timer.
			{1500*time.Millisecond + machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 2500*time.Millisecond + machMD100},
		}},
		{"v2 better Master heard before the deadline", v2, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first2},
			{900 * time.Millisecond, machRecvIn(machAdv(v2, 150), machInfo(v2)), vrrp.Effects{}, vrrp.Backup, 900*time.Millisecond + machMD100},
			{first2, machTickIn(), vrrp.Effects{}, vrrp.Backup, 900*time.Millisecond + machMD100},
		}},
		// An equal priority from a greater address wins too (§6.4.2 (445)).
		{"v3 equal priority Master heard", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{time.Second, machRecvIn(machAdv(v3, 100), machInfo(v3)), vrrp.Effects{}, vrrp.Backup, time.Second + machMD100},
		}},
		// A lower priority Master is discarded (§6.4.2 (465)-(470)): the
		// short timer runs out and this one preempts it.
		{"v3 lower priority Master heard", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{500 * time.Millisecond, machRecvIn(machAdv(v3, 50), machInfo(v3)), machDrop(vrrp.DropLowerPriority), vrrp.Backup, first3},
			{first3, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first3 + time.Second},
		}},
		// A Master leaving sets the timer to Skew_Time (§6.4.2 (425)-(430)).
		{"v3 priority 0 heard", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{200 * time.Millisecond, machRecvIn(machAdv(v3, 0), machInfo(v3)), vrrp.Effects{}, vrrp.Backup, 200*time.Millisecond + machSkew100},
		}},
		{"owner unaffected", initial(machCfg(3, 255, time.Second)), []machStep{
			{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, time.Second},
		}},
		{"v2 owner unaffected", initial(machCfg(2, 255, time.Second)), []machStep{
			{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, time.Second},
		}},
		// keepalived: leaving FAULT is not the startup.
		{"return from Fault uses Master_Down_Interval", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{500 * time.Millisecond, machFaultIn(true), vrrp.Effects{From: vrrp.Backup, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Fault, machNone},
			{2 * time.Second, machFaultIn(false), vrrp.Effects{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, vrrp.Backup, 2*time.Second + machMD100},
		}},
		{"faulted at Start, cleared: Master_Down_Interval", v3, []machStep{
			{0, machFaultIn(true), vrrp.Effects{}, vrrp.Init, machNone},
			{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Fault, machNone},
			{time.Second, machFaultIn(false), vrrp.Effects{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}, vrrp.Backup, time.Second + machMD100},
		}},
		{"Demote uses Master_Down_Interval", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{first3, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first3 + time.Second},
			{2 * time.Second, demoteIn, vrrp.Effects{Unbind: true, From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonSync}, vrrp.Backup, 2*time.Second + machMD100},
		}},
		// A Stop and a new Start is a new Startup event.
		{"restart after Stop is a Startup", v3, []machStep{
			{0, machStartIn(), started, vrrp.Backup, first3},
			{first3, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, first3 + time.Second},
			{2 * time.Second, machStopIn(), vrrp.Effects{Send: true, SendPriority: 0, Unbind: true, From: vrrp.Master, To: vrrp.Init, Reason: vrrp.ReasonShutdown}, vrrp.Init, machNone},
			{3 * time.Second, machStartIn(), started, vrrp.Backup, 3*time.Second + first3},
		}},
		// Without InitialMaster nothing changes (§6.4.1 (160)).
		{"not set: Master_Down_Interval", machCfg(3, 100, time.Second), []machStep{
			{0, machStartIn(), started, vrrp.Backup, machMD100},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machRun(t, vrrp.NewMachine(tt.cfg), tt.steps)
		})
	}
}

// TestMachineBackupMasterDownTimer: RFC 5798 §6.4.2 (365)-(410), checklist
// S3. When the Master_Down_Timer fires the Backup sends an advert, binds,
// announces (GARP or NA) and becomes Master with Adver_Timer =
// Advertisement_Interval; a Tick before the deadline does nothing.
func TestMachineBackupMasterDownTimer(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
		late time.Duration // how late after the deadline Tick is called
	}{
		{"v3 on time", machCfg(3, 100, time.Second), 0},
		{"v3 IPv6 on time", machCfg6(150, time.Second), 0},
		{"v2 on time", machCfg(2, 100, time.Second), 0},
		{"v3 50cs 7ms late", machCfg(3, 200, 500*time.Millisecond), 7 * time.Millisecond},
		{"v2 late by an interval", machCfgPass(100), 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, tt.cfg)
			md := m.MasterDownInterval()
			fire := md + tt.late
			prio := tt.cfg.Priority
			machRun(t, m, []machStep{
				{0, machTickIn(), vrrp.Effects{}, vrrp.Backup, md},
				{md / 2, machTickIn(), vrrp.Effects{}, vrrp.Backup, md},
				{md - time.Nanosecond, machTickIn(), vrrp.Effects{}, vrrp.Backup, md},
				{fire, machTickIn(), machToMaster(prio, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, fire + tt.cfg.AdvertInterval},
				// The timer fired once: another Tick at the same time does
				// nothing.
				{fire, machTickIn(), vrrp.Effects{}, vrrp.Master, fire + tt.cfg.AdvertInterval},
			})
			if addr, p := m.Master(); addr != tt.cfg.LocalAddr || p != prio {
				t.Errorf("Master() = %v, %d, want %v, %d", addr, p, tt.cfg.LocalAddr, prio)
			}
		})
	}
}

// TestMachineBackupPriorityZero: RFC 5798 §6.4.2 (425)-(430) and RFC 3768
// §6.4.2, checklist S4. A Backup that hears priority 0 sets the
// Master_Down_Timer to Skew_Time, then takes over when it fires.
func TestMachineBackupPriorityZero(t *testing.T) {
	tests := []struct {
		name    string
		cfg     vrrp.MachineConfig
		learned uint16 // Max Adver Int of the Master's earlier advert, v3
		skew    time.Duration
	}{
		// Checklist S4: keepalived 0.612 s at prio 100 (expected 0.609).
		{"v2 prio 100", machCfg(2, 100, time.Second), 0, machSkew100},
		// Checklist S4: keepalived 0.410 s (expected 0.402).
		{"v3 prio 50 50cs", machCfg(3, 50, 500*time.Millisecond), 0, 206 * 500 * time.Millisecond / 256},
		// Skew_Time uses Master_Adver_Interval (RFC 5798 §6.1), the
		// learned 2 s: (156 * 2 s) / 256.
		{"v3 prio 100 learned 200cs", machCfg(3, 100, time.Second), 200, 1218750 * time.Microsecond},
		{"v3 IPv6 prio 254 10ms", machCfg6(254, 10*time.Millisecond), 0, 78125 * time.Nanosecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, tt.cfg)
			md := m.MasterDownInterval()
			info := machInfo(tt.cfg)
			steps := []machStep{}
			at := md / 4
			if tt.learned != 0 {
				a := machAdvInt(tt.cfg, 254, tt.learned)
				steps = append(steps, machStep{at, machRecvIn(a, info), vrrp.Effects{}, vrrp.Backup,
					at + 3*time.Duration(tt.learned)*10*time.Millisecond + tt.skew})
				at += 10 * time.Millisecond
			}
			a0 := machAdv(tt.cfg, 0)
			if tt.learned != 0 {
				a0.Interval = tt.learned
			}
			steps = append(steps,
				machStep{at, machRecvIn(a0, info), vrrp.Effects{}, vrrp.Backup, at + tt.skew},
				machStep{at + tt.skew - time.Nanosecond, machTickIn(), vrrp.Effects{}, vrrp.Backup, at + tt.skew},
				machStep{at + tt.skew, machTickIn(), machToMaster(tt.cfg.Priority, vrrp.Backup, vrrp.ReasonMasterDown),
					vrrp.Master, at + tt.skew + tt.cfg.AdvertInterval},
			)
			machRun(t, m, steps)
		})
	}
}

// TestMachineBackupHigherOrEqualPriority: RFC 5798 §6.4.2 (445)-(460), RFC
// 3768 §6.4.2, checklist S5. An advert of higher or equal priority resets
// the Master_Down_Timer; the Backup stays Backup whatever the sender's
// address and records the Master.
func TestMachineBackupHigherOrEqualPriority(t *testing.T) {
	lower4 := netip.MustParseAddr("192.0.2.0")
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
		prio uint8
		src  netip.Addr
	}{
		{"v3 higher", machCfg(3, 100, time.Second), 200, machPeer4},
		{"v3 equal, greater source", machCfg(3, 100, time.Second), 100, machPeer4},
		// (445) compares priorities only: a Backup does not preempt an
		// equal priority Master with a smaller address.
		{"v3 equal, smaller source", machCfg(3, 100, time.Second), 100, lower4},
		{"v2 equal", machCfgPass(100), 100, lower4},
		{"v2 owner", machCfg(2, 254, time.Second), 255, machPeer4},
		{"v3 IPv6 higher", machCfg6(150, time.Second), 151, machPeer6},
		{"v3 IPv6 equal, smaller source", machCfg6(150, time.Second), 150, netip.MustParseAddr("fe80::0:1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, tt.cfg)
			md := m.MasterDownInterval()
			info := machFrom(tt.cfg, tt.src)
			a := machAdv(tt.cfg, tt.prio)
			machRun(t, m, []machStep{
				{2 * time.Second, machRecvIn(a, info), vrrp.Effects{}, vrrp.Backup, 2*time.Second + md},
				// The original Master_Down_Timer was reset: nothing fires.
				{md, machTickIn(), vrrp.Effects{}, vrrp.Backup, 2*time.Second + md},
				{3 * time.Second, machRecvIn(a, info), vrrp.Effects{}, vrrp.Backup, 3*time.Second + md},
				{2*time.Second + md, machTickIn(), vrrp.Effects{}, vrrp.Backup, 3*time.Second + md},
			})
			if addr, p := m.Master(); addr != tt.src || p != tt.prio {
				t.Errorf("Master() = %v, %d, want %v, %d", addr, p, tt.src, tt.prio)
			}
		})
	}
}

// TestMachineBackupLearnsInterval: RFC 5798 §6.4.2 (450)-(460), checklist
// S6. A VRRPv3 Backup sets Master_Adver_Interval from the accepted advert
// and recomputes Master_Down_Interval; a VRRPv2 Backup never learns (RFC
// 3768 §6.1, §6.4.2) and drops a differing interval (RFC 3768 §7.1, R12).
func TestMachineBackupLearnsInterval(t *testing.T) {
	tests := []struct {
		name     string
		cfg      vrrp.MachineConfig
		prio     uint8
		interval uint16 // Max Adver Int of the advert, in its version's unit
		wantDrop vrrp.DropReason
		wantMAI  time.Duration
		wantMD   time.Duration
	}{
		// Checklist S6: keepalived takes over 7.2205 s after the last
		// advert (expected 7.219).
		{"v3 learns 200cs", machCfg(3, 100, time.Second), 200, 200, vrrp.DropNone, 2 * time.Second, 7218750 * time.Microsecond},
		{"v3 learns 50cs", machCfg(3, 100, time.Second), 200, 50, vrrp.DropNone, 500 * time.Millisecond, 1804687500 * time.Nanosecond},
		{"v3 50cs learns 100cs", machCfg(3, 50, 500*time.Millisecond), 60, 100, vrrp.DropNone, time.Second, 3804687500 * time.Nanosecond},
		{"v3 IPv6 learns 300cs", machCfg6(100, time.Second), 100, 300, vrrp.DropNone, 3 * time.Second, 9*time.Second + 1828125*time.Microsecond},
		// (445): with Preempt_Mode False a lower priority advert is
		// accepted, and its interval learned, as well.
		{"v3 nopreempt lower prio learns", func() vrrp.MachineConfig {
			c := machCfg(3, 150, time.Second)
			c.NoPreempt = true
			return c
		}(), 100, 200, vrrp.DropNone, 2 * time.Second, 6*time.Second + 828125*time.Microsecond},
		{"v2 does not learn", machCfg(2, 100, time.Second), 200, 2, vrrp.DropInterval, time.Second, machMD100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, tt.cfg)
			a := machAdvInt(tt.cfg, tt.prio, tt.interval)
			now := machT0.Add(time.Second)
			e := m.Receive(now, a, machInfo(tt.cfg))
			if e != (vrrp.Effects{Drop: tt.wantDrop}) {
				t.Errorf("Receive = %+v, want drop %v only", e, tt.wantDrop)
			}
			if got := m.MasterAdverInterval(); got != tt.wantMAI {
				t.Errorf("MasterAdverInterval = %v, want %v", got, tt.wantMAI)
			}
			if got := m.MasterDownInterval(); got != tt.wantMD {
				t.Errorf("MasterDownInterval = %v, want %v", got, tt.wantMD)
			}
			wantDL := time.Second + tt.wantMD
			if tt.wantDrop != vrrp.DropNone {
				wantDL = tt.wantMD // dropped: the timer set at Start runs on
			}
			machCheckDeadline(t, "after Receive", m, wantDL)
		})
	}
}

// TestMachineBackupPreemptLowerPriority: RFC 5798 §6.4.2 (465)-(470), RFC
// 3768 §6.4.2, checklist S7. With Preempt_Mode True a lower priority advert
// is discarded: the Backup does not take over at once but when its
// Master_Down_Timer, not reset by the discarded adverts, fires.
func TestMachineBackupPreemptLowerPriority(t *testing.T) {
	for _, version := range []uint8{2, 3} {
		t.Run(fmt.Sprintf("v%d restarted prio 150 hears prio 100", version), func(t *testing.T) {
			// Checklist S7: the restarted prio 150 keepalived waits the
			// full 3.41 s while prio 100 adverts arrive.
			cfg := machCfg(version, 150, time.Second)
			m := vrrp.NewMachine(cfg)
			low, info := machAdv(cfg, 100), machInfo(cfg)
			drop := machDrop(vrrp.DropLowerPriority)
			machRun(t, m, []machStep{
				{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD150},
				{500 * time.Millisecond, machRecvIn(low, info), drop, vrrp.Backup, machMD150},
				{1500 * time.Millisecond, machRecvIn(low, info), drop, vrrp.Backup, machMD150},
				{2500 * time.Millisecond, machRecvIn(low, info), drop, vrrp.Backup, machMD150},
				{3400 * time.Millisecond, machTickIn(), vrrp.Effects{}, vrrp.Backup, machMD150},
				{3410 * time.Millisecond, machRecvIn(low, info), drop, vrrp.Backup, machMD150},
				{machMD150, machTickIn(), machToMaster(150, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD150 + time.Second},
				// Now Master, the old Master's next advert gets the RFC
				// 9568 reply (S12).
				{machMD150 + 100*time.Millisecond, machRecvIn(low, info),
					vrrp.Effects{Send: true, SendPriority: 150, Drop: vrrp.DropLowerPriority, Reassert: true}, vrrp.Master, machMD150 + 1100*time.Millisecond},
			})
			if addr, p := m.Master(); addr != cfg.LocalAddr || p != 150 {
				t.Errorf("Master() = %v, %d, want local", addr, p)
			}
		})
		t.Run(fmt.Sprintf("v%d lower prio after a higher Master", version), func(t *testing.T) {
			cfg := machCfg(version, 150, time.Second)
			m := machBackup(t, cfg)
			other := machFrom(cfg, netip.MustParseAddr("192.0.2.3"))
			drop := machDrop(vrrp.DropLowerPriority)
			machRun(t, m, []machStep{
				{time.Second, machRecvIn(machAdv(cfg, 200), machInfo(cfg)), vrrp.Effects{}, vrrp.Backup, time.Second + machMD150},
				{2 * time.Second, machRecvIn(machAdv(cfg, 149), other), drop, vrrp.Backup, time.Second + machMD150},
				{3 * time.Second, machRecvIn(machAdv(cfg, 1), other), drop, vrrp.Backup, time.Second + machMD150},
				{time.Second + machMD150, machTickIn(), machToMaster(150, vrrp.Backup, vrrp.ReasonMasterDown),
					vrrp.Master, 2*time.Second + machMD150},
			})
		})
	}
}

// TestMachineBackupNoPreempt: RFC 5798 §6.4.2 (445), RFC 3768 §6.4.2,
// checklist S8. With Preempt_Mode False a lower priority advert resets the
// timer and the Backup stays Backup as long as the Master advertises.
func TestMachineBackupNoPreempt(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
	}{
		{"v2", machCfgPass(150)},
		{"v3", machCfg(3, 150, time.Second)},
		{"v3 IPv6 prio 254", machCfg6(254, time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.NoPreempt = true
			m := machBackup(t, cfg)
			md := m.MasterDownInterval()
			low, info := machAdv(cfg, 100), machInfo(cfg)
			var steps []machStep
			for k := 1; k <= 20; k++ {
				at := time.Duration(k) * time.Second
				steps = append(steps,
					machStep{at - 10*time.Millisecond, machTickIn(), vrrp.Effects{}, vrrp.Backup, at - time.Second + md},
					machStep{at, machRecvIn(low, info), vrrp.Effects{}, vrrp.Backup, at + md})
			}
			steps = append(steps, machStep{20*time.Second + md, machTickIn(),
				machToMaster(cfg.Priority, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 21*time.Second + md})
			// Before the last step the Master is the lower priority one.
			machRun(t, m, steps[:len(steps)-1])
			if addr, p := m.Master(); addr != info.Src || p != 100 {
				t.Errorf("Master() = %v, %d, want %v, 100", addr, p, info.Src)
			}
			machRun(t, m, steps[len(steps)-1:])
		})
	}
}

// TestMachineBackupPreemptDelay covers keepalived's preempt_delay (an
// extension to RFC 5798 §6.4.2 (445)-(470)): a higher priority Backup that
// started less than PreemptDelay ago accepts a lower priority Master like
// Preempt_Mode False; afterwards it discards the adverts (S7) and takes over
// when its Master_Down_Timer fires. A silent Master is taken over at
// Master_Down_Interval even during the delay (S3).
func TestMachineBackupPreemptDelay(t *testing.T) {
	mk := func(version uint8, delay time.Duration) vrrp.MachineConfig {
		c := machCfg(version, 150, time.Second)
		c.PreemptDelay = delay
		return c
	}
	startBackup := machStep{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD150}
	takeover := func(at time.Duration) machStep {
		return machStep{at, machTickIn(), machToMaster(150, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, at + time.Second}
	}
	drop := machDrop(vrrp.DropLowerPriority)
	delayed := func(version uint8) []machStep {
		cfg := mk(version, 10*time.Second)
		low, info := machAdv(cfg, 100), machInfo(cfg)
		steps := []machStep{startBackup}
		for k := 1; k <= 9; k++ {
			at := time.Duration(k) * time.Second
			steps = append(steps, machStep{at, machRecvIn(low, info), vrrp.Effects{}, vrrp.Backup, at + machMD150})
		}
		return append(steps,
			machStep{10 * time.Second, machRecvIn(low, info), drop, vrrp.Backup, 9*time.Second + machMD150},
			machStep{11 * time.Second, machRecvIn(low, info), drop, vrrp.Backup, 9*time.Second + machMD150},
			machStep{12 * time.Second, machRecvIn(low, info), drop, vrrp.Backup, 9*time.Second + machMD150},
			takeover(9*time.Second+machMD150))
	}
	boundary := func() []machStep {
		cfg := mk(3, 2*time.Second)
		low, info := machAdv(cfg, 100), machInfo(cfg)
		return []machStep{startBackup,
			{time.Second, machRecvIn(low, info), vrrp.Effects{}, vrrp.Backup, time.Second + machMD150},
			{2*time.Second - time.Nanosecond, machRecvIn(low, info), vrrp.Effects{}, vrrp.Backup, 2*time.Second - time.Nanosecond + machMD150},
			// The delay ends exactly PreemptDelay after Start.
			{2 * time.Second, machRecvIn(low, info), drop, vrrp.Backup, 2*time.Second - time.Nanosecond + machMD150},
			takeover(2*time.Second - time.Nanosecond + machMD150),
		}
	}
	higher := func() []machStep {
		cfg := mk(3, 10*time.Second)
		high, info := machAdv(cfg, 200), machInfo(cfg)
		return []machStep{startBackup,
			{time.Second, machRecvIn(high, info), vrrp.Effects{}, vrrp.Backup, time.Second + machMD150},
			{11 * time.Second, machRecvIn(high, info), vrrp.Effects{}, vrrp.Backup, 11*time.Second + machMD150},
		}
	}
	tests := []struct {
		name  string
		cfg   vrrp.MachineConfig
		steps []machStep
	}{
		{"v3 accepts lower prio for 10s then preempts", mk(3, 10*time.Second), delayed(3)},
		{"v2 accepts lower prio for 10s then preempts", mk(2, 10*time.Second), delayed(2)},
		{"delay ends at Start+PreemptDelay", mk(3, 2*time.Second), boundary()},
		{"silent master taken over during the delay", mk(3, 10*time.Second), []machStep{startBackup, takeover(machMD150)}},
		{"higher prio master unaffected", mk(3, 10*time.Second), higher()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machRun(t, vrrp.NewMachine(tt.cfg), tt.steps)
		})
	}
}

// TestMachineMasterPriorityZero: RFC 5798 §6.4.3 (705)-(715), RFC 3768
// §6.4.3, checklist S9. A Master that hears priority 0 sends an advert at
// once and resets the Adver_Timer to Advertisement_Interval.
func TestMachineMasterPriorityZero(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
	}{
		// Checklist S9: keepalived's advert 0.4 ms later, the next 1.0 s
		// after it.
		{"v3 1s", machCfg(3, 100, time.Second)},
		{"v2 1s", machCfgPass(100)},
		{"v3 IPv6 50cs", machCfg6(200, 500*time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, at := machMaster(t, tt.cfg)
			iv, prio := tt.cfg.AdvertInterval, tt.cfg.Priority
			rx := at + iv*2/5
			machRun(t, m, []machStep{
				{rx, machRecvIn(machAdv(tt.cfg, 0), machInfo(tt.cfg)), machSend(prio), vrrp.Master, rx + iv},
				// The old Adver_Timer was reset: nothing at takeover + iv.
				{at + iv, machTickIn(), vrrp.Effects{}, vrrp.Master, rx + iv},
				{rx + iv, machTickIn(), machSend(prio), vrrp.Master, rx + 2*iv},
			})
		})
	}
}

// TestMachineMasterHigherPriority: RFC 5798 §6.4.3 (725), (740)-(765), RFC
// 3768 §6.4.3, checklist S10. A Master that hears a higher priority stops
// its Adver_Timer, learns Master_Adver_Interval (VRRPv3 only), sets the
// Master_Down_Timer, releases the addresses and becomes Backup.
func TestMachineMasterHigherPriority(t *testing.T) {
	tests := []struct {
		name     string
		cfg      vrrp.MachineConfig
		adv      func(vrrp.MachineConfig) *vrrp.Advertisement
		wantPrio uint8
		wantMAI  time.Duration
		wantMD   time.Duration
	}{
		{"v3 prio 200 at 200cs", machCfg(3, 100, time.Second),
			func(c vrrp.MachineConfig) *vrrp.Advertisement { return machAdvInt(c, 200, 200) }, 200, 2 * time.Second, 7218750 * time.Microsecond},
		{"v3 prio 101", machCfg(3, 100, time.Second),
			func(c vrrp.MachineConfig) *vrrp.Advertisement { return machAdv(c, 101) }, 101, time.Second, machMD100},
		// RFC 3768: no learning; Master_Down_Interval from the local
		// interval.
		{"v2 prio 200", machCfgPass(100),
			func(c vrrp.MachineConfig) *vrrp.Advertisement { return machAdv(c, 200) }, 200, time.Second, machMD100},
		{"v3 IPv6 prio 254 at 50cs", machCfg6(150, time.Second),
			func(c vrrp.MachineConfig) *vrrp.Advertisement { return machAdvInt(c, 254, 50) }, 254, 500 * time.Millisecond,
			1500*time.Millisecond + 106*500*time.Millisecond/256},
		// R10: the owner's advert is accepted whatever its addresses.
		{"v3 owner with other addresses", machCfg(3, 100, time.Second),
			func(c vrrp.MachineConfig) *vrrp.Advertisement {
				a := machAdv(c, 255)
				a.Addresses = machAddrs("192.0.2.200", "192.0.2.201")
				return a
			}, 255, time.Second, machMD100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, at := machMaster(t, tt.cfg)
			rx := at + 300*time.Millisecond
			info := machInfo(tt.cfg)
			machRun(t, m, []machStep{
				{rx, machRecvIn(tt.adv(tt.cfg), info),
					vrrp.Effects{Unbind: true, From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted}, vrrp.Backup, rx + tt.wantMD},
				// The Adver_Timer is cancelled (740): nothing at takeover+iv.
				{at + tt.cfg.AdvertInterval, machTickIn(), vrrp.Effects{}, vrrp.Backup, rx + tt.wantMD},
			})
			if got := m.MasterAdverInterval(); got != tt.wantMAI {
				t.Errorf("MasterAdverInterval = %v, want %v", got, tt.wantMAI)
			}
			if addr, p := m.Master(); addr != info.Src || p != tt.wantPrio {
				t.Errorf("Master() = %v, %d, want %v, %d", addr, p, info.Src, tt.wantPrio)
			}
		})
	}
}

// TestMachineMasterEqualPriority: RFC 5798 §6.4.3 (735) and (770)-(775),
// RFC 3768 §6.4.3, checklist S11. At equal priority the Master yields only
// to a greater primary address, compared as unsigned bytes in network
// order, never as strings.
func TestMachineMasterEqualPriority(t *testing.T) {
	tests := []struct {
		name       string
		local, src string
		yields     bool
	}{
		// "198.18.0.10" < "198.18.0.9" as strings; 10 > 9 as numbers.
		{"v4 .10 beats .9", "198.18.0.9", "198.18.0.10", true},
		{"v4 .9 loses to .10", "198.18.0.10", "198.18.0.9", false},
		{"v4 .200 beats .3", "192.0.2.3", "192.0.2.200", true},
		// A signed byte compare would take 200 for -56.
		{"v4 200.x beats 10.x", "10.0.0.1", "200.0.0.1", true},
		{"v4 10.x loses to 200.x", "200.0.0.1", "10.0.0.1", false},
		{"v4 last byte 255 beats 128", "192.0.2.128", "192.0.2.255", true},
		// Checklist S11 (v2tie): equal priority, the lower IP never wins.
		{"v4 .1 loses to .2", "192.0.2.2", "192.0.2.1", false},
		{"v6 fe80::10 beats fe80::9", "fe80::9", "fe80::10", true},
		{"v6 fe80::9 loses to fe80::10", "fe80::10", "fe80::9", false},
		// "2001:db8::1:0" < "2001:db8::ff00" as strings; bytes 00 01 00 00
		// > 00 00 ff 00.
		{"v6 ::1:0 beats ::ff00", "2001:db8::ff00", "2001:db8::1:0", true},
		{"v6 ::ff00 loses to ::1:0", "2001:db8::1:0", "2001:db8::ff00", false},
		{"v6 high bit beats low", "fe80::1", "fe80::8000:0:0:1", true},
		{"v6 low loses to high bit", "fe80::8000:0:0:1", "fe80::1", false},
	}
	for _, version := range []uint8{2, 3} {
		for _, tt := range tests {
			local, src := netip.MustParseAddr(tt.local), netip.MustParseAddr(tt.src)
			if version == 2 && local.Is6() {
				continue // VRRPv2 is IPv4 only (RFC 3768)
			}
			t.Run(fmt.Sprintf("v%d %s", version, tt.name), func(t *testing.T) {
				cfg := machCfg(version, 100, time.Second)
				if local.Is6() {
					cfg = machCfg6(100, time.Second)
				}
				cfg.LocalAddr = local
				m, at := machMaster(t, cfg)
				rx := at + 300*time.Millisecond
				info := machFrom(cfg, src)
				step := machStep{rx, machRecvIn(machAdv(cfg, 100), info),
					vrrp.Effects{Unbind: true, From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted}, vrrp.Backup, rx + machMD100}
				if !tt.yields {
					// (770)-(775) discard; RFC 9568 sends an advert (S12).
					step = machStep{rx, machRecvIn(machAdv(cfg, 100), info),
						vrrp.Effects{Send: true, SendPriority: 100, Drop: vrrp.DropLowerPriority, Reassert: true}, vrrp.Master, rx + time.Second}
				}
				machRun(t, m, []machStep{step})
			})
		}
	}
}

// TestMachineMasterLowerPriority: RFC 5798 §6.4.3 (770)-(775) as changed by
// RFC 9568 §6.4.3, checklist S12. A Master discards a lower priority
// advert and sends an advert at once to assert itself (keepalived's
// "forcing new election"), unless NoLowerPrioAdvert (lower_prio_no_advert)
// asks for the RFC 5798 behaviour. The Adver_Timer is not reset.
func TestMachineMasterLowerPriority(t *testing.T) {
	tests := []struct {
		name    string
		cfg     vrrp.MachineConfig
		noAdv   bool
		advPrio uint8
	}{
		// Checklist S12: keepalived's advert 1.5 ms after a prio 50 one.
		{"v3 prio 50 vs 100", machCfg(3, 100, time.Second), false, 50},
		{"v3 prio 99 vs 100", machCfg(3, 100, time.Second), false, 99},
		{"v2 prio 1 vs 254", machCfg(2, 254, time.Second), false, 1},
		{"v3 IPv6 prio 100 vs 200", machCfg6(200, time.Second), false, 100},
		{"v3 lower_prio_no_advert", machCfg(3, 100, time.Second), true, 50},
		{"v2 lower_prio_no_advert", machCfgPass(100), true, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.NoLowerPrioAdvert = tt.noAdv
			m, at := machMaster(t, cfg)
			want := vrrp.Effects{Send: true, SendPriority: cfg.Priority, Drop: vrrp.DropLowerPriority, Reassert: true}
			// The immediate advert restarts the Adver_Timer, as in
			// keepalived (measured: adverts at +0, +1 s, +2 s after a
			// lower priority one at +0).
			next1, next2, tick := at+1100*time.Millisecond, at+1900*time.Millisecond, at+1900*time.Millisecond
			if tt.noAdv {
				want = vrrp.Effects{Drop: vrrp.DropLowerPriority, Reassert: true}
				next1, next2, tick = at+time.Second, at+time.Second, at+time.Second
			}
			// A greater source address does not matter at lower priority.
			a, info := machAdv(cfg, tt.advPrio), machInfo(cfg)
			machRun(t, m, []machStep{
				{at + 100*time.Millisecond, machRecvIn(a, info), want, vrrp.Master, next1},
				{at + 900*time.Millisecond, machRecvIn(a, info), want, vrrp.Master, next2},
				{tick, machTickIn(), machSend(cfg.Priority), vrrp.Master, tick + time.Second},
			})
			if addr, p := m.Master(); addr != cfg.LocalAddr || p != cfg.Priority {
				t.Errorf("Master() = %v, %d, want local", addr, p)
			}
		})
	}
}

// TestMachineMasterTick: RFC 5798 §6.4.3 (680)-(690), checklist S13. The
// Master sends every Advertisement_Interval; the deadlines advance by
// exactly the interval whatever the lateness of Tick, so the adverts do not
// drift. A Tick more than an interval late sends once, not a burst.
func TestMachineMasterTick(t *testing.T) {
	tests := []struct {
		name string
		cfg  vrrp.MachineConfig
		late time.Duration // lateness of every Tick
	}{
		// Checklist S13: keepalived spaces adverts 1.000 s / 0.500 s.
		{"v3 owner 1s, 3ms late", machCfg(3, 255, time.Second), 3 * time.Millisecond},
		{"v3 owner 50cs, 1ms late", machCfg(3, 255, 500*time.Millisecond), time.Millisecond},
		{"v3 owner 10ms, on time", machCfg(3, 255, 10*time.Millisecond), 0},
		{"v2 owner 1s, 40ms late", machCfgPass(255), 40 * time.Millisecond},
		{"v3 IPv6 owner 1s, 999ms late", machCfg6(255, time.Second), 999 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			iv := tt.cfg.AdvertInterval
			steps := []machStep{{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, iv}}
			for k := 1; k <= 20; k++ {
				due := time.Duration(k) * iv
				steps = append(steps,
					machStep{due - time.Nanosecond, machTickIn(), vrrp.Effects{}, vrrp.Master, due},
					machStep{due + tt.late, machTickIn(), machSend(255), vrrp.Master, due + iv},
					machStep{due + tt.late, machTickIn(), vrrp.Effects{}, vrrp.Master, due + iv})
			}
			// Far behind (a suspended process): one advert, then the next
			// a full interval later.
			last := 21*iv + 5*iv/2
			steps = append(steps,
				machStep{last, machTickIn(), machSend(255), vrrp.Master, last + iv},
				machStep{last, machTickIn(), vrrp.Effects{}, vrrp.Master, last + iv})
			machRun(t, m, steps)
		})
	}
}

// TestMachineStop: RFC 5798 §6.4.3 (655)-(670) and §6.4.2 (345)-(355),
// checklist S14. Shutdown in Master sends priority 0 and releases the
// addresses; in Backup it only cancels the Master_Down_Timer. Either way
// the machine goes to Initialize and can start again.
func TestMachineStop(t *testing.T) {
	cfg := machCfg(3, 100, time.Second)
	stopped := func(from vrrp.State) vrrp.Effects {
		return vrrp.Effects{From: from, To: vrrp.Init, Reason: vrrp.ReasonShutdown}
	}
	tests := []struct {
		name  string
		cfg   vrrp.MachineConfig
		steps []machStep
	}{
		{"master", cfg, []machStep{
			{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD100},
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{5 * time.Second, machStopIn(), vrrp.Effects{Send: true, SendPriority: 0, Unbind: true, From: vrrp.Master, To: vrrp.Init, Reason: vrrp.ReasonShutdown}, vrrp.Init, machNone},
			// (660): the Adver_Timer is cancelled.
			{machMD100 + time.Second, machTickIn(), vrrp.Effects{}, vrrp.Init, machNone},
			{6 * time.Second, machStopIn(), vrrp.Effects{}, vrrp.Init, machNone},
			{7 * time.Second, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, 7*time.Second + machMD100},
		}},
		{"owner master", machCfg(3, 255, time.Second), []machStep{
			{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, time.Second},
			{500 * time.Millisecond, machStopIn(), vrrp.Effects{Send: true, SendPriority: 0, Unbind: true, From: vrrp.Master, To: vrrp.Init, Reason: vrrp.ReasonShutdown}, vrrp.Init, machNone},
			{2 * time.Second, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, 3 * time.Second},
		}},
		// Checklist S14: a keepalived Backup that shuts down sends nothing.
		{"backup", cfg, []machStep{
			{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD100},
			{time.Second, machStopIn(), stopped(vrrp.Backup), vrrp.Init, machNone},
			// (350): the Master_Down_Timer is cancelled.
			{machMD100, machTickIn(), vrrp.Effects{}, vrrp.Init, machNone},
		}},
		{"init", cfg, []machStep{
			{0, machStopIn(), vrrp.Effects{}, vrrp.Init, machNone},
		}},
		{"fault", cfg, []machStep{
			{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD100},
			{time.Second, machFaultIn(true), vrrp.Effects{From: vrrp.Backup, To: vrrp.Fault, Reason: vrrp.ReasonFault}, vrrp.Fault, machNone},
			{2 * time.Second, machStopIn(), stopped(vrrp.Fault), vrrp.Init, machNone},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machRun(t, vrrp.NewMachine(tt.cfg), tt.steps)
		})
	}
}

// TestMachineTakeoverUsesOwnInterval: RFC 5798 §6.4.2 (405) and §6.4.3
// (680)-(690), checklist S15. After a takeover the Master advertises at its
// own Advertisement_Interval, not at the Master_Adver_Interval it learned as
// Backup.
func TestMachineTakeoverUsesOwnInterval(t *testing.T) {
	cfg := machCfg(3, 100, time.Second)
	info := machInfo(cfg)
	slow := machAdvInt(cfg, 200, 200)
	learnedMD := 7218750 * time.Microsecond
	learnedSkew := 1218750 * time.Microsecond
	tests := []struct {
		name     string
		steps    []machStep
		takeover time.Duration
	}{
		// Checklist S15: keepalived logs "changing advert interval from
		// 2000ms to locally configured 1000ms".
		{"master down after learning 200cs", []machStep{
			{time.Second, machRecvIn(slow, info), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{time.Second + learnedMD, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 2*time.Second + learnedMD},
		}, time.Second + learnedMD},
		{"priority 0 after learning 200cs", []machStep{
			{time.Second, machRecvIn(slow, info), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{3 * time.Second, machRecvIn(machAdvInt(cfg, 0, 200), info), vrrp.Effects{}, vrrp.Backup, 3*time.Second + learnedSkew},
			{3*time.Second + learnedSkew, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 4*time.Second + learnedSkew},
		}, 3*time.Second + learnedSkew},
		{"preempted Master takes over again", []machStep{
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{5 * time.Second, machRecvIn(slow, info), vrrp.Effects{Unbind: true, From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted}, vrrp.Backup, 5*time.Second + learnedMD},
			{5*time.Second + learnedMD, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 6*time.Second + learnedMD},
		}, 5*time.Second + learnedMD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, cfg)
			machRun(t, m, tt.steps)
			if got := m.MasterAdverInterval(); got != time.Second {
				t.Errorf("MasterAdverInterval after takeover = %v, want the local 1s", got)
			}
			machRun(t, m, []machStep{
				{tt.takeover + time.Second, machTickIn(), machSend(100), vrrp.Master, tt.takeover + 2*time.Second},
				{tt.takeover + 2*time.Second, machTickIn(), machSend(100), vrrp.Master, tt.takeover + 3*time.Second},
			})
		})
	}
}

// machReceiveCase is one receive check: an advert as a correct peer of cfg
// sends it with the priority of cfg (so accepted and harmless in Backup),
// then changed by mod.
type machReceiveCase struct {
	name   string
	cfg    vrrp.MachineConfig
	master bool // run the check in Master rather than Backup
	mod    func(a *vrrp.Advertisement, info *vrrp.PacketInfo)
	want   vrrp.DropReason
}

// TestMachineReceiveChecks: RFC 5798 §7.1 and RFC 3768 §7.1, checklist
// R1-R19 (those that need the configuration; R3-R5, R8 and R11 are the
// decoder's and the Router's). A failed check drops the advert and leaves
// the state, the timer and the recorded Master alone; in Master it sends
// nothing (no RFC 9568 reply to an invalid advert).
func TestMachineReceiveChecks(t *testing.T) {
	v3 := machCfg(3, 100, time.Second)
	v6 := machCfg6(100, time.Second)
	v2 := machCfg(2, 100, time.Second)
	pass := machCfgPass(100)
	minTTL := func(c vrrp.MachineConfig, ttl uint8) vrrp.MachineConfig { c.MinTTL = ttl; return c }
	skip := func(c vrrp.MachineConfig) vrrp.MachineConfig { c.SkipAddressCheck = true; return c }
	two := func(c vrrp.MachineConfig) vrrp.MachineConfig {
		c.Addresses = machAddrs("192.0.2.100", "192.0.2.101", "192.0.2.102")
		return c
	}
	ttl := func(n uint8) func(*vrrp.Advertisement, *vrrp.PacketInfo) {
		return func(_ *vrrp.Advertisement, info *vrrp.PacketInfo) { info.TTL = n }
	}
	addrs := func(ss ...string) func(*vrrp.Advertisement, *vrrp.PacketInfo) {
		return func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Addresses = machAddrs(ss...) }
	}
	none := func(*vrrp.Advertisement, *vrrp.PacketInfo) {}
	// peerTTL bounds the TTL accepted from machPeer4 (or machPeer6) to
	// [lo, hi], as keepalived's unicast_peer { ADDR min_ttl lo max_ttl hi }.
	peerTTL := func(c vrrp.MachineConfig, lo, hi uint8) vrrp.MachineConfig {
		c.PeerTTLs = []vrrp.PeerTTL{{Addr: machInfo(c).Src, Min: lo, Max: hi}}
		return c
	}
	other4 := netip.MustParseAddr("192.0.2.3")
	ttlFrom := func(src netip.Addr, n uint8) func(*vrrp.Advertisement, *vrrp.PacketInfo) {
		return func(_ *vrrp.Advertisement, info *vrrp.PacketInfo) { info.Src, info.TTL = src, n }
	}
	tests := []machReceiveCase{
		{"baseline v3", v3, false, none, vrrp.DropNone},
		{"baseline v2", v2, false, none, vrrp.DropNone},
		{"baseline v2 password", pass, false, none, vrrp.DropNone},
		{"baseline v3 IPv6", v6, false, none, vrrp.DropNone},

		// RFC 5798 §7.1, RFC 3768 §7.1; R1: keepalived "invalid TTL/HL.
		// Received 64 and expect 255".
		{"R1 v3 IPv4 TTL 64", v3, false, ttl(64), vrrp.DropTTL},
		{"R1 v3 IPv4 TTL 254", v3, false, ttl(254), vrrp.DropTTL},
		{"R1 v3 IPv4 TTL 0", v3, false, ttl(0), vrrp.DropTTL},
		{"R1 v2 TTL 64", v2, false, ttl(64), vrrp.DropTTL},
		{"R1 v3 TTL 64 in Master", v3, true, ttl(64), vrrp.DropTTL},
		// R2: IPv6 hop limit.
		{"R2 IPv6 hop limit 64", v6, false, ttl(64), vrrp.DropTTL},
		{"R2 IPv6 hop limit 1", v6, false, ttl(1), vrrp.DropTTL},
		// MinTTL opens a window below 255 for routed unicast peers.
		{"R1 MinTTL 60 accepts TTL 64", minTTL(v3, 60), false, ttl(64), vrrp.DropNone},
		{"R1 MinTTL 60 accepts TTL 60", minTTL(v3, 60), false, ttl(60), vrrp.DropNone},
		{"R1 MinTTL 60 accepts TTL 255", minTTL(v3, 60), false, ttl(255), vrrp.DropNone},
		{"R1 MinTTL 60 drops TTL 59", minTTL(v3, 60), false, ttl(59), vrrp.DropTTL},
		{"R1 v2 MinTTL 1 accepts TTL 1", minTTL(v2, 1), false, ttl(1), vrrp.DropNone},
		{"R2 IPv6 MinTTL 64 accepts hop limit 64", minTTL(v6, 64), false, ttl(64), vrrp.DropNone},
		{"R2 IPv6 MinTTL 64 drops hop limit 63", minTTL(v6, 64), false, ttl(63), vrrp.DropTTL},
		// keepalived unicast_peer min_ttl/max_ttl: a peer's bounds replace
		// the TTL 255 rule (and MinTTL) for that peer alone; "(VI_1) unicast
		// peer TTL out of range" drops the rest.
		{"R1 peer TTL 60-64 accepts 60", peerTTL(v3, 60, 64), false, ttl(60), vrrp.DropNone},
		{"R1 peer TTL 60-64 accepts 64", peerTTL(v3, 60, 64), false, ttl(64), vrrp.DropNone},
		{"R1 peer TTL 60-64 drops 59", peerTTL(v3, 60, 64), false, ttl(59), vrrp.DropTTL},
		{"R1 peer TTL 60-64 drops 65", peerTTL(v3, 60, 64), false, ttl(65), vrrp.DropTTL},
		{"R1 peer TTL 60-64 drops 255", peerTTL(v3, 60, 64), false, ttl(255), vrrp.DropTTL},
		{"R1 peer TTL 60-64 drops 59 in Master", peerTTL(v3, 60, 64), true, ttl(59), vrrp.DropTTL},
		{"R1 peer TTL max 0 means 255", peerTTL(v3, 200, 0), false, ttl(255), vrrp.DropNone},
		{"R1 peer TTL max 0, min 200 drops 199", peerTTL(v3, 200, 0), false, ttl(199), vrrp.DropTTL},
		{"R1 peer TTL zero range accepts 1", peerTTL(v3, 0, 0), false, ttl(1), vrrp.DropNone},
		{"R1 peer TTL replaces MinTTL", peerTTL(minTTL(v3, 100), 10, 20), false, ttl(15), vrrp.DropNone},
		{"R1 v2 peer TTL 1-1 accepts 1", peerTTL(v2, 1, 1), false, ttl(1), vrrp.DropNone},
		{"R2 IPv6 peer hop limit 64-64 accepts 64", peerTTL(v6, 64, 64), false, ttl(64), vrrp.DropNone},
		{"R2 IPv6 peer hop limit 64-64 drops 255", peerTTL(v6, 64, 64), false, ttl(255), vrrp.DropTTL},
		// Another source keeps the RFC 5798 §7.1 rule, or MinTTL.
		{"R1 unlisted source needs 255", peerTTL(v3, 0, 0), false, ttlFrom(other4, 254), vrrp.DropTTL},
		{"R1 unlisted source at 255", peerTTL(v3, 0, 0), false, ttlFrom(other4, 255), vrrp.DropNone},
		{"R1 unlisted source keeps MinTTL", peerTTL(minTTL(v3, 100), 10, 20), false, ttlFrom(other4, 15), vrrp.DropTTL},
		{"R1 unlisted source at MinTTL", peerTTL(minTTL(v3, 100), 10, 20), false, ttlFrom(other4, 100), vrrp.DropNone},

		// RFC 5798 §7.1 version 3; R6: keepalived "wrong version.
		// Received 2 and expect 3".
		{"R6 v2 advert to v3 instance", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Version, a.Interval = 2, 1
		}, vrrp.DropVersion},
		{"R6 v3 advert to v2 instance", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Version, a.Interval = 3, 100
		}, vrrp.DropVersion},
		{"R6 v2 advert to v3 Master", v3, true, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Version, a.Interval, a.Priority = 2, 1, 200
		}, vrrp.DropVersion},
		// RFC 5798 §5.2.2; R7.
		{"R7 type 2", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Type = 2 }, vrrp.DropType},

		// RFC 5798 §7.1 (MAY check, MUST drop unless from the owner);
		// R9: "received an unexpected ip number count 2, expected 1!".
		{"R9 count 2, expected 1", v3, false, addrs("192.0.2.100", "192.0.2.101"), vrrp.DropAddressList},
		{"R9 count 2, expected 3", two(v3), false, addrs("192.0.2.100", "192.0.2.101"), vrrp.DropAddressList},
		{"R9 v2 count 2, expected 1", pass, false, addrs("192.0.2.100", "192.0.2.101"), vrrp.DropAddressList},
		// R10: "ip address associated with VRID 50 not present in MASTER
		// advert".
		{"R10 other address", v3, false, addrs("192.0.2.150"), vrrp.DropAddressList},
		{"R10 same count, one duplicated", two(v3), false, addrs("192.0.2.100", "192.0.2.100", "192.0.2.101"), vrrp.DropAddressList},
		{"R10 IPv6 list differs", v6, false, addrs("fe80::100", "2001:db8::101"), vrrp.DropAddressList},
		{"R10 in Master, higher prio", v3, true, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Priority, a.Addresses = 200, machAddrs("192.0.2.150")
		}, vrrp.DropAddressList},
		// R10: order does not matter (keepalived accepts a reordered list).
		{"R10 IPv4 reordered", two(v3), false, addrs("192.0.2.102", "192.0.2.100", "192.0.2.101"), vrrp.DropNone},
		{"R10 IPv6 reordered", v6, false, addrs("2001:db8::100", "fe80::100"), vrrp.DropNone},
		// From the owner (priority 255) a different list is accepted.
		{"R10 owner sender, other list", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Priority, a.Addresses = 255, machAddrs("192.0.2.150", "192.0.2.151")
		}, vrrp.DropNone},
		{"R9 owner sender, other count", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Priority, a.Addresses = 255, machAddrs("192.0.2.100", "192.0.2.101")
		}, vrrp.DropNone},
		// The check is optional (MAY): SkipAddressCheck turns it off.
		{"R10 SkipAddressCheck", skip(v3), false, addrs("192.0.2.150"), vrrp.DropNone},
		{"R9 SkipAddressCheck", skip(v6), false, addrs("fe80::100"), vrrp.DropNone},

		// RFC 3768 §7.1; R12: "advertisement interval mismatch mine=1 sec
		// rcv'd=2 sec".
		{"R12 v2 interval 2, local 1", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Interval = 2 }, vrrp.DropInterval},
		{"R12 v2 interval 1, local 3", machCfg(2, 100, 3*time.Second), false,
			func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Interval = 1 }, vrrp.DropInterval},
		{"R12 v2 interval mismatch in Master", pass, true, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Interval, a.Priority = 2, 200
		}, vrrp.DropInterval},
		// RFC 5798 §6.4.2 (450): v3 learns instead (S6).
		{"R12 v3 interval differs, accepted", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Interval = 300 }, vrrp.DropNone},
		// A zero interval cannot be valid (RFC 5798 §5.2.7, RFC 3768
		// §5.3.7); the decoder rejects it too.
		{"v3 interval 0", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) { a.Interval = 0 }, vrrp.DropInterval},

		// RFC 2338 §5.3.6.1 simple password; R13: "received an invalid
		// passwd!".
		{"R13 wrong password", pass, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthData = vrrp.PasswordData("vrrpPX")
		}, vrrp.DropAuth},
		{"R13 password prefix", pass, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthData = vrrp.PasswordData("vrrp")
		}, vrrp.DropAuth},
		{"R13 wrong password in Master", pass, true, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthData, a.Priority = vrrp.PasswordData("x"), 200
		}, vrrp.DropAuth},
		// RFC 3768 §5.3.6 and §7.1; R14: "received a 0 auth, expecting 1!".
		{"R14 auth type 0 to PASS instance", pass, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType, a.AuthData = vrrp.AuthNone, [vrrp.AuthDataLen]byte{}
		}, vrrp.DropAuthType},
		// R15: "received a 2 auth, expecting 1!".
		{"R15 auth type 2 (AH) to PASS instance", pass, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType = vrrp.AuthAH
		}, vrrp.DropAuthType},
		// R16: "Invalid auth type: 3".
		{"R16 auth type 3 to PASS instance", pass, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType = 3
		}, vrrp.DropAuthType},
		{"R16 auth type 3 to no-auth instance", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType = 3
		}, vrrp.DropAuthType},
		{"R14 auth type 1 to no-auth instance", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType, a.AuthData = vrrp.AuthPass, vrrp.PasswordData("vrrpPW")
		}, vrrp.DropAuthType},
		// RFC 3768 §5.3.6: without authentication the data is ignored on
		// reception.
		{"v2 no-auth ignores auth data", v2, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthData = [vrrp.AuthDataLen]byte{1, 2, 3, 4, 5, 6, 7, 8}
		}, vrrp.DropNone},
		// RFC 5798 §5.2: VRRPv3 has no authentication fields.
		{"v3 ignores auth fields", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.AuthType, a.AuthData = 3, vrrp.PasswordData("junk")
		}, vrrp.DropNone},

		// RFC 5798 §5.1.2.2 is a rule for senders; R17: keepalived accepts
		// a global IPv6 source.
		{"R17 IPv6 global source", v6, false, func(_ *vrrp.Advertisement, info *vrrp.PacketInfo) {
			info.Src = netip.MustParseAddr("2001:db8:1::2")
		}, vrrp.DropNone},

		// RFC 9568 erratum 8299; R18: a count of 0 is ignored, even when
		// the address check is off or the sender is the owner.
		{"R18 count 0", v3, false, addrs(), vrrp.DropNoAddresses},
		{"R18 count 0 v2", v2, false, addrs(), vrrp.DropNoAddresses},
		{"R18 count 0 SkipAddressCheck", skip(v3), false, addrs(), vrrp.DropNoAddresses},
		{"R18 count 0 from owner", v3, false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Priority, a.Addresses = 255, nil
		}, vrrp.DropNoAddresses},
		{"R18 count 0 in Master", v6, true, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Priority, a.Addresses = 0, nil
		}, vrrp.DropNoAddresses},
		// RFC 3768 sets no minimum count: a VRRPv2 instance without
		// addresses (keepalived: "at least one is sensible") takes adverts
		// without, and checks a list against its empty one.
		{"v2 without addresses takes count 0", noAddrs(v2), false, addrs(), vrrp.DropNone},
		{"v2 without addresses, advert with one", noAddrs(v2), false, func(a *vrrp.Advertisement, _ *vrrp.PacketInfo) {
			a.Addresses = []netip.Addr{machVIP4}
		}, vrrp.DropAddressList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m *vrrp.Machine
			if tt.master {
				m, _ = machMaster(t, tt.cfg)
			} else {
				m = machBackup(t, tt.cfg)
				// A first Master, from a third address, to see that a
				// dropped advert leaves it recorded.
				third := tt.cfg.LocalAddr.Next().Next().Next()
				if e := m.Receive(machT0.Add(500*time.Millisecond), machAdv(tt.cfg, 254), machFrom(tt.cfg, third)); e != (vrrp.Effects{}) {
					t.Fatalf("first advert: %+v", e)
				}
			}
			state, dl := m.State(), m.Deadline()
			mAddr, mPrio := m.Master()
			a := machAdv(tt.cfg, tt.cfg.Priority)
			info := machInfo(tt.cfg)
			tt.mod(a, &info)
			now := machT0.Add(time.Second)
			if tt.master {
				now = dl.Add(-100 * time.Millisecond)
			}
			e := m.Receive(now, a, info)
			if e.Drop != tt.want {
				t.Fatalf("Receive = %+v, want drop %v", e, tt.want)
			}
			if tt.want == vrrp.DropNone {
				// Accepted at equal or higher priority: timer reset, the
				// sender recorded (RFC 5798 §6.4.2 (445)-(460)).
				if e != (vrrp.Effects{}) || m.State() != vrrp.Backup {
					t.Errorf("accepted advert: %+v, state %v, want nothing, BACKUP", e, m.State())
				}
				if want := now.Add(m.MasterDownInterval()); !m.Deadline().Equal(want) {
					t.Errorf("deadline +%v, want +%v", m.Deadline().Sub(machT0), want.Sub(machT0))
				}
				if addr, p := m.Master(); addr != info.Src || p != a.Priority {
					t.Errorf("Master() = %v, %d, want %v, %d", addr, p, info.Src, a.Priority)
				}
				return
			}
			if e != machDrop(tt.want) {
				t.Errorf("Receive = %+v, want only the drop %v", e, tt.want)
			}
			if m.State() != state || !m.Deadline().Equal(dl) {
				t.Errorf("after drop: state %v deadline +%v, want %v +%v", m.State(), m.Deadline().Sub(machT0), state, dl.Sub(machT0))
			}
			if addr, p := m.Master(); addr != mAddr || p != mPrio {
				t.Errorf("after drop: Master() = %v, %d, want %v, %d", addr, p, mAddr, mPrio)
			}
		})
	}
}

// TestMachineReceiveOwnerAndNotRunning: RFC 5798 §7.1 (the local router
// must not be the owner), checklist R19; and adverts to a machine in Init or
// Fault, which runs no state machine (DropNotRunning).
func TestMachineReceiveOwnerAndNotRunning(t *testing.T) {
	owner := machCfg(3, 255, time.Second)
	v3 := machCfg(3, 100, time.Second)
	started := func(cfg vrrp.MachineConfig) *vrrp.Machine {
		m := vrrp.NewMachine(cfg)
		m.Start(machT0)
		return m
	}
	tests := []struct {
		name string
		m    func() *vrrp.Machine
		cfg  vrrp.MachineConfig
		prio uint8
		ttl  uint8 // 0 means 255
		want vrrp.DropReason
	}{
		// R19: keepalived lowers one of two owners to 254 with
		// "CONFIGURATION ERROR"; here the owner drops and stays Master.
		{"R19 owner hears prio 100", func() *vrrp.Machine { return started(owner) }, owner, 100, 0, vrrp.DropOwner},
		{"R19 owner hears another owner", func() *vrrp.Machine { return started(owner) }, owner, 255, 0, vrrp.DropOwner},
		{"R19 owner hears prio 0", func() *vrrp.Machine { return started(owner) }, owner, 0, 0, vrrp.DropOwner},
		{"R19 v2 owner", func() *vrrp.Machine { return started(machCfgPass(255)) }, machCfgPass(255), 200, 0, vrrp.DropOwner},
		{"R19 IPv6 owner", func() *vrrp.Machine { return started(machCfg6(255, time.Second)) }, machCfg6(255, time.Second), 254, 0, vrrp.DropOwner},
		{"Init, never started", func() *vrrp.Machine { return vrrp.NewMachine(v3) }, v3, 200, 0, vrrp.DropNotRunning},
		{"Init, stopped", func() *vrrp.Machine {
			m := started(v3)
			m.Stop(machT0)
			return m
		}, v3, 200, 0, vrrp.DropNotRunning},
		{"Fault from Backup", func() *vrrp.Machine {
			m := started(v3)
			m.SetFault(machT0, true)
			return m
		}, v3, 200, 0, vrrp.DropNotRunning},
		{"Fault at Start", func() *vrrp.Machine {
			m := vrrp.NewMachine(v3)
			m.SetFault(machT0, true)
			m.Start(machT0)
			return m
		}, v3, 0, 0, vrrp.DropNotRunning},
		// Not running comes first: even an invalid advert counts so.
		{"Init, TTL 64", func() *vrrp.Machine { return vrrp.NewMachine(v3) }, v3, 255, 64, vrrp.DropNotRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m()
			state, dl := m.State(), m.Deadline()
			info := machInfo(tt.cfg)
			if tt.ttl != 0 {
				info.TTL = tt.ttl
			}
			e := m.Receive(machT0.Add(100*time.Millisecond), machAdv(tt.cfg, tt.prio), info)
			if e != machDrop(tt.want) {
				t.Errorf("Receive = %+v, want only the drop %v", e, tt.want)
			}
			if m.State() != state || !m.Deadline().Equal(dl) {
				t.Errorf("after drop: state %v deadline %v, want %v %v", m.State(), m.Deadline(), state, dl)
			}
		})
	}
}

// TestMachineFault covers keepalived's FAULT state (an extension; RFC 5798
// has none, checklist S19 with weight 0). Raising a fault makes a Master
// leave as at Shutdown (RFC 5798 §6.4.3 (655)-(670): priority 0, release)
// and stops every timer; clearing it restarts the machine as at Startup
// (RFC 5798 §6.4.1), to Backup or, for the owner, Master.
func TestMachineFault(t *testing.T) {
	v3 := machCfg(3, 100, time.Second)
	toFault := func(from vrrp.State) vrrp.Effects {
		return vrrp.Effects{From: from, To: vrrp.Fault, Reason: vrrp.ReasonFault}
	}
	masterFault := vrrp.Effects{Send: true, SendPriority: 0, Unbind: true, From: vrrp.Master, To: vrrp.Fault, Reason: vrrp.ReasonFault}
	cleared := vrrp.Effects{From: vrrp.Fault, To: vrrp.Backup, Reason: vrrp.ReasonFaultCleared}
	start := machStep{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD100}
	tests := []struct {
		name  string
		cfg   vrrp.MachineConfig
		steps []machStep
	}{
		{"from Master", v3, []machStep{start,
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{5 * time.Second, machFaultIn(true), masterFault, vrrp.Fault, machNone},
			// No adverts in Fault, however late.
			{machMD100 + time.Second, machTickIn(), vrrp.Effects{}, vrrp.Fault, machNone},
			{100 * time.Second, machTickIn(), vrrp.Effects{}, vrrp.Fault, machNone},
			{101 * time.Second, machRecvIn(machAdv(v3, 50), machInfo(v3)), machDrop(vrrp.DropNotRunning), vrrp.Fault, machNone},
			{102 * time.Second, machFaultIn(true), vrrp.Effects{}, vrrp.Fault, machNone},
			{103 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 103*time.Second + machMD100},
			{103*time.Second + machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 104*time.Second + machMD100},
		}},
		{"from Backup", v3, []machStep{start,
			{time.Second, machFaultIn(true), toFault(vrrp.Backup), vrrp.Fault, machNone},
			// The Master_Down_Timer was cancelled.
			{machMD100, machTickIn(), vrrp.Effects{}, vrrp.Fault, machNone},
			{5 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 5*time.Second + machMD100},
			{6 * time.Second, machFaultIn(false), vrrp.Effects{}, vrrp.Backup, 5*time.Second + machMD100},
		}},
		{"raised before Start", v3, []machStep{
			{0, machFaultIn(true), vrrp.Effects{}, vrrp.Init, machNone},
			{time.Second, machStartIn(), toFault(vrrp.Init), vrrp.Fault, machNone},
			{2 * time.Second, machTickIn(), vrrp.Effects{}, vrrp.Fault, machNone},
			{3 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 3*time.Second + machMD100},
		}},
		{"raised and cleared before Start", v3, []machStep{
			{0, machFaultIn(true), vrrp.Effects{}, vrrp.Init, machNone},
			{0, machFaultIn(false), vrrp.Effects{}, vrrp.Init, machNone},
			{time.Second, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, time.Second + machMD100},
		}},
		{"owner returns to Master", machCfg(3, 255, time.Second), []machStep{
			{0, machStartIn(), machToMaster(255, vrrp.Init, vrrp.ReasonOwner), vrrp.Master, time.Second},
			{500 * time.Millisecond, machFaultIn(true), masterFault, vrrp.Fault, machNone},
			{2 * time.Second, machFaultIn(false), machToMaster(255, vrrp.Fault, vrrp.ReasonFaultCleared), vrrp.Master, 3 * time.Second},
			{3 * time.Second, machTickIn(), machSend(255), vrrp.Master, 4 * time.Second},
		}},
		{"v2 from Master", machCfgPass(150), []machStep{
			{0, machStartIn(), vrrp.Effects{From: vrrp.Init, To: vrrp.Backup, Reason: vrrp.ReasonStartup}, vrrp.Backup, machMD150},
			{machMD150, machTickIn(), machToMaster(150, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD150 + time.Second},
			{4 * time.Second, machFaultIn(true), masterFault, vrrp.Fault, machNone},
			{5 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 5*time.Second + machMD150},
		}},
		// Restarting as at Startup sets Master_Adver_Interval back to
		// Advertisement_Interval (RFC 5798 §6.4.1 (155)).
		{"v3 forgets the learned interval", v3, []machStep{start,
			{time.Second, machRecvIn(machAdvInt(v3, 200, 200), machInfo(v3)), vrrp.Effects{}, vrrp.Backup, time.Second + 7218750*time.Microsecond},
			{2 * time.Second, machFaultIn(true), toFault(vrrp.Backup), vrrp.Fault, machNone},
			{3 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 3*time.Second + machMD100},
		}},
		{"stopped in Fault, still faulted at Start", v3, []machStep{start,
			{time.Second, machFaultIn(true), toFault(vrrp.Backup), vrrp.Fault, machNone},
			{2 * time.Second, machStopIn(), vrrp.Effects{From: vrrp.Fault, To: vrrp.Init, Reason: vrrp.ReasonShutdown}, vrrp.Init, machNone},
			{3 * time.Second, machStartIn(), toFault(vrrp.Init), vrrp.Fault, machNone},
			{4 * time.Second, machFaultIn(false), cleared, vrrp.Backup, 4*time.Second + machMD100},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			machRun(t, m, tt.steps)
			// Every scenario ends restarted or never taught an interval.
			if got := m.MasterAdverInterval(); got != tt.cfg.AdvertInterval {
				t.Errorf("MasterAdverInterval = %v, want the local %v", got, tt.cfg.AdvertInterval)
			}
		})
	}
}

// TestMachineFaultedFlag checks Faulted along SetFault.
func TestMachineFaultedFlag(t *testing.T) {
	m := machBackup(t, machCfg(3, 100, time.Second))
	if m.Faulted() {
		t.Fatal("Faulted before SetFault")
	}
	m.SetFault(machT0, true)
	if !m.Faulted() {
		t.Error("not Faulted after SetFault(true)")
	}
	m.SetFault(machT0, false)
	if m.Faulted() {
		t.Error("Faulted after SetFault(false)")
	}
}

// TestMachineSetPriority: a priority change (keepalived's track weights,
// checklist S19) takes effect in the next comparison and, in Master, is
// advertised at once; RFC 5798 §6.1 Skew_Time follows it.
func TestMachineSetPriority(t *testing.T) {
	v3 := machCfg(3, 100, time.Second)
	info := machInfo(v3)
	tests := []struct {
		name  string
		steps []machStep
	}{
		{"Master advertises the new priority", []machStep{
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{4 * time.Second, machPrioIn(50), machSend(50), vrrp.Master, machMD100 + time.Second},
			{4 * time.Second, machPrioIn(50), vrrp.Effects{}, vrrp.Master, machMD100 + time.Second},
			{machMD100 + time.Second, machTickIn(), machSend(50), vrrp.Master, machMD100 + 2*time.Second},
			// 80 was lower than 100 but beats 50 (§6.4.3 (725)).
			{5 * time.Second, machRecvIn(machAdv(v3, 80), info),
				vrrp.Effects{Unbind: true, From: vrrp.Master, To: vrrp.Backup, Reason: vrrp.ReasonPreempted}, vrrp.Backup, 5*time.Second + 3*time.Second + 206*time.Second/256},
		}},
		{"Master raised above a Backup", []machStep{
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{4 * time.Second, machPrioIn(200), machSend(200), vrrp.Master, machMD100 + time.Second},
			{5 * time.Second, machRecvIn(machAdv(v3, 150), info),
				vrrp.Effects{Send: true, SendPriority: 200, Drop: vrrp.DropLowerPriority, Reassert: true}, vrrp.Master, 6 * time.Second},
		}},
		{"Backup raised above the Master preempts at Master_Down", []machStep{
			{time.Second, machRecvIn(machAdv(v3, 150), info), vrrp.Effects{}, vrrp.Backup, time.Second + machMD100},
			{2 * time.Second, machPrioIn(200), vrrp.Effects{}, vrrp.Backup, time.Second + machMD100},
			{3 * time.Second, machRecvIn(machAdv(v3, 150), info), machDrop(vrrp.DropLowerPriority), vrrp.Backup, time.Second + machMD100},
			{time.Second + machMD100, machTickIn(), machToMaster(200, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 2*time.Second + machMD100},
		}},
		{"Backup lowered below the Master", []machStep{
			{time.Second, machPrioIn(10), vrrp.Effects{}, vrrp.Backup, machMD100},
			{2 * time.Second, machRecvIn(machAdv(v3, 50), info), vrrp.Effects{}, vrrp.Backup, 2*time.Second + 3*time.Second + 246*time.Second/256},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, v3)
			machRun(t, m, tt.steps)
		})
	}
	t.Run("Init keeps it for Start", func(t *testing.T) {
		m := vrrp.NewMachine(v3)
		if e := m.SetPriority(machT0, 200); e != (vrrp.Effects{}) {
			t.Errorf("SetPriority in Init = %+v, want nothing", e)
		}
		if m.Priority() != 200 || m.Config().Priority != 100 {
			t.Errorf("Priority %d, Config().Priority %d, want 200, 100", m.Priority(), m.Config().Priority)
		}
		if got := m.SkewTime(); got != machSkew200 {
			t.Errorf("SkewTime = %v, want %v", got, machSkew200)
		}
		m.Start(machT0)
		machCheckDeadline(t, "after Start", m, machMD200)
	})
}

// TestMachineReconfigure: a reload keeps a VRRPv3 Backup's
// Master_Adver_Interval learned per RFC 5798 §6.4.2 (450) (checklist S6)
// and applies a new priority as SetPriority.
func TestMachineReconfigure(t *testing.T) {
	v3 := machCfg(3, 100, time.Second)
	info := machInfo(v3)
	learnedMD := 7218750 * time.Microsecond
	with := func(c vrrp.MachineConfig, f func(*vrrp.MachineConfig)) vrrp.MachineConfig { f(&c); return c }
	v3fast := with(v3, func(c *vrrp.MachineConfig) { c.AdvertInterval = 500 * time.Millisecond })
	tests := []struct {
		name    string
		cfg     vrrp.MachineConfig
		steps   []machStep
		wantMAI time.Duration
	}{
		{"v3 Backup keeps the learned interval", v3, []machStep{
			{time.Second, machRecvIn(machAdvInt(v3, 200, 200), info), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{2 * time.Second, machReconfigureIn(with(v3, func(c *vrrp.MachineConfig) { c.NoPreempt = true })),
				vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{3 * time.Second, machReconfigureIn(v3fast), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
		}, 2 * time.Second},
		{"v3 Backup new interval used after takeover", v3, []machStep{
			{time.Second, machRecvIn(machAdvInt(v3, 200, 200), info), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{3 * time.Second, machReconfigureIn(v3fast), vrrp.Effects{}, vrrp.Backup, time.Second + learnedMD},
			{time.Second + learnedMD, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, 1500*time.Millisecond + learnedMD},
			{1500*time.Millisecond + learnedMD, machTickIn(), machSend(100), vrrp.Master, 2*time.Second + learnedMD},
		}, 500 * time.Millisecond},
		{"v3 Backup new priority", v3, []machStep{
			{time.Second, machReconfigureIn(with(v3, func(c *vrrp.MachineConfig) { c.Priority = 200 })), vrrp.Effects{}, vrrp.Backup, machMD100},
			{2 * time.Second, machRecvIn(machAdv(v3, 150), info), machDrop(vrrp.DropLowerPriority), vrrp.Backup, machMD100},
		}, time.Second},
		// RFC 3768: the local interval is the only one; adverts must match
		// the new one (R12).
		{"v2 Backup takes the new interval", machCfg(2, 100, time.Second), []machStep{
			{time.Second, machReconfigureIn(machCfg(2, 100, 2*time.Second)), vrrp.Effects{}, vrrp.Backup, machMD100},
			{2 * time.Second, machRecvIn(machAdv(machCfg(2, 100, time.Second), 150), info), machDrop(vrrp.DropInterval), vrrp.Backup, machMD100},
			{3 * time.Second, machRecvIn(machAdv(machCfg(2, 100, 2*time.Second), 150), info), vrrp.Effects{}, vrrp.Backup, 3*time.Second + 6*time.Second + machSkew100},
		}, 2 * time.Second},
		{"Master new priority advertised", v3, []machStep{
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{4 * time.Second, machReconfigureIn(with(v3, func(c *vrrp.MachineConfig) { c.Priority = 120 })), machSend(120), vrrp.Master, machMD100 + time.Second},
		}, time.Second},
		{"Master new interval at the next advert", v3, []machStep{
			{machMD100, machTickIn(), machToMaster(100, vrrp.Backup, vrrp.ReasonMasterDown), vrrp.Master, machMD100 + time.Second},
			{4 * time.Second, machReconfigureIn(v3fast), vrrp.Effects{}, vrrp.Master, machMD100 + time.Second},
			{machMD100 + time.Second, machTickIn(), machSend(100), vrrp.Master, machMD100 + 1500*time.Millisecond},
			{machMD100 + 1500*time.Millisecond, machTickIn(), machSend(100), vrrp.Master, machMD100 + 2*time.Second},
		}, 500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := machBackup(t, tt.cfg)
			machRun(t, m, tt.steps)
			if got := m.MasterAdverInterval(); got != tt.wantMAI {
				t.Errorf("MasterAdverInterval = %v, want %v", got, tt.wantMAI)
			}
		})
	}
}

// TestMachineFillAdvert: the advert a machine sends has its version's
// interval unit (RFC 3768 §5.3.7 seconds, RFC 5798 §5.2.7 centiseconds,
// checklist T8), VRRPv2 authentication data (RFC 3768 §5.3.6, T1/T2) and
// none in VRRPv3; it encodes with Append, decodes back the same, and passes
// the receive checks of a peer with the same configuration.
func TestMachineFillAdvert(t *testing.T) {
	pw := vrrp.PasswordData("vrrpPW")
	stray := machCfg(3, 100, time.Second)
	stray.AuthType, stray.AuthData = vrrp.AuthPass, pw
	v2none3s := machCfg(2, 100, 3*time.Second)
	tests := []struct {
		name     string
		cfg      vrrp.MachineConfig
		prio     uint8
		src, dst netip.Addr
		want     vrrp.Advertisement
		wireLen  int
		tail     []byte // the last bytes on the wire, when checked
	}{
		// Checklist T2: "vrrpPW" -> 7672727050570000.
		{"v2 password 1s", machCfgPass(150), 150, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 2, Type: 1, VRID: 51, Priority: 150, Interval: 1, AuthType: vrrp.AuthPass, AuthData: pw, Addresses: []netip.Addr{machVIP4}},
			8 + 4 + 8, []byte{0x76, 0x72, 0x72, 0x70, 0x50, 0x57, 0, 0}},
		// Checklist T1: auth type 0 puts 8 zero bytes on the wire.
		{"v2 no auth 3s", v2none3s, 100, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 2, Type: 1, VRID: 51, Priority: 100, Interval: 3, Addresses: []netip.Addr{machVIP4}},
			8 + 4 + 8, make([]byte, 8)},
		{"v2 shutdown prio 0", machCfgPass(100), 0, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 2, Type: 1, VRID: 51, Priority: 0, Interval: 1, AuthType: vrrp.AuthPass, AuthData: pw, Addresses: []netip.Addr{machVIP4}},
			20, nil},
		// Checklist T8: advert_int 1 -> 100, 0.5 -> 50.
		{"v3 IPv4 1s", machCfg(3, 200, time.Second), 200, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 200, Interval: 100, Addresses: []netip.Addr{machVIP4}},
			12, nil},
		{"v3 IPv4 50cs", machCfg(3, 100, 500*time.Millisecond), 100, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: 50, Addresses: []netip.Addr{machVIP4}},
			12, nil},
		{"v3 IPv4 10ms", machCfg(3, 254, 10*time.Millisecond), 254, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 254, Interval: 1, Addresses: []netip.Addr{machVIP4}},
			12, nil},
		{"v3 IPv4 40.95s", machCfg(3, 100, 40950*time.Millisecond), 100, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: 4095, Addresses: []netip.Addr{machVIP4}},
			12, nil},
		{"v3 IPv6 owner", machCfg6(255, time.Second), 255, machLocal6, vrrp.Group6,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 52, Priority: 255, Interval: 100, Addresses: []netip.Addr{machVIP6, machVIP6g}},
			8 + 32, nil},
		// VRRPv3 has no authentication: a stray v2 setting is not sent.
		{"v3 ignores auth config", stray, 100, machLocal4, vrrp.Group4,
			vrrp.Advertisement{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: 100, Addresses: []netip.Addr{machVIP4}},
			12, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vrrp.NewMachine(tt.cfg)
			// Start from a dirty value: every field must be set.
			a := vrrp.Advertisement{Version: 9, Type: 7, VRID: 9, Priority: 9, Interval: 9, AuthType: 9,
				AuthData: vrrp.PasswordData("dirtydat"), Checksum: 0, Addresses: machAddrs("10.9.9.9")}
			m.FillAdvert(&a, tt.prio)
			machCheckAdvert(t, "FillAdvert", &a, &tt.want)
			b, err := a.Append(nil, tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if len(b) != tt.wireLen {
				t.Errorf("wire length %d, want %d", len(b), tt.wireLen)
			}
			if tt.tail != nil && string(b[len(b)-len(tt.tail):]) != string(tt.tail) {
				t.Errorf("wire ends % x, want % x", b[len(b)-len(tt.tail):], tt.tail)
			}
			if f := vrrp.VerifyChecksum(b, tt.src, tt.dst, tt.dst); f != vrrp.ChecksumOK {
				t.Errorf("VerifyChecksum = %v, want ok", f)
			}
			var got vrrp.Advertisement
			if err := got.Unmarshal(b, tt.src.Is6()); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			machCheckAdvert(t, "decoded", &got, &tt.want)
			if got.IntervalDuration() != tt.cfg.AdvertInterval {
				t.Errorf("IntervalDuration = %v, want %v", got.IntervalDuration(), tt.cfg.AdvertInterval)
			}
			// A peer with the same configuration accepts it.
			peerCfg := tt.cfg
			if peerCfg.Priority == 255 {
				peerCfg.Priority = 100
			}
			peer := machBackup(t, peerCfg)
			info := vrrp.PacketInfo{Src: tt.src, Dst: tt.dst, TTL: 255}
			if e := peer.Receive(machT0.Add(time.Second), &got, info); e.Drop != vrrp.DropNone || e.Transitioned() {
				t.Errorf("peer Receive = %+v, want accepted", e)
			}
		})
	}
	t.Run("no allocation", func(t *testing.T) {
		m := vrrp.NewMachine(machCfg6(100, time.Second))
		var a vrrp.Advertisement
		if n := testing.AllocsPerRun(100, func() { m.FillAdvert(&a, 100) }); n != 0 {
			t.Errorf("FillAdvert allocates %v times", n)
		}
	})
}

// machCheckAdvert compares the fields of two adverts, except Checksum.
func machCheckAdvert(t *testing.T, what string, got, want *vrrp.Advertisement) {
	t.Helper()
	type fields struct {
		version, typ, vrid, prio, authType uint8
		interval                           uint16
		authData                           [vrrp.AuthDataLen]byte
	}
	f := func(a *vrrp.Advertisement) fields {
		return fields{a.Version, a.Type, a.VRID, a.Priority, a.AuthType, a.Interval, a.AuthData}
	}
	if f(got) != f(want) || !slices.Equal(got.Addresses, want.Addresses) {
		t.Errorf("%s = %+v, want %+v", what, *got, *want)
	}
}

// machNode is one virtual router of a simulated router in
// TestMachineManyVRIDs.
type machNode struct {
	name   string
	router int
	m      *vrrp.Machine
}

// machSim is a tiny link of VRRP routers: adverts from FillAdvert are
// encoded, delivered 1 ms later to the other routers, demultiplexed by VRID
// as the Router does (RFC 5798 §7.1: the VRID must be configured on the
// receiving interface), decoded and received.
type machSim struct {
	t     *testing.T
	nodes []*machNode
	now   time.Time
	queue []machPacket
	log   []string // transitions, as "+offset name FROM->TO reason"
}

type machPacket struct {
	at   time.Time
	from *machNode
	wire []byte
}

func (s *machSim) apply(n *machNode, e vrrp.Effects) {
	s.t.Helper()
	if e.Transitioned() {
		s.log = append(s.log, fmt.Sprintf("+%v %s %v->%v %v", s.now.Sub(machT0), n.name, e.From, e.To, e.Reason))
	}
	if !e.Send {
		return
	}
	var a vrrp.Advertisement
	n.m.FillAdvert(&a, e.SendPriority)
	src := n.m.Config().LocalAddr
	b, err := a.Append(nil, src, vrrp.Group4)
	if err != nil {
		s.t.Fatalf("%s: Append: %v", n.name, err)
	}
	s.queue = append(s.queue, machPacket{s.now.Add(time.Millisecond), n, b})
}

// run processes timers and deliveries in time order up to and including
// end, then sets the time to end.
func (s *machSim) run(end time.Time) {
	s.t.Helper()
	for {
		next, pkt := end, -1
		var tick *machNode
		found := false
		for i, p := range s.queue {
			if p.at.Before(next) || !found && p.at.Equal(next) {
				next, pkt, found = p.at, i, true
			}
		}
		for _, n := range s.nodes {
			d := n.m.Deadline()
			if !d.IsZero() && (d.Before(next) || !found && d.Equal(next)) {
				next, tick, pkt, found = d, n, -1, true
			}
		}
		if !found {
			s.now = end
			return
		}
		s.now = next
		if tick != nil {
			s.apply(tick, tick.m.Tick(s.now))
			continue
		}
		p := s.queue[pkt]
		s.queue = slices.Delete(s.queue, pkt, pkt+1)
		var a vrrp.Advertisement
		if err := a.Unmarshal(p.wire, false); err != nil {
			s.t.Fatalf("Unmarshal: %v", err)
		}
		if f := vrrp.VerifyChecksum(p.wire, p.from.m.Config().LocalAddr, vrrp.Group4, vrrp.Group4); f != vrrp.ChecksumOK {
			s.t.Fatalf("checksum form %v", f)
		}
		for _, n := range s.nodes {
			if n.router != p.from.router && n.m.Config().VRID == a.VRID {
				info := vrrp.PacketInfo{Src: p.from.m.Config().LocalAddr, Dst: vrrp.Group4, TTL: 255}
				s.apply(n, n.m.Receive(s.now, &a, info))
			}
		}
	}
}

func (s *machSim) node(name string) *machNode {
	for _, n := range s.nodes {
		if n.name == name {
			return n
		}
	}
	s.t.Fatalf("no node %s", name)
	return nil
}

// TestMachineManyVRIDs: checklist S20 (RFC 5798 §1, several virtual routers
// on one LAN, e.g. load sharing in §4.2). Two routers A and B run four
// virtual routers with distinct VRIDs; each election follows its own
// priorities and timers, and a shutdown or fault of one leaves the others
// alone.
func TestMachineManyVRIDs(t *testing.T) {
	a4 := netip.MustParseAddr("192.0.2.1")
	b4 := netip.MustParseAddr("192.0.2.2")
	mk := func(vrid, version, prio uint8, local netip.Addr) vrrp.MachineConfig {
		c := machCfg(version, prio, time.Second)
		c.VRID, c.LocalAddr = vrid, local
		c.Addresses = []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, 100 + vrid})}
		if version == 2 {
			c.AuthType, c.AuthData = vrrp.AuthPass, vrrp.PasswordData(fmt.Sprintf("vr%d", vrid))
		}
		return c
	}
	s := &machSim{t: t, now: machT0}
	add := func(name string, router int, cfg vrrp.MachineConfig) {
		s.nodes = append(s.nodes, &machNode{name, router, vrrp.NewMachine(cfg)})
	}
	// RFC 5798 §4.2 load sharing: A is Master of VRID 1, B of VRID 2.
	add("A1", 0, mk(1, 3, 200, a4))
	add("B1", 1, mk(1, 3, 100, b4))
	add("A2", 0, mk(2, 3, 100, a4))
	add("B2", 1, mk(2, 3, 200, b4))
	add("A3", 0, mk(3, 3, 255, a4)) // A owns VRID 3's address
	add("B3", 1, mk(3, 3, 100, b4))
	add("A4", 0, mk(4, 2, 100, a4)) // VRRPv2, equal priorities
	add("B4", 1, mk(4, 2, 100, b4))
	type phase struct {
		at    time.Duration
		what  string
		do    func()
		until time.Duration
		want  map[string]vrrp.State
		log   []string // transitions logged in the phase
	}
	in := func(name string, f func(m *vrrp.Machine, now time.Time) vrrp.Effects) func() {
		return func() { n := s.node(name); s.apply(n, f(n.m, s.now)) }
	}
	states := func(ss string) map[string]vrrp.State {
		// ss lists the Masters; every other running node is Backup.
		out := map[string]vrrp.State{}
		for _, n := range s.nodes {
			out[n.name] = vrrp.Backup
		}
		for i := 0; i+1 < len(ss); i += 3 {
			out[ss[i:i+2]] = vrrp.Master
		}
		return out
	}
	phases := []phase{
		{0, "A starts", func() {
			for _, n := range s.nodes {
				if n.router == 0 {
					s.apply(n, n.m.Start(s.now))
				}
			}
		}, 0, nil, []string{
			"+0s A1 INIT->BACKUP startup",
			"+0s A2 INIT->BACKUP startup",
			"+0s A3 INIT->MASTER owner", // S1
			"+0s A4 INIT->BACKUP startup",
		}},
		{100 * time.Millisecond, "B starts", func() {
			for _, n := range s.nodes {
				if n.router == 1 {
					s.apply(n, n.m.Start(s.now))
				}
			}
		}, 10 * time.Second, states("A1 B2 A3 A4"), []string{
			"+100ms B1 INIT->BACKUP startup",
			"+100ms B2 INIT->BACKUP startup",
			"+100ms B3 INIT->BACKUP startup",
			"+100ms B4 INIT->BACKUP startup",
			// VRID 1: prio 200 at 3 s + (256-200)/256 s (S2, S3); B1 hears
			// it before its own timer and stays Backup (S5).
			"+3.21875s A1 BACKUP->MASTER master-down",
			"+3.31875s B2 BACKUP->MASTER master-down",
			// VRID 4 (v2, equal priorities): A4's timer fires first; B4
			// accepts an equal priority as Backup (S5, checklist v2tie)
			// although its address is greater.
			"+3.609375s A4 BACKUP->MASTER master-down",
		}},
		// S14 then S4: B1 takes over Skew_Time after the prio 0 advert.
		{10 * time.Second, "A1 stops", in("A1", (*vrrp.Machine).Stop), 15 * time.Second, func() map[string]vrrp.State {
			w := states("B1 B2 A3 A4")
			w["A1"] = vrrp.Init
			return w
		}(), []string{
			"+10s A1 MASTER->INIT shutdown",
			"+10.610375s B1 BACKUP->MASTER master-down",
		}},
		{15 * time.Second, "B2 faults", in("B2", func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.SetFault(now, true) }),
			20 * time.Second, func() map[string]vrrp.State {
				w := states("B1 A2 A3 A4")
				w["A1"], w["B2"] = vrrp.Init, vrrp.Fault
				return w
			}(), []string{
				"+15s B2 MASTER->FAULT fault",
				"+15.610375s A2 BACKUP->MASTER master-down",
			}},
		// S7 then S10: B2 discards A2's lower priority adverts and takes
		// over at its Master_Down_Interval; A2 yields to the higher one.
		{20 * time.Second, "B2 recovers", in("B2", func(m *vrrp.Machine, now time.Time) vrrp.Effects { return m.SetFault(now, false) }),
			30 * time.Second, func() map[string]vrrp.State {
				w := states("B1 B2 A3 A4")
				w["A1"] = vrrp.Init
				return w
			}(), []string{
				"+20s B2 FAULT->BACKUP fault-cleared",
				"+23.21875s B2 BACKUP->MASTER master-down",
				"+23.21975s A2 MASTER->BACKUP preempted",
			}},
	}
	for _, p := range phases {
		s.run(machT0.Add(p.at))
		s.log = nil
		p.do()
		s.run(machT0.Add(p.until))
		if !slices.Equal(s.log, p.log) {
			t.Errorf("%s: transitions\n%q\nwant\n%q", p.what, s.log, p.log)
		}
		for name, st := range p.want {
			if got := s.node(name).m.State(); got != st {
				t.Errorf("%s: %s is %v, want %v", p.what, name, got, st)
			}
		}
	}
	// The owner of VRID 3 kept advertising every second throughout (S13),
	// and B3 recorded it as its Master.
	if addr, prio := s.node("B3").m.Master(); addr != a4 || prio != 255 {
		t.Errorf("B3 Master() = %v, %d, want %v, 255", addr, prio, a4)
	}
	if d := s.node("A3").m.Deadline(); !d.Equal(machT0.Add(31 * time.Second)) {
		t.Errorf("A3 deadline +%v, want +31s", d.Sub(machT0))
	}
}

// TestMachineStrings checks the names used in logs and metrics.
func TestMachineStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{vrrp.Init.String(), "INIT"},
		{vrrp.Backup.String(), "BACKUP"},
		{vrrp.Master.String(), "MASTER"},
		{vrrp.Fault.String(), "FAULT"},
		{vrrp.State(9).String(), "State(9)"},
		{vrrp.ReasonNone.String(), "none"},
		{vrrp.ReasonMasterDown.String(), "master-down"},
		{vrrp.ReasonFaultCleared.String(), "fault-cleared"},
		{vrrp.Reason(99).String(), "Reason(99)"},
		{vrrp.DropNone.String(), "none"},
		{vrrp.DropLowerPriority.String(), "lower-priority"},
		{vrrp.DropNotRunning.String(), "not-running"},
		{vrrp.NumDropReasons.String(), fmt.Sprintf("DropReason(%d)", uint8(vrrp.NumDropReasons))},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	for d := vrrp.DropNone; d < vrrp.NumDropReasons; d++ {
		if s := d.String(); s == "" || s[0] == 'D' {
			t.Errorf("DropReason %d has no name: %q", d, s)
		}
	}
}

// TestMachineRandomInvariants drives machines with random sequences of
// inputs (math/rand/v2, fixed seeds) and checks after each input that:
//
//   - Deadline is zero exactly in Init and Fault (no timer runs there, RFC
//     5798 §6.4.2 (350), §6.4.3 (660));
//   - Bind comes only with Send and Announce on a transition to Master (RFC
//     5798 §6.4.1 (110)-(145), §6.4.2 (370)-(410)), at the effective
//     priority;
//   - every state change comes with a Reason, From and To, and Effects with
//     a Reason hold a real change;
//   - a dropped advert causes no transition and no binding change, and only
//     a Master's RFC 9568 reply sends;
//   - Unbind happens only when leaving Master, and leaving Master for Init or
//     Fault sends priority 0 (§6.4.3 (665));
//   - a raised fault keeps the machine in Init or Fault, and Fault only
//     exists with a fault raised;
//   - a Master reports itself as Master and advertises at its own interval
//     (S15); a VRRPv2 machine never learns an interval (RFC 3768);
//   - after Tick(now) no timer is due at now (no burst of adverts);
//   - nothing panics.
//
// It also checks that the walk reached every state and every Reason, so
// that the invariants were exercised.
func TestMachineRandomInvariants(t *testing.T) {
	withCfg := func(c vrrp.MachineConfig, f func(*vrrp.MachineConfig)) vrrp.MachineConfig { f(&c); return c }
	configs := []vrrp.MachineConfig{
		machCfg(3, 100, time.Second),
		withCfg(machCfgPass(150), func(c *vrrp.MachineConfig) { c.NoLowerPrioAdvert = true }),
		machCfg(3, 255, time.Second),
		withCfg(machCfg6(200, 500*time.Millisecond), func(c *vrrp.MachineConfig) { c.NoPreempt = true }),
		withCfg(machCfg(3, 254, 10*time.Millisecond), func(c *vrrp.MachineConfig) { c.PreemptDelay = 5 * time.Second; c.MinTTL = 64 }),
		withCfg(machCfg(2, 100, 2*time.Second), func(c *vrrp.MachineConfig) { c.SkipAddressCheck = true }),
	}
	seenState := map[vrrp.State]bool{}
	seenReason := map[vrrp.Reason]bool{}
	const steps = 4000
	for ci, base := range configs {
		r := rand.New(rand.NewPCG(5798, uint64(ci)))
		m := vrrp.NewMachine(base)
		now := machT0
		peers := []netip.Addr{machPeer4, machLocal4.Prev(), netip.MustParseAddr("192.0.2.200")}
		if base.LocalAddr.Is6() {
			peers = []netip.Addr{machPeer6, netip.MustParseAddr("fe80::0:1"), netip.MustParseAddr("fe80::ff")}
		}
		randAdvert := func() (*vrrp.Advertisement, vrrp.PacketInfo) {
			cfg := m.Config()
			var prio uint8
			switch r.IntN(5) {
			case 0:
				prio = 0
			case 1:
				prio = 255
			case 2:
				prio = m.Priority()
			default:
				prio = uint8(1 + r.IntN(254))
			}
			a := machAdv(cfg, prio)
			if cfg.Version == 3 && r.IntN(3) == 0 {
				a.Interval = uint16(1 + r.IntN(400))
			}
			info := machFrom(cfg, peers[r.IntN(len(peers))])
			switch r.IntN(12) {
			case 0:
				info.TTL = uint8(r.IntN(256))
			case 1:
				a.Addresses = nil
			case 2:
				a.Addresses = append(a.Addresses, a.Addresses[0].Next())
			case 3:
				a.Version = 5 - a.Version
			case 4:
				if cfg.Version == 2 {
					a.AuthType = uint8(r.IntN(4))
					a.AuthData[0] ^= byte(r.IntN(2))
					a.Interval = uint16(1 + r.IntN(3))
				}
			}
			return a, info
		}
		for step := 0; step < steps; step++ {
			switch r.IntN(4) {
			case 0:
				now = now.Add(time.Duration(r.Int64N(int64(2 * time.Second))))
			case 1:
				if d := m.Deadline(); d.After(now) {
					now = d
				}
			case 2:
				now = now.Add(time.Duration(r.Int64N(int64(20 * time.Millisecond))))
			}
			before, beforeDL := m.State(), m.Deadline()
			var e vrrp.Effects
			var op string
			switch k := r.IntN(20); {
			case k < 2:
				op, e = "Start", m.Start(now)
			case k < 3:
				op, e = "Stop", m.Stop(now)
			case k < 9:
				op, e = "Tick", m.Tick(now)
			case k < 15:
				a, info := randAdvert()
				op = fmt.Sprintf("Receive(v%d prio %d int %d n %d ttl %d from %v)", a.Version, a.Priority, a.Interval, len(a.Addresses), info.TTL, info.Src)
				e = m.Receive(now, a, info)
			case k < 17:
				// The Router keeps an owner at 255 (router.go effective).
				p := m.Config().Priority
				if p != 255 {
					p = uint8(1 + r.IntN(254))
				}
				op, e = fmt.Sprintf("SetPriority(%d)", p), m.SetPriority(now, p)
			case k < 19:
				on := r.IntN(2) == 0
				op, e = fmt.Sprintf("SetFault(%v)", on), m.SetFault(now, on)
			default:
				cfg := m.Config()
				if base.Priority != 255 {
					cfg.Priority = uint8(1 + r.IntN(254))
				}
				if cfg.Version == 3 {
					cfg.AdvertInterval = time.Duration(1+r.IntN(200)) * 10 * time.Millisecond
				} else {
					cfg.AdvertInterval = time.Duration(1+r.IntN(3)) * time.Second
				}
				cfg.NoPreempt = r.IntN(2) == 0
				op, e = "Reconfigure", m.Reconfigure(now, cfg)
			}
			after := m.State()
			seenState[after] = true
			seenReason[e.Reason] = true
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("config %d step %d: %s at +%v in %v (deadline +%v): %+v, now %v: %s",
					ci, step, op, now.Sub(machT0), before, beforeDL.Sub(machT0), e, after, fmt.Sprintf(format, args...))
			}
			idle := after == vrrp.Init || after == vrrp.Fault
			if m.Deadline().IsZero() != idle {
				fail("deadline %v in %v", m.Deadline(), after)
			}
			if e.Bind && !(e.Send && e.Announce && e.To == vrrp.Master && after == vrrp.Master && e.SendPriority == m.Priority()) {
				fail("Bind without Send/Announce at the own priority on a transition to Master")
			}
			if e.Announce && !e.Bind {
				fail("Announce without Bind")
			}
			if before != after && (e.Reason == vrrp.ReasonNone || e.From != before || e.To != after) {
				fail("state changed without a matching Reason")
			}
			if e.Reason != vrrp.ReasonNone && (e.From != before || e.To != after || before == after) {
				fail("Reason without a real state change")
			}
			if e.Drop != vrrp.DropNone {
				if e.Transitioned() || e.Bind || e.Unbind {
					fail("a dropped advert changed the state or the binding")
				}
				if e.Send && (e.Drop != vrrp.DropLowerPriority || after != vrrp.Master || e.SendPriority != m.Priority()) {
					fail("a dropped advert sent")
				}
			}
			if e.Unbind && !(before == vrrp.Master && after != vrrp.Master) {
				fail("Unbind without leaving Master")
			}
			if before == vrrp.Master && (after == vrrp.Init || after == vrrp.Fault) && !(e.Send && e.SendPriority == 0 && e.Unbind) {
				fail("left Master for %v without priority 0 and Unbind", after)
			}
			if after == vrrp.Master && e.Send && e.SendPriority != m.Priority() {
				fail("Master sent priority %d, effective %d", e.SendPriority, m.Priority())
			}
			if idle && e.Send && e.SendPriority != 0 {
				fail("sent priority %d while going idle", e.SendPriority)
			}
			if m.Faulted() && !idle {
				fail("fault raised in %v", after)
			}
			if after == vrrp.Fault && !m.Faulted() {
				fail("Fault without a fault raised")
			}
			if after == vrrp.Master {
				if addr, p := m.Master(); addr != m.Config().LocalAddr || p != m.Priority() {
					fail("Master() = %v, %d in Master", addr, p)
				}
				if got := m.MasterAdverInterval(); got != m.Config().AdvertInterval {
					fail("Master_Adver_Interval %v in Master, local %v", got, m.Config().AdvertInterval)
				}
			}
			if m.Config().Version == 2 && m.MasterAdverInterval() != m.Config().AdvertInterval {
				fail("VRRPv2 learned %v", m.MasterAdverInterval())
			}
			if op == "Tick" {
				if d := m.Deadline(); !d.IsZero() && !d.After(now) {
					fail("a timer is still due after Tick: +%v", d.Sub(machT0))
				}
				if e2 := m.Tick(now); e2 != (vrrp.Effects{}) {
					fail("a second Tick at the same time returned %+v", e2)
				}
			}
			if !e.Send && e.SendPriority != 0 {
				fail("SendPriority without Send")
			}
		}
	}
	for _, s := range []vrrp.State{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault} {
		if !seenState[s] {
			t.Errorf("the random walk never reached %v", s)
		}
	}
	for r := vrrp.ReasonStartup; r <= vrrp.ReasonFaultCleared; r++ {
		if !seenReason[r] {
			t.Errorf("the random walk never saw Reason %v", r)
		}
	}
}
