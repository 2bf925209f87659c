package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// dataDump returns the state dump SIGUSR1 writes, in the spirit of
// keepalived's /tmp/keepalived.data.
func (d *daemon) dataDump() []byte {
	var b strings.Builder
	now := time.Now()
	fmt.Fprintf(&b, "------< VRRP Topology >------\n")
	fmt.Fprintf(&b, " Dump time = %s\n", now.Format(time.ANSIC))
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	if cfg.RouterID != "" {
		fmt.Fprintf(&b, " Router ID = %s\n", cfg.RouterID)
	}
	for _, s := range d.router.Status() {
		fmt.Fprintf(&b, " VRRP Instance = %s\n", s.Name)
		fmt.Fprintf(&b, "   State = %s\n", s.State)
		fmt.Fprintf(&b, "   Last transition = %s\n", s.Since.Format(time.ANSIC))
		fmt.Fprintf(&b, "   Interface = %s\n", s.Interface)
		fmt.Fprintf(&b, "   Virtual Router ID = %d\n", s.VRID)
		fmt.Fprintf(&b, "   VRRP Version = %d (%s)\n", s.Version, s.Family)
		fmt.Fprintf(&b, "   Base priority = %d\n", s.Priority)
		fmt.Fprintf(&b, "   Effective priority = %d\n", s.EffectivePriority)
		if s.Master.IsValid() {
			fmt.Fprintf(&b, "   Master router = %s\n", s.Master)
			fmt.Fprintf(&b, "   Master priority = %d\n", s.MasterPriority)
		}
		fmt.Fprintf(&b, "   Master advert interval = %s\n", s.MasterAdverInterval)
		if len(s.Faults) > 0 {
			fmt.Fprintf(&b, "   Faults = %s\n", strings.Join(s.Faults, ", "))
		}
		for _, c := range cfg.Instances {
			if c.Name != s.Name {
				continue
			}
			fmt.Fprintf(&b, "   Advert interval = %s\n", c.AdvertInterval)
			fmt.Fprintf(&b, "   Preempt = %s\n", enabled(!c.NoPreempt))
			if c.PreemptDelay > 0 {
				fmt.Fprintf(&b, "   Preempt delay = %s\n", c.PreemptDelay)
			}
			fmt.Fprintf(&b, "   Virtual IP = %d\n", len(c.VIPs))
			for _, v := range c.VIPs {
				dev := v.Device
				if dev == "" {
					dev = c.Interface
				}
				fmt.Fprintf(&b, "     %s dev %s scope %s\n", v.Prefix, dev, orDefault(v.Scope, "global"))
			}
			for _, p := range c.UnicastPeers {
				fmt.Fprintf(&b, "   Unicast Peer = %s\n", p)
			}
		}
	}
	return []byte(b.String())
}

// statsDump returns the statistics SIGUSR2 writes, in the spirit of
// keepalived's /tmp/keepalived.stats.
func (d *daemon) statsDump() []byte {
	var b strings.Builder
	rs := d.router.Stats()
	fmt.Fprintf(&b, "Router\n  Received: %d\n  Read errors: %d\n", rs.Received, rs.ReadErrors)
	writeDrops(&b, "  ", rs.Drops)
	for _, s := range d.router.Status() {
		st := s.Stats
		fmt.Fprintf(&b, "VRRP Instance: %s\n", s.Name)
		fmt.Fprintf(&b, "  Advertisements:\n    Received: %d\n    Sent: %d\n", st.AdvertsReceived, st.AdvertsSent)
		fmt.Fprintf(&b, "  Became master: %d\n", st.BecameMaster)
		fmt.Fprintf(&b, "  Transitions: %d\n", st.Transitions)
		fmt.Fprintf(&b, "  Priority Zero:\n    Received: %d\n    Sent: %d\n", st.PriorityZeroReceived, st.PriorityZeroSent)
		fmt.Fprintf(&b, "  Errors:\n    Send: %d\n    Bind: %d\n    Announce: %d\n", st.SendErrors, st.BindErrors, st.AnnounceErrors)
		writeDrops(&b, "  ", st.Drops)
	}
	return []byte(b.String())
}

func writeDrops(b *strings.Builder, indent string, drops [vrrp.NumDropReasons]uint64) {
	fmt.Fprintf(b, "%sDropped:\n", indent)
	for i, n := range drops {
		if i == int(vrrp.DropNone) {
			continue
		}
		fmt.Fprintf(b, "%s  %s: %d\n", indent, vrrp.DropReason(i), n)
	}
}

func enabled(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeAtomic writes b to path through a temporary file and a rename, so
// that a reader never sees half of it.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vrrpd-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
