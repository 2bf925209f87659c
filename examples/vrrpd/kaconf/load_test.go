package kaconf

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// want is an expected diagnostic: its severity, line and a part of its
// message.
type want struct {
	sev  Severity
	line int
	text string
}

// checkDiags checks that ds are exactly the wanted diagnostics, in order.
func checkDiags(t *testing.T, ds Diagnostics, wants []want) {
	t.Helper()
	ok := len(ds) == len(wants)
	for i := 0; ok && i < len(ds); i++ {
		w := wants[i]
		ok = ds[i].Severity == w.sev && ds[i].Line == w.line && strings.Contains(ds[i].Message, w.text)
	}
	if !ok {
		var b strings.Builder
		for _, w := range wants {
			b.WriteString(w.sev.String() + " :" + strconv.Itoa(w.line) + ": ..." + w.text + "...\n")
		}
		t.Errorf("diagnostics:\n%s\nwant:\n%s", dumpDiags(ds), b.String())
	}
}

// body is the minimal body of a valid instance.
const body = `
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.0.0.1/24
  }
`

func load(t *testing.T, src string, opts LoadOptions) (*Config, Diagnostics) {
	t.Helper()
	if opts.FS == nil {
		opts.FS = MapFS{}
	}
	return LoadBytes("/k/main.conf", []byte(src), opts)
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		src   string
		opts  LoadOptions
		diags []want
		check func(t *testing.T, c *Config)
	}{{
		name: "defaults",
		src:  "vrrp_instance VI_1 {" + body + "}\n",
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if in.Priority != 100 || in.State != StateBackup || in.Version != 2 || in.AdvertInterval != time.Second ||
				!in.Accept || in.MulticastGroup != netip.MustParseAddr("224.0.0.18") || in.GARPMasterDelay != 5*time.Second ||
				in.GARPMasterRepeat != 5 || in.GARPMasterRefreshRepeat != 1 || in.IPv6 {
				t.Errorf("instance %+v", in)
			}
			if want := []VIP{{Pos: Pos{"/k/main.conf", 5}, Prefix: netip.MustParsePrefix("10.0.0.1/24")}}; !reflect.DeepEqual(in.VIPs, want) {
				t.Errorf("VIPs %+v, want %+v", in.VIPs, want)
			}
		},
	}, {
		name: "state MASTER alone makes the address owner, priority 255 alone makes MASTER",
		src:  "vrrp_instance A {\n state MASTER" + body + "}\nvrrp_instance B {\n priority 255\n interface eth1\n virtual_router_id 2\n virtual_ipaddress {\n 10.0.1.1\n }\n}\n",
		diags: []want{
			{Info, 1, "(A) no priority given with state MASTER: keepalived makes the instance the address owner, priority 255"},
		},
		check: func(t *testing.T, c *Config) {
			if a, b := c.Instances[0], c.Instances[1]; a.Priority != 255 || a.State != StateMaster || b.State != StateMaster {
				t.Errorf("A %v/%d, B %v/%d", a.State, a.Priority, b.State, b.Priority)
			}
		},
	}, {
		name: "global_defs and their inheritance",
		src: `global_defs {
  router_id R1
  vrrp_version 3
  vrrp_garp_master_delay 10
  vrrp_garp_master_repeat 2
  vrrp_garp_master_refresh 60
  vrrp_garp_master_refresh_repeat 3
  vrrp_garp_interval 0.001
  vrrp_gna_interval 0.000002
  vrrp_mcast_group4 224.0.0.19
  vrrp_mcast_group6 ff02::13
  vrrp_check_unicast_src
  vrrp_skip_check_adv_addr
  vrrp_lower_prio_no_advert false
  log_unknown_vrids
  enable_script_security
  script_user nobody nogroup
  default_interface eth9
  vmac_prefix vx
}
vrrp_instance VI_1 {` + body + `  use_vmac
  garp_master_repeat 7
}
`,
		check: func(t *testing.T, c *Config) {
			g := c.Global
			if g.RouterID != "R1" || g.VRRPVersion != 3 || g.GARPInterval != time.Millisecond || g.GNAInterval != 2*time.Microsecond ||
				g.MulticastGroup6 != netip.MustParseAddr("ff02::13") || !g.LogUnknownVRIDs || !g.EnableScriptSecurity ||
				g.ScriptUser != "nobody" || g.ScriptGroup != "nogroup" || g.DefaultInterface != "eth9" {
				t.Errorf("global %+v", g)
			}
			in := c.Instances[0]
			if in.Version != 3 || in.GARPMasterDelay != 10*time.Second || in.GARPMasterRepeat != 7 || in.GARPMasterRefresh != time.Minute ||
				in.GARPMasterRefreshRepeat != 3 || in.MulticastGroup != netip.MustParseAddr("224.0.0.19") || !in.CheckUnicastSrc ||
				!in.SkipCheckAdvAddr || in.LowerPrioNoAdvert || !in.UseVMAC || in.VMACName != "vx.1" {
				t.Errorf("instance %+v", in)
			}
		},
	}, {
		name: "keepalived's value checks",
		src: `global_defs {
  vrrp_version 4
  vrrp_garp_master_delay -1
  vrrp_mcast_group4 1.2.3.4
  vrrp_garp_master_repeat 0
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 0
  virtual_router_id 7
  priority abc
  advert_int 0.001
  preempt_delay 1001
  garp_master_delay x
  version 5
  state SLAVE
  authentication {
    auth_type PASS
    auth_pass 0123456789
  }
  virtual_ipaddress {
    10.0.0.1/33
    10.0.0.2 dev
    10.0.0.3 scope link label eth0:1 foo
    2001:db8::1
    bad
  }
}
`,
		diags: []want{
			{Warning, 2, "VRRP Error: Version must be either 2 or 3 (number '4' outside range [2, 3])"},
			{Warning, 3, "vrrp_garp_master_delay '-1' invalid - ignoring (negative number '-1')"},
			{Warning, 4, "vrrp_mcast_group4 [1.2.3.4] is not multicast. Skipping"},
			{Warning, 5, "vrrp_garp_master_repeat must be greater than 0, setting to 1"},
			{Error, 9, "(VI_1): VRID '0' not valid - must be between 1 & 255 (number '0' outside range [1, 255])"},
			{Warning, 11, "(VI_1) Priority not valid! must be between 1 & 255. Using default 100 (invalid number 'abc')"},
			{Warning, 12, "(VI_1) Advert interval (0.001) not valid! Must be > 0 - ignoring (number '0.001' outside range [0.010000, 255.000000])"},
			{Warning, 13, "(VI_1) Preempt_delay not valid! must be between 0-1000"},
			{Warning, 14, "(VI_1): garp_master_delay 'x' invalid - ignoring (invalid number 'x')"},
			{Warning, 15, "(VI_1): Version must be either 2 or 3"},
			{Warning, 16, "(VI_1) unknown state 'SLAVE', defaulting to BACKUP"},
			{Warning, 19, "Truncating auth_pass to 8 characters"},
			{Warning, 22, "Invalid address prefix len 33 for address 10.0.0.1/33 - using 32"},
			{Warning, 23, "No dev parameter specified for 10.0.0.2"},
			{Warning, 24, "Unknown configuration entry 'foo' for ip address - ignoring"},
			{Warning, 25, "(VI_1): address family must match VRRP instance [2001:db8::1] - ignoring"},
			{Warning, 26, "VRRP parsed invalid IP bad. skipping IP..."},
		},
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if in.VRID != 7 || in.Priority != 100 || in.AuthPass != "01234567" || in.State != StateBackup || len(in.VIPs) != 3 ||
				in.VIPs[0].Prefix.Bits() != 32 || in.VIPs[2].Scope != "link" || in.VIPs[2].Label != "eth0:1" {
				t.Errorf("instance %+v", in)
			}
			if c.Global.GARPMasterRepeat != 1 || c.Global.VRRPVersion != 2 {
				t.Errorf("global %+v", c.Global)
			}
		},
	}, {
		name: "keepalived's completion",
		src: `vrrp_instance V3 {` + body + `  version 3
  advert_int 0.555
  nopreempt
  state MASTER
  priority 100
  authentication {
    auth_type PASS
    auth_pass secret
  }
  track_interface {
    eth0
    eth1 weight 254
    eth2 weight 300
  }
}
vrrp_instance V2 {
  interface eth1
  virtual_router_id 2
  advert_int 1.5
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_instance V6 {
  interface eth1
  virtual_router_id 3
  virtual_ipaddress {
    2001:db8::1/64
  }
}
`,
		diags: []want{
			{Warning, 18, "(V3) weight for eth1 cannot be +/-254. Setting to +/-253"},
			{Warning, 19, "(V3) weight 300 for eth2 must be between [-253..253] inclusive. Ignoring..."},
			{Warning, 1, "(V3) VRRP version 3 does not support authentication. Ignoring."},
			{Warning, 1, "(V3) Warning - nopreempt will not work with initial state MASTER - clearing"},
			{Warning, 1, "(V3) VRRPv3 advertisement interval 0.555000s must be in units of 10ms - rounding"},
			{Warning, 17, "(V3) Ignoring track_interface eth0 since own interface"},
			{Warning, 22, "(V2) VRRPv2 advertisement interval 1.500000s must be an integer. rounding"},
			{Warning, 30, "(V6) the first IPv6 VIP address should be link local"},
		},
		check: func(t *testing.T, c *Config) {
			v3, v2, v6 := c.Instances[0], c.Instances[1], c.Instances[2]
			if v3.AdvertInterval != 560*time.Millisecond || v3.NoPreempt || v3.AuthType != AuthNone ||
				!reflect.DeepEqual(v3.TrackInterfaces, []TrackInterface{{Pos{"/k/main.conf", 18}, "eth1", 253, false}, {Pos{"/k/main.conf", 19}, "eth2", 0, false}}) {
				t.Errorf("V3 %+v", v3)
			}
			if v2.AdvertInterval != 2*time.Second {
				t.Errorf("V2 advert %v", v2.AdvertInterval)
			}
			if v6.Version != 3 || !v6.IPv6 || v6.MulticastGroup != netip.MustParseAddr("ff02::12") {
				t.Errorf("V6 %+v", v6)
			}
		},
	}, {
		name: "tracks resolve against what is defined before, as in keepalived",
		src: `vrrp_script early {
  script "/bin/check 'a b'"
  weight -10
  rise 2
  fall 3
  interval 5
  timeout 2
}
vrrp_instance VI_1 {` + body + `  track_script {
    early
    late
    early weight 5
    missing
  }
}
vrrp_script late {
  script /bin/late extra words
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.2
  }
  track_script {
    late weight 254 reverse
    early weight 300
  }
}
`,
		diags: []want{
			{Warning, 17, "(VI_1) track script late not found, ignoring... (it is defined further down"},
			{Warning, 18, "(VI_1) duplicate track_script early - ignoring"},
			{Warning, 19, "(VI_1) track script missing not found, ignoring..."},
			{Warning, 23, "script: the words after the command (extra words) are ignored, as keepalived ignores them"},
			{Warning, 32, "(VI_2) weight for late cannot be +/-254. Setting to +/-253"},
			{Warning, 33, "(VI_2) track script early: weight must be between [-253..253] inclusive, ignoring..."},
			{Warning, 1, "SECURITY VIOLATION - scripts are being executed but script_security not enabled."},
		},
		check: func(t *testing.T, c *Config) {
			early := Script{Pos: Pos{"/k/main.conf", 1}, Name: "early", Command: []string{"/bin/check", "a b"}, Interval: 5 * time.Second,
				Timeout: 2 * time.Second, Weight: -10, Rise: 2, Fall: 3}
			if !reflect.DeepEqual(c.Scripts[0], early) {
				t.Errorf("script %+v,\nwant %+v", c.Scripts[0], early)
			}
			if got := c.Scripts[1].Command; !reflect.DeepEqual(got, []string{"/bin/late"}) {
				t.Errorf("late %q", got)
			}
			if got := c.Instances[0].TrackScripts; len(got) != 1 || got[0].Name != "early" || got[0].Weight != -10 {
				t.Errorf("VI_1 tracks %+v", got)
			}
			want := []Track{{Pos{"/k/main.conf", 32}, "late", 253, true}, {Pos{"/k/main.conf", 33}, "early", -10, false}}
			if got := c.Instances[1].TrackScripts; !reflect.DeepEqual(got, want) {
				t.Errorf("VI_2 tracks %+v, want %+v", got, want)
			}
		},
	}, {
		name: "track_process and track_file weights: missing, repeated, out of range, unknown option",
		src: `vrrp_track_process p {
  process /bin/p
  weight
  weight 500
  weight 5 sideways
  weight 6
}
track_file f {
  file /run/f
  weight -300
  weight -3 reverse
  weight 4
}
`,
		diags: []want{
			{Warning, 3, "No weight specified for track process p - ignoring"},
			{Warning, 4, "Weight (500) for vrrp_track_process p must be between [-254..254] inclusive. Ignoring..."},
			{Warning, 5, "vrrp_track_process p unknown weight option sideways"},
			{Warning, 6, "Weight already set for track process p - ignoring 6"},
			{Warning, 10, "Weight (-300) for track_file f must be between [-254..254] inclusive. Ignoring..."},
			{Warning, 12, "Weight already set for track file f - ignoring 4"},
		},
		check: func(t *testing.T, c *Config) {
			if p := c.TrackProcesses[0]; p.Weight != 5 || p.WeightReverse {
				t.Errorf("process weight %d reverse %v, want 5 false", p.Weight, p.WeightReverse)
			}
			if f := c.TrackFiles[0]; f.Weight != -3 || !f.WeightReverse {
				t.Errorf("file weight %d reverse %v, want -3 true", f.Weight, f.WeightReverse)
			}
		},
	}, {
		name: "track_process, track_file, notify scripts",
		src: `global_defs {
  enable_script_security
}
vrrp_track_process httpd {
  process /usr/sbin/httpd -DFOREGROUND
  param_match partial
  weight 10 reverse
  quorum 2
  quorum_max 4
  delay 1.5
  full_command
}
track_file tf {
  file /run/prio
  weight -2
  init_file 5 overwrite
}
vrrp_instance VI_1 {` + body + `  track_process {
    httpd
    httpd weight 3
  }
  track_file {
    tf weight 4 reverse
  }
  notify_master "/bin/m 'x y'" nobody nogroup
  notify /bin/n
  notify /bin/n2
}
`,
		diags: []want{
			{Warning, 26, "(VI_1) duplicate track_process httpd - ignoring"},
			{Warning, 33, "(VI_1) notify script already specified - ignoring /bin/n2"},
		},
		check: func(t *testing.T, c *Config) {
			p := TrackProcess{Pos: Pos{"/k/main.conf", 4}, Name: "httpd", Process: "/usr/sbin/httpd", Params: []string{"-DFOREGROUND"},
				ParamMatch: ParamMatchPartial, Weight: 10, WeightReverse: true, Quorum: 2, QuorumMax: 4,
				ForkDelay: 1500 * time.Millisecond, TerminateDelay: 1500 * time.Millisecond, FullCommand: true}
			if !reflect.DeepEqual(c.TrackProcesses[0], p) {
				t.Errorf("process %+v\nwant %+v", c.TrackProcesses[0], p)
			}
			f := TrackFile{Pos: Pos{"/k/main.conf", 13}, Name: "tf", Path: "/run/prio", Weight: -2, InitFile: true, InitValue: 5, InitOverwrite: true}
			if !reflect.DeepEqual(c.TrackFiles[0], f) {
				t.Errorf("file %+v\nwant %+v", c.TrackFiles[0], f)
			}
			in := c.Instances[0]
			if len(in.TrackProcesses) != 1 || in.TrackProcesses[0].Weight != 10 || !in.TrackProcesses[0].Reverse ||
				len(in.TrackFiles) != 1 || in.TrackFiles[0].Weight != 4 || !in.TrackFiles[0].Reverse {
				t.Errorf("tracks %+v %+v", in.TrackProcesses, in.TrackFiles)
			}
			m := in.Notify.Master
			if m == nil || !reflect.DeepEqual(m.Command, []string{"/bin/m", "x y"}) || m.User != "nobody" || m.Group != "nogroup" {
				t.Errorf("notify_master %+v", m)
			}
			if a := in.Notify.Any; a == nil || !reflect.DeepEqual(a.Command, []string{"/bin/n"}) {
				t.Errorf("notify %+v", a)
			}
		},
	}, {
		name: "unicast, mcast_dst_ip, source",
		src: `vrrp_instance VI_1 {` + body + `  unicast_src_ip 10.0.0.5
  unicast_peer {
    10.0.0.6
    10.0.0.7 min_ttl 200
    bad
    2001:db8::1
  }
  mcast_dst_ip 224.0.0.99
}
`,
		diags: []want{
			{Warning, 11, "Configuration error: VRRP instance[VI_1] malformed unicast peer address[bad]. Skipping..."},
			{Warning, 12, "Configuration error: VRRP instance[VI_1] and unicast peer address[2001:db8::1] MUST be of the same family !!! Skipping..."},
			{Warning, 1, "(VI_1) multicast destination specified with unicast - ignoring"},
		},
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if in.SourceAddr != netip.MustParseAddr("10.0.0.5") || len(in.UnicastPeers) != 2 || in.UnicastPeers[1].MinTTL != 200 || in.MulticastGroup.IsValid() {
				t.Errorf("instance %+v", in)
			}
		},
	}, {
		name: "sync groups",
		src: `vrrp_script s {
  script /bin/true
  weight 5
}
vrrp_sync_group G1 {
  group {
    VI_1 VI_2
    VI_X
  }
  notify_master /bin/gm
  track_script {
    s
  }
}
vrrp_sync_group G2 {
  group {
    VI_1
  }
}
vrrp_sync_group G3 {
  group {
    VI_3
  }
  sync_group_tracking_weight
}
vrrp_instance VI_1 {` + body + `  track_script {
    s
  }
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 2
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_instance VI_3 {
  interface eth2
  virtual_router_id 3
  virtual_ipaddress {
    10.0.0.3
  }
  track_script {
    s
  }
}
`,
		diags: []want{
			{Warning, 8, "Virtual router VI_X specified in sync group G1 doesn't exist - ignoring"},
			{Warning, 33, "(VI_1) track_script s is configured on VRRP instance and sync group. Remove vrrp instance config"},
			{Warning, 17, "Virtual router VI_1 cannot exist in more than one sync group; ignoring G2"},
			{Warning, 15, "Sync group G2, no matching virtual router found in group declaration - removing"},
			{Warning, 20, "Sync group G3 has only 1 virtual router(s) - this probably isn't what you want"},
			{Warning, 1, "SECURITY VIOLATION"},
			{Warning, 33, "(VI_1) ignoring tracked script s with weights due to SYNC group"},
		},
		check: func(t *testing.T, c *Config) {
			if len(c.SyncGroups) != 2 || len(c.SyncGroups[0].Members) != 2 || c.SyncGroups[1].Name != "G3" {
				t.Fatalf("groups %+v", c.SyncGroups)
			}
			g := c.SyncGroups[0]
			if g.Notify.Master == nil || len(g.TrackScripts) != 1 || g.TrackScripts[0].Weight != 5 {
				t.Errorf("G1 %+v", g)
			}
			if len(c.Instances[0].TrackScripts) != 0 || len(c.Instances[2].TrackScripts) != 1 {
				t.Errorf("tracks %+v / %+v", c.Instances[0].TrackScripts, c.Instances[2].TrackScripts)
			}
		},
	}, {
		name: "fatal conditions",
		src: `vrrp_instance A {` + body + `}
vrrp_instance B {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    10.0.0.2
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 1
  unicast_peer {
    10.0.0.9
  }
  virtual_ipaddress {
    10.0.0.3
  }
}
vrrp_instance D {
  virtual_router_id 4
}
vrrp_instance A {
}
`,
		diags: []want{
			{Warning, 28, "vrrp instance A already defined"},
			{Warning, 25, "(D) No VIP specified; at least one is sensible"},
			{Error, 25, "(D) Unknown interface!"},
			{Error, 8, "A and B both use VRID 1 with IPv4 on interface eth0"},
			{Error, 15, "(C) VRID 1 with IPv4 on interface eth0 is also used by A: keepalived allows it with distinct multicast groups or unicast peers, vrrpkit needs a unique VRID per interface and family"},
		},
	}, {
		name: "unsupported, no effect and unknown keywords",
		src: `global_defs {
  notification_email {
    root@example.com
  }
  smtp_server 10.0.0.1
  lvs_id x
  vrrp_iptables
  vrrp_garp_extra_if 10
  bogus_block {
    x
  }
}
static_routes {
  10.1.0.0/16 via 10.0.0.254
}
vrrp_instance VI_1 {` + body + `  smtp_alert
  no_accept
  use_ipvlan
  track_bfd {
    b
  }
  virtual_ipaddress_excluded {
    10.0.0.9/24 brd + dev eth1
  }
  authentication {
    auth_type AH
    auth_pass x
  }
  nopreempt {
  }
  state
  v3_checksum_as_v2
}
`,
		diags: []want{
			{Warning, 2, "keyword notification_email has no effect here"},
			{Warning, 5, "keyword smtp_server has no effect here"},
			{Warning, 6, "Unknown keyword 'lvs_id' (keepalived 1.x's name for router_id"},
			{Warning, 7, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option"},
			{Error, 8, "vrrp_garp_extra_if is not supported"},
			{Warning, 9, "Unknown keyword 'bogus_block'"},
			{Error, 9, "Unexpected '{' after unknown keyword bogus_block"},
			{Warning, 22, "keyword smtp_alert has no effect here"},
			{Error, 24, "use_ipvlan is not supported"},
			{Error, 25, "track_bfd is not supported: BFD"},
			{Error, 35, "Unexpected '{' - nopreempt takes no block"},
			{Error, 37, "*** Configuration line starting `state` is missing a parameter after keyword `state` at word position 2"},
			{Warning, 38, "Unknown keyword 'v3_checksum_as_v2' (not in keepalived 2.2.7)"},
		},
		check: func(t *testing.T, c *Config) {
			if v := c.Instances[0].ExcludedVIPs[0]; v.Broadcast != netip.MustParseAddr("10.0.0.255") || v.Device != "eth1" {
				t.Errorf("evip %+v", v)
			}
		},
	}, {
		name: "strict mode",
		src: `global_defs {
  vrrp_strict
}
vrrp_instance VI_1 {` + body + `  priority 255
  authentication {
    auth_type PASS
    auth_pass x
  }
  preempt_delay 10
}
`,
		diags: []want{
			{Warning, 4, "(VI_1) Strict mode does not support authentication. Ignoring."},
			{Warning, 4, "(VI_1) Warning - preempt delay will not work with initial state MASTER - clearing"},
		},
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if !in.Strict || in.Accept || !in.LowerPrioNoAdvert || in.State != StateMaster {
				t.Errorf("instance %+v", in)
			}
		},
	}, {
		name: "strict mode implies no_accept",
		src: `global_defs {
  vrrp_strict
  vrrp_version 3
}
vrrp_instance VI_1 {` + body + `}
vrrp_instance VI_2 {` + body + `  accept
  virtual_router_id 2
}
vrrp_instance VI_3 {` + body + `  version 2
  accept
  virtual_router_id 3
}
vrrp_instance VI_4 {` + body + `  strict_mode
  version 2
  virtual_router_id 4
}
`,
		diags: []want{
			{Warning, 21, "(VI_3) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"},
		},
		check: func(t *testing.T, c *Config) {
			for i, accept := range []bool{false, true, false, false} {
				if in := c.Instances[i]; !in.Strict || in.Accept != accept {
					t.Errorf("%s: strict %v, accept %v; want strict, accept %v", in.Name, in.Strict, in.Accept, accept)
				}
			}
			if in := c.Instances[1]; in.Version != 3 {
				t.Errorf("VI_2 %+v", in)
			}
		},
	}, {
		name: "LVS",
		src: `virtual_server_group G {
  10.1.0.1 80
  10.1.0.10-20 80
  fwmark 7
}
virtual_server 10.1.0.1 80 {
  delay_loop 6
  lb_algo wrr
  lb_kind DR
  protocol tcp
  quorum 2
  hysteresis 1
  inhibit_on_failure
  sorry_server 10.2.0.1 80
  real_server 10.2.0.2 8080 {
    weight 3
    notify_up "/bin/up x"
    TCP_CHECK {
      connect_timeout 3
      connect_port 8081
      retry 2
    }
    HTTP_GET {
      url {
        path /health
        status_code 200 300-399
      }
    }
    SMTP_CHECK {
      helo_name x
    }
  }
}
`,
		diags: []want{
			{Warning, 17, "SECURITY VIOLATION - check scripts are being executed"},
		},
		check: func(t *testing.T, c *Config) {
			g := c.VirtualServerGroups[0]
			if len(g.Entries) != 3 || g.Entries[1].Last != netip.MustParseAddr("10.1.0.20") || g.Entries[2].FWMark != 7 {
				t.Errorf("group %+v", g)
			}
			vs := c.VirtualServers[0]
			if vs.Addr != netip.MustParseAddr("10.1.0.1") || vs.Port != 80 || vs.DelayLoop != 6*time.Second || vs.Scheduler != "wrr" ||
				vs.Forwarding != "DR" || vs.Protocol != "TCP" || vs.Quorum != 2 || vs.Hysteresis != 1 || !vs.InhibitOnFailure ||
				vs.SorryServer == nil || vs.SorryServer.Port != 80 {
				t.Errorf("virtual server %+v", vs)
			}
			rs := vs.RealServers[0]
			if rs.Weight != 3 || rs.NotifyUp == nil || len(rs.Checkers) != 3 {
				t.Fatalf("real server %+v", rs)
			}
			if tc := rs.Checkers[0]; tc.Type != "TCP_CHECK" || tc.ConnectTimeout != 3*time.Second || tc.ConnectPort != 8081 || tc.Retry != 2 {
				t.Errorf("TCP_CHECK %+v", tc)
			}
			if u := rs.Checkers[1].URLs; len(u) != 1 || u[0].Path != "/health" || !reflect.DeepEqual(u[0].StatusCodes, [][2]int{{200, 200}, {300, 399}}) {
				t.Errorf("HTTP_GET urls %+v", u)
			}
			if sc := rs.Checkers[2]; sc.Type != "SMTP_CHECK" || sc.HeloName != "x" {
				t.Errorf("SMTP_CHECK %+v", sc)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, ds := load(t, tc.src, tc.opts)
			checkDiags(t, ds, tc.diags)
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestMulticastGroups(t *testing.T) {
	_, ds := load(t, `vrrp_instance A {`+body+`}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  mcast_dst_ip 224.0.0.99
  virtual_ipaddress {
    10.0.0.2
  }
}
`, LoadOptions{})
	checkDiags(t, ds, []want{{Error, 8, "(B) multicast group 224.0.0.99 differs from 224.0.0.18 of A on interface eth0"}})
}

func TestOSHost(t *testing.T) {
	var h OSHost
	if err := h.FindScript("sh"); err != nil {
		t.Errorf("FindScript(sh): %v", err)
	}
	if err := h.FindScript("/nonexistent/script"); err == nil {
		t.Error("FindScript of a missing path: no error")
	}
	if err := h.FindScript("/etc/hostname"); err == nil {
		if st, _ := os.Stat("/etc/hostname"); st != nil && st.Mode()&0o111 == 0 {
			t.Error("FindScript of a non-executable file: no error")
		}
	}
	if !h.UserExists("root") || h.UserExists("no-such-user-kaconf") {
		t.Error("UserExists")
	}
	if id, err := DefaultConfigID(); err != nil || id == "" || strings.Contains(id, ".") {
		t.Errorf("DefaultConfigID() = %q, %v", id, err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("keepalived.conf", "include conf.d/*.conf\ninclude exec.conf\ninclude conf.d\n", 0o644)
	write("conf.d/vi.conf", "vrrp_instance VI_1 {"+body+"}\n", 0o644)
	write("exec.conf", "x\n", 0o755)
	c, ds, err := Load(filepath.Join(dir, "keepalived.conf"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDiags(t, ds, []want{
		{Warning, 2, "Configuration file '" + filepath.Join(dir, "exec.conf") + "' is not a regular non-executable file - skipping"},
		{Warning, 3, "Configuration file '" + filepath.Join(dir, "conf.d") + "/' is a directory - skipping"},
	})
	if len(c.Instances) != 1 || c.Instances[0].Pos != (Pos{filepath.Join(dir, "conf.d/vi.conf"), 1}) {
		t.Errorf("instances %+v", c.Instances)
	}
	if _, _, err := Load(filepath.Join(dir, "none.conf"), LoadOptions{}); !IsNotExist(err) {
		t.Errorf("Load of a missing file: %v, want a not-exist error", err)
	}
	if _, _, err := Load(dir, LoadOptions{}); err == nil {
		t.Error("Load of a directory: no error")
	}
}

func TestHostScripts(t *testing.T) {
	src := `vrrp_script here {
  script /bin/here
}
vrrp_script gone {
  script "/bin/gone arg"
}
vrrp_script redirect {
  script "</dev/tcp/127.0.0.1/80"
}
vrrp_instance VI_1 {` + body + `  track_script {
    here
    gone
    redirect
  }
}
`
	host := fakeHost{scripts: map[string]bool{"/bin/here": true}}
	c, ds := load(t, src, LoadOptions{Host: host})
	checkDiags(t, ds, []want{
		{Warning, 4, "Disabling track script gone since not found/accessible"},
		{Warning, 1, "SECURITY VIOLATION - scripts are being executed but script_security not enabled. (/bin/here runs as root"},
	})
	if len(c.Scripts) != 2 || len(c.Instances[0].TrackScripts) != 2 {
		t.Errorf("scripts %+v, tracks %+v", c.Scripts, c.Instances[0].TrackScripts)
	}
	// With the user keepalived_script, scripts do not run as root.
	host.users = map[string]bool{"keepalived_script": true}
	_, ds = load(t, src, LoadOptions{Host: host})
	checkDiags(t, ds, []want{{Warning, 4, "Disabling track script gone"}})
}

// With enable_script_security, no script_user and no user
// keepalived_script (Debian's packages create none), keepalived 2.2.7
// cannot pick a user for the scripts that name none: it removes such
// vrrp_scripts and MISC_CHECKs and ignores such notify scripts, with these
// messages (measured with keepalived -t and the daemon). Scripts with a
// user of their own stay; with keepalived_script present, it runs them.
func TestScriptUserFallback(t *testing.T) {
	src := `global_defs {
  enable_script_security
}
vrrp_script chk {
  script /bin/chk
}
vrrp_script mine {
  script /bin/chk
  user nobody
}
vrrp_instance VI_1 {` + body + `  track_script {
    chk
    mine
  }
  notify_master /bin/notify
  notify_backup /bin/notify nobody
}
virtual_server 198.18.9.9 80 {
  real_server 198.18.9.20 80 {
    MISC_CHECK {
      misc_path "/bin/chk misc"
    }
  }
}
`
	host := fakeHost{scripts: map[string]bool{"/bin/chk": true, "/bin/notify": true}}
	c, ds := load(t, src, LoadOptions{Host: host})
	checkDiags(t, ds, []want{
		{Warning, 4, "Unable to set default user keepalived_script for script"},
		{Warning, 4, "Unable to set default user for vrrp script chk - removing"},
		{Warning, 18, "(VI_1) track script chk not found, ignoring..."},
		{Warning, 21, "Unable to set default user keepalived_script for script"},
		{Warning, 21, "Failed to set default user for notify script /bin/notify - ignoring"},
		{Warning, 27, "Unable to set default user keepalived_script for script"},
		{Warning, 27, "Unable to set default user for misc script '/bin/chk' 'misc' - removing"},
	})
	in := c.Instances[0]
	if len(in.TrackScripts) != 1 || in.TrackScripts[0].Name != "mine" || len(c.Scripts) != 1 {
		t.Errorf("tracks %+v, scripts %+v; want mine alone", in.TrackScripts, c.Scripts)
	}
	if in.Notify.Master != nil || in.Notify.Backup == nil {
		t.Errorf("notify %+v; want notify_master ignored, notify_backup kept", in.Notify)
	}
	if n := len(c.VirtualServers[0].RealServers[0].Checkers); n != 0 {
		t.Errorf("%d checkers; want the MISC_CHECK removed", n)
	}
	if c.Global.DefaultScriptUser != "" {
		t.Errorf("DefaultScriptUser %q", c.Global.DefaultScriptUser)
	}

	host.users = map[string]bool{"keepalived_script": true}
	c, ds = load(t, src, LoadOptions{Host: host})
	checkDiags(t, ds, nil)
	if c.Global.DefaultScriptUser != "keepalived_script" || len(c.Instances[0].TrackScripts) != 2 || c.Instances[0].Notify.Master == nil {
		t.Errorf("with keepalived_script: default user %q, instance %+v", c.Global.DefaultScriptUser, c.Instances[0])
	}
}

type fakeHost struct {
	scripts, users map[string]bool
}

func (h fakeHost) FindScript(cmd string) error {
	if h.scripts[cmd] {
		return nil
	}
	return errors.New("no such file")
}

func (h fakeHost) UserExists(name string) bool { return h.users[name] }

// FindInterface finds every interface.
func (fakeHost) FindInterface(string) error { return nil }

func TestDiagnosticsOfBuiltConfig(t *testing.T) {
	c := &Config{
		Scripts: []Script{{Name: "s", Command: []string{"/bin/s"}, User: "nobody"}},
		Instances: []Instance{
			{Name: "A", Interface: "eth0", VRID: 1, MulticastGroup: netip.MustParseAddr("224.0.0.18"),
				TrackScripts: []Track{{Name: "s"}, {Name: "t", Pos: Pos{"x.conf", 3}}}},
			{Name: "B", Interface: "eth0", VRID: 1, MulticastGroup: netip.MustParseAddr("224.0.0.18"), Pos: Pos{"x.conf", 9}},
		},
		SyncGroups: []SyncGroup{{Name: "G", Pos: Pos{"x.conf", 20}, Members: []Member{{Name: "A"}, {Name: "C", Pos: Pos{"x.conf", 21}}}}},
	}
	ds := c.Diagnostics()
	checkDiags(t, ds, []want{
		{Warning, 3, "(A) track script t not found, ignoring..."},
		{Warning, 21, "Virtual router C specified in sync group G doesn't exist - ignoring"},
		{Warning, 20, "Sync group G has only 1 virtual router(s)"},
		{Error, 9, "A and B both use VRID 1 with IPv4 on interface eth0"},
	})
	if ds.Err() == nil || !errors.Is(ds.Err(), ErrConfig) || !ds.HasErrors() || len(ds.Filter(Warning)) != 3 {
		t.Errorf("Err %v, HasErrors %v", ds.Err(), ds.HasErrors())
	}
	if got, want := ds[0].String(), "x.conf:3: warning: (A) track script t not found, ignoring..."; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	if got, want := ds[0].Text(), "x.conf:3: (A) track script t not found, ignoring..."; got != want {
		t.Errorf("Text %q, want %q", got, want)
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		fn   func(string) (int64, string)
		in   string
		v    int64
		msg  string
		name string
	}{
		{name: "unsigned", in: "42", v: 42},
		{name: "unsigned", in: "+7", v: 7},
		{name: "unsigned", in: "-1", msg: "negative number '-1'"},
		{name: "unsigned", in: "1x", msg: "invalid number '1x'"},
		{name: "unsigned", in: "", msg: "invalid number ''"},
		{name: "unsigned", in: "99999999999", msg: "number '99999999999' outside unsigned integer range"},
		{name: "unsigned", in: "256", v: 256, msg: "number '256' outside range [1, 255]"},
		{name: "int", in: "-253", v: -253},
		{name: "int", in: "--3", msg: "invalid number '--3'"},
		{name: "int", in: "300", v: 300, msg: "number '300' outside range [-254, 254]"},
		{name: "decimal", in: "0.5", v: 500000},
		{name: "decimal", in: "12", v: 12000000},
		{name: "decimal", in: ".25", v: 250000},
		{name: "decimal", in: "1.", v: 1000000},
		{name: "decimal", in: "0.0000001", msg: "number '0.0000001' has too many decimal places"},
		{name: "decimal", in: "0.001", v: 1000, msg: "number '0.001' outside range [0.010000, 255.000000]"},
		{name: "decimal", in: ".", msg: "invalid number '.'"},
		{name: "decimal", in: "1e3", msg: "invalid number '1e3'"},
	} {
		var v int64
		var msg string
		switch tc.name {
		case "unsigned":
			var u uint64
			u, msg = parseUnsigned(tc.in, 1, 255)
			v = int64(u)
		case "int":
			v, msg = parseInt(tc.in, -254, 254)
		case "decimal":
			var u uint64
			u, msg = parseDecimal(tc.in, 10000, 255e6)
			v = int64(u)
		}
		if msg != tc.msg || (msg == "" && v != tc.v) {
			t.Errorf("%s(%q) = %d, %q; want %d, %q", tc.name, tc.in, v, msg, tc.v, tc.msg)
		}
	}
}

func TestVIPOptions(t *testing.T) {
	c, ds := load(t, `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  use_vmac bad/name
  virtual_ipaddress {
    10.0.0.1/24 dev eth1 label eth1:vip scope host no_track
    10.0.0.2/24 brd - peer 10.0.0.9/32
    10.0.0.3 scope moon label averyveryverylonglabel
    10.0.0.4 preferred_lft forever home
  }
  virtual_ipaddress_excluded {
    fe80::1/64 -nodad scope link label x
  }
}
`, LoadOptions{})
	checkDiags(t, ds, []want{
		{Warning, 4, "VMAC interface name 'bad/name' too long or invalid characters - ignoring"},
		{Error, 7, "address option peer of 10.0.0.2/24 is not supported"},
		{Warning, 8, "Invalid scope 'moon' specified for 10.0.0.3 - ignoring"},
		{Warning, 8, "Address label averyveryverylonglabel is longer than maximum length 15 - removing address"},
		{Error, 9, "address option preferred_lft, home of 10.0.0.4 is not supported"},
		{Warning, 12, "Cannot specify scope for IPv6 addresses (fe80::1/64) - ignoring scope"},
		{Warning, 12, "Cannot specify label for IPv6 addresses (fe80::1/64) - ignoring label"},
	})
	in := c.Instances[0]
	if len(in.VIPs) != 3 || in.VMACName != "vrrp.1" {
		t.Fatalf("VIPs %+v, VMAC %q", in.VIPs, in.VMACName)
	}
	want := VIP{Pos: Pos{"/k/main.conf", 6}, Prefix: netip.MustParsePrefix("10.0.0.1/24"), Device: "eth1", Label: "eth1:vip", Scope: "host", NoTrack: true}
	if !reflect.DeepEqual(in.VIPs[0], want) {
		t.Errorf("VIP %+v\nwant %+v", in.VIPs[0], want)
	}
	if v := in.VIPs[1]; v.Broadcast != netip.MustParseAddr("10.0.0.0") || v.Peer != netip.MustParsePrefix("10.0.0.9/32") {
		t.Errorf("VIP %+v", v)
	}
	if v := in.VIPs[2]; v.PreferredLifetime != -1 || !reflect.DeepEqual(v.Flags, []string{"home"}) {
		t.Errorf("VIP %+v", v)
	}
	if v := in.ExcludedVIPs[0]; !reflect.DeepEqual(v.Flags, []string{"-nodad"}) || v.Scope != "" {
		t.Errorf("eVIP %+v", v)
	}
}
