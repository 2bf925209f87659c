package privnet

import (
	"io"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
)

// The body runs in a namespace of its own: only lo, carrying the Net's
// addresses, and a TCP connection between two of them works.
func TestRun(t *testing.T) {
	Run(t, func(t *testing.T, n Net) {
		if os.Getenv(envTest) != t.Name() {
			t.Fatalf("body runs outside the child (%s=%q)", envTest, os.Getenv(envTest))
		}
		links, err := netlink.LinkList()
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 1 || links[0].Attrs().Name != "lo" {
			t.Fatalf("links %v, want lo alone", links)
		}
		for _, a := range []netip.Addr{n.A, n.B, n.A6, n.B6} {
			ln, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				c, err := ln.Accept()
				if err == nil {
					c.Write([]byte("ok"))
					c.Close()
				}
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(c)
			c.Close()
			ln.Close()
			if string(b) != "ok" {
				t.Errorf("%s: read %q", a, b)
			}
		}
	})
}

// A subtest runs alone in its own child.
func TestRunSubtest(t *testing.T) {
	for _, name := range []string{"first one", "second/one"} {
		t.Run(name, func(t *testing.T) {
			Run(t, func(t *testing.T, n Net) {
				if os.Getenv(envTest) != t.Name() {
					t.Fatalf("child for %q runs %q", os.Getenv(envTest), t.Name())
				}
			})
		})
	}
}

func TestRunPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestA":         "^TestA$",
		"TestA/b_c":     "^TestA$/^b_c$",
		"TestA/x.y+(z)": `^TestA$/^x\.y\+\(z\)$`,
	} {
		if got := runPattern(name); got != want {
			t.Errorf("runPattern(%q) = %q, want %q", name, got, want)
		}
	}
}
