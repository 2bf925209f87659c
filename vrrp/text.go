package vrrp

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The enums marshal as their names, so that a Status reads in JSON as it
// does in the log and in vrrpd's metrics: "State": "MASTER", "Family":
// "IPv4", and counters by reason name.

// MarshalText returns the state's name (INIT, BACKUP, MASTER, FAULT).
func (s State) MarshalText() ([]byte, error) { return marshalName(stateNames[:], int(s), "state") }

// UnmarshalText parses a state's name, in any case.
func (s *State) UnmarshalText(b []byte) error { return unmarshalName(stateNames[:], b, "state", s) }

// MarshalText returns the reason's name (master-down, preempted...).
func (r Reason) MarshalText() ([]byte, error) { return marshalName(reasonNames[:], int(r), "reason") }

// UnmarshalText parses a reason's name.
func (r *Reason) UnmarshalText(b []byte) error { return unmarshalName(reasonNames[:], b, "reason", r) }

// MarshalText returns the drop reason's name, as in metrics.
func (d DropReason) MarshalText() ([]byte, error) {
	return marshalName(dropNames[:], int(d), "drop reason")
}

// UnmarshalText parses a drop reason's name.
func (d *DropReason) UnmarshalText(b []byte) error {
	return unmarshalName(dropNames[:], b, "drop reason", d)
}

// MarshalText returns the checksum form's name.
func (f ChecksumForm) MarshalText() ([]byte, error) {
	return marshalName(checksumNames[:], int(f), "checksum form")
}

// UnmarshalText parses a checksum form's name.
func (f *ChecksumForm) UnmarshalText(b []byte) error {
	return unmarshalName(checksumNames[:], b, "checksum form", f)
}

func marshalName(names []string, i int, what string) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return nil, fmt.Errorf("vrrp: no %s %d", what, i)
	}
	return []byte(names[i]), nil
}

func unmarshalName[T ~uint8](names []string, b []byte, what string, v *T) error {
	for i, n := range names {
		if strings.EqualFold(n, string(b)) {
			*v = T(i)
			return nil
		}
	}
	return fmt.Errorf("vrrp: no %s %q", what, b)
}

// statsJSON is Stats as JSON: the drops and checksum forms by name.
type statsJSON struct {
	AdvertsSent, AdvertsReceived           uint64
	BecameMaster                           uint64
	Transitions                            uint64
	PriorityZeroSent, PriorityZeroReceived uint64
	Drops                                  map[string]uint64
	Checksums                              map[string]uint64
	SendErrors, BindErrors, AnnounceErrors uint64
	MasterTime                             time.Duration
}

// MarshalJSON writes s with Drops and Checksums as objects keyed by the
// names of the reasons ("checksum", "version"...) and forms ("ok",
// "group"...), every one of them, zeros included.
func (s Stats) MarshalJSON() ([]byte, error) {
	j := statsJSON{
		AdvertsSent: s.AdvertsSent, AdvertsReceived: s.AdvertsReceived, BecameMaster: s.BecameMaster,
		Transitions: s.Transitions, PriorityZeroSent: s.PriorityZeroSent, PriorityZeroReceived: s.PriorityZeroReceived,
		Drops: byName(dropNames[1:], s.Drops[1:]), Checksums: byName(checksumNames[:], s.Checksums[:]),
		SendErrors: s.SendErrors, BindErrors: s.BindErrors, AnnounceErrors: s.AnnounceErrors, MasterTime: s.MasterTime,
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; a name it does not know is
// an error.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stats{
		AdvertsSent: j.AdvertsSent, AdvertsReceived: j.AdvertsReceived, BecameMaster: j.BecameMaster,
		Transitions: j.Transitions, PriorityZeroSent: j.PriorityZeroSent, PriorityZeroReceived: j.PriorityZeroReceived,
		SendErrors: j.SendErrors, BindErrors: j.BindErrors, AnnounceErrors: j.AnnounceErrors, MasterTime: j.MasterTime,
	}
	if err := fromNames(j.Drops, dropNames[:], s.Drops[:], "drop reason"); err != nil {
		return err
	}
	return fromNames(j.Checksums, checksumNames[:], s.Checksums[:], "checksum form")
}

// routerStatsJSON is RouterStats as JSON.
type routerStatsJSON struct {
	Received   uint64
	Drops      map[string]uint64
	ReadErrors uint64
}

// MarshalJSON writes s with Drops keyed by reason name, as Stats does.
func (s RouterStats) MarshalJSON() ([]byte, error) {
	return json.Marshal(routerStatsJSON{Received: s.Received, Drops: byName(dropNames[1:], s.Drops[1:]), ReadErrors: s.ReadErrors})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *RouterStats) UnmarshalJSON(b []byte) error {
	var j routerStatsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = RouterStats{Received: j.Received, ReadErrors: j.ReadErrors}
	return fromNames(j.Drops, dropNames[:], s.Drops[:], "drop reason")
}

func byName(names []string, counts []uint64) map[string]uint64 {
	m := make(map[string]uint64, len(names))
	for i, n := range names {
		m[n] = counts[i]
	}
	return m
}

func fromNames(m map[string]uint64, names []string, counts []uint64, what string) error {
	for k, v := range m {
		i := -1
		for j, n := range names {
			if n == k {
				i = j
			}
		}
		if i < 0 || i >= len(counts) {
			return fmt.Errorf("vrrp: no %s %q", what, k)
		}
		counts[i] = v
	}
	return nil
}
