package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ahSends returns the datagrams of the adverts the Node asked to send.
func ahSends(n *vrrp.Node) [][]byte {
	var out [][]byte
	for _, e := range n.Effects() {
		if e.Kind == vrrp.EffectSend {
			out = append(out, n.Outgoing(e.Ref).Msg)
		}
	}
	return out
}

// ahAdvert is an AH advert from peer at priority prio with sequence seq.
func ahAdvert(t *testing.T, prio uint8, seq uint32, pass string) (*vrrp.Received, *vrrp.Advertisement) {
	t.Helper()
	a := &vrrp.Advertisement{Version: 2, Type: vrrp.TypeAdvertisement, VRID: 7, Priority: prio, Interval: 1, AuthType: vrrp.AuthAH,
		Addresses: []netip.Addr{nodeVIP.Prefix.Addr()}}
	msg, err := a.Append(nil, netip.Addr{}, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := vrrp.AppendAH(nil, vrrp.AHFields{Src: peer, Dst: vrrp.Group4, ID: 1, Seq: seq}, msg, vrrp.PasswordData(pass))
	if err != nil {
		t.Fatal(err)
	}
	return &vrrp.Received{Adv: a, Info: vrrp.PacketInfo{Src: peer, Dst: vrrp.Group4, TTL: 255}, Form: vrrp.ChecksumOK, Packet: pkt}, a
}

// TestNodeAH runs an AuthAH instance: its adverts are keepalived's AH
// datagrams, counted from 1; the replay check drops a sequence number
// that does not grow, a wrong key and a plain advert; a lower-priority
// advert to the Master sets its count to the sender's plus one.
func TestNodeAH(t *testing.T) {
	c := nodeInst("ah", 7, 200)
	c.Version, c.AuthPass, c.AuthAH = 2, "secret", true
	if err := (&vrrp.Config{Instances: []vrrp.InstanceConfig{c}}).Validate(); err != nil {
		t.Fatal(err)
	}
	n := vrrp.NewNode(vrrp.NodeOptions{NoBinds: true})
	id := n.Add(c, vrrp.Addressing{Source: local, Group: vrrp.Group4})
	now := t0
	n.Start(now, id)
	ahSends(n)
	// A Backup accepts a growing count.
	for _, tc := range []struct {
		seq  uint32
		pass string
		drop vrrp.DropReason
	}{
		{5, "secret", vrrp.DropNone},
		{5, "secret", vrrp.DropReplay},
		{4, "secret", vrrp.DropReplay},
		{9, "other", vrrp.DropAuth},
		{6, "secret", vrrp.DropNone},
	} {
		now = now.Add(100 * time.Millisecond)
		r, _ := ahAdvert(t, 250, tc.seq, tc.pass)
		if res := n.Receive(now, id, r); res.Drop != tc.drop {
			t.Errorf("seq %d key %s: drop %v, want %v", tc.seq, tc.pass, res.Drop, tc.drop)
		}
	}
	r, _ := ahAdvert(t, 250, 7, "secret")
	r.Packet = nil
	if res := n.Receive(now, id, r); res.Drop != vrrp.DropAuthType {
		t.Errorf("no AH: %v", res.Drop)
	}
	// Master after Master_Down_Interval: its advert goes on from 6.
	now = now.Add(5 * time.Second)
	n.Tick(now)
	if n.State(id) != vrrp.Master {
		t.Fatalf("state %v", n.State(id))
	}
	sends := ahSends(n)
	if len(sends) != 1 {
		t.Fatalf("%d adverts", len(sends))
	}
	check := func(pkt []byte, seq uint32, id uint16) {
		t.Helper()
		ah, msg, err := vrrp.ParseAH(pkt)
		if err != nil || !vrrp.VerifyAH(pkt, vrrp.PasswordData("secret"), false) {
			t.Fatalf("advert %x: %v", pkt, err)
		}
		if ah.Seq != seq || ah.SPI != 0xc6120001 || pkt[4] != byte(id>>8) || pkt[5] != byte(id) {
			t.Errorf("AH %+v id %x, want seq %d id %d", ah, pkt[4:6], seq, id)
		}
		var a vrrp.Advertisement
		if err := a.Unmarshal(msg, false); err != nil || a.AuthType != vrrp.AuthAH || a.Priority != 200 {
			t.Errorf("advert %+v: %v", a, err)
		}
	}
	check(sends[0], 7, 1)
	// A lower priority advert of sequence 40: the answer is 42.
	now = now.Add(100 * time.Millisecond)
	r, _ = ahAdvert(t, 100, 40, "secret")
	if res := n.Receive(now, id, r); res.Drop != vrrp.DropLowerPriority {
		t.Fatalf("lower priority: %v", res.Drop)
	}
	sends = ahSends(n)
	if len(sends) != 1 {
		t.Fatalf("%d answers", len(sends))
	}
	check(sends[0], 42, 2)
}

func TestAHConfigValidate(t *testing.T) {
	base := nodeInst("ah", 7, 200)
	base.Version, base.AuthPass, base.AuthAH = 2, "secret", true
	for name, mut := range map[string]func(*vrrp.InstanceConfig){
		"v3":     func(c *vrrp.InstanceConfig) { c.Version = 3 },
		"nopass": func(c *vrrp.InstanceConfig) { c.AuthPass = "" },
		"master": func(c *vrrp.InstanceConfig) { c.InitialMaster = true },
		"ipv6": func(c *vrrp.InstanceConfig) {
			c.VIPs = []vrrp.VIP{{Prefix: netip.MustParsePrefix("fd00::1/64")}}
		},
	} {
		c := base
		mut(&c)
		if err := (&vrrp.Config{Instances: []vrrp.InstanceConfig{c}}).Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}
