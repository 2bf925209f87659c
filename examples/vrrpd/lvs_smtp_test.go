package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/privnet"
)

// smtpConf is keepalived's samples keepalived.conf.IPv6 and
// keepalived.conf.SMTP_CHECK, cut down: an SMTP_CHECK with helo_name, and
// SMTP_CHECKs with the deprecated host blocks.
const smtpConf = `virtual_server 2001:db8::1 25 {
    delay_loop 6
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 2001:db8::10 25 {
        SMTP_CHECK {
            connect_timeout 3
            retry 3
            helo_name "foo.bar.com"
        }
    }
    real_server 2001:db8::11 25 {
        SMTP_CHECK {
            retry 2
            delay_before_retry 5
            host {
                connect_ip 2001:db8::11
            }
            host {
                connect_ip 2001:db8::12
                connect_port 587
                bindto 2001:db8::2
                connect_timeout 4
            }
        }
    }
    real_server 2001:db8::13 25 {
        SMTP_CHECK {
            connect_timeout 10
            host {
                connect_ip 2001:db8::14
            }
        }
        TCP_CHECK {
        }
    }
}
`

// TestConvertLVSSMTP checks that SMTP_CHECK becomes a health.SMTP with
// keepalived's defaults: helo_name, retry 1, connect_timeout per step, and
// a checker per host block, plus one for the SMTP_CHECK's own target when
// it sets a connection option of its own.
func TestConvertLVSSMTP(t *testing.T) {
	services, warnings, err := loadLVS(t, smtpConf)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	if len(services) != 1 || len(services[0].Pool.Backends) != 3 {
		t.Fatalf("services %+v", services)
	}
	bs := services[0].Pool.Backends
	smtp := func(c health.Check) (*lvsCheck, health.SMTP) {
		t.Helper()
		lc := lvsChecker(t, c)
		if len(lc.Attempts) != 1 {
			t.Fatalf("check %s: %d attempts", c.Name, len(lc.Attempts))
		}
		sc, ok := lc.Attempts[0].(health.SMTP)
		if !ok {
			t.Fatalf("check %s: attempt %T, want health.SMTP", c.Name, lc.Attempts[0])
		}
		return lc, sc
	}

	// The sample: helo_name, connect_timeout 3 per step, retry 3.
	if len(bs[0].Checks) != 1 {
		t.Fatalf("backend 0: %d checks", len(bs[0].Checks))
	}
	c := bs[0].Checks[0]
	lc, sc := smtp(c)
	if sc.Address != "[2001:db8::10]:25" || sc.HeloName != "foo.bar.com" || sc.StepTimeout != 3*time.Second || sc.Validate() != nil {
		t.Errorf("SMTP %+v", sc)
	}
	if c.Name != "SMTP_CHECK#0" || c.Interval != 6*time.Second || lc.Retry != 3 || lc.DelayBeforeRetry != time.Second ||
		lc.AttemptTimeout != health.SMTPSteps*3*time.Second || c.Timeout != lc.probeTimeout() {
		t.Errorf("check %+v %+v", c, lc)
	}

	// Host blocks only: one checker per host, the SMTP_CHECK's retry and
	// delay_before_retry, keepalived's default helo name (the default
	// is health's: HeloName stays empty) and connect_timeout.
	if len(bs[1].Checks) != 2 {
		t.Fatalf("backend 1: %d checks, want one per host block", len(bs[1].Checks))
	}
	lc0, h0 := smtp(bs[1].Checks[0])
	lc1, h1 := smtp(bs[1].Checks[1])
	if h0.Address != "[2001:db8::11]:25" || h0.HeloName != "" || h0.StepTimeout != lvsDefaultConnectTimeout || h0.Dialer.LocalAddr != nil ||
		lc0.Retry != 2 || lc0.DelayBeforeRetry != 5*time.Second || bs[1].Checks[0].Name != "SMTP_CHECK#0" {
		t.Errorf("host 0: %+v %+v", h0, lc0)
	}
	la, _ := h1.Dialer.LocalAddr.(*net.TCPAddr)
	if h1.Address != "[2001:db8::12]:587" || h1.StepTimeout != 4*time.Second || la == nil || la.AddrPort().Addr() != netip.MustParseAddr("2001:db8::2") ||
		lc1.Retry != 2 || lc1.AttemptTimeout != health.SMTPSteps*4*time.Second || bs[1].Checks[1].Name != "SMTP_CHECK#1" {
		t.Errorf("host 1: %+v %+v", h1, lc1)
	}

	// An SMTP_CHECK with a connection option of its own (connect_timeout)
	// checks its own target too, then its host, then the TCP_CHECK.
	if len(bs[2].Checks) != 3 {
		t.Fatalf("backend 2: %d checks, want the SMTP_CHECK's own, its host's and the TCP_CHECK", len(bs[2].Checks))
	}
	_, own := smtp(bs[2].Checks[0])
	_, host := smtp(bs[2].Checks[1])
	if own.Address != "[2001:db8::13]:25" || own.StepTimeout != 10*time.Second || host.Address != "[2001:db8::14]:25" || host.StepTimeout != 10*time.Second {
		t.Errorf("own %+v, host %+v", own, host)
	}
	if c := bs[2].Checks[2]; c.Name != "TCP_CHECK#2" {
		t.Errorf("third check %q", c.Name)
	}
}

// TestLVSSMTPProbe runs a converted SMTP_CHECK against a fake mail server
// in a private network: the greeting, the configured HELO name, QUIT; then
// a server that refuses service fails the probe.
func TestLVSSMTPProbe(t *testing.T) { privnet.Run(t, testLVSSMTPProbe) }

func testLVSSMTPProbe(t *testing.T, n privnet.Net) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(n.A, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	var greeting atomic.Value
	greeting.Store("220 mx.test ESMTP\r\n")
	helos := make(chan string, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(greeting.Load().(string)))
			r := bufio.NewReader(c)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					break
				}
				if strings.HasPrefix(l, "HELO ") {
					helos <- strings.TrimRight(l, "\r\n")
					c.Write([]byte("250 mx.test\r\n"))
				} else {
					c.Write([]byte("221 bye\r\n"))
					break
				}
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()

	port := ln.Addr().(*net.TCPAddr).Port
	conf := fmt.Sprintf(`virtual_server 198.18.0.10 25 {
  protocol TCP
  real_server %s %d {
    SMTP_CHECK {
      helo_name vrrpd.test
      connect_timeout 1
      retry 0
    }
  }
}
`, n.A, port)
	services, _, err := loadLVS(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	c := services[0].Pool.Backends[0].Checks[0]
	ctx, cancel := context.WithTimeout(t.Context(), c.Timeout)
	defer cancel()
	if err := c.Checker.Check(ctx); err != nil {
		t.Fatalf("probe of a good server: %v", err)
	}
	select {
	case h := <-helos:
		if h != "HELO vrrpd.test" {
			t.Errorf("server read %q", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server read no HELO")
	}
	greeting.Store("554 5.3.2 no service\r\n")
	if err := c.Checker.Check(ctx); !errors.Is(err, health.ErrSMTPGreeting) {
		t.Fatalf("probe of a server refusing service = %v, want health.ErrSMTPGreeting", err)
	}
}
