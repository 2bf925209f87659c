package vrrp

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// Transition is a state change of one instance, as passed to OnTransition.
type Transition struct {
	// Instance is the instance name.
	Instance string
	// From and To are the states before and after.
	From, To State
	// Reason is the cause.
	Reason Reason
	// Time is when the transition happened, by the Router's clock.
	Time time.Time
	// Priority is the effective priority at the time.
	Priority uint8
	// Master is the address of the Master known after the transition (the
	// local source address when To is Master).
	Master netip.Addr
}

// LowerPriority is an advert of a lower priority heard by a Master
// (Config.OnLowerPriority).
type LowerPriority struct {
	// Instance is the instance name.
	Instance string
	// From and Priority are the sender and its priority.
	From     netip.Addr
	Priority uint8
	// Time is when it was received, by the Router's clock.
	Time time.Time
}

// Stats are the counters of one instance, after the VRRPv3 MIB (RFC 6527).
type Stats struct {
	// AdvertsSent and AdvertsReceived count advertisements; received ones
	// count once decoded and checksummed, before the receive checks.
	AdvertsSent, AdvertsReceived uint64
	// BecameMaster counts transitions to Master.
	BecameMaster uint64
	// Transitions counts all state changes.
	Transitions uint64
	// PriorityZeroSent and PriorityZeroReceived count priority 0 adverts.
	PriorityZeroSent, PriorityZeroReceived uint64
	// Drops counts dropped adverts by reason.
	Drops [NumDropReasons]uint64
	// Checksums counts received adverts by the checksum form they matched.
	Checksums [numChecksumForms]uint64
	// SendErrors, BindErrors and AnnounceErrors count failed operations.
	SendErrors, BindErrors, AnnounceErrors uint64
	// MasterTime is the time spent as Master in the terms that ended; a
	// running term adds the time since Status.Since.
	MasterTime time.Duration
}

// Status is a snapshot of one instance.
type Status struct {
	// Name, Interface, VRID, Version and Family identify the instance.
	Name      string
	Interface string
	VRID      uint8
	Version   uint8
	Family    Family
	// State is the current state.
	State State
	// Priority is the configured priority; EffectivePriority the one
	// advertised, after SetPriority.
	Priority, EffectivePriority uint8
	// Master and MasterPriority are the current Master's address and
	// priority, when known.
	Master         netip.Addr
	MasterPriority uint8
	// MasterAdverInterval is the interval learned from the Master (VRRPv3)
	// or the local one.
	MasterAdverInterval time.Duration
	// Faults lists the sources of raised faults, sorted.
	Faults []string
	// Since is the time of the last transition.
	Since time.Time
	// Stats are the counters.
	Stats Stats
}

// ChecksumsSeen reports the count of received adverts that matched form.
func (s *Stats) ChecksumsSeen(form ChecksumForm) uint64 {
	if int(form) < len(s.Checksums) {
		return s.Checksums[form]
	}
	return 0
}

// RouterStats counts packets that reached no instance.
type RouterStats struct {
	// Received counts every packet read from the Transport.
	Received uint64
	// Drops counts packets dropped before any instance, by reason
	// (unknown VRID, or malformed with no VRID of ours).
	Drops [NumDropReasons]uint64
	// ReadErrors counts failed reads.
	ReadErrors uint64
}

// counters are the Stats of one instance: the owner loop adds to them,
// Status reads them, without a lock, so that an advert costs no status
// copy.
type counters struct {
	advertsSent, advertsReceived           atomic.Uint64
	becameMaster, transitions              atomic.Uint64
	priorityZeroSent, priorityZeroReceived atomic.Uint64
	sendErrors, bindErrors, announceErrors atomic.Uint64
	masterNanos                            atomic.Int64
	drops                                  [NumDropReasons]atomic.Uint64
	checksums                              [numChecksumForms]atomic.Uint64
}

func (c *counters) load() Stats {
	s := Stats{
		AdvertsSent: c.advertsSent.Load(), AdvertsReceived: c.advertsReceived.Load(),
		BecameMaster: c.becameMaster.Load(), Transitions: c.transitions.Load(),
		PriorityZeroSent: c.priorityZeroSent.Load(), PriorityZeroReceived: c.priorityZeroReceived.Load(),
		SendErrors: c.sendErrors.Load(), BindErrors: c.bindErrors.Load(), AnnounceErrors: c.announceErrors.Load(),
		MasterTime: time.Duration(c.masterNanos.Load()),
	}
	for i := range s.Drops {
		s.Drops[i] = c.drops[i].Load()
	}
	for i := range s.Checksums {
		s.Checksums[i] = c.checksums[i].Load()
	}
	return s
}

// published is what Status and InstanceStatus read of one instance, under
// Router.mu: the Status as of the last change of what it shows, and the
// live counters.
type published struct {
	s Status
	c *counters
}

func (p *published) status() Status {
	s := p.s
	s.Faults = slices.Clone(s.Faults)
	if p.c != nil {
		s.Stats = p.c.load()
	}
	return s
}

// routerCounters are the RouterStats, updated by the readers and the owner
// loop without a lock.
type routerCounters struct {
	received   atomic.Uint64
	readErrors atomic.Uint64
	drops      [NumDropReasons]atomic.Uint64
}

// dropLog rate-limits the log lines of one drop reason.
type dropLog struct {
	last       time.Time
	suppressed uint64
}

// dropLogEvery is the least time between two log lines of one drop reason
// of one instance; drops in between are counted and summed in the next.
const dropLogEvery = 10 * time.Second
