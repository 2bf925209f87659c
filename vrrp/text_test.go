package vrrp_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// A Status reads in JSON as in the log and the metrics: enums by name,
// drops and checksum forms keyed by name, and it reads back the same.
func TestStatusJSON(t *testing.T) {
	s := vrrp.Status{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 3, Family: vrrp.IPv6, State: vrrp.Master,
		Priority: 100, EffectivePriority: 90, Master: netip.MustParseAddr("fe80::1"), MasterPriority: 90,
		MasterAdverInterval: time.Second, Faults: []string{"bind"},
		Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	s.Stats.AdvertsSent = 7
	s.Stats.Drops[vrrp.DropVersion] = 3
	s.Stats.Drops[vrrp.DropOverflow] = 1
	s.Stats.Checksums[vrrp.ChecksumGroup] = 5
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{`"State":"MASTER"`, `"Family":"IPv6"`, `"version":3`, `"overflow":1`, `"group":5`, `"checksum":0`} {
		if !strings.Contains(text, want) {
			t.Errorf("JSON lacks %s: %s", want, text)
		}
	}
	if strings.Contains(text, `"none"`) {
		t.Errorf("JSON counts the drop reason none: %s", text)
	}
	var back vrrp.Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.State != s.State || back.Family != s.Family || back.Stats != s.Stats || back.Master != s.Master {
		t.Errorf("read back %+v, want %+v", back, s)
	}
	var rs vrrp.RouterStats
	rs.Drops[vrrp.DropUnknownVRID] = 2
	b, _ = json.Marshal(rs)
	var rback vrrp.RouterStats
	if err := json.Unmarshal(b, &rback); err != nil || rback != rs || !strings.Contains(string(b), `"unknown-vrid":2`) {
		t.Errorf("RouterStats %s read back as %+v (%v)", b, rback, err)
	}
	for _, bad := range []string{`{"State":"SLEEPING"}`, `{"Family":"IPX"}`, `{"Stats":{"Drops":{"gremlins":1}}}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s read without an error", bad)
		}
	}
}
