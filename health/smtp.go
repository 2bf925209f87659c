package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Errors of SMTP.Check. Each is wrapped with the address and the details.
var (
	// ErrSMTPConnect is returned, wrapping the dialer's error, when no TCP
	// connection is established before the probe's context ends.
	ErrSMTPConnect = errors.New("health: SMTP connect failed")
	// ErrSMTPGreeting is returned when the server's greeting is not a 220
	// reply, or not an SMTP reply at all.
	ErrSMTPGreeting = errors.New("health: bad SMTP greeting")
	// ErrSMTPHelo is returned when the reply to HELO is not a 250 reply,
	// or not an SMTP reply at all.
	ErrSMTPHelo = errors.New("health: SMTP HELO refused")
	// ErrSMTPExchange is returned, wrapping the I/O error (or the probe
	// context's error), when the exchange cannot be completed: the
	// server closes the connection or stops answering, a reply is too
	// long, or no reply to QUIT comes.
	ErrSMTPExchange = errors.New("health: SMTP exchange failed")
)

// DefaultSMTPHeloName is the name an SMTP check sends with HELO when
// SMTP.HeloName is empty: keepalived's default.
const DefaultSMTPHeloName = "smtpchecker.keepalived.org"

// Bounds of what an SMTP check reads from a server.
const (
	// smtpMaxLine bounds one reply line, CRLF included (RFC 5321 allows
	// 512 octets; servers are known to send longer greetings).
	smtpMaxLine = 4096
	// smtpMaxLines bounds the lines of one multi-line reply.
	smtpMaxLines = 100
	// smtpMaxHelo bounds HeloName: "HELO " + name + CRLF fits in the
	// 512-octet command line of RFC 5321.
	smtpMaxHelo = 512 - len("HELO \r\n")
)

// SMTP is a Checker that holds a short SMTP conversation with a mail
// server, as keepalived's SMTP_CHECK: it connects to Address, reads the
// greeting, which must be a 220 reply, sends "HELO HeloName", whose reply
// must be 250, then sends QUIT and waits for a reply, of any kind, before
// closing the connection. A server that closes the connection or falls
// silent at any step fails the check.
//
// Replies are read as RFC 5321 says: a multi-line reply ("220-first",
// "220 last") counts as one, with the code of its lines. keepalived reads
// the first line of each reply only; a multi-line greeting it may take or
// not depending on how the lines arrive, where SMTP waits for the whole
// reply. Lines may end with CRLF or LF alone.
//
// keepalived's options map onto an SMTP and its Check as follows:
// helo_name is HeloName; connect_ip and connect_port are Address; bindto
// and bind_port are Dialer.LocalAddr; connect_timeout (5 s by default in
// keepalived) is StepTimeout, with a Check.Timeout of SMTPSteps times as
// much; retry is Check.Fall - 1 (keepalived retries once by default). Each of the deprecated host blocks of an
// SMTP_CHECK is an SMTP check of its own.
type SMTP struct {
	// Address is the IP address and port of the server, such as
	// "192.0.2.25:25" or "[2001:db8::25]:25". It must be a literal
	// address: a health check does not depend on name resolution.
	Address string
	// HeloName is sent with HELO; empty means DefaultSMTPHeloName. It
	// may not hold control characters.
	HeloName string
	// Dialer, if set, dials the connection; set its LocalAddr to choose
	// the source address (keepalived's bindto). Nil means a zero
	// net.Dialer. The probe's context bounds the whole exchange, the
	// connection attempt included, whatever Dialer.Timeout says.
	Dialer *net.Dialer
	// StepTimeout, if set, bounds each step of the exchange on its own:
	// the connection attempt, and each read of a reply and write of a
	// command, as keepalived's connect_timeout does (the whole exchange
	// may then last up to six times as long). Zero means the probe's
	// context alone bounds the exchange.
	StepTimeout time.Duration
}

// SMTPSteps is the number of steps of an SMTP check that StepTimeout
// bounds each: connecting, reading the greeting, sending HELO, reading its
// reply, sending QUIT and reading its reply.
const SMTPSteps = 6

// Validate reports what is wrong with s's configuration, each problem an
// error wrapping ErrCheck.
func (s SMTP) Validate() error {
	_, err := s.addrPort()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if len(s.HeloName) > smtpMaxHelo {
		errs = append(errs, fmt.Errorf("%w: SMTP HeloName is %d bytes, more than %d", ErrCheck, len(s.HeloName), smtpMaxHelo))
	}
	if s.StepTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: SMTP StepTimeout %v is negative", ErrCheck, s.StepTimeout))
	}
	if i := strings.IndexFunc(s.HeloName, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		errs = append(errs, fmt.Errorf("%w: SMTP HeloName %q holds a control character", ErrCheck, s.HeloName))
	}
	return errors.Join(errs...)
}

func (s SMTP) addrPort() (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s.Address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: SMTP Address %q is not a literal IP address and port: %w", ErrCheck, s.Address, err)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: SMTP Address %q has port 0", ErrCheck, s.Address)
	}
	return ap, nil
}

// Check holds the conversation within ctx. It returns an error wrapping
// ErrCheck for a bad configuration, or one wrapping ErrSMTPConnect,
// ErrSMTPGreeting, ErrSMTPHelo or ErrSMTPExchange. When ctx ends during
// the exchange, the error wraps ctx's error too.
func (s SMTP) Check(ctx context.Context) error {
	if err := s.Validate(); err != nil {
		return err
	}
	ap, _ := s.addrPort()
	d := s.Dialer
	if d == nil {
		d = &net.Dialer{KeepAlive: -1}
	}
	dctx := ctx
	if s.StepTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, s.StepTimeout)
		defer cancel()
	}
	c, err := d.DialContext(dctx, "tcp", ap.String())
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSMTPConnect, ap, err)
	}
	defer c.Close()
	// The context bounds every read and write: when it ends, a deadline
	// in the past unblocks them (and ctx.Err is set by then, for fail).
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	x := smtpConn{ctx: ctx, c: c, r: bufio.NewReaderSize(c, smtpMaxLine), addr: ap, step: s.StepTimeout}
	code, line, err := x.reply("reading the greeting")
	switch {
	case errors.Is(err, errSMTPSyntax):
		return fmt.Errorf("%w: %s: %w", ErrSMTPGreeting, ap, err)
	case err != nil:
		return err
	case code != 220:
		return fmt.Errorf("%w: %s: %q, want 220", ErrSMTPGreeting, ap, line)
	}
	helo := cmpOr(s.HeloName, DefaultSMTPHeloName)
	if err := x.send("HELO " + helo); err != nil {
		return err
	}
	code, line, err = x.reply("reading the reply to HELO")
	switch {
	case errors.Is(err, errSMTPSyntax):
		return fmt.Errorf("%w: %s: HELO %s: %w", ErrSMTPHelo, ap, helo, err)
	case err != nil:
		return err
	case code != 250:
		return fmt.Errorf("%w: %s: HELO %s: %q, want 250", ErrSMTPHelo, ap, helo, line)
	}
	if err := x.send("QUIT"); err != nil {
		return err
	}
	// Any line answers QUIT, as in keepalived.
	x.startStep()
	if _, err := x.line("reading the reply to QUIT"); err != nil {
		return err
	}
	return nil
}

// errSMTPSyntax is wrapped by the error of smtpConn.reply for a line that
// is not an SMTP reply.
var errSMTPSyntax = errors.New("not an SMTP reply")

// smtpConn is one SMTP conversation.
type smtpConn struct {
	ctx  context.Context
	c    net.Conn
	r    *bufio.Reader
	addr netip.AddrPort
	// step, if not 0, bounds each read of a reply and each write.
	step time.Duration
}

// startStep sets the deadline of the next read or write.
func (x *smtpConn) startStep() {
	if x.step <= 0 {
		return
	}
	x.c.SetDeadline(time.Now().Add(x.step))
	if x.ctx.Err() != nil {
		x.c.SetDeadline(time.Unix(1, 0)) // the context ended meanwhile
	}
}

// fail returns err wrapped in ErrSMTPExchange, with the context's error
// when the context has ended (the cause of a deadline error).
func (x *smtpConn) fail(step string, err error) error {
	if cerr := x.ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %s: %s: %w (%w)", ErrSMTPExchange, x.addr, step, cerr, err)
	}
	return fmt.Errorf("%w: %s: %s: %w", ErrSMTPExchange, x.addr, step, err)
}

// send writes a command line.
func (x *smtpConn) send(cmd string) error {
	x.startStep()
	if _, err := io.WriteString(x.c, cmd+"\r\n"); err != nil {
		verb, _, _ := strings.Cut(cmd, " ")
		return x.fail("sending "+verb, err)
	}
	return nil
}

// line reads one line, without its line ending.
func (x *smtpConn) line(step string) (string, error) {
	b, err := x.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", x.fail(step, fmt.Errorf("a line longer than %d bytes", smtpMaxLine))
	case errors.Is(err, io.EOF) && len(b) > 0:
		return "", x.fail(step, fmt.Errorf("the connection closed in the middle of a line: %w", io.ErrUnexpectedEOF))
	case errors.Is(err, io.EOF):
		return "", x.fail(step, fmt.Errorf("the connection closed: %w", err))
	case err != nil:
		return "", x.fail(step, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// reply reads one reply, of one line or several, and returns its code and
// its last line. An error wraps errSMTPSyntax when a line is not a reply
// (three digits, then a space, a hyphen for a line to follow, or
// nothing), or ErrSMTPExchange.
func (x *smtpConn) reply(step string) (int, string, error) {
	x.startStep()
	code := -1
	for range smtpMaxLines {
		l, err := x.line(step)
		if err != nil {
			return 0, "", err
		}
		c, more, ok := parseSMTPLine(l)
		if !ok || code >= 0 && c != code {
			return 0, "", fmt.Errorf("%w: %q", errSMTPSyntax, l)
		}
		code = c
		if !more {
			return code, l, nil
		}
	}
	return 0, "", x.fail(step, fmt.Errorf("a reply of more than %d lines", smtpMaxLines))
}

// parseSMTPLine reads the code of a reply line and whether more lines
// follow ("250-...").
func parseSMTPLine(l string) (code int, more, ok bool) {
	if len(l) < 3 || l[0] < '2' || l[0] > '5' || !isDigit(l[1]) || !isDigit(l[2]) {
		return 0, false, false
	}
	code = int(l[0]-'0')*100 + int(l[1]-'0')*10 + int(l[2]-'0')
	if len(l) == 3 {
		return code, false, true
	}
	switch l[3] {
	case ' ':
		return code, false, true
	case '-':
		return code, true, true
	}
	return 0, false, false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// cmpOr returns the first of ss that is not empty.
func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
