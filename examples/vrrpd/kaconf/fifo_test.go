package kaconf

import (
	"reflect"
	"testing"
)

// TestNotifyFIFO reads the notify FIFO keywords of global_defs with
// keepalived 2.2.7's syntax and messages (measured with keepalived -t).
func TestNotifyFIFO(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       string
		diags     []want
		fifo, vrp NotifyFIFO
	}{{
		name: "FIFOs with owner and scripts",
		src: `global_defs {
  enable_script_security
  notify_fifo /run/all.fifo
  notify_fifo_script "/bin/reader -v" nobody nogroup
  vrrp_notify_fifo /run/vrrp.fifo nobody nogroup
  vrrp_notify_fifo_script /bin/vreader
}
`,
		fifo: NotifyFIFO{Pos: Pos{Line: 3}, Path: "/run/all.fifo",
			Script: &NotifyScript{Pos: Pos{Line: 4}, Command: []string{"/bin/reader", "-v"}, User: "nobody", Group: "nogroup"}},
		vrp: NotifyFIFO{Pos: Pos{Line: 5}, Path: "/run/vrrp.fifo", User: "nobody", Group: "nogroup",
			Script: &NotifyScript{Pos: Pos{Line: 6}, Command: []string{"/bin/vreader"}}},
	}, {
		name: "missing names and repeats: keepalived keeps the first",
		src: `global_defs {
  notify_fifo
  vrrp_notify_fifo /run/a.fifo
  vrrp_notify_fifo /run/b.fifo
  vrrp_notify_fifo_script
  notify_fifo_script
}
`,
		diags: []want{
			{Warning, 2, "No notify_fifo name specified"},
			{Warning, 4, "vrrp_notify_fifo already specified - ignoring /run/b.fifo"},
			{Warning, 5, "No vrrp_notify_fifo_script specified"},
			{Warning, 6, "No notify_fifo_script specified"},
		},
		vrp: NotifyFIFO{Pos: Pos{Line: 3}, Path: "/run/a.fifo"},
	}, {
		name: "second script ignored; scripts as root without script security",
		src: `global_defs {
  notify_fifo /run/a.fifo
  notify_fifo_script /bin/one
  notify_fifo_script /bin/two
}
`,
		diags: []want{
			{Warning, 4, "notify_fifo_script already specified - ignoring /bin/two"},
			{Warning, 3, "SECURITY VIOLATION - scripts are being executed but script_security not enabled. (/bin/one runs as root"},
		},
		fifo: NotifyFIFO{Pos: Pos{Line: 2}, Path: "/run/a.fifo", Script: &NotifyScript{Pos: Pos{Line: 3}, Command: []string{"/bin/one"}}},
	}, {
		name: "a script without its FIFO is never run",
		src: `global_defs {
  enable_script_security
  vrrp_notify_fifo_script /bin/one
}
`,
		diags: []want{{Warning, 3, "vrrp_notify_fifo_script /bin/one is never run: keepalived runs it only with vrrp_notify_fifo"}},
	}, {
		name: "priority changes: checked, no effect",
		src: `global_defs {
  vrrp_notify_priority_changes bogus
  vrrp_notify_priority_changes false
  vrrp_notify_priority_changes
}
vrrp_sync_group G {
  group {
    VI_1
  }
  notify_priority_changes maybe
}
vrrp_instance VI_1 {` + body + `  notify_priority_changes maybe
  notify_priority_changes no
  notify_priority_changes on
}
`,
		diags: []want{
			{Warning, 2, "Invalid value 'bogus' for global vrrp_notify_priority_changes specified"},
			{Warning, 4, "keyword vrrp_notify_priority_changes has no effect here (the notify FIFOs get state changes only"},
			{Warning, 10, "(G) Invalid value 'maybe' for sync group notify_priority_changes specified"},
			{Warning, 18, "(VI_1) Invalid value 'maybe' for notify_priority_changes specified"},
			{Warning, 20, "keyword notify_priority_changes has no effect here"},
			{Warning, 6, "Sync group G has only 1 virtual router(s)"},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, ds := load(t, tc.src, LoadOptions{})
			checkDiags(t, ds, tc.diags)
			if c == nil {
				t.Fatal("no configuration")
			}
			for _, f := range []struct {
				got, want NotifyFIFO
			}{{c.Global.NotifyFIFO, tc.fifo}, {c.Global.VRRPNotifyFIFO, tc.vrp}} {
				f.got.Pos.File = ""
				if f.got.Script != nil {
					s := *f.got.Script
					s.Pos.File = ""
					f.got.Script = &s
				}
				if !reflect.DeepEqual(f.got, f.want) {
					t.Errorf("FIFO %+v (script %+v), want %+v (script %+v)", f.got, f.got.Script, f.want, f.want.Script)
				}
			}
		})
	}
}
