package health

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/privnet"
)

// smtpScript is what a fake SMTP server does on each connection: it
// writes greeting, then answers each command line with the reply replies
// gives it ("" closes the connection; hang stops answering). The lines it
// read are sent on got.
type smtpScript struct {
	greeting string
	replies  func(cmd string) string
	// hang, if set, makes the server accept and then say nothing.
	hang bool
	// hangUp, if set, makes the server close the connection after the
	// greeting.
	hangUp bool
}

const smtpHang = "\x00hang"

// fakeSMTP listens on the private network's first IPv4 address and
// serves sc until the test ends. It returns the address and the command
// lines the server read.
func fakeSMTP(t *testing.T, sc smtpScript) (netip.AddrPort, <-chan string) {
	t.Helper()
	ln := listen4(t)
	got := make(chan string, 64)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serveSMTP(c, sc, got, quit)
		}
	}()
	t.Cleanup(func() {
		close(quit)
		ln.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).AddrPort(), got
}

func serveSMTP(c net.Conn, sc smtpScript, got chan<- string, quit <-chan struct{}) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // bounds every step of a broken test
	if sc.hang {
		select {
		case <-quit:
		case <-time.After(10 * time.Second):
		}
		return
	}
	if _, err := c.Write([]byte(sc.greeting)); err != nil || sc.hangUp {
		return
	}
	r := bufio.NewReader(c)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		select {
		case got <- l:
		default:
		}
		reply := sc.replies(strings.TrimRight(l, "\r\n"))
		switch reply {
		case "":
			return
		case smtpHang:
			select {
			case <-quit:
			case <-time.After(10 * time.Second):
			}
			return
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// goodSMTP answers as a mail server does.
func goodSMTP(cmd string) string {
	switch {
	case strings.HasPrefix(cmd, "HELO "):
		return "250 mx.example Hello " + strings.TrimPrefix(cmd, "HELO ") + ", pleased to meet you\r\n"
	case cmd == "QUIT":
		return "221 2.0.0 mx.example closing connection\r\n"
	}
	return "500 5.5.1 Command unrecognized\r\n"
}

func TestSMTPValidate(t *testing.T) {
	for _, s := range []SMTP{
		{Address: ""}, {Address: "localhost:25"}, {Address: "198.18.0.1"}, {Address: "198.18.0.1:0"},
		{Address: "198.18.0.1:25", HeloName: "a\r\nMAIL FROM:<x>"},
		{Address: "198.18.0.1:25", HeloName: strings.Repeat("a", 600)},
		{Address: "198.18.0.1:25", StepTimeout: -time.Second},
	} {
		if err := s.Check(context.Background()); !errors.Is(err, ErrCheck) {
			t.Errorf("%+v.Check = %v, want ErrCheck", s, err)
		}
	}
	for _, s := range []SMTP{{Address: "198.18.0.1:25"}, {Address: "[fd00::1]:587", HeloName: "foo.bar.com"}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v.Validate = %v", s, err)
		}
	}
}

func TestParseSMTPLine(t *testing.T) {
	for _, tc := range []struct {
		line     string
		code     int
		more, ok bool
	}{
		{"220 mx.example ESMTP", 220, false, true},
		{"220", 220, false, true},
		{"250-mx.example", 250, true, true},
		{"554 no", 554, false, true},
		{"22", 0, false, false},
		{"2200 x", 0, false, false},
		{"22a x", 0, false, false},
		{"+OK POP3 ready", 0, false, false},
		{"SSH-2.0-OpenSSH_9.6", 0, false, false},
		{"HTTP/1.1 400 Bad Request", 0, false, false},
		{"120 wait", 0, false, false},
		{"620 x", 0, false, false},
		{"", 0, false, false},
	} {
		code, more, ok := parseSMTPLine(tc.line)
		if code != tc.code || more != tc.more || ok != tc.ok {
			t.Errorf("parseSMTPLine(%q) = %d, %v, %v; want %d, %v, %v", tc.line, code, more, ok, tc.code, tc.more, tc.ok)
		}
	}
}

func TestSMTPCheck(t *testing.T) { privnet.Run(t, testSMTPCheck) }

func testSMTPCheck(t *testing.T, n privnet.Net) {
	// Every probe is bounded: a hang fails within this.
	const probe = 2 * time.Second
	check := func(s SMTP) error {
		ctx, cancel := context.WithTimeout(context.Background(), probe)
		defer cancel()
		start := time.Now()
		err := s.Check(ctx)
		if d := time.Since(start); d > probe+time.Second {
			t.Errorf("Check took %v, beyond its context's %v", d, probe)
		}
		return err
	}
	recv := func(got <-chan string) string {
		select {
		case l := <-got:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("the server read no command")
			return ""
		}
	}

	t.Run("good", func(t *testing.T) {
		ap, got := fakeSMTP(t, smtpScript{greeting: "220 mx.example ESMTP\r\n", replies: goodSMTP})
		if err := check(SMTP{Address: ap.String(), HeloName: "foo.bar.com"}); err != nil {
			t.Fatal(err)
		}
		if l := recv(got); l != "HELO foo.bar.com\r\n" {
			t.Errorf("first command %q, want HELO foo.bar.com CRLF", l)
		}
		if l := recv(got); l != "QUIT\r\n" {
			t.Errorf("second command %q, want QUIT CRLF", l)
		}
	})

	t.Run("default helo name", func(t *testing.T) {
		ap, got := fakeSMTP(t, smtpScript{greeting: "220 mx.example ESMTP\r\n", replies: goodSMTP})
		if err := check(SMTP{Address: ap.String()}); err != nil {
			t.Fatal(err)
		}
		if l := recv(got); l != "HELO smtpchecker.keepalived.org\r\n" {
			t.Errorf("first command %q, want keepalived's default name", l)
		}
	})

	t.Run("multi-line replies and bare LF", func(t *testing.T) {
		ap, _ := fakeSMTP(t, smtpScript{
			greeting: "220-mx.example ESMTP\r\n220-no UCE\n220 ready\r\n",
			replies: func(cmd string) string {
				if strings.HasPrefix(cmd, "HELO") {
					return "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
				}
				return goodSMTP(cmd)
			},
		})
		if err := check(SMTP{Address: ap.String()}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("any reply to QUIT", func(t *testing.T) {
		ap, _ := fakeSMTP(t, smtpScript{greeting: "220 x\r\n", replies: func(cmd string) string {
			if cmd == "QUIT" {
				return "bye\r\n"
			}
			return goodSMTP(cmd)
		}})
		if err := check(SMTP{Address: ap.String()}); err != nil {
			t.Fatalf("keepalived takes any line after QUIT: %v", err)
		}
	})

	t.Run("IPv6", func(t *testing.T) {
		ln, err := net.Listen("tcp6", netip.AddrPortFrom(n.A6, 0).String())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			serveSMTP(c, smtpScript{greeting: "220 x\r\n", replies: goodSMTP}, make(chan string, 4), nil)
		}()
		defer func() { ln.Close(); <-done }()
		if err := check(SMTP{Address: ln.Addr().String()}); err != nil {
			t.Fatal(err)
		}
	})

	fails := []struct {
		name string
		sc   smtpScript
		want error
		also error  // wrapped too, if set
		text string // in the message
	}{
		{"bad greeting", smtpScript{greeting: "554 5.3.2 no service\r\n", replies: goodSMTP}, ErrSMTPGreeting, nil, `"554 5.3.2 no service", want 220`},
		{"garbage greeting", smtpScript{greeting: "SSH-2.0-OpenSSH_9.6\r\n", replies: goodSMTP}, ErrSMTPGreeting, errSMTPSyntax, "SSH-2.0"},
		{"multi-line greeting of mixed codes", smtpScript{greeting: "220-a\r\n554 b\r\n", replies: goodSMTP}, ErrSMTPGreeting, errSMTPSyntax, ""},
		{"HELO refused", smtpScript{greeting: "220 x\r\n", replies: func(cmd string) string {
			if strings.HasPrefix(cmd, "HELO") {
				return "501 5.5.4 Invalid domain name\r\n"
			}
			return goodSMTP(cmd)
		}}, ErrSMTPHelo, nil, "501 5.5.4"},
		{"HELO garbage", smtpScript{greeting: "220 x\r\n", replies: func(string) string { return "what?\r\n" }}, ErrSMTPHelo, errSMTPSyntax, ""},
		{"closed after greeting", smtpScript{greeting: "220 x\r\n", replies: func(string) string { return "" }}, ErrSMTPExchange, nil, "reading the reply to HELO"},
		{"closed at once", smtpScript{hangUp: true}, ErrSMTPExchange, nil, "reading the greeting"},
		{"closed mid-line", smtpScript{greeting: "220 ready", hangUp: true}, ErrSMTPExchange, nil, "in the middle of a line"},
		{"no reply to QUIT", smtpScript{greeting: "220 x\r\n", replies: func(cmd string) string {
			if cmd == "QUIT" {
				return ""
			}
			return goodSMTP(cmd)
		}}, ErrSMTPExchange, nil, "reading the reply to QUIT"},
		{"silent server", smtpScript{hang: true}, ErrSMTPExchange, context.DeadlineExceeded, "reading the greeting"},
		{"silent after HELO", smtpScript{greeting: "220 x\r\n", replies: func(string) string { return smtpHang }}, ErrSMTPExchange, context.DeadlineExceeded, "reading the reply to HELO"},
		{"endless line", smtpScript{greeting: "220 " + strings.Repeat("x", 2*smtpMaxLine), replies: goodSMTP}, ErrSMTPExchange, nil, "longer than"},
		{"endless reply", smtpScript{greeting: strings.Repeat("220-x\r\n", smtpMaxLines+1), replies: goodSMTP}, ErrSMTPExchange, nil, "more than"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			ap, _ := fakeSMTP(t, tc.sc)
			err := check(SMTP{Address: ap.String()})
			if !errors.Is(err, tc.want) || tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("Check = %v, want %v (and %v)", err, tc.want, tc.also)
			}
			if !strings.Contains(err.Error(), ap.String()) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not name %s and %q", err, ap, tc.text)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		ap := closedPort(t)
		err := check(SMTP{Address: ap.String()})
		if !errors.Is(err, ErrSMTPConnect) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Check of a closed port = %v, want ErrSMTPConnect wrapping ECONNREFUSED", err)
		}
	})

	t.Run("cancelled mid-exchange", func(t *testing.T) {
		ap, _ := fakeSMTP(t, smtpScript{hang: true})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		errc := make(chan error, 1)
		go func() { errc <- SMTP{Address: ap.String()}.Check(ctx) }()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrSMTPExchange) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Check = %v, want ErrSMTPExchange wrapping context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Check did not return after its context was cancelled")
		}
	})

	t.Run("step timeout", func(t *testing.T) {
		slow := func(cmd string) string {
			time.Sleep(300 * time.Millisecond)
			return goodSMTP(cmd)
		}
		ap, _ := fakeSMTP(t, smtpScript{greeting: "220 x\r\n", replies: slow})
		// Two slow replies: 600 ms in all, each within its 500 ms step.
		if err := check(SMTP{Address: ap.String(), StepTimeout: 500 * time.Millisecond}); err != nil {
			t.Fatalf("each step within StepTimeout: %v", err)
		}
		ap, _ = fakeSMTP(t, smtpScript{hang: true})
		start := time.Now()
		err := check(SMTP{Address: ap.String(), StepTimeout: 200 * time.Millisecond})
		if !errors.Is(err, ErrSMTPExchange) || !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Check of a silent server = %v, want ErrSMTPExchange wrapping the step's deadline", err)
		}
		if d := time.Since(start); d > probe/2 {
			t.Fatalf("the step timeout took %v", d)
		}
	})

	t.Run("bind address", func(t *testing.T) {
		ln := listen4(t)
		peer := make(chan netip.AddrPort, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			peer <- c.RemoteAddr().(*net.TCPAddr).AddrPort()
			serveSMTP(c, smtpScript{greeting: "220 x\r\n", replies: goodSMTP}, make(chan string, 4), nil)
		}()
		defer func() { ln.Close(); <-done }()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: n.B.AsSlice()}}
		if err := check(SMTP{Address: ln.Addr().String(), Dialer: d}); err != nil {
			t.Fatal(err)
		}
		if p := <-peer; p.Addr() != n.B {
			t.Fatalf("connection from %s, want %s", p, n.B)
		}
	})
}
