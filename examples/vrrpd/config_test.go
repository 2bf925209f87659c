package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// fakeHost finds every script and interface and knows every user but
// keepalived_script, so that conversions do not depend on the machine.
type fakeHost struct{}

func (fakeHost) FindScript(string) error    { return nil }
func (fakeHost) FindInterface(string) error { return nil }

// UserExists: every user but keepalived_script, which Debian's package
// does not create (with it, scripts would run as that user).
func (fakeHost) UserExists(name string) bool { return name != "keepalived_script" }

func convertText(t *testing.T, text string) (*daemonConfig, kaconf.Diagnostics, error) {
	t.Helper()
	cfg, diags := kaconf.LoadBytes("test.conf", []byte(text), kaconf.LoadOptions{ConfigID: "h1", Host: fakeHost{}})
	d, err := convert(cfg, diags)
	return d, diags, err
}

func TestConvertInstance(t *testing.T) {
	d, diags, err := convertText(t, `
global_defs {
  router_id r1
  vrrp_garp_interval 0.01
  enable_script_security
  script_user nobody
}
vrrp_script chk {
  script "/bin/true arg"
  interval 2
  fall 3
  rise 2
  weight -20
}
vrrp_track_process proc {
  process nginx
  weight 10
  quorum 2
}
vrrp_track_file tf {
  file /run/tf
  weight 3
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 2
  nopreempt
  authentication {
    auth_type PASS
    auth_pass secret
  }
  unicast_src_ip 198.18.0.1
  unicast_peer {
    198.18.0.2
  }
  virtual_ipaddress {
    198.18.0.100/24 dev eth0 label eth0:vip scope global
    198.18.0.101
  }
  track_interface {
    eth1 weight -30
  }
  track_script {
    chk
  }
  track_process {
    proc
  }
  track_file {
    tf weight 2
  }
  garp_master_delay 3
  notify_master "/bin/echo master"
  notify /bin/notify.sh
}
`)
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	if len(d.Instances) != 1 {
		t.Fatalf("instances: %d", len(d.Instances))
	}
	c := d.Instances[0]
	want := vrrp.InstanceConfig{Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2, Priority: 150,
		AdvertInterval: 2 * time.Second, NoPreempt: true, AuthPass: "secret",
		SourceAddr: netip.MustParseAddr("198.18.0.1"), UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
		GARPMasterDelay: 3 * time.Second, GARPInterval: 10 * time.Millisecond}
	if c.Name != want.Name || c.Interface != want.Interface || c.VRID != want.VRID || c.Version != want.Version ||
		c.Priority != want.Priority || c.AdvertInterval != want.AdvertInterval || c.NoPreempt != want.NoPreempt ||
		c.AuthPass != want.AuthPass || c.SourceAddr != want.SourceAddr || len(c.UnicastPeers) != 1 ||
		c.UnicastPeers[0] != want.UnicastPeers[0] || c.GARPMasterDelay != want.GARPMasterDelay ||
		c.GARPInterval != want.GARPInterval || c.Group.IsValid() {
		t.Errorf("instance:\n got %+v\nwant %+v", c, want)
	}
	if len(c.VIPs) != 2 || c.VIPs[0] != (vrrp.VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24"), Device: "eth0", Label: "eth0:vip", Scope: "global"}) ||
		c.VIPs[1].Prefix != netip.MustParsePrefix("198.18.0.101/32") {
		t.Errorf("VIPs: %+v", c.VIPs)
	}
	if len(c.TrackInterfaces) != 1 || c.TrackInterfaces[0] != (vrrp.TrackInterface{Name: "eth1", Weight: -30}) {
		t.Errorf("track_interface: %+v", c.TrackInterfaces)
	}
	if len(d.Checks) != 2 {
		t.Fatalf("checks: %+v", d.Checks)
	}
	s, ok := d.Checks[0].Checker.(health.Script)
	if !ok || s.Path != "/bin/true" || len(s.Args) != 1 || s.Args[0] != "arg" || s.User != "nobody" || !s.Security {
		t.Errorf("script: %+v", d.Checks[0].Checker)
	}
	if ck := d.Checks[0]; ck.Interval != 2*time.Second || ck.Fall != 3 || ck.Rise != 2 {
		t.Errorf("script schedule: %+v", ck)
	}
	if p, ok := d.Checks[1].Checker.(*health.Process); !ok || p.Name != "nginx" || p.Quorum != 2 || p.QuorumMax != 0 {
		t.Errorf("process: %+v", d.Checks[1].Checker)
	}
	tr := d.Tracks["VI_1"]
	if len(tr) != 2 || tr[0] != (health.Track{Check: "chk", Weight: -20}) || tr[1] != (health.Track{Check: "proc", Weight: 10}) {
		t.Errorf("tracks: %+v", tr)
	}
	if len(d.Files) != 1 || d.Files[0].Path != "/run/tf" || d.Files[0].Weight != 3 {
		t.Errorf("files: %+v", d.Files)
	}
	if ft := d.FileTracks["VI_1"]; len(ft) != 1 || ft[0].File != "tf" || ft[0].Weight == nil || *ft[0].Weight != 2 {
		t.Errorf("file tracks: %+v", ft)
	}
	n := d.Notify["VI_1"]
	if n.Master == nil || n.Master.Path != "/bin/echo" || n.Any == nil || n.Any.Path != "/bin/notify.sh" || n.Backup != nil {
		t.Errorf("notify: %+v", n)
	}
	if d.RouterID != "r1" {
		t.Errorf("router id %q", d.RouterID)
	}
}

// keepalived's state MASTER, virtual_ipaddress_excluded and unicast_peer
// min_ttl/max_ttl carry into the instance; unicast adverts are not held
// to TTL 255 (keepalived checks it on multicast only).
func TestConvertKeepalivedOptions(t *testing.T) {
	d, diags, err := convertText(t, `
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  unicast_src_ip 198.18.0.1
  unicast_peer {
    198.18.0.2 min_ttl 250 max_ttl 255
    198.18.0.3
  }
  virtual_ipaddress {
    198.18.0.100/24
  }
  virtual_ipaddress_excluded {
    198.18.0.100/24
    198.18.1.100/24 dev eth1
    fd00::100/64
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  priority 100
  virtual_ipaddress {
    198.18.0.200
  }
}
`)
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	c := d.Instances[0]
	if !c.InitialMaster {
		t.Error("state MASTER: InitialMaster not set")
	}
	if len(c.ExcludedVIPs) != 2 || c.ExcludedVIPs[0] != (vrrp.VIP{Prefix: netip.MustParsePrefix("198.18.1.100/24"), Device: "eth1"}) ||
		c.ExcludedVIPs[1].Prefix != netip.MustParsePrefix("fd00::100/64") {
		t.Errorf("excluded VIPs: %+v (the VIP repeated there is left out)", c.ExcludedVIPs)
	}
	if len(c.PeerTTLs) != 1 || c.PeerTTLs[0] != (vrrp.PeerTTL{Addr: netip.MustParseAddr("198.18.0.2"), Min: 250, Max: 255}) {
		t.Errorf("peer TTLs: %+v", c.PeerTTLs)
	}
	if c.MinTTL != 1 {
		t.Errorf("unicast MinTTL = %d, want 1 (any TTL)", c.MinTTL)
	}
	c2 := d.Instances[1]
	if c2.InitialMaster || c2.MinTTL != 0 || len(c2.ExcludedVIPs) != 0 || len(c2.PeerTTLs) != 0 {
		t.Errorf("VI_2: %+v", c2)
	}
	for _, w := range d.Warnings {
		if strings.Contains(w, "not carried") || strings.Contains(w, "state MASTER") {
			t.Errorf("warning left: %s", w)
		}
	}
	// min_ttl above max_ttl discards every advert of the peer (keepalived
	// warns and drops them all): vrrpd refuses it, naming the line.
	_, _, err = convertText(t, `
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority 150
  unicast_src_ip 198.18.0.1
  unicast_peer {
    198.18.0.2 min_ttl 200 max_ttl 100
  }
  virtual_ipaddress {
    198.18.0.100/24
  }
}
`)
	if err == nil || !strings.Contains(err.Error(), "test.conf:8") || !strings.Contains(err.Error(), "discards every advert") {
		t.Errorf("min_ttl > max_ttl: err = %v", err)
	}
}

func TestConvertVersionsAndGroups(t *testing.T) {
	d, diags, err := convertText(t, `
global_defs {
  vrrp_version 3
  vrrp_mcast_group4 224.0.0.19
  vrrp_garp_master_delay 0
}
vrrp_sync_group G {
  group {
    A
    B
  }
  sync_group_tracking_weight
  notify_master /bin/true
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  advert_int 0.5
  use_vmac vrrp1
  vmac_xmit_base
  dont_track_primary
  lower_prio_no_advert
  virtual_ipaddress {
    198.18.0.100
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  virtual_ipaddress {
    fd00::100/64
  }
}
`)
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	a, b := d.Instances[0], d.Instances[1]
	if a.Version != 3 || a.AdvertInterval != 500*time.Millisecond || a.Group != netip.MustParseAddr("224.0.0.19") ||
		!a.UseVMAC || a.VMACName != "vrrp1" || !a.VMACXmitBase || !a.DontTrackPrimary || !a.NoLowerPrioAdvert ||
		a.GARPMasterDelay >= 0 {
		t.Errorf("A: %+v", a)
	}
	if b.Version != 3 || b.Group != netip.MustParseAddr("ff02::12") {
		t.Errorf("B: %+v", b)
	}
	if len(d.SyncGroups) != 1 || d.SyncGroups[0].Name != "G" || !d.SyncGroups[0].TrackingWeight ||
		strings.Join(d.SyncGroups[0].Members, ",") != "A,B" {
		t.Errorf("groups: %+v", d.SyncGroups)
	}
	if d.GroupNotify["G"].Master == nil {
		t.Errorf("group notify: %+v", d.GroupNotify)
	}
}

func TestConvertDefaultVersion2(t *testing.T) {
	d, diags, err := convertText(t, "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n")
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	if v := d.Instances[0].Version; v != 2 {
		t.Errorf("version %d, want keepalived's default 2", v)
	}
}

// keepalived runs a VRRPv2 instance without virtual_ipaddress, with the
// warning "No VIP specified; at least one is sensible" (the cloud pattern:
// a notify_master script moves the address); VRRPv3 needs one.
func TestConvertNoVIP(t *testing.T) {
	const src = "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n%s notify_master /bin/true\n}\n"
	d, diags, err := convertText(t, fmt.Sprintf(src, ""))
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	if got := diags.Filter(kaconf.Warning).String(); !strings.Contains(got, "(V) No VIP specified; at least one is sensible") {
		t.Errorf("diagnostics %q lack keepalived's warning", got)
	}
	if c := d.Instances[0]; len(c.VIPs) != 0 || c.Version != 2 {
		t.Errorf("instance %+v, want VRRPv2 without VIPs", c)
	}
	for _, only := range []string{" virtual_ipaddress_excluded {\n  198.18.0.7\n }\n", " virtual_ipaddress {\n }\n"} {
		d, diags, err = convertText(t, fmt.Sprintf(src, only))
		if err != nil || len(d.Instances[0].VIPs) != 0 {
			t.Errorf("%q: err %v, diagnostics %s", only, err, diags)
		}
	}
	if _, _, err := convertText(t, fmt.Sprintf(src, " version 3\n")); err == nil || !strings.Contains(err.Error(), "at least one is required") {
		t.Errorf("VRRPv3 without VIP: err %v, want keepalived's error", err)
	}
}

func TestConvertAH(t *testing.T) {
	cfg, diags, err := convertText(t, "vrrp_instance V {\n interface eth0\n state MASTER\n priority 150\n virtual_router_id 9\n authentication {\n  auth_type AH\n  auth_pass x\n }\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n")
	if err != nil {
		t.Fatalf("AH: %v (%s)", err, diags)
	}
	c := cfg.Instances[0]
	if !c.AuthAH || c.AuthPass != "x" || c.InitialMaster {
		t.Errorf("AH instance %+v", c)
	}
	if !strings.Contains(diags.String(), "Initial state master is incompatible with AH authentication - clearing") {
		t.Errorf("diagnostics %s", diags)
	}
}

// TestConvertCorpus converts the shared keepalived configurations: those
// with errors fail with the same errors, the others convert.
func TestConvertCorpus(t *testing.T) {
	dir := testenv.SharedTestdata(t, "keepalived-configs")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := kaconf.LoadBytes(f, src, kaconf.LoadOptions{ConfigID: "h1", Host: fakeHost{}})
			d, err := convert(cfg, diags)
			if diags.HasErrors() {
				if err == nil || err.Error() != diags.Err().Error() {
					t.Fatalf("error %v, want the diagnostics' %v", err, diags.Err())
				}
				return
			}
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			if len(d.Instances) != len(cfg.Instances) {
				t.Errorf("%d instances, want %d", len(d.Instances), len(cfg.Instances))
			}
		})
	}
}

// TestConvertStrict runs keepalived's strict mode checks (vrrp_strict,
// strict_mode): what keepalived adjusts is adjusted with its warning, what
// it refuses is an error, and the no_accept it implies is NoAccept (the
// VIPs of a Master that does not own them are filtered).
func TestConvertStrict(t *testing.T) {
	const head = "global_defs {\n vrrp_strict\n%s}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n"
	vips := " virtual_ipaddress {\n  198.18.0.9\n }\n"
	noAccept := func(version uint8) func(t *testing.T, c vrrp.InstanceConfig) {
		return func(t *testing.T, c vrrp.InstanceConfig) {
			if c.Accept || !c.NoAccept || c.Version != version || !c.NoLowerPrioAdvert {
				t.Errorf("instance %+v; want NoAccept, version %d", c, version)
			}
		}
	}
	for _, tc := range []struct {
		name, global, body string
		errs, warns        []string // each at "test.conf:LINE: "
		check              func(t *testing.T, c vrrp.InstanceConfig)
	}{{
		name: "implied no_accept", body: vips, check: noAccept(2),
	}, {
		name: "implied no_accept v3", global: " vrrp_version 3\n", body: vips, check: noAccept(3),
	}, {
		name: "accept with version 2", body: " accept\n" + vips,
		warns: []string{"test.conf:4: (VI_1) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"},
		check: noAccept(2),
	}, {
		name: "accept with version 3", global: " vrrp_version 3\n", body: " accept\n" + vips,
		check: func(t *testing.T, c vrrp.InstanceConfig) {
			if !c.Accept || c.NoAccept || c.Version != 3 || !c.NoLowerPrioAdvert {
				t.Errorf("instance %+v", c)
			}
		},
	}, {
		name: "address owner", body: " priority 255\n" + vips,
		check: func(t *testing.T, c vrrp.InstanceConfig) {
			if c.Priority != 255 || c.Version != 2 {
				t.Errorf("instance %+v", c)
			}
		},
	}, {
		name: "authentication", global: " vrrp_version 3\n",
		body:  " accept\n authentication {\n  auth_type PASS\n  auth_pass secret\n }\n" + vips,
		warns: []string{"test.conf:5: (VI_1) Strict mode does not support authentication. Ignoring."},
		check: func(t *testing.T, c vrrp.InstanceConfig) {
			if c.AuthPass != "" {
				t.Errorf("auth_pass %q kept", c.AuthPass)
			}
		},
	}, {
		// keepalived 2.2.7 runs it (measured): its check needs the
		// interface's flags, not read yet when it makes it.
		name: "unicast peers", global: " vrrp_version 3\n", body: " accept\n unicast_peer {\n  198.18.0.2\n }\n" + vips,
		check: func(t *testing.T, c vrrp.InstanceConfig) {
			if len(c.UnicastPeers) != 1 {
				t.Errorf("unicast peers %v", c.UnicastPeers)
			}
		},
	}, {
		name: "no VIP", global: " vrrp_version 3\n", body: " accept\n",
		errs: []string{"test.conf:5: (VI_1) No VIP specified; at least one is required"},
	}, {
		name: "IPv6 with version 2", body: " version 2\n accept\n virtual_ipaddress {\n  fe80::9\n  fd00::9/64\n }\n",
		warns: []string{"test.conf:4: (VI_1) cannot use IPv6 with VRRP version 2; setting version 3"},
		check: func(t *testing.T, c vrrp.InstanceConfig) {
			if c.Version != 3 || !c.Accept {
				t.Errorf("instance %+v", c)
			}
		},
	}, {
		name: "IPv6 first VIP not link local", global: " vrrp_version 3\n", body: " accept\n virtual_ipaddress {\n  fd00::9/64\n }\n",
		errs: []string{"test.conf:5: (VI_1) the first IPv6 VIP address must be link local"},
	}, {
		name: "per-instance strict_mode", body: " strict_mode\n accept\n" + vips,
		warns: []string{"(VI_1) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"},
		check: noAccept(2),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			text := fmt.Sprintf(head, tc.global) + tc.body + "}\n"
			if tc.name == "per-instance strict_mode" {
				text = strings.Replace(text, " vrrp_strict\n", "", 1)
			}
			d, diags, err := convertText(t, text)
			for _, want := range tc.errs {
				if !hasDiag(diags, kaconf.Error, want) {
					t.Errorf("no error %q in\n%s", want, diags)
				}
			}
			for _, want := range tc.warns {
				if !hasDiag(diags, kaconf.Warning, want) {
					t.Errorf("no warning %q in\n%s", want, diags)
				}
			}
			if len(tc.errs) > 0 {
				if err == nil {
					t.Fatalf("configuration accepted:\n%s", diags)
				}
				return
			}
			if err != nil {
				t.Fatalf("convert: %v\n%s", err, diags)
			}
			if tc.check != nil {
				tc.check(t, d.Instances[0])
			}
		})
	}
}

// hasDiag reports whether diags hold a diagnostic of severity sev whose
// FILE:LINE: message starts with (or, without a position, contains) want.
func hasDiag(diags kaconf.Diagnostics, sev kaconf.Severity, want string) bool {
	for _, d := range diags {
		if d.Severity == sev && (strings.HasPrefix(d.Text(), want) || strings.Contains(d.Text(), want)) {
			return true
		}
	}
	return false
}

// runConfigTest writes conf to a file named name in a temporary directory
// and runs vrrpd -t on it; it returns the file's path, the exit code and
// what vrrpd printed on standard error.
func runConfigTest(t *testing.T, name, conf string) (path string, code int, stderr string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	code = realMain([]string{"-t", "-f", path}, &out, &errs)
	return path, code, errs.String()
}

// TestConfigTestStrict: vrrpd -t runs a vrrp_strict configuration without
// accept, as keepalived does: with the no_accept filter.
func TestConfigTestStrict(t *testing.T) {
	_, code, stderr := runConfigTest(t, "strict.conf", "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n}\n")
	if code != 0 || strings.Contains(stderr, ": error:") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

// TestConvertGlobals carries vrrp_startup_delay and net_namespace; notify
// scripts are accepted with net_namespace (they run in the namespace).
func TestConvertGlobals(t *testing.T) {
	const inst = "vrrp_instance V {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  198.18.0.9\n }\n%s}\n"
	d, diags, err := convertText(t, "net_namespace blue\nglobal_defs {\n vrrp_startup_delay 2.5\n log_unknown_vrids\n}\n"+fmt.Sprintf(inst, ""))
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, diags)
	}
	if d.StartupDelay != 2500*time.Millisecond || d.NetNamespace != "blue" || !d.LogUnknownVRIDs {
		t.Errorf("startup delay %v, namespace %q, log_unknown_vrids %v", d.StartupDelay, d.NetNamespace, d.LogUnknownVRIDs)
	}
	if _, diags, err := convertText(t, "net_namespace blue\n"+fmt.Sprintf(inst, " notify_master /bin/true\n notify /bin/true\n")+
		"vrrp_sync_group G {\n group {\n  V\n }\n notify_backup /bin/true\n}\n"); err != nil {
		t.Errorf("notify scripts with net_namespace: %v\n%s", err, diags)
	}
	// Without net_namespace too.
	if _, diags, err := convertText(t, fmt.Sprintf(inst, " notify_master /bin/true\n")); err != nil {
		t.Errorf("convert: %v\n%s", err, diags)
	}
}
