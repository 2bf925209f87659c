package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

type stubSource struct {
	status []vrrp.Status
	stats  vrrp.RouterStats
}

func (s stubSource) Status() []vrrp.Status   { return s.status }
func (s stubSource) Stats() vrrp.RouterStats { return s.stats }

// Each field of Status becomes its metric, with the instance's labels;
// the running Master term counts in master_seconds_total.
func TestCollector(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := vrrp.Status{Name: "VI_1", Interface: "eth0", VRID: 51, State: vrrp.Master, Priority: 150, EffectivePriority: 90,
		Faults: nil, Since: since}
	s.Stats.AdvertsSent, s.Stats.AdvertsReceived, s.Stats.BindErrors = 10, 3, 2
	s.Stats.Drops[vrrp.DropVersion] = 4
	s.Stats.MasterTime = 5 * time.Second
	f := vrrp.Status{Name: "VI_2", Interface: "eth1", VRID: 52, State: vrrp.Fault, Priority: 100, EffectivePriority: 100,
		Faults: []string{"bind", "interface"}}
	src := stubSource{status: []vrrp.Status{s, f}}
	src.stats.Received = 20
	src.stats.Drops[vrrp.DropUnknownVRID] = 7
	c := NewCollector(src)
	c.now = func() time.Time { return since.Add(10 * time.Second) }
	want := `
# HELP vrrpkit_instance_state 1 for the current state of the instance.
# TYPE vrrpkit_instance_state gauge
vrrpkit_instance_state{instance="VI_1",interface="eth0",state="BACKUP",vrid="51"} 0
vrrpkit_instance_state{instance="VI_1",interface="eth0",state="FAULT",vrid="51"} 0
vrrpkit_instance_state{instance="VI_1",interface="eth0",state="INIT",vrid="51"} 0
vrrpkit_instance_state{instance="VI_1",interface="eth0",state="MASTER",vrid="51"} 1
vrrpkit_instance_state{instance="VI_2",interface="eth1",state="BACKUP",vrid="52"} 0
vrrpkit_instance_state{instance="VI_2",interface="eth1",state="FAULT",vrid="52"} 1
vrrpkit_instance_state{instance="VI_2",interface="eth1",state="INIT",vrid="52"} 0
vrrpkit_instance_state{instance="VI_2",interface="eth1",state="MASTER",vrid="52"} 0
# HELP vrrpkit_instance_faulted 1 for each raised fault source of the instance.
# TYPE vrrpkit_instance_faulted gauge
vrrpkit_instance_faulted{instance="VI_2",interface="eth1",source="bind",vrid="52"} 1
vrrpkit_instance_faulted{instance="VI_2",interface="eth1",source="interface",vrid="52"} 1
# HELP vrrpkit_master_seconds_total Seconds spent as Master.
# TYPE vrrpkit_master_seconds_total counter
vrrpkit_master_seconds_total{instance="VI_1",interface="eth0",vrid="51"} 15
vrrpkit_master_seconds_total{instance="VI_2",interface="eth1",vrid="52"} 0
# HELP vrrpkit_errors_total Failed operations, by operation (send, bind, announce).
# TYPE vrrpkit_errors_total counter
vrrpkit_errors_total{instance="VI_1",interface="eth0",op="announce",vrid="51"} 0
vrrpkit_errors_total{instance="VI_1",interface="eth0",op="bind",vrid="51"} 2
vrrpkit_errors_total{instance="VI_1",interface="eth0",op="send",vrid="51"} 0
vrrpkit_errors_total{instance="VI_2",interface="eth1",op="announce",vrid="52"} 0
vrrpkit_errors_total{instance="VI_2",interface="eth1",op="bind",vrid="52"} 0
vrrpkit_errors_total{instance="VI_2",interface="eth1",op="send",vrid="52"} 0
# HELP vrrpkit_packets_received_total VRRP packets read.
# TYPE vrrpkit_packets_received_total counter
vrrpkit_packets_received_total 20
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vrrpkit_instance_state", "vrrpkit_instance_faulted",
		"vrrpkit_master_seconds_total", "vrrpkit_errors_total", "vrrpkit_packets_received_total"); err != nil {
		t.Error(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic gather: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "vrrpkit_adverts_dropped_total" {
			continue
		}
		if n := len(mf.GetMetric()); n != 2*(int(vrrp.NumDropReasons)-1) {
			t.Errorf("%d drop series, want one per reason but none for each instance", n)
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["instance"] == "VI_1" && labels["reason"] == "version" {
				found = true
				if v := m.GetCounter().GetValue(); v != 4 {
					t.Errorf("version drops of VI_1: %v, want 4", v)
				}
			}
		}
	}
	if !found {
		t.Error("no version drops of VI_1")
	}
}
