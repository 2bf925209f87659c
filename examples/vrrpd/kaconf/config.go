package kaconf

import (
	"net/netip"
	"time"
)

// Config is a keepalived configuration as keepalived 2.2.7 would run it:
// the defaults it derives are filled in, the values it rejects are
// replaced as it replaces them, and what it ignores (a track_script naming
// a script not defined before it, a sync group member that does not exist)
// is left out, each with a Diagnostic. Every element keeps the position it
// came from.
//
// Durations are time.Duration and addresses netip.Addr or netip.Prefix, so
// that the conversion to vrrp.Config, vrrp.InstanceConfig, vrrp.SyncGroup
// and health.Check is field by field.
type Config struct {
	// Global holds global_defs and the top-level daemon keywords.
	Global GlobalDefs
	// Scripts are the vrrp_script blocks, in order.
	Scripts []Script
	// TrackProcesses are the vrrp_track_process blocks.
	TrackProcesses []TrackProcess
	// TrackFiles are the track_file (or vrrp_track_file) blocks.
	TrackFiles []TrackFile
	// Instances are the vrrp_instance blocks.
	Instances []Instance
	// SyncGroups are the vrrp_sync_group blocks.
	SyncGroups []SyncGroup
	// VirtualServerGroups are the LVS virtual_server_group blocks.
	VirtualServerGroups []VirtualServerGroup
	// VirtualServers are the LVS virtual_server blocks.
	VirtualServers []VirtualServer
	// StaticAddresses, StaticRoutes and StaticRules are static_ipaddress,
	// static_routes and static_rules: held whatever the state.
	StaticAddresses []VIP
	StaticRoutes    []Route
	StaticRules     []Rule
}

// Route is a line of virtual_routes or static_routes.
type Route struct {
	Pos Pos
	// Dst is the destination (default: 0.0.0.0/0 or ::/0).
	Dst netip.Prefix
	// Src, Via (via or gw) and Dev are src, the gateway and dev.
	Src, Via netip.Addr
	Dev      string
	// Table, Metric and Protocol are table, metric and proto (0: not
	// given).
	Table, Metric, Protocol int
	// Scope is scope; Type is blackhole, unreachable, prohibit or throw.
	Scope, Type string
	// OnLink and NoTrack are onlink and no_track.
	OnLink, NoTrack bool
}

// Rule is a line of virtual_rules or static_rules.
type Rule struct {
	Pos Pos
	// From and To are from and to (invalid: all).
	From, To netip.Prefix
	// IPv6 is a rule of family inet6 without addresses.
	IPv6 bool
	// Table and Priority are table (lookup) and priority (preference,
	// pref); keepalived numbers the rules without one from 16384 down.
	Table, Priority, Protocol int
	// IIf and OIf are iif (dev) and oif.
	IIf, OIf string
	// FWMark and FWMask are fwmark MARK[/MASK].
	FWMark, FWMask uint32
	// L3MDev is l3mdev: the table of the VRF device.
	L3MDev bool
	// NoTrack is no_track.
	NoTrack bool
}

// GlobalDefs holds the global_defs block and the daemon keywords that may
// stand at the top level of the file (net_namespace, instance).
type GlobalDefs struct {
	// Pos is the global_defs keyword (the zero Pos without one).
	Pos Pos
	// RouterID identifies the machine in notifications (router_id);
	// keepalived's default is the host name, left empty here.
	RouterID string
	// NetNamespace is the network namespace to run in (net_namespace).
	NetNamespace string
	// Instance names this keepalived among several (instance).
	Instance string
	// DefaultInterface is where addresses of an instance without an
	// interface go (default_interface, default "eth0").
	DefaultInterface string
	// DynamicInterfaces allows interfaces that do not exist yet
	// (dynamic_interfaces).
	DynamicInterfaces bool
	// EnableScriptSecurity refuses scripts run as root that a non-root
	// user could change (enable_script_security).
	EnableScriptSecurity bool
	// ScriptUser and ScriptGroup run scripts that name no user of their
	// own (script_user); empty means keepalived's default: the user
	// keepalived_script if it exists, otherwise root.
	ScriptUser, ScriptGroup string
	// DefaultScriptUser is who runs the scripts that name no user:
	// ScriptUser when set, else keepalived_script when LoadOptions.Host
	// has that user, else root (empty). With enable_script_security and
	// no such user, keepalived removes those scripts instead, and so does
	// Load.
	DefaultScriptUser string
	// VRRPVersion is the default VRRP version (vrrp_version, default 2;
	// IPv6 instances always run version 3).
	VRRPVersion int
	// MulticastGroup4 and MulticastGroup6 are the default multicast groups
	// (vrrp_mcast_group4, default 224.0.0.18; vrrp_mcast_group6, default
	// ff02::12).
	MulticastGroup4, MulticastGroup6 netip.Addr
	// GARPMasterDelay is when the second burst of gratuitous ARPs / NAs
	// follows a takeover (vrrp_garp_master_delay, default 5 s); 0 sends
	// no second burst.
	GARPMasterDelay time.Duration
	// GARPMasterRepeat is how many are sent in each burst
	// (vrrp_garp_master_repeat, default 5).
	GARPMasterRepeat int
	// GARPMasterRefresh repeats them while Master
	// (vrrp_garp_master_refresh, default 0: never).
	GARPMasterRefresh time.Duration
	// GARPMasterRefreshRepeat is how many each refresh sends
	// (vrrp_garp_master_refresh_repeat, default 1).
	GARPMasterRefreshRepeat int
	// GARPInterval and GNAInterval space gratuitous ARPs and unsolicited
	// NAs on an interface (vrrp_garp_interval, vrrp_gna_interval).
	GARPInterval, GNAInterval time.Duration
	// Strict enforces strict RFC compliance (vrrp_strict).
	Strict bool
	// NftablesTable is the nftables table of the no_accept filter
	// (nftables [NAME]: "keepalived" without a name); empty when not
	// given. keepalived's tables are ip NAME and ip6 NAME, vrrpd's one
	// inet NAME.
	NftablesTable string
	// CheckUnicastSrc accepts unicast adverts only from the configured
	// peers (vrrp_check_unicast_src).
	CheckUnicastSrc bool
	// SkipCheckAdvAddr skips checking the addresses of adverts from the
	// same Master (vrrp_skip_check_adv_addr).
	SkipCheckAdvAddr bool
	// LowerPrioNoAdvert stops the advert a Master sends on hearing a lower
	// priority (vrrp_lower_prio_no_advert).
	LowerPrioNoAdvert bool
	// GARPLowerPrioRepeat and GARPLowerPrioDelay are the gratuitous ARPs
	// / NAs a Master sends on hearing a lower priority, and when a second
	// burst follows (vrrp_garp_lower_prio_repeat,
	// vrrp_garp_lower_prio_delay); -1 when not given, for the instances'
	// garp_master_repeat and garp_master_delay.
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration
	// HigherPrioSendAdvert makes a Master hearing a higher priority send a
	// last advert (vrrp_higher_prio_send_advert).
	HigherPrioSendAdvert bool
	// LogUnknownVRIDs logs adverts for VRIDs not configured on the
	// interface (log_unknown_vrids).
	LogUnknownVRIDs bool
	// StartupDelay delays the start of the instances (vrrp_startup_delay).
	StartupDelay time.Duration
	// VMACPrefix names generated VMAC interfaces (vmac_prefix, default
	// "vrrp").
	VMACPrefix string
	// NotifyFIFO gets a line for every state change, VRRP's and (in
	// keepalived) the checkers' (notify_fifo, notify_fifo_script);
	// VRRPNotifyFIFO only VRRP's (vrrp_notify_fifo,
	// vrrp_notify_fifo_script). An empty Path means none.
	NotifyFIFO, VRRPNotifyFIFO NotifyFIFO
}

// NotifyFIFO is a notify FIFO of global_defs. keepalived creates the FIFO
// when it is missing, starts the script with the FIFO's name appended as
// its last argument, and writes one line per state change, such as
// `INSTANCE "VI_1" MASTER 100` or `GROUP "G1" BACKUP 0`. At exit it sends
// the script SIGTERM and removes a FIFO it created.
type NotifyFIFO struct {
	// Pos is where the FIFO keyword is.
	Pos Pos
	// Path is the FIFO's name.
	Path string
	// User and Group own a FIFO the daemon creates; empty means the
	// script user (script_user, or keepalived's default).
	User, Group string
	// Script is the FIFO's script (notify_fifo_script,
	// vrrp_notify_fifo_script), nil for none. keepalived runs a script
	// only with its FIFO.
	Script *NotifyScript
}

// Script is a vrrp_script: a command whose exit status moves the instances
// that track it.
type Script struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Command is the argument vector, split as keepalived splits it: the
	// first word after "script" (quoted or not), itself split at white
	// space with shell-like quotes and escapes. Further unquoted words on
	// the line are ignored, as keepalived ignores them.
	Command []string
	// Interval is the time between runs (interval, default 1 s).
	Interval time.Duration
	// Timeout fails a run that takes longer (timeout); 0 means Interval.
	Timeout time.Duration
	// Weight is the default weight of the tracks of this script (weight,
	// -253 to 253, default 0); WeightReverse inverts it (weight N reverse).
	Weight        int
	WeightReverse bool
	// Rise and Fall are the successes and failures in a row that change
	// the state (default 1 each).
	Rise, Fall int
	// User and Group run the script (user); empty means the global
	// script_user, or keepalived's default.
	User, Group string
	// InitFail starts the script as failed (init_fail).
	InitFail bool
}

// NotifyScript is a notify command with the user to run it as.
type NotifyScript struct {
	// Pos is where the script keyword is.
	Pos Pos
	// Command is the argument vector, split as for Script.Command.
	// keepalived appends arguments to a "notify" script: "INSTANCE" or
	// "GROUP", the name, the new state and the priority.
	Command []string
	// User and Group run the script; empty means the global script_user.
	User, Group string
}

// Notify holds the notify scripts of an instance or a sync group.
type Notify struct {
	Master, Backup, Fault, Stop *NotifyScript
	// Any runs on every transition (notify), after the specific one.
	Any *NotifyScript
	// MasterRxLowerPri runs each time the Master hears a lower priority
	// (notify_master_rx_lower_pri, instances only).
	MasterRxLowerPri *NotifyScript
}

// ParamMatch says how a tracked process's parameters are compared.
type ParamMatch int

// The parameter matches of vrrp_track_process.
const (
	// ParamMatchNone compares the process name only.
	ParamMatchNone ParamMatch = iota
	// ParamMatchExact compares every parameter.
	ParamMatchExact
	// ParamMatchPartial compares the first configured parameters.
	ParamMatchPartial
	// ParamMatchInitial also lets the last parameter be a prefix.
	ParamMatchInitial
)

// TrackProcess is a vrrp_track_process: the presence of a process.
type TrackProcess struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Process is the name to match (or command, with FullCommand), and
	// Params its parameters (process NAME PARAM...).
	Process string
	Params  []string
	// ParamMatch says how Params are compared (param_match).
	ParamMatch ParamMatch
	// Weight and WeightReverse are the default weight of its tracks
	// (weight, -254 to 254, default 0).
	Weight        int
	WeightReverse bool
	// Quorum is the least number of matching processes for success
	// (quorum, default 1); QuorumMax the most (quorum_max), -1 for no
	// limit.
	Quorum, QuorumMax int
	// ForkDelay and TerminateDelay hold back a change after a process
	// starts or ends (fork_delay, terminate_delay, delay).
	ForkDelay, TerminateDelay time.Duration
	// FullCommand matches the command line rather than the process name
	// (full_command).
	FullCommand bool
}

// TrackFile is a track_file: a number read from a file, multiplied by the
// weight, moves the priority; with weight 0 a non-zero number is a fault.
type TrackFile struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Path is the file (file).
	Path string
	// Weight and WeightReverse are the default weight of its tracks
	// (weight, default 1).
	Weight        int
	WeightReverse bool
	// InitFile creates the file with InitValue if it does not exist, or
	// always with InitOverwrite (init_file [VALUE] [overwrite]).
	InitFile      bool
	InitValue     int
	InitOverwrite bool
}

// Track is a reference from an instance or a sync group to a script, a
// tracked process or a tracked file, with its effective weight.
type Track struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Weight is the weight of the track (the object's default unless the
	// track line gives one); 0 means FAULT while the object is down.
	Weight int
	// Reverse inverts the weight's direction.
	Reverse bool
}

// TrackInterface is a tracked interface (track_interface).
type TrackInterface struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Weight moves the priority by its value while the interface is up
	// (positive) or down (negative); 0 means FAULT while it is down.
	Weight  int
	Reverse bool
}

// State is the initial state of an instance.
type State int

// The initial states.
const (
	// StateBackup starts as Backup.
	StateBackup State = iota
	// StateMaster starts as Master (keepalived's "state MASTER").
	StateMaster
)

// String returns "BACKUP" or "MASTER".
func (s State) String() string {
	if s == StateMaster {
		return "MASTER"
	}
	return "BACKUP"
}

// AuthType is the VRRPv2 authentication of an instance.
type AuthType int

// The authentication types.
const (
	// AuthNone sends no authentication.
	AuthNone AuthType = iota
	// AuthPass is the simple password (auth_type PASS).
	AuthPass
	// AuthAH is IPSEC-AH (auth_type AH): vrrp.InstanceConfig.AuthAH.
	AuthAH
)

// String returns "none", "PASS" or "AH".
func (a AuthType) String() string {
	switch a {
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return "none"
}

// VIP is a line of virtual_ipaddress or virtual_ipaddress_excluded.
type VIP struct {
	// Pos is where the line is.
	Pos Pos
	// Prefix is the address and its prefix length (/32 or /128 when the
	// line gives none).
	Prefix netip.Prefix
	// Device is the interface the address goes on (dev); empty means the
	// instance's interface.
	Device string
	// Label is the IPv4 address label (label).
	Label string
	// Scope is the address scope (scope), as ip(8) names it; empty means
	// global.
	Scope string
	// Broadcast is the broadcast address (brd), if any.
	Broadcast netip.Addr
	// Peer is the peer address of a point-to-point address (peer).
	Peer netip.Prefix
	// NoTrack keeps the instance Master when the address is removed
	// (no_track).
	NoTrack bool
	// Flags are the address flags given (home, -nodad, mngtmpaddr,
	// noprefixroute, autojoin, use_vmac), in order.
	Flags []string
	// PreferredLifetime is preferred_lft: -1 for "forever", 0 when not
	// given (keepalived then deprecates /128 IPv6 addresses).
	PreferredLifetime time.Duration
}

// UnicastPeer is a line of unicast_peer.
type UnicastPeer struct {
	// Pos is where the line is, and Addr the peer.
	Pos  Pos
	Addr netip.Addr
	// MinTTL and MaxTTL bound the TTL of adverts from the peer (min_ttl,
	// max_ttl); 0 and 255 when not given.
	MinTTL, MaxTTL int
}

// Instance is a vrrp_instance, with keepalived's defaults and derivations
// applied.
type Instance struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// State is the initial state: as configured, or MASTER when the
	// priority is 255 (the address owner).
	State State
	// Interface is the interface the instance runs on.
	Interface string
	// VRID is virtual_router_id, 1 to 255.
	VRID uint8
	// Version is 2 or 3: version, else 3 for IPv6, else the global
	// vrrp_version.
	Version int
	// IPv6 reports an IPv6 instance: its addresses are IPv6.
	IPv6 bool
	// Priority is 1 to 255: as configured, else 255 for "state MASTER" and
	// 100 otherwise, as keepalived derives it.
	Priority uint8
	// AdvertInterval is advert_int (default 1 s), rounded as keepalived
	// rounds it: to whole seconds for VRRPv2, to 10 ms for VRRPv3.
	AdvertInterval time.Duration
	// NoPreempt is nopreempt (cleared for an initial state of MASTER, as
	// keepalived clears it).
	NoPreempt bool
	// PreemptDelay is preempt_delay.
	PreemptDelay time.Duration
	// Accept is the effective accept mode: accept / no_accept, by default
	// on unless strict mode is. Without it, a Master that is not the
	// address owner drops the packets addressed to its VIPs, with
	// nftables rules as keepalived's.
	Accept bool
	// Strict is the effective strict_mode (default: global vrrp_strict).
	Strict bool
	// AuthType and AuthPass are the VRRPv2 authentication (authentication
	// block); AuthPass is at most 8 bytes, as keepalived truncates it.
	AuthType AuthType
	AuthPass string
	// VIPs are virtual_ipaddress, ExcludedVIPs virtual_ipaddress_excluded.
	VIPs, ExcludedVIPs []VIP
	// VirtualRoutes and VirtualRules are virtual_routes and virtual_rules.
	VirtualRoutes []Route
	VirtualRules  []Rule
	// SourceAddr is unicast_src_ip or mcast_src_ip (the same setting in
	// keepalived).
	SourceAddr netip.Addr
	// UnicastPeers are unicast_peer; none means multicast.
	UnicastPeers []UnicastPeer
	// MulticastGroup is mcast_dst_ip, else the global group of the family.
	MulticastGroup netip.Addr
	// CheckUnicastSrc is check_unicast_src (default: global).
	CheckUnicastSrc bool
	// SkipCheckAdvAddr is skip_check_adv_addr (default: global).
	SkipCheckAdvAddr bool
	// LowerPrioNoAdvert is lower_prio_no_advert (default: global, or on in
	// strict mode).
	LowerPrioNoAdvert bool
	// Tracks of scripts, processes, files and interfaces.
	TrackScripts    []Track
	TrackProcesses  []Track
	TrackFiles      []Track
	TrackInterfaces []TrackInterface
	// DontTrackPrimary keeps the instance out of FAULT when Interface goes
	// down (dont_track_primary).
	DontTrackPrimary bool
	// Notify holds the notify scripts.
	Notify Notify
	// UseVMAC, VMACName and VMACXmitBase are use_vmac [NAME] and
	// vmac_xmit_base.
	UseVMAC      bool
	VMACName     string
	VMACXmitBase bool
	// The gratuitous ARP schedule, as for GlobalDefs, defaulting to the
	// global values (garp_master_delay, garp_master_repeat,
	// garp_master_refresh, garp_master_refresh_repeat).
	GARPMasterDelay         time.Duration
	GARPMasterRepeat        int
	GARPMasterRefresh       time.Duration
	GARPMasterRefreshRepeat int
	// GARPLowerPrioRepeat and GARPLowerPrioDelay are
	// garp_lower_prio_repeat and garp_lower_prio_delay (default: global,
	// else garp_master_repeat and garp_master_delay); 0 sends none.
	GARPLowerPrioRepeat int
	GARPLowerPrioDelay  time.Duration
	// HigherPrioSendAdvert is higher_prio_send_advert (default: global).
	HigherPrioSendAdvert bool
	// PromoteSecondaries sets promote_secondaries on the interface.
	PromoteSecondaries bool
}

// Member is a sync group member.
type Member struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
}

// SyncGroup is a vrrp_sync_group.
type SyncGroup struct {
	// Pos is where the block or line is, and Name its name.
	Pos  Pos
	Name string
	// Members are the instances of the group (group block).
	Members []Member
	// Tracks of the group apply to every member.
	TrackScripts    []Track
	TrackProcesses  []Track
	TrackFiles      []Track
	TrackInterfaces []TrackInterface
	// Notify holds the group's notify scripts.
	Notify Notify
	// TrackingWeight lets weighted tracks move the members' priorities
	// (sync_group_tracking_weight, or the deprecated global_tracking).
	TrackingWeight bool
}

// VirtualServerGroup is an LVS virtual_server_group.
type VirtualServerGroup struct {
	// Pos is where the block is, and Name its name.
	Pos  Pos
	Name string
	// Entries are its lines.
	Entries []VirtualServerGroupEntry
}

// VirtualServerGroupEntry is a line of a virtual_server_group: an address
// or range with a port, or a firewall mark.
type VirtualServerGroupEntry struct {
	// Pos is where the line is.
	Pos Pos
	// First and Last are the addresses of the range (equal for a single
	// address); invalid for a fwmark entry.
	First, Last netip.Addr
	// Port is the service port (0 when not given).
	Port uint16
	// FWMark is the firewall mark of a "fwmark N" entry, and Family its
	// optional family ("inet" or "inet6"; empty: the virtual server's).
	FWMark uint32
	Family string
}

// VirtualServer is an LVS virtual_server.
type VirtualServer struct {
	// Pos is where the block is.
	Pos Pos
	// The service is one of: Addr and Port, FWMark, or the
	// virtual_server_group Group.
	Addr   netip.Addr
	Port   uint16
	FWMark uint32
	Group  string
	// Protocol is TCP, UDP or SCTP (protocol).
	Protocol string
	// Scheduler is lvs_sched or lb_algo (rr, wrr, lc, ...).
	Scheduler string
	// Forwarding is lvs_method or lb_kind (NAT, DR, TUN).
	Forwarding string
	// DelayLoop is the time between checks (delay_loop, default 60 s).
	DelayLoop time.Duration
	// Quorum is the least total weight of the live real servers (quorum,
	// default 1), with Hysteresis (default 0).
	Quorum, Hysteresis int
	// InhibitOnFailure sets a failed real server's weight to 0 rather than
	// removing it (inhibit_on_failure).
	InhibitOnFailure bool
	// Family is the service's address family, "inet" or "inet6", as
	// keepalived settles it: the address's; for a fwmark or group service,
	// ip_family, else the form of persistence_granularity, else the first
	// real server not tunnelled, else the sorry server, else "inet".
	Family string
	// PersistenceTimeout is persistence_timeout, 1 s to 31 days (360 s
	// for the keyword alone, or when only persistence_granularity is
	// given); 0 when the service is not persistent.
	PersistenceTimeout time.Duration
	// PersistenceGranularity is persistence_granularity as a netmask of
	// the service's family: an IPv4 netmask as written (keepalived and
	// IPVS accept masks that are not contiguous), or the mask of an IPv6
	// prefix length. The zero Addr means the whole client address.
	PersistenceGranularity netip.Addr
	// PersistenceEngine is persistence_engine (at most 15 bytes, as
	// keepalived truncates it), such as "sip".
	PersistenceEngine string
	// HASuspend, Alpha and Omega are ha_suspend, alpha and omega.
	HASuspend, Alpha, Omega bool
	// VirtualHost is the default virtualhost of HTTP checks.
	VirtualHost string
	// QuorumUp and QuorumDown are quorum_up and quorum_down.
	QuorumUp, QuorumDown *NotifyScript
	// SorryServer is sorry_server, if any.
	SorryServer *RealServer
	// Check defaults for the real servers (connect_timeout, retry,
	// delay_before_retry, warmup).
	CheckDefaults CheckOptions
	// RealServers are the real_server blocks.
	RealServers []RealServer
}

// RealServer is an LVS real_server.
type RealServer struct {
	// Pos is where the block (or sorry_server line) is.
	Pos Pos
	// Addr and Port are the server's address and port (0 when not given).
	Addr netip.Addr
	Port uint16
	// Weight is weight (default 1).
	Weight int
	// Forwarding is lvs_method or lb_kind; empty means the virtual
	// server's.
	Forwarding string
	// InhibitOnFailure is inhibit_on_failure.
	InhibitOnFailure bool
	// NotifyUp and NotifyDown are notify_up and notify_down.
	NotifyUp, NotifyDown *NotifyScript
	// UThreshold and LThreshold bound connections (uthreshold,
	// lthreshold).
	UThreshold, LThreshold int
	// DelayLoop is the real server's delay_loop (0: the virtual
	// server's).
	DelayLoop time.Duration
	// CheckDefaults are the check options for its checkers.
	CheckDefaults CheckOptions
	// Checkers are the health checkers.
	Checkers []Checker
}

// CheckOptions are the connection options of a checker, which a virtual
// or real server may give as defaults.
type CheckOptions struct {
	// ConnectIP and ConnectPort are where to connect (connect_ip,
	// connect_port); unset means the real server's.
	ConnectIP   netip.Addr
	ConnectPort uint16
	// BindTo, BindPort and BindIf bind the checker's socket (bindto,
	// bind_port, bind_if).
	BindTo   netip.Addr
	BindPort uint16
	BindIf   string
	// FWMark marks the checker's packets (fwmark).
	FWMark uint32
	// ConnectTimeout is connect_timeout (0 when not given; keepalived's
	// default is 5 s).
	ConnectTimeout time.Duration
	// Retry is retry (or nb_get_retry, which only HTTP_GET and SSL_GET
	// take), -1 when not given.
	Retry int
	// DelayBeforeRetry, Warmup and DelayLoop are delay_before_retry,
	// warmup and delay_loop (0 when not given).
	DelayBeforeRetry time.Duration
	Warmup           time.Duration
	DelayLoop        time.Duration
}

// Checker is a health checker of a real server: TCP_CHECK, HTTP_GET,
// SSL_GET, MISC_CHECK, or another of keepalived's checkers with its
// common options.
type Checker struct {
	// Pos is where the block is, and Type its keyword (TCP_CHECK, ...).
	Pos  Pos
	Type string
	// CheckOptions are the connection options.
	CheckOptions
	// URLs are the url blocks of HTTP_GET and SSL_GET.
	URLs []URL
	// HTTPProtocol is http_protocol (1.0, 1.0C, 1.1).
	HTTPProtocol string
	// VirtualHost is the checker's virtualhost.
	VirtualHost string
	// EnableSNI is enable_sni (SSL_GET).
	EnableSNI bool
	// MiscPath, MiscTimeout and MiscDynamic are MISC_CHECK's misc_path,
	// misc_timeout and misc_dynamic.
	MiscPath    *NotifyScript
	MiscTimeout time.Duration
	MiscDynamic bool
	// HeloName is SMTP_CHECK's helo_name; "" when not given (keepalived
	// then sends DefaultHeloName).
	HeloName string
	// Hosts are SMTP_CHECK's host blocks (deprecated in keepalived, which
	// makes each a checker of its own, with the SMTP_CHECK's helo_name,
	// retry and timers). Each starts with the connection options given
	// in the SMTP_CHECK before it.
	Hosts []SMTPHost
}

// DefaultHeloName is the name keepalived's SMTP_CHECK sends with HELO
// when helo_name is not given.
const DefaultHeloName = "smtpchecker.keepalived.org"

// SMTPHost is a host block of an SMTP_CHECK: where to connect and how.
type SMTPHost struct {
	// Pos is where the block is.
	Pos Pos
	// CheckOptions are its connection options (connect_ip, connect_port,
	// bindto, bind_port, bind_if, fwmark, connect_timeout). keepalived
	// applies retry, delay_before_retry, warmup and delay_loop given in
	// a host block to the whole SMTP_CHECK: kaconf sets them there.
	CheckOptions
}

// URL is a url block of an HTTP check.
type URL struct {
	// Pos is where the block is.
	Pos Pos
	// Path is the URL path (path), Digest the MD5 of the body (digest).
	Path   string
	Digest string
	// StatusCodes are ranges of accepted status codes (status_code);
	// none means 200-299.
	StatusCodes [][2]int
	// VirtualHost is the Host header (virtualhost).
	VirtualHost string
}
