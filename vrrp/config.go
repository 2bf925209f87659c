package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// ErrConfig is wrapped by every configuration error that Validate and
// NewRouter return.
var ErrConfig = errors.New("vrrp: invalid configuration")

// Defaults applied by Validate to zero fields of an InstanceConfig.
const (
	DefaultVersion        = 3
	DefaultPriority       = 100
	DefaultAdvertInterval = time.Second
)

// Config configures a Router.
type Config struct {
	// Instances are the virtual routers, each with a unique Name.
	Instances []InstanceConfig
	// Transport opens the VRRP sockets. Nil means the real host: raw
	// sockets (transport.Linux), and for those of Binder, Announcer, Links
	// and Clock that are nil as well, netlink VIPs with a lease (VIPLease),
	// gratuitous ARP and neighbour advertisements, the netlink link monitor
	// and PreciseClock; it needs Linux and CAP_NET_RAW and CAP_NET_ADMIN.
	// Tests pass transport/fake, and the other fakes, explicitly.
	Transport Transport
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// Binder adds and removes the virtual addresses; nil leaves them alone
	// (with a Transport; see Transport).
	Binder Binder
	// Announcer sends gratuitous ARP and unsolicited NA at takeover; nil
	// sends none.
	Announcer Announcer
	// Links reports interface state (transport.Monitor on a real host): an
	// instance whose interface goes down or loses its address goes to
	// FAULT, and tracked interfaces move priorities. Nil means interfaces
	// are taken to be up.
	Links LinkMonitor
	// SyncGroups are groups of instances that change state together.
	SyncGroups []SyncGroup
	// OnGroupTransition, if set, is called for every state change of a
	// sync group, in order with OnTransition, from the same goroutine.
	OnGroupTransition func(GroupTransition)
	// VIPLease is the kernel lifetime of the addresses bound by the Binder
	// a Router makes for the real host (Transport and Binder nil): the
	// Master binds them again every third of it, so that the addresses of
	// a killed process expire by themselves. 0 means DefaultVIPLease; a
	// negative value, addresses that do not expire (as keepalived's).
	VIPLease time.Duration
	// Logger receives the Router's logs; nil discards them.
	Logger *slog.Logger
	// LogUnknownVRIDs logs adverts for VRIDs no instance has on their
	// interface (keepalived's log_unknown_vrids), at most one line per
	// interface and family every 10 s with the count of those left out.
	// They are counted in RouterStats either way.
	LogUnknownVRIDs bool
	// OnTransition, if set, is called for every state change, in order,
	// from a goroutine of the Router's, never with a lock held and never
	// blocking the protocol: a slow callback only delays later callbacks.
	// When it runs, Status and InstanceStatus already show the change (or
	// a later one). A transition to MASTER is reported once the takeover
	// advert has left; the addresses are bound beside it, and OnMaster
	// runs once they are.
	OnTransition func(Transition)
	// EagerReads reads every advert as it arrives. By default a Router
	// whose Transport can hold adverts back (a DeferredReader, as
	// transport.Linux) lets it do so while every virtual router on a
	// socket is a Backup, and reads them when a timer falls due: a Backup
	// then wakes once per Master_Down_Interval instead of once per advert,
	// with the same deadlines (adverts are dated by their arrival). The
	// price is that a Backup's Status (its Master, counters and drops)
	// lags by up to a Master_Down_Interval.
	EagerReads bool
	// OnMaster, if set, is called in a goroutine of its own each time an
	// instance becomes Master, once its VIPs are bound and its Status
	// shows Master; never while they are not (a failed bind puts the
	// instance in FAULT instead). Its context is cancelled as soon as the
	// instance stops being Master or the Router stops. Calls of one
	// instance never overlap: when it becomes Master again before the
	// previous call returned (still draining after its context ended), the
	// next call starts once it has. Run waits for every call to return.
	OnMaster func(ctx context.Context, instance string)
	// OnLowerPriority, if set, is called each time a Master hears an
	// advert of a lower priority, in order with OnTransition and from the
	// same goroutine (keepalived's notify_master_rx_lower_pri). The
	// Master has already answered it (see NoLowerPrioAdvert and
	// GARPLowerPrioRepeat).
	OnLowerPriority func(LowerPriority)
	// Static are the addresses, routes and rules held for as long as Run
	// runs, whatever the state of the instances (keepalived's
	// static_ipaddress, static_routes and static_rules): added when Run
	// starts, before the instances, and removed when it returns. Each
	// address names its Device. Routes and rules need a RouteBinder.
	Static Static
}

// Static is what a Router holds for as long as it runs (Config.Static).
type Static struct {
	Addresses []VIP
	Routes    []Route
	Rules     []Rule
}

// InstanceConfig configures one virtual router (keepalived's vrrp_instance).
type InstanceConfig struct {
	// Name identifies the instance in callbacks, Status and API calls.
	Name string
	// Interface is the network interface the instance runs on.
	Interface string
	// VRID is the virtual router identifier, 1 to 255.
	VRID uint8
	// Version is 2 (RFC 3768) or 3 (RFC 5798); 0 means 3.
	Version uint8
	// Priority is 1 to 254, or 255 for the address owner; 0 means 100.
	Priority uint8
	// AdvertInterval is the advertisement interval; 0 means 1 s. VRRPv2
	// takes whole seconds up to 255 s, VRRPv3 multiples of 10 ms up to
	// 40.95 s.
	AdvertInterval time.Duration
	// NoPreempt keeps a lower priority Master in place (keepalived's
	// nopreempt).
	NoPreempt bool
	// PreemptDelay holds back preemption after startup (keepalived's
	// preempt_delay).
	PreemptDelay time.Duration
	// Accept is Accept_Mode as RFC 5798 (section 6.1) words it: the
	// Master accepts packets addressed to the virtual addresses although
	// it does not own them. A Router accepts them unless NoAccept is set,
	// as keepalived does outside strict mode, so Accept changes nothing;
	// it cannot be set with NoAccept.
	Accept bool
	// NoAccept keeps a Master that is not the address owner (Priority
	// 255) from accepting packets addressed to the virtual addresses, and
	// from sending packets from them: RFC 5798's Accept_Mode False,
	// keepalived's no_accept (the default of its strict mode). The
	// Binder filters the addresses, with firewall rules, before it binds
	// them and until it has removed them, so it must be a FilterBinder;
	// the real host's (vip.Netlink) drops the packets with nftables rules
	// in a table of its own, inet vrrpkit. A reload that changes whether
	// an instance filters replaces the instance.
	NoAccept bool
	// AuthPass is the VRRPv2 simple password (at most 8 bytes); empty means
	// no authentication. With AuthAH it is the key of the ICV instead.
	AuthPass string
	// AuthAH authenticates adverts with an IPsec Authentication Header, as
	// keepalived's auth_type AH does (RFC 2338 section 5.3.6.2, RFC 2402):
	// adverts are IPv4 datagrams of protocol 51 whose AH carries the
	// sender's address as SPI, a sequence number, and an HMAC-MD5-96 ICV
	// keyed with AuthPass over the IP header, the AH and the VRRPv2
	// message (auth type 2). A received advert must carry a valid ICV, the
	// SPI of its source and a sequence number greater than the last one
	// sent or accepted (see AHCounter); others count as DropAuth or
	// DropReplay. It needs VRRPv2, IPv4 and AuthPass, and excludes
	// InitialMaster (keepalived clears it: a Master starting with sequence
	// number 1 would be rejected by peers that counted further).
	AuthAH bool
	// VIPs are the virtual addresses, all of one family, which is the
	// family of the instance. VRRPv3 requires at least one (RFC 5798
	// section 5.2.5). A VRRPv2 instance may have none (RFC 3768 sets no
	// minimum; keepalived runs it with a warning): it elects a Master over
	// IPv4 that binds nothing, for services that move an address
	// themselves from OnMaster, as cloud deployments do with their
	// provider's API.
	VIPs []VIP
	// VirtualRoutes and VirtualRules are held with the VIPs (keepalived's
	// virtual_routes and virtual_rules): added once the Master's addresses
	// are bound, before it is taken as bound (a failure is a failed bind),
	// and removed, rules first, when it stops being Master. A reload adds
	// and removes them on a running Master. They need a RouteBinder.
	VirtualRoutes []Route
	VirtualRules  []Rule
	// ExcludedVIPs are addresses the Master holds like its VIPs but does
	// not advertise (keepalived's virtual_ipaddress_excluded): they are
	// added at takeover and removed on leaving Master, at stop and as
	// stale addresses at start, go on the VMAC interface with UseVMAC
	// unless their Device says otherwise, are announced and lease-refreshed
	// with the VIPs, and a Reload adds or removes them on a running Master
	// without a failover. They are not in the adverts, so peers need not
	// list them (the address-list check ignores them), and they may be of
	// either family; the limit of 255 advertised addresses does not count
	// them. None may repeat a VIP.
	ExcludedVIPs []VIP
	// InitialMaster is keepalived's "state MASTER" for a priority below
	// 255: the instance starts in Backup, as every non-owner does (RFC 5798
	// section 6.4.1), but its first Master_Down_Timer runs for one
	// Advertisement_Interval plus the smallest skew (Advertisement_Interval
	// / 256 for VRRPv3, 1 s / 256 for VRRPv2) instead of
	// Master_Down_Interval, so that with no Master to hear it takes over
	// after about one interval. An advert heard before then restarts the
	// timer as usual (a better Master is followed, a worse one preempted).
	// Only the Startup event uses the short timer: not a return from FAULT
	// nor a sync group's demotion. An owner (priority 255) becomes Master
	// at once regardless.
	InitialMaster bool
	// UnicastPeers, when set, replaces multicast: adverts go to each peer
	// and are accepted only from them.
	UnicastPeers []netip.Addr
	// SourceAddr is the source of adverts (keepalived's unicast_src_ip or
	// mcast_src_ip); the zero Addr means the interface's primary address
	// (IPv4) or link-local address (IPv6).
	SourceAddr netip.Addr
	// Group is the multicast group; the zero Addr means 224.0.0.18 or
	// ff02::12.
	Group netip.Addr
	// MinTTL is the smallest TTL or hop limit accepted; 0 means 255.
	MinTTL uint8
	// PeerTTLs bounds the TTL or hop limit accepted from some of the
	// UnicastPeers (keepalived's unicast_peer { ADDR min_ttl N max_ttl M }):
	// an advert from such a peer is dropped (DropTTL) when its TTL is
	// outside the peer's range, which replaces MinTTL for that peer. Peers
	// not listed keep MinTTL. Each entry must name one of UnicastPeers, at
	// most once.
	PeerTTLs []PeerTTL
	// SkipAddressCheck accepts adverts whose address list differs.
	SkipAddressCheck bool
	// NoLowerPrioAdvert stops the immediate advert a Master sends when it
	// hears a lower priority (keepalived's lower_prio_no_advert).
	NoLowerPrioAdvert bool
	// GARPLowerPrioRepeat is how many rounds of gratuitous ARP /
	// unsolicited NA a Master sends when it hears a lower priority, so
	// that learning bridges and neighbour caches that followed the other
	// router come back (keepalived's garp_lower_prio_repeat); 0 means
	// GARPMasterRepeat, as in keepalived, and a negative value none.
	GARPLowerPrioRepeat int
	// GARPLowerPrioDelay is when a second such burst follows
	// (garp_lower_prio_delay); 0 means GARPMasterDelay, a negative value
	// none.
	GARPLowerPrioDelay time.Duration
	// HigherPrioSendAdvert makes a Master that hears a higher priority
	// send one last advert before it becomes Backup, so that a router that
	// missed ours hears of us (keepalived's higher_prio_send_advert).
	HigherPrioSendAdvert bool
	// GARPMasterRepeat is how many rounds of gratuitous ARP / unsolicited
	// NA a new Master sends in each burst (keepalived's
	// garp_master_repeat); 0 means 5.
	GARPMasterRepeat int
	// GARPMasterDelay is when the second burst follows the takeover
	// (garp_master_delay); 0 means 5 s, a negative value sends none.
	GARPMasterDelay time.Duration
	// GARPMasterRefresh repeats announcements this often while Master
	// (garp_master_refresh); 0 means never.
	GARPMasterRefresh time.Duration
	// GARPMasterRefreshRepeat is how many rounds each refresh sends
	// (garp_master_refresh_repeat); 0 means 1.
	GARPMasterRefreshRepeat int
	// GARPInterval spaces the rounds of a burst (keepalived's
	// vrrp_garp_interval for IPv4, vrrp_gna_interval for IPv6); 0 sends
	// them back to back.
	GARPInterval time.Duration
	// UseVMAC puts the virtual addresses on a macvlan interface with the
	// virtual router MAC, and sends adverts and announcements from it
	// (keepalived's use_vmac). The Binder must be a VMACBinder.
	UseVMAC bool
	// VMACName names the VMAC interface; empty means "vrrp.VRID".
	VMACName string
	// VMACXmitBase sends adverts from Interface instead of the VMAC
	// interface (keepalived's vmac_xmit_base).
	VMACXmitBase bool
	// TrackInterfaces are interfaces whose state moves this instance
	// (keepalived's track_interface). Interface itself is tracked unless
	// DontTrackPrimary is set.
	TrackInterfaces []TrackInterface
	// DontTrackPrimary keeps the instance out of FAULT when Interface goes
	// down or loses its address (keepalived's dont_track_primary).
	DontTrackPrimary bool
	// ChecksumNoPseudo sends VRRPv3 IPv4 checksums over the message only,
	// as RFC 9568 implementations expect, instead of with the pseudo-header
	// as keepalived and FRRouting do. Receiving accepts both.
	ChecksumNoPseudo bool
}

// TrackInterface is a tracked interface and its weight. With weight 0 the
// instance goes to FAULT while the interface is down; a positive weight is
// added to the priority while it is up, a negative one while it is down.
type TrackInterface struct {
	Name   string
	Weight int
}

// PeerTTL is the range of TTL or hop limit accepted from one unicast peer
// (keepalived's min_ttl and max_ttl of a unicast_peer). The zero Min and
// Max accept any TTL, as keepalived's defaults (0 and 255) do.
type PeerTTL struct {
	// Addr is the peer, one of InstanceConfig.UnicastPeers.
	Addr netip.Addr
	// Min is the smallest TTL accepted from Addr; 0 sets no lower bound.
	Min uint8
	// Max is the largest TTL accepted from Addr; 0 means 255. Min must not
	// exceed it.
	Max uint8
}

// maxTTL returns the largest TTL p accepts.
func (p PeerTTL) maxTTL() uint8 {
	if p.Max == 0 {
		return 255
	}
	return p.Max
}

// Accepts reports whether a TTL or hop limit of ttl is within p.
func (p PeerTTL) Accepts(ttl uint8) bool {
	return ttl >= p.Min && ttl <= p.maxTTL()
}

// Default announcement schedule, as keepalived's.
const (
	DefaultGARPMasterRepeat = 5
	DefaultGARPMasterDelay  = 5 * time.Second
)

// vmacName returns the VMAC interface name of c.
func (c *InstanceConfig) vmacName() string {
	if c.VMACName != "" {
		return c.VMACName
	}
	return fmt.Sprintf("vrrp.%d", c.VRID)
}

// Family returns the address family of the instance: that of its VIPs.
func (c *InstanceConfig) Family() Family {
	if len(c.VIPs) > 0 {
		return FamilyOf(c.VIPs[0].Prefix.Addr())
	}
	return IPv4
}

// withDefaults returns c with zero fields set to their defaults.
func (c InstanceConfig) withDefaults() InstanceConfig {
	if c.Version == 0 {
		c.Version = DefaultVersion
	}
	if c.Priority == 0 {
		c.Priority = DefaultPriority
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = DefaultAdvertInterval
	}
	if c.GARPMasterRepeat == 0 {
		c.GARPMasterRepeat = DefaultGARPMasterRepeat
	}
	if c.GARPMasterDelay == 0 {
		c.GARPMasterDelay = DefaultGARPMasterDelay
	}
	if c.GARPMasterRefreshRepeat == 0 {
		c.GARPMasterRefreshRepeat = 1
	}
	if c.GARPLowerPrioRepeat == 0 {
		c.GARPLowerPrioRepeat = c.GARPMasterRepeat
	}
	if c.GARPLowerPrioDelay == 0 {
		c.GARPLowerPrioDelay = c.GARPMasterDelay
	}
	return c
}

// DefaultVIPLease is the lifetime of the addresses a Router binds on the
// real host unless Config.VIPLease says otherwise: well above any advert
// timer, short enough that a killed process's addresses go soon.
const DefaultVIPLease = 30 * time.Second

// realHost reports whether the Router makes its own I/O: no Transport.
func (c *Config) realHost() bool { return c.Transport == nil }

// Validate checks c and returns every problem at once, each naming its
// field, joined with errors.Join. Every error wraps ErrConfig.
func (c *Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	errs = append(errs, validateInstances(c.Instances)...)
	errs = append(errs, validateGroups(c.SyncGroups, c.Instances)...)
	hostBinder := c.Binder == nil && c.realHost()
	errs = append(errs, validateBinder(c.Binder, hostBinder, c.Instances)...)
	if _, ok := c.Binder.(RouteBinder); !ok && !hostBinder && len(c.Static.Routes)+len(c.Static.Rules) > 0 {
		add("Static", "the Binder does not manage routes and rules (a RouteBinder)")
	}
	if len(c.Static.Addresses) > 0 && c.Binder == nil && !c.realHost() {
		add("Static.Addresses", "no Binder")
	}
	for j, v := range c.Static.Addresses {
		if !v.Prefix.IsValid() || v.Device == "" {
			add(fmt.Sprintf("Static.Addresses[%d]", j), "a valid prefix and a Device are required")
		}
	}
	for j, rt := range c.Static.Routes {
		if err := validateRoute(rt); err != nil {
			add(fmt.Sprintf("Static.Routes[%d]", j), "%v", err)
		}
	}
	for j, rl := range c.Static.Rules {
		if err := validateRule(rl); err != nil {
			add(fmt.Sprintf("Static.Rules[%d]", j), "%v", err)
		}
	}
	return errors.Join(errs...)
}

// validateBinder checks that binder does what insts ask of it: VMACs,
// routes and rules, filtering. hostBinder says that the Router makes its
// own (vip.Netlink, which does all of them).
func validateBinder(binder Binder, hostBinder bool, insts []InstanceConfig) []error {
	if hostBinder {
		return nil
	}
	var errs []error
	_, vmac := binder.(VMACBinder)
	_, route := binder.(RouteBinder)
	_, filter := binder.(FilterBinder)
	for i, inst := range insts {
		field := fmt.Sprintf("Instances[%d] (%s)", i, inst.Name)
		if inst.UseVMAC && !vmac {
			errs = append(errs, fmt.Errorf("%w: %s.UseVMAC: the Binder does not manage VMAC interfaces", ErrConfig, field))
		}
		if len(inst.VirtualRoutes)+len(inst.VirtualRules) > 0 && !route {
			errs = append(errs, fmt.Errorf("%w: %s.VirtualRoutes: the Binder does not manage routes and rules (a RouteBinder)", ErrConfig, field))
		}
		if inst.filters() && !filter {
			errs = append(errs, fmt.Errorf("%w: %s.NoAccept: the Binder does not filter addresses (it is not a FilterBinder)", ErrConfig, field))
		}
	}
	return errs
}

// routeTypes are the Route types the kernel knows by these names.
var routeTypes = map[string]bool{"": true, "unicast": true, "blackhole": true, "unreachable": true, "prohibit": true, "throw": true}

// validateRoute checks what the kernel would refuse, or misread, in r.
func validateRoute(r Route) error {
	switch {
	case !r.Dst.IsValid() || r.Dst.Addr().Is4In6():
		return fmt.Errorf("invalid destination %v", r.Dst)
	case r.Src.IsValid() && r.Src.Is4() != r.Dst.Addr().Is4():
		return fmt.Errorf("source %v is not of the family of %v", r.Src, r.Dst)
	case r.Via.IsValid() && r.Via.Is4() != r.Dst.Addr().Is4():
		return fmt.Errorf("gateway %v is not of the family of %v", r.Via, r.Dst)
	case !routeTypes[r.Type]:
		return fmt.Errorf("unknown type %q", r.Type)
	case r.Type != "" && r.Type != "unicast" && (r.Via.IsValid() || r.Dev != ""):
		return fmt.Errorf("a %s route has no gateway or device", r.Type)
	case r.Table < 0 || r.Metric < 0 || r.Protocol < 0 || r.Protocol > 255:
		return errors.New("negative table or metric, or protocol outside 0-255")
	}
	return nil
}

// validateRule checks what the kernel would refuse in r.
func validateRule(r Rule) error {
	fam := func(p netip.Prefix) int {
		if !p.IsValid() {
			return 0
		}
		if p.Addr().Is4() {
			return 4
		}
		return 6
	}
	f, t := fam(r.From), fam(r.To)
	switch {
	case f != 0 && t != 0 && f != t:
		return fmt.Errorf("from %v and to %v are of different families", r.From, r.To)
	case (f == 4 || t == 4) && r.IPv6:
		return errors.New("IPv6 with an IPv4 address")
	case r.Table < 0 || r.Protocol < 0 || r.Protocol > 255:
		return errors.New("negative table, or protocol outside 0-255")
	case r.Priority <= 0:
		// The kernel numbers a rule without one anew at each add: binding
		// it twice would make two, and removing it would remove one.
		return errors.New("a priority is required (1 and up)")
	case r.L3MDev && r.Table != 0:
		return errors.New("an l3mdev rule takes the table of the VRF device, not Table")
	case r.Table == 0 && !r.L3MDev:
		return errors.New("a table is required (or L3MDev)")
	}
	return nil
}

func validateInstances(insts []InstanceConfig) []error {
	var errs []error
	names := map[string]int{}
	type slot struct {
		iface string
		fam   Family
		vrid  uint8
	}
	slots := map[slot]string{}
	type link struct {
		iface string
		fam   Family
	}
	groups := map[link]netip.Addr{}
	for i := range insts {
		c := insts[i].withDefaults()
		field := fmt.Sprintf("Instances[%d]", i)
		if c.Name != "" {
			field = fmt.Sprintf("Instances[%d] (%s)", i, c.Name)
		}
		add := func(f, format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: %s.%s: %s", ErrConfig, field, f, fmt.Sprintf(format, args...)))
		}
		if c.Name == "" {
			add("Name", "required")
		} else if j, dup := names[c.Name]; dup {
			add("Name", "duplicate of Instances[%d]", j)
		} else {
			names[c.Name] = i
		}
		if c.Interface == "" {
			add("Interface", "required")
		}
		if c.VRID == 0 {
			add("VRID", "must be 1 to 255")
		}
		if c.Version != 2 && c.Version != 3 {
			add("Version", "must be 2 or 3, not %d", c.Version)
		} else if _, err := IntervalField(c.Version, c.AdvertInterval); err != nil {
			add("AdvertInterval", "%v", err)
		}
		if c.PreemptDelay < 0 {
			add("PreemptDelay", "must not be negative")
		}
		if c.Accept && c.NoAccept {
			add("NoAccept", "cannot be set with Accept")
		}
		if len(c.VIPs) == 0 && c.Version == 3 {
			add("VIPs", "at least one virtual address is required with VRRPv3 (RFC 5798 section 5.2.5); only VRRPv2 allows none")
		}
		fam := c.Family()
		seen := map[netip.Addr]bool{}
		for j, v := range c.VIPs {
			a := v.Prefix.Addr()
			switch {
			case !v.Prefix.IsValid() || a.Is4In6():
				add(fmt.Sprintf("VIPs[%d]", j), "invalid prefix %v", v.Prefix)
			case FamilyOf(a) != fam:
				add(fmt.Sprintf("VIPs[%d]", j), "%v is not %v like the first address", a, fam)
			case seen[a]:
				add(fmt.Sprintf("VIPs[%d]", j), "duplicate address %v", a)
			case v.Broadcast.IsValid() && (!a.Is4() || !v.Broadcast.Is4()):
				add(fmt.Sprintf("VIPs[%d]", j), "broadcast %v: only IPv4 addresses have one", v.Broadcast)
			}
			seen[a] = true
		}
		for j, v := range c.ExcludedVIPs {
			a := v.Prefix.Addr()
			switch {
			case !v.Prefix.IsValid() || a.Is4In6():
				add(fmt.Sprintf("ExcludedVIPs[%d]", j), "invalid prefix %v", v.Prefix)
			case seen[a]:
				add(fmt.Sprintf("ExcludedVIPs[%d]", j), "duplicate address %v (of a VIP or an earlier excluded VIP)", a)
			case v.Broadcast.IsValid() && (!a.Is4() || !v.Broadcast.Is4()):
				add(fmt.Sprintf("ExcludedVIPs[%d]", j), "broadcast %v: only IPv4 addresses have one", v.Broadcast)
			}
			seen[a] = true
		}
		for j, rt := range c.VirtualRoutes {
			if err := validateRoute(rt); err != nil {
				add(fmt.Sprintf("VirtualRoutes[%d]", j), "%v", err)
			}
		}
		for j, rl := range c.VirtualRules {
			if err := validateRule(rl); err != nil {
				add(fmt.Sprintf("VirtualRules[%d]", j), "%v", err)
			}
		}
		if len(c.VIPs) > 255 {
			add("VIPs", "at most 255 addresses, not %d", len(c.VIPs))
		}
		if c.Version == 2 && fam == IPv6 {
			add("Version", "VRRPv2 carries IPv4 only")
		}
		if c.AuthPass != "" && c.Version != 2 {
			add("AuthPass", "authentication exists in VRRPv2 only")
		}
		if len(c.AuthPass) > AuthDataLen {
			add("AuthPass", "at most %d bytes", AuthDataLen)
		}
		if c.AuthAH {
			switch {
			case c.Version != 2:
				add("AuthAH", "authentication exists in VRRPv2 only")
			case fam != IPv4:
				add("AuthAH", "the Authentication Header is for IPv4 only")
			case c.AuthPass == "":
				add("AuthAH", "needs AuthPass as its key")
			case c.InitialMaster && c.Priority != 255:
				add("AuthAH", "excludes InitialMaster below priority 255, as keepalived")
			}
		}
		for j, p := range c.UnicastPeers {
			if !p.IsValid() || FamilyOf(p) != fam || p.IsMulticast() {
				add(fmt.Sprintf("UnicastPeers[%d]", j), "%v is not a unicast %v address", p, fam)
			}
		}
		ttlPeers := map[netip.Addr]bool{}
		for j, pt := range c.PeerTTLs {
			f := fmt.Sprintf("PeerTTLs[%d]", j)
			switch {
			case !slices.Contains(c.UnicastPeers, pt.Addr):
				add(f, "%v is not one of UnicastPeers", pt.Addr)
			case ttlPeers[pt.Addr]:
				add(f, "duplicate peer %v", pt.Addr)
			}
			ttlPeers[pt.Addr] = true
			if pt.Min > pt.maxTTL() {
				add(f, "Min %d exceeds Max %d", pt.Min, pt.maxTTL())
			}
		}
		if c.SourceAddr.IsValid() && (FamilyOf(c.SourceAddr) != fam || c.SourceAddr.IsMulticast()) {
			add("SourceAddr", "%v is not a unicast %v address", c.SourceAddr, fam)
		}
		if c.Group.IsValid() && (FamilyOf(c.Group) != fam || !c.Group.IsMulticast()) {
			add("Group", "%v is not a %v multicast group", c.Group, fam)
		}
		if c.GARPMasterRepeat < 0 || c.GARPMasterRefreshRepeat < 0 {
			add("GARPMasterRepeat", "must not be negative")
		}
		if c.GARPMasterRefresh < 0 || c.GARPInterval < 0 {
			add("GARPMasterRefresh", "durations must not be negative")
		}
		if c.UseVMAC && len(c.vmacName()) > 15 {
			add("VMACName", "%q is longer than 15 bytes", c.vmacName())
		}
		for j, tr := range c.TrackInterfaces {
			if tr.Name == "" {
				add(fmt.Sprintf("TrackInterfaces[%d].Name", j), "required")
			}
			if tr.Weight < -253 || tr.Weight > 253 {
				add(fmt.Sprintf("TrackInterfaces[%d].Weight", j), "must be -253 to 253, not %d", tr.Weight)
			}
		}
		if len(c.UnicastPeers) == 0 {
			if g, ok := groups[link{c.Interface, fam}]; ok && g != c.Group {
				add("Group", "every multicast instance on %s (%v) must use one group: %v and %v", c.Interface, fam, g, c.Group)
			}
			groups[link{c.Interface, fam}] = c.Group
		}
		if c.Interface != "" && c.VRID != 0 {
			s := slot{c.Interface, fam, c.VRID}
			if other, dup := slots[s]; dup {
				add("VRID", "VRID %d on %s (%v) is also used by %q", c.VRID, c.Interface, fam, other)
			} else {
				slots[s] = c.Name
			}
		}
	}
	return errs
}

// machineConfig derives the Machine configuration of a validated instance.
func (c *InstanceConfig) machineConfig(local netip.Addr) MachineConfig {
	addrs := make([]netip.Addr, len(c.VIPs))
	for i, v := range c.VIPs {
		addrs[i] = v.Prefix.Addr()
	}
	mc := MachineConfig{
		VRID:              c.VRID,
		Version:           c.Version,
		Priority:          c.Priority,
		AdvertInterval:    c.AdvertInterval,
		NoPreempt:         c.NoPreempt,
		PreemptDelay:      c.PreemptDelay,
		Accept:            c.Accept,
		Addresses:         addrs,
		LocalAddr:         local,
		MinTTL:            c.MinTTL,
		PeerTTLs:          c.PeerTTLs,
		InitialMaster:     c.InitialMaster,
		SkipAddressCheck:  c.SkipAddressCheck,
		NoLowerPrioAdvert: c.NoLowerPrioAdvert,

		HigherPrioSendAdvert: c.HigherPrioSendAdvert,
	}
	switch {
	case c.AuthAH:
		// The VRRP message carries type 2 and zero data; the key
		// authenticates the datagram.
		mc.AuthType = AuthAH
	case c.AuthPass != "":
		mc.AuthType, mc.AuthData = AuthPass, PasswordData(c.AuthPass)
	}
	return mc
}

// sameSlot reports whether a and b are the same virtual router on the wire,
// and filter alike, so that a reload can change b into a in place.
func sameSlot(a, b *InstanceConfig) bool {
	return a.Interface == b.Interface && a.VRID == b.VRID && a.Version == b.Version &&
		a.Family() == b.Family() && a.Group == b.Group && a.AuthAH == b.AuthAH && a.filters() == b.filters()
}

// filters reports whether the addresses of the instance are filtered
// while it is Master: NoAccept, and not the address owner.
func (c *InstanceConfig) filters() bool { return c.NoAccept && c.Priority != 255 }
