// Package metrics exports a Router's Status to Prometheus: a
// client_golang Collector with one set of metric names, which
// examples/vrrpd serves too.
//
// Every instance metric has the labels instance, interface and vrid:
//
//	vrrpkit_instance_state{state}            1 for the current state (INIT, BACKUP, MASTER, FAULT)
//	vrrpkit_instance_priority                configured priority
//	vrrpkit_instance_effective_priority      advertised priority
//	vrrpkit_instance_faulted{source}         1 for each raised fault source
//	vrrpkit_adverts_sent_total
//	vrrpkit_adverts_received_total
//	vrrpkit_adverts_dropped_total{reason}    by drop reason (the names of vrrp.DropReason)
//	vrrpkit_priority_zero_sent_total
//	vrrpkit_priority_zero_received_total
//	vrrpkit_transitions_total
//	vrrpkit_became_master_total
//	vrrpkit_master_seconds_total             time spent as Master
//	vrrpkit_errors_total{op}                 failed sends, binds and announcements
//
// and, for the packets that reached no instance, vrrpkit_packets_received_total,
// vrrpkit_packets_dropped_total{reason} and vrrpkit_read_errors_total.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// Source is what a Collector reads: *vrrp.Router.
type Source interface {
	Status() []vrrp.Status
	Stats() vrrp.RouterStats
}

var _ Source = (*vrrp.Router)(nil)

// Collector is a prometheus.Collector of a Router's Status, read at each
// scrape.
type Collector struct {
	src Source
	now func() time.Time

	state, prio, eff, faulted, in, out, drops, zeroOut, zeroIn, trans, becameMaster, masterSecs, errs *prometheus.Desc
	pktIn, pktDrops, readErrs                                                                         *prometheus.Desc
}

// NewCollector returns a Collector of src; register it with a
// prometheus.Registerer.
func NewCollector(src Source) *Collector {
	lbl := []string{"instance", "interface", "vrid"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("vrrpkit_"+name, help, append(append([]string(nil), lbl...), extra...), nil)
	}
	return &Collector{src: src, now: time.Now,
		state:        desc("instance_state", "1 for the current state of the instance.", "state"),
		prio:         desc("instance_priority", "Configured priority."),
		eff:          desc("instance_effective_priority", "Advertised (effective) priority."),
		faulted:      desc("instance_faulted", "1 for each raised fault source of the instance.", "source"),
		in:           desc("adverts_received_total", "Advertisements received."),
		out:          desc("adverts_sent_total", "Advertisements sent."),
		drops:        desc("adverts_dropped_total", "Advertisements dropped, by reason.", "reason"),
		zeroOut:      desc("priority_zero_sent_total", "Advertisements of priority 0 sent (a Master leaving)."),
		zeroIn:       desc("priority_zero_received_total", "Advertisements of priority 0 received."),
		trans:        desc("transitions_total", "State transitions."),
		becameMaster: desc("became_master_total", "Transitions to Master."),
		masterSecs:   desc("master_seconds_total", "Seconds spent as Master."),
		errs:         desc("errors_total", "Failed operations, by operation (send, bind, announce).", "op"),
		pktIn:        prometheus.NewDesc("vrrpkit_packets_received_total", "VRRP packets read.", nil, nil),
		pktDrops:     prometheus.NewDesc("vrrpkit_packets_dropped_total", "VRRP packets that reached no instance, by reason.", []string{"reason"}, nil),
		readErrs:     prometheus.NewDesc("vrrpkit_read_errors_total", "Failed reads of VRRP sockets.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.prio, c.eff, c.faulted, c.in, c.out, c.drops, c.zeroOut, c.zeroIn,
		c.trans, c.becameMaster, c.masterSecs, c.errs, c.pktIn, c.pktDrops, c.readErrs} {
		ch <- d
	}
}

// states are the states instance_state reports.
var states = []vrrp.State{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, s := range c.src.Status() {
		l := []string{s.Name, s.Interface, fmt.Sprint(s.VRID)}
		metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, t, v, append(append([]string(nil), l...), extra...)...)
		}
		for _, st := range states {
			v := 0.0
			if s.State == st {
				v = 1
			}
			metric(c.state, prometheus.GaugeValue, v, st.String())
		}
		for _, src := range s.Faults {
			metric(c.faulted, prometheus.GaugeValue, 1, src)
		}
		metric(c.prio, prometheus.GaugeValue, float64(s.Priority))
		metric(c.eff, prometheus.GaugeValue, float64(s.EffectivePriority))
		st := &s.Stats
		metric(c.in, prometheus.CounterValue, float64(st.AdvertsReceived))
		metric(c.out, prometheus.CounterValue, float64(st.AdvertsSent))
		for i, n := range st.Drops {
			if vrrp.DropReason(i) != vrrp.DropNone {
				metric(c.drops, prometheus.CounterValue, float64(n), vrrp.DropReason(i).String())
			}
		}
		metric(c.zeroOut, prometheus.CounterValue, float64(st.PriorityZeroSent))
		metric(c.zeroIn, prometheus.CounterValue, float64(st.PriorityZeroReceived))
		metric(c.trans, prometheus.CounterValue, float64(st.Transitions))
		metric(c.becameMaster, prometheus.CounterValue, float64(st.BecameMaster))
		master := st.MasterTime
		if s.State == vrrp.Master && !s.Since.IsZero() && now.After(s.Since) {
			master += now.Sub(s.Since)
		}
		metric(c.masterSecs, prometheus.CounterValue, master.Seconds())
		metric(c.errs, prometheus.CounterValue, float64(st.SendErrors), "send")
		metric(c.errs, prometheus.CounterValue, float64(st.BindErrors), "bind")
		metric(c.errs, prometheus.CounterValue, float64(st.AnnounceErrors), "announce")
	}
	rs := c.src.Stats()
	ch <- prometheus.MustNewConstMetric(c.pktIn, prometheus.CounterValue, float64(rs.Received))
	for i, n := range rs.Drops {
		if vrrp.DropReason(i) != vrrp.DropNone {
			ch <- prometheus.MustNewConstMetric(c.pktDrops, prometheus.CounterValue, float64(n), vrrp.DropReason(i).String())
		}
	}
	ch <- prometheus.MustNewConstMetric(c.readErrs, prometheus.CounterValue, float64(rs.ReadErrors))
}
