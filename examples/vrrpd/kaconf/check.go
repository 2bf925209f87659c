package kaconf

import (
	"strings"
)

// Diagnostics checks the cross references of c, as keepalived checks them
// once the whole configuration is read: tracks that name no vrrp_script,
// vrrp_track_process or track_file; sync groups that name unknown
// instances, or an instance already in another group; groups of one
// instance; VRID duplicates on an interface; and script security: keepalived's
// SECURITY VIOLATION warning when scripts would run as root without
// enable_script_security. It does not change c. Load calls it, so its
// diagnostics are among Load's; call it again after changing a Config.
func (c *Config) Diagnostics() Diagnostics {
	var d diagSink
	c.diagnostics(&d, nil)
	return d.list
}

// diagnostics runs the checks of Diagnostics, with the host's view of the
// scripts when host is not nil, and returns the tracked scripts the host
// check disables.
func (c *Config) diagnostics(d *diagSink, host Host) map[string]bool {
	c.checkInterfaces(d, host)
	c.checkRefs(d)
	c.checkGroups(d)
	c.checkVRIDs(d)
	return c.checkSecurity(d, host)
}

// checkInterfaces reports, in keepalived's words, the interfaces the
// configuration names that host does not have: an instance's interface,
// its tracked interfaces and its addresses' devices, and a sync group's
// tracked interfaces. keepalived 2.2.7 reports them as configuration
// errors (keepalived -t exits with status 5), ending with "Non-existent
// interface specified in configuration". With dynamic_interfaces missing
// interfaces are allowed; with net_namespace they are looked for in a
// namespace this check does not enter, so neither is checked.
func (c *Config) checkInterfaces(d *diagSink, host Host) {
	if host == nil || c.Global.DynamicInterfaces || c.Global.NetNamespace != "" {
		return
	}
	known := map[string]bool{}
	exists := func(name string) bool {
		if ok, seen := known[name]; seen {
			return ok
		}
		ok := host.FindInterface(name) == nil
		known[name] = ok
		return ok
	}
	missing := false
	for _, in := range c.Instances {
		if in.Interface != "" && !exists(in.Interface) {
			d.warnf(in.Pos, "WARNING - interface %s for vrrp_instance %s doesn't exist", in.Interface, in.Name)
			missing = true
		}
		for _, t := range in.TrackInterfaces {
			if !exists(t.Name) {
				d.warnf(t.Pos, "(%s) tracked interface %s doesn't exist", in.Name, t.Name)
				missing = true
			}
		}
		for _, vips := range [][]VIP{in.VIPs, in.ExcludedVIPs} {
			for _, v := range vips {
				if v.Device != "" && v.Device != in.Interface && !exists(v.Device) {
					d.warnf(v.Pos, "WARNING - interface %s for ip address %s doesn't exist", v.Device, v.Prefix.Addr())
					missing = true
				}
			}
		}
	}
	for _, g := range c.SyncGroups {
		for _, t := range g.TrackInterfaces {
			if !exists(t.Name) {
				d.warnf(t.Pos, "(%s) tracked interface %s doesn't exist", g.Name, t.Name)
				missing = true
			}
		}
	}
	if missing {
		d.warnf(Pos{}, "Non-existent interface specified in configuration")
	}
}

func (c *Config) checkRefs(d *diagSink) {
	scripts := map[string]bool{}
	for _, s := range c.Scripts {
		scripts[s.Name] = true
	}
	procs := map[string]bool{}
	for _, p := range c.TrackProcesses {
		procs[p.Name] = true
	}
	files := map[string]bool{}
	for _, f := range c.TrackFiles {
		files[f.Name] = true
	}
	check := func(owner string, ts []Track, known map[string]bool, what string) {
		for _, t := range ts {
			if !known[t.Name] {
				d.warnf(t.Pos, "(%s) %s %s not found, ignoring...", owner, what, t.Name)
			}
		}
	}
	for _, in := range c.Instances {
		check(in.Name, in.TrackScripts, scripts, "track script")
		check(in.Name, in.TrackProcesses, procs, "track process")
		check(in.Name, in.TrackFiles, files, "track file")
	}
	for _, g := range c.SyncGroups {
		check(g.Name, g.TrackScripts, scripts, "track script")
		check(g.Name, g.TrackProcesses, procs, "track process")
		check(g.Name, g.TrackFiles, files, "track file")
	}
	used := map[string]bool{}
	for _, in := range c.Instances {
		for _, t := range in.TrackScripts {
			used[t.Name] = true
		}
	}
	for _, g := range c.SyncGroups {
		for _, t := range g.TrackScripts {
			used[t.Name] = true
		}
	}
	for _, s := range c.Scripts {
		if !used[s.Name] {
			d.remarkf(s.Pos, "Warning - script %s is not used", s.Name)
		}
	}
}

// checkGroups reports what keepalived's vrrp_sync_set_group reports.
func (c *Config) checkGroups(d *diagSink) {
	owner := map[string]string{}
	for _, g := range c.SyncGroups {
		n := 0
		owners, others := 0, 0
		for _, m := range g.Members {
			in := c.instance(m.Name)
			switch {
			case in == nil:
				d.warnf(m.Pos, "Virtual router %s specified in sync group %s doesn't exist - ignoring", m.Name, g.Name)
				continue
			case owner[m.Name] != "":
				d.warnf(m.Pos, "Virtual router %s cannot exist in more than one sync group; ignoring %s", m.Name, g.Name)
				continue
			}
			owner[m.Name] = g.Name
			n++
			if in.Priority == ownerPriority {
				owners++
			} else {
				others++
			}
		}
		switch {
		case n == 0:
			d.warnf(g.Pos, "Sync group %s, no matching virtual router found in group declaration - removing", g.Name)
		case n == 1:
			d.warnf(g.Pos, "Sync group %s has only 1 virtual router(s) - this probably isn't what you want", g.Name)
		}
		for _, t := range g.TrackScripts {
			for _, m := range g.Members {
				if in := c.instance(m.Name); in != nil {
					for _, it := range in.TrackScripts {
						if it.Name == t.Name {
							d.warnf(it.Pos, "(%s) track_script %s is configured on VRRP instance and sync group. Remove vrrp instance config", in.Name, t.Name)
						}
					}
				}
			}
		}
		if owners > 0 && others > 0 {
			d.warnf(g.Pos, "Sync group %s has some member(s) as address owner and some not as address owner. This won't work.", g.Name)
		}
	}
}

// checkVRIDs reports instances that share a VRID on an interface and
// address family. keepalived refuses them when they also share the socket
// (both multicast to one group, or unicast with a common peer); vrrpkit
// refuses them all. vrrpkit also needs the multicast instances of an
// interface and family to use one group.
func (c *Config) checkVRIDs(d *diagSink) {
	type slot struct {
		iface string
		ipv6  bool
		vrid  uint8
	}
	type link struct {
		iface string
		ipv6  bool
	}
	seen := map[slot]*Instance{}
	groups := map[link]*Instance{}
	for i := range c.Instances {
		in := &c.Instances[i]
		if in.Interface == "" {
			continue
		}
		if len(in.UnicastPeers) == 0 && in.MulticastGroup.IsValid() {
			l := link{in.Interface, in.IPv6}
			if o := groups[l]; o == nil {
				groups[l] = in
			} else if o.MulticastGroup != in.MulticastGroup {
				d.errorf(in.Pos, "(%s) multicast group %v differs from %v of %s on interface %s: vrrpkit needs one group per interface and family", in.Name, in.MulticastGroup, o.MulticastGroup, o.Name, in.Interface)
			}
		}
		if in.VRID == 0 {
			continue
		}
		s := slot{in.Interface, in.IPv6, in.VRID}
		o := seen[s]
		if o == nil {
			seen[s] = in
			continue
		}
		fam := 4
		if in.IPv6 {
			fam = 6
		}
		if sameSocket(o, in) {
			d.errorf(in.Pos, "%s and %s both use VRID %d with IPv%d on interface %s", o.Name, in.Name, in.VRID, fam, in.Interface)
		} else {
			d.errorf(in.Pos, "(%s) VRID %d with IPv%d on interface %s is also used by %s: keepalived allows it with distinct multicast groups or unicast peers, vrrpkit needs a unique VRID per interface and family", in.Name, in.VRID, fam, in.Interface, o.Name)
		}
	}
}

// sameSocket reports whether keepalived would receive the adverts of a and
// b on the same socket, where a VRID must be unique.
func sameSocket(a, b *Instance) bool {
	if (len(a.UnicastPeers) == 0) != (len(b.UnicastPeers) == 0) {
		return false
	}
	if len(a.UnicastPeers) == 0 {
		return a.MulticastGroup == b.MulticastGroup
	}
	for _, p := range a.UnicastPeers {
		for _, q := range b.UnicastPeers {
			if p.Addr == q.Addr {
				return true
			}
		}
	}
	return false
}

// usedScript is a script keepalived would run.
type usedScript struct {
	pos     Pos
	command []string
	user    string
	// track is the vrrp_script name, for tracked scripts.
	track string
	lvs   bool
}

// usedScripts lists the scripts c would run: every vrrp_script (keepalived
// 2.2.7 checks them all, tracked or not: an untracked one still counts for
// the SECURITY VIOLATION, measured) and the notify scripts.
func (c *Config) usedScripts() []usedScript {
	var out []usedScript
	for _, s := range c.Scripts {
		out = append(out, usedScript{pos: s.Pos, command: s.Command, user: s.User, track: s.Name})
	}
	notify := func(n Notify) {
		for _, s := range []*NotifyScript{n.Master, n.Backup, n.Fault, n.Stop, n.Any, n.MasterRxLowerPri} {
			if s != nil {
				out = append(out, usedScript{pos: s.Pos, command: s.Command, user: s.User})
			}
		}
	}
	for _, in := range c.Instances {
		notify(in.Notify)
	}
	for _, g := range c.SyncGroups {
		notify(g.Notify)
	}
	for _, f := range []NotifyFIFO{c.Global.NotifyFIFO, c.Global.VRRPNotifyFIFO} {
		if s := f.Script; s != nil {
			out = append(out, usedScript{pos: s.Pos, command: s.Command, user: s.User})
		}
	}
	lvs := func(s *NotifyScript) {
		if s != nil {
			out = append(out, usedScript{pos: s.Pos, command: s.Command, user: s.User, lvs: true})
		}
	}
	for _, vs := range c.VirtualServers {
		lvs(vs.QuorumUp)
		lvs(vs.QuorumDown)
		for _, rs := range vs.RealServers {
			lvs(rs.NotifyUp)
			lvs(rs.NotifyDown)
			for _, ck := range rs.Checkers {
				lvs(ck.MiscPath)
			}
		}
	}
	return out
}

// checksFile reports a script of the form "</path": a redirection that
// only checks that a file can be opened, which keepalived does not count
// as running a script.
func checksFile(cmd []string) bool {
	if len(cmd) == 0 {
		return false
	}
	s := cmd[0]
	return strings.HasPrefix(s, "<") && strings.HasPrefix(strings.TrimLeft(s[1:], " \t"), "/")
}

// checkSecurity reports keepalived's SECURITY VIOLATION: scripts run as
// root while enable_script_security is off. Without a host, every script is
// taken to exist and the default script user (keepalived_script) not to;
// with one, scripts whose command is missing are reported, as keepalived
// disables them, and do not count, and the default script user is looked
// up (see GlobalDefs.DefaultScriptUser and dropUserless). It returns the
// tracked scripts disabled.
func (c *Config) checkSecurity(d *diagSink, host Host) map[string]bool {
	disabled := map[string]bool{}
	g := &c.Global
	g.DefaultScriptUser = g.ScriptUser
	if host != nil && g.ScriptUser == "" && host.UserExists(defaultScriptUser) {
		g.DefaultScriptUser = defaultScriptUser
	}
	defaultRoot := g.DefaultScriptUser == ""
	if defaultRoot && g.EnableScriptSecurity && host != nil {
		c.dropUserless(d, disabled)
	}
	var vrrpRoot, lvsRoot *usedScript
	scripts := c.usedScripts()
	for i := range scripts {
		s := &scripts[i]
		if checksFile(s.command) || (s.track != "" && disabled[s.track]) {
			continue
		}
		if host != nil {
			if err := host.FindScript(s.command[0]); err != nil {
				if s.track != "" {
					d.warnf(s.pos, "Disabling track script %s since not found/accessible (%v)", s.track, err)
					disabled[s.track] = true
				}
				continue
			}
		}
		user := s.user
		if user == "" {
			user = g.DefaultScriptUser
		}
		root := user == "root" || (user == "" && defaultRoot)
		if !root {
			continue
		}
		if s.lvs {
			if lvsRoot == nil {
				lvsRoot = s
			}
		} else if vrrpRoot == nil {
			vrrpRoot = s
		}
	}
	if !c.Global.EnableScriptSecurity {
		if vrrpRoot != nil {
			d.warnf(vrrpRoot.pos, "SECURITY VIOLATION - scripts are being executed but script_security not enabled. (%s runs as root; set enable_script_security and script_user in global_defs)", strings.Join(vrrpRoot.command, " "))
		}
		if lvsRoot != nil {
			d.warnf(lvsRoot.pos, "SECURITY VIOLATION - check scripts are being executed but script_security not enabled. (%s runs as root)", strings.Join(lvsRoot.command, " "))
		}
	}
	return disabled
}

// defaultScriptUser is keepalived's default script user.
const defaultScriptUser = "keepalived_script"

// dropUserless is keepalived's handling of scripts that name no user when
// enable_script_security is on, script_user is not, and the user
// keepalived_script does not exist: it cannot pick a user for them, so it
// removes the vrrp_scripts (their tracks then refer to nothing) and
// ignores the notify scripts. Removed vrrp_scripts go into disabled.
func (c *Config) dropUserless(d *diagSink, disabled map[string]bool) {
	for _, s := range c.Scripts {
		if s.User != "" || checksFile(s.Command) {
			continue
		}
		d.warnf(s.Pos, "Unable to set default user %s for script", defaultScriptUser)
		d.warnf(s.Pos, "Unable to set default user for vrrp script %s - removing", s.Name)
		disabled[s.Name] = true
	}
	tracks := func(owner string, ts []Track) {
		for _, t := range ts {
			if disabled[t.Name] {
				d.warnf(t.Pos, "(%s) track script %s not found, ignoring...", owner, t.Name)
			}
		}
	}
	for _, in := range c.Instances {
		tracks(in.Name, in.TrackScripts)
	}
	for _, g := range c.SyncGroups {
		tracks(g.Name, g.TrackScripts)
	}
	notify := func(n *Notify) {
		for _, slot := range []**NotifyScript{&n.Master, &n.Backup, &n.Fault, &n.Stop, &n.Any, &n.MasterRxLowerPri} {
			s := *slot
			if s == nil || s.User != "" || checksFile(s.Command) {
				continue
			}
			d.warnf(s.Pos, "Unable to set default user %s for script", defaultScriptUser)
			d.warnf(s.Pos, "Failed to set default user for notify script %s - ignoring", s.Command[0])
			*slot = nil
		}
	}
	for i := range c.Instances {
		notify(&c.Instances[i].Notify)
	}
	for i := range c.SyncGroups {
		notify(&c.SyncGroups[i].Notify)
	}
	// The checker process: a MISC_CHECK is removed, as keepalived
	// removes it; the LVS notify scripts are ignored like VRRP's.
	lvs := func(slot **NotifyScript) {
		if s := *slot; s != nil && s.User == "" && !checksFile(s.Command) {
			d.warnf(s.Pos, "Unable to set default user %s for script", defaultScriptUser)
			*slot = nil
		}
	}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		lvs(&vs.QuorumUp)
		lvs(&vs.QuorumDown)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			lvs(&rs.NotifyUp)
			lvs(&rs.NotifyDown)
			kept := rs.Checkers[:0]
			for _, ck := range rs.Checkers {
				if s := ck.MiscPath; s != nil && s.User == "" && !checksFile(s.Command) {
					d.warnf(s.Pos, "Unable to set default user %s for script", defaultScriptUser)
					d.warnf(s.Pos, "Unable to set default user for misc script '%s' - removing", strings.Join(s.Command, "' '"))
					continue
				}
				kept = append(kept, ck)
			}
			rs.Checkers = kept
		}
	}
}

// prune removes what keepalived ignores after its checks: unknown or
// doubly used sync group members, empty groups, and tracks of disabled
// scripts.
func (c *Config) prune(disabled map[string]bool) {
	owner := map[string]bool{}
	groups := c.SyncGroups[:0]
	for _, g := range c.SyncGroups {
		members := g.Members[:0]
		for _, m := range g.Members {
			if c.instance(m.Name) == nil || owner[m.Name] {
				continue
			}
			owner[m.Name] = true
			members = append(members, m)
		}
		g.Members = members
		if len(members) > 0 {
			groups = append(groups, g)
		}
	}
	c.SyncGroups = groups
	if len(disabled) == 0 {
		return
	}
	drop := func(ts []Track) []Track {
		out := ts[:0]
		for _, t := range ts {
			if !disabled[t.Name] {
				out = append(out, t)
			}
		}
		return out
	}
	for i := range c.Instances {
		c.Instances[i].TrackScripts = drop(c.Instances[i].TrackScripts)
	}
	for i := range c.SyncGroups {
		c.SyncGroups[i].TrackScripts = drop(c.SyncGroups[i].TrackScripts)
	}
	scripts := c.Scripts[:0]
	for _, s := range c.Scripts {
		if !disabled[s.Name] {
			scripts = append(scripts, s)
		}
	}
	c.Scripts = scripts
}
