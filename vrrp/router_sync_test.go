package vrrp_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/transport/fake"
	vipfake "github.com/vrrpkit/vrrpkit/vip/fake"
	"github.com/vrrpkit/vrrpkit/vrrp"
)

// syncNode runs VI_1 and VI_2 in one sync group.
type syncNode struct {
	r      *vrrp.Router
	binder *vipfake.Binder
	stop   func()
	mu     sync.Mutex
	groups []string
	trans  int
}

// twoInsts returns VI_1 (VRID 51) and VI_2 (VRID 52, its own VIP) at
// priority prio.
func twoInsts(prio uint8) (i1, i2 vrrp.InstanceConfig) {
	i1, i2 = v3inst(prio), v3inst(prio)
	i2.Name, i2.VRID = "VI_2", 52
	i2.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("198.18.0.102/24")}}
	return i1, i2
}

func newSyncNode(t *testing.T, seg *fake.Segment, name string, addr netip.Addr, prio uint8) *syncNode {
	n := &syncNode{binder: &vipfake.Binder{}}
	i1, i2 := twoInsts(prio)
	n.r, n.stop = runRouter(t, vrrp.Config{
		Transport: seg.NewHost(name, addr), Binder: n.binder,
		Instances:  []vrrp.InstanceConfig{i1, i2},
		SyncGroups: []vrrp.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}},
		OnTransition: func(vrrp.Transition) {
			n.mu.Lock()
			n.trans++
			n.mu.Unlock()
		},
		OnGroupTransition: func(g vrrp.GroupTransition) {
			n.mu.Lock()
			n.groups = append(n.groups, g.From.String()+">"+g.To.String())
			n.mu.Unlock()
		},
	})
	return n
}

func (n *syncNode) states(t *testing.T) string {
	return stateOf(t, n.r, "VI_1").String() + "/" + stateOf(t, n.r, "VI_2").String()
}

func (n *syncNode) transitions() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.trans
}

// keepalived's vrrp_sync_group: members fail over together, a fault of one
// is a fault of all, and the group never splits between two routers.
func TestRouterSyncGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		a := newSyncNode(t, seg, "a", addr4(1), 150)
		b := newSyncNode(t, seg, "b", addr4(2), 100)
		defer a.stop()
		defer b.stop()
		settle := func() {
			time.Sleep(10 * time.Second)
			synctest.Wait()
		}
		settle()
		if a.states(t) != "MASTER/MASTER" || b.states(t) != "BACKUP/BACKUP" {
			t.Fatalf("election: a %s, b %s", a.states(t), b.states(t))
		}

		// A fault on one member takes the whole group down.
		if err := a.r.SetFault("VI_1", "test", true); err != nil {
			t.Fatal(err)
		}
		settle()
		if a.states(t) != "FAULT/FAULT" || b.states(t) != "MASTER/MASTER" {
			t.Fatalf("fault: a %s, b %s", a.states(t), b.states(t))
		}
		if s, _ := a.r.InstanceStatus("VI_2"); len(s.Faults) != 1 || s.Faults[0] != "sync:G" {
			t.Errorf("VI_2 faults %v, want [sync:G]", s.Faults)
		}
		if err := a.r.SetFault("VI_1", "test", false); err != nil {
			t.Fatal(err)
		}
		settle()
		if a.states(t) != "MASTER/MASTER" || b.states(t) != "BACKUP/BACKUP" {
			t.Fatalf("fault cleared: a %s, b %s", a.states(t), b.states(t))
		}

		// One member's priority drops below b's. The group cannot move
		// while its other member still follows a's: it holds, stable.
		if err := a.r.AdjustPriority("VI_1", "chk", -60); err != nil {
			t.Fatal(err)
		}
		settle()
		before := a.transitions() + b.transitions()
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if n := a.transitions() + b.transitions() - before; n != 0 || a.states(t) != "MASTER/MASTER" {
			t.Errorf("one member lowered: %d transitions, a %s: the group split or flapped", n, a.states(t))
		}
		// Both members lowered: the group moves to b as a whole.
		if err := a.r.AdjustPriority("VI_2", "chk", -60); err != nil {
			t.Fatal(err)
		}
		settle()
		if a.states(t) != "BACKUP/BACKUP" || b.states(t) != "MASTER/MASTER" {
			t.Fatalf("both lowered: a %s, b %s", a.states(t), b.states(t))
		}
		before = a.transitions() + b.transitions()
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if n := a.transitions() + b.transitions() - before; n != 0 {
			t.Errorf("%d transitions in a minute after the move: the group flaps", n)
		}
		if a.binder.Has(vip4) || !b.binder.Has(vip4) || !b.binder.Has(netip.MustParsePrefix("198.18.0.102/24")) {
			t.Error("VIPs not all on b")
		}
		for _, name := range []string{"VI_1", "VI_2"} {
			if err := a.r.AdjustPriority(name, "chk", 0); err != nil {
				t.Fatal(err)
			}
		}
		settle()
		if a.states(t) != "MASTER/MASTER" || b.states(t) != "BACKUP/BACKUP" {
			t.Fatalf("priority restored: a %s, b %s", a.states(t), b.states(t))
		}
		b.stop()
		a.stop()
		a.mu.Lock()
		got := strings.Join(a.groups, " ")
		a.mu.Unlock()
		want := "INIT>BACKUP BACKUP>MASTER MASTER>FAULT FAULT>BACKUP BACKUP>MASTER MASTER>BACKUP BACKUP>MASTER MASTER>BACKUP BACKUP>INIT"
		if got != want {
			t.Errorf("a's group transitions\n got %s\nwant %s", got, want)
		}
	})
}

func TestSyncGroupValidation(t *testing.T) {
	seg := fake.NewSegment(fake.SegmentConfig{})
	defer seg.Close()
	i2 := v3inst(100)
	i2.Name, i2.VRID = "VI_2", 52
	_, err := vrrp.NewRouter(vrrp.Config{
		Transport: seg.NewHost("a", addr4(1)),
		Instances: []vrrp.InstanceConfig{v3inst(100), i2},
		SyncGroups: []vrrp.SyncGroup{
			{Name: "G", Members: []string{"VI_1", "nope"}},
			{Name: "H", Members: []string{"VI_1"}},
			{Name: "G"},
		},
	})
	if !errors.Is(err, vrrp.ErrConfig) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{`unknown instance "nope"`, `"VI_1" is already in group "G"`, "SyncGroups[2] (G).Name: duplicate", "SyncGroups[2] (G).Members"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// ReloadGroups puts running instances into a sync group; Reload keeps it
// and drops removed members.
func TestRouterReloadGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		i1, i2 := twoInsts(150)
		r, stop := runRouter(t, vrrp.Config{Transport: seg.NewHost("a", addr4(1)), Instances: []vrrp.InstanceConfig{i1, i2}})
		defer stop()
		time.Sleep(5 * time.Second)
		ctx := context.Background()
		if err := r.ReloadGroups(ctx, []vrrp.InstanceConfig{i1, i2}, []vrrp.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}}); err != nil {
			t.Fatal(err)
		}
		if err := r.SetFault("VI_1", "test", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := stateOf(t, r, "VI_2"); got != vrrp.Fault {
			t.Fatalf("VI_2 is %v after VI_1's fault in a reloaded group", got)
		}
		if err := r.SetFault("VI_1", "test", false); err != nil {
			t.Fatal(err)
		}
		// Reload without VI_2: the group keeps VI_1 alone.
		if err := r.Reload(ctx, []vrrp.InstanceConfig{i1}); err != nil {
			t.Fatal(err)
		}
		if err := r.ReloadGroups(ctx, []vrrp.InstanceConfig{i1}, []vrrp.SyncGroup{{Name: "G", Members: []string{"VI_2"}}}); !errors.Is(err, vrrp.ErrConfig) {
			t.Errorf("a group naming a removed instance: %v", err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := stateOf(t, r, "VI_1"); got != vrrp.Master {
			t.Errorf("VI_1 is %v", got)
		}
	})
}

// slowBinder is a vipfake.Binder whose second Bind takes half a second,
// within the advert interval that a new Master's bind has to succeed in.
type slowBinder struct {
	vipfake.Binder
	binds atomic.Int32
}

func (b *slowBinder) Bind(ctx context.Context, iface string, vips []vrrp.VIP) error {
	if b.binds.Add(1) == 2 {
		time.Sleep(500 * time.Millisecond)
	}
	return b.Binder.Bind(ctx, iface, vips)
}

// OnMaster starts once the event that made the instance Master has been
// published: here the event goes on after the first instance's transition
// (its sync group follows, and the second Bind takes a second), and
// OnMaster, called meanwhile, must still read MASTER in Status.
func TestRouterOnMasterAfterEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seg := fake.NewSegment(fake.SegmentConfig{Seed: 1})
		defer seg.Close()
		i1, i2 := twoInsts(150)
		var (
			mu   sync.Mutex
			seen []string
			r    *vrrp.Router
		)
		r, err := vrrp.NewRouter(vrrp.Config{
			Transport: seg.NewHost("a", addr4(1)), Binder: &slowBinder{},
			Instances:  []vrrp.InstanceConfig{i1, i2},
			SyncGroups: []vrrp.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}},
			OnMaster: func(ctx context.Context, inst string) {
				s, _ := r.InstanceStatus(inst)
				mu.Lock()
				seen = append(seen, inst+"="+s.State.String())
				mu.Unlock()
				<-ctx.Done()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		stop := startRouter(t, r)
		time.Sleep(10 * time.Second)
		stop()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(seen)
		if got := strings.Join(seen, " "); got != "VI_1=MASTER VI_2=MASTER" {
			t.Errorf("OnMaster saw %q, want both instances MASTER", got)
		}
	})
}
