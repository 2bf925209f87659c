package pool_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/health/pool"
)

func TestServiceValidate(t *testing.T) {
	v4 := netip.MustParseAddrPort("198.18.0.1:80")
	v6 := netip.MustParseAddrPort("[fd00::1]:80")
	mask := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		s    pool.Service
		err  string // "" for valid
	}{
		{"address", pool.Service{Addr: v4}, ""},
		{"catch-all port", pool.Service{Addr: netip.AddrPortFrom(v4.Addr(), 0), Persistence: 360 * time.Second}, ""},
		{"fwmark", pool.Service{FWMark: 5}, ""},
		{"fwmark IPv6", pool.Service{FWMark: 5, IPv6: true, Persistence: time.Second, PersistenceMask: mask("ffff:ffff:ffff:ffff::")}, ""},
		{"persistent", pool.Service{Addr: v4, Persistence: 360 * time.Second, PersistenceMask: mask("255.255.255.0")}, ""},
		{"non-contiguous IPv4 mask", pool.Service{Addr: v4, Persistence: time.Second, PersistenceMask: mask("255.0.255.0")}, ""},
		{"engine", pool.Service{Addr: v4, Persistence: time.Second, PersistenceEngine: "sip"}, ""},
		{"nothing", pool.Service{}, "an address or a firewall mark is required"},
		{"both", pool.Service{Addr: v4, FWMark: 1}, "has no address"},
		{"IPv6 flag on an address", pool.Service{Addr: v4, IPv6: true}, "IPv6 is for firewall-mark services"},
		{"negative", pool.Service{Addr: v4, Persistence: -time.Second}, "outside"},
		{"too long", pool.Service{Addr: v4, Persistence: pool.MaxPersistence + time.Second}, "outside"},
		{"under a second", pool.Service{Addr: v4, Persistence: time.Millisecond}, "under IPVS's 1 s"},
		{"mask alone", pool.Service{Addr: v4, PersistenceMask: mask("255.255.255.0")}, "without persistence"},
		{"engine alone", pool.Service{Addr: v4, PersistenceEngine: "sip"}, "without persistence"},
		{"long engine", pool.Service{Addr: v4, Persistence: time.Second, PersistenceEngine: strings.Repeat("x", 16)}, "longer than 15"},
		{"IPv6 mask on IPv4", pool.Service{Addr: v4, Persistence: time.Second, PersistenceMask: mask("ffff::")}, "not of the service's family"},
		{"IPv4 mask on IPv6", pool.Service{Addr: v6, Persistence: time.Second, PersistenceMask: mask("255.255.255.0")}, "not of the service's family"},
		{"IPv4 mask on fwmark IPv6", pool.Service{FWMark: 1, IPv6: true, Persistence: time.Second, PersistenceMask: mask("255.255.255.0")}, "not of the service's family"},
		{"mapped mask", pool.Service{Addr: v4, Persistence: time.Second, PersistenceMask: mask("::ffff:255.255.255.0")}, "not of the service's family"},
		{"non-contiguous IPv6 mask", pool.Service{Addr: v6, Persistence: time.Second, PersistenceMask: mask("ffff::ffff")}, "not contiguous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.err != "" && (!errors.Is(err, pool.ErrService) || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate() = %v, want ErrService with %q", err, tc.err)
			}
		})
	}
}

func TestServiceString(t *testing.T) {
	for s, want := range map[pool.Service]string{
		{Addr: netip.MustParseAddrPort("198.18.0.1:80")}:                            "TCP 198.18.0.1:80",
		{Addr: netip.MustParseAddrPort("[fd00::1]:53"), Protocol: pool.ProtocolUDP}: "UDP [fd00::1]:53",
		{FWMark: 7}:             "FWM 7",
		{FWMark: 7, IPv6: true}: "FWM 7 IPv6",
	} {
		if got := s.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", s, got, want)
		}
	}
}

func TestMaskBits(t *testing.T) {
	for s, want := range map[string]int{
		"255.255.255.255": 32, "255.255.255.0": 24, "0.0.0.0": 0, "128.0.0.0": 1,
		"ffff:ffff:ffff:ffff::": 64, "::": 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff": 128,
		"255.0.255.0": -1, "0.0.0.24": -1, "ffff::1": -1,
	} {
		n, ok := pool.MaskBits(netip.MustParseAddr(s))
		if ok != (want >= 0) || (ok && n != want) {
			t.Errorf("MaskBits(%s) = %d, %v; want %d", s, n, ok, want)
		}
	}
}
