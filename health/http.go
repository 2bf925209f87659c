package health

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Errors of HTTP.Check. Each is wrapped with the URL and the details.
var (
	// ErrHTTPRequest is returned, wrapping the client's error, when the
	// request cannot be made or its response cannot be read: connection
	// refused, the probe's context ended, a malformed response.
	ErrHTTPRequest = errors.New("health: HTTP request failed")
	// ErrHTTPTLS is returned, wrapping the TLS error, when the TLS
	// handshake fails, including when the server's certificate does not
	// verify.
	ErrHTTPTLS = errors.New("health: TLS handshake failed")
	// ErrHTTPStatus is returned when the response's status code is not
	// one of StatusCodes.
	ErrHTTPStatus = errors.New("health: unexpected HTTP status")
	// ErrHTTPDigest is returned when the MD5 digest of the body is not
	// Digest.
	ErrHTTPDigest = errors.New("health: HTTP body digest mismatch")
	// ErrHTTPRegex is returned when the body does not match Regex (or,
	// with RegexNoMatch, when it does).
	ErrHTTPRegex = errors.New("health: HTTP body regex check failed")
	// ErrHTTPBodyTooLarge is returned when Digest is set and the body is
	// longer than MaxBody, so that its digest cannot be computed.
	ErrHTTPBodyTooLarge = errors.New("health: HTTP body larger than MaxBody")
)

// DefaultHTTPMaxBody is the most of a response body an HTTP check reads
// when HTTP.MaxBody is 0.
const DefaultHTTPMaxBody = 1 << 20

// httpUserAgent is sent as keepalived's checkers send it, so that servers'
// log filters for health checks keep working.
const httpUserAgent = "KeepAliveClient"

// HTTP is a Checker that GETs a URL, as keepalived's HTTP_GET and SSL_GET
// (an https URL): it succeeds when the status code is one of StatusCodes,
// the body's MD5 digest is Digest (if set) and the body matches Regex (if
// set), checked in that order as keepalived does.
//
// Redirects are not followed: a 3xx response is judged by its own status
// code. Each probe uses a new connection, closed after the response
// ("Connection: close"), so that a probe every second for days leaves no
// connections or goroutines behind; no proxy from the environment is used
// and no compression is asked for.
//
// Unlike keepalived's SSL_GET, an https check verifies the server's
// certificate by default (with the system roots, for the URL's host or
// Host); set TLS.RootCAs to trust a private CA, or TLS.InsecureSkipVerify
// to check without verifying, as keepalived does.
//
// keepalived's options map onto an HTTP and its Check as follows: url
// path, connect_ip and connect_port are URL; virtualhost is Host;
// status_code, digest, regex and regex_no_match are StatusCodes, Digest,
// Regex and RegexNoMatch; bindto is Dialer.LocalAddr; enable_sni is
// always on (Go sends the server name); connect_timeout is Check.Timeout;
// retry is Check.Fall - 1. An HTTP check with several URLs is several
// checks.
type HTTP struct {
	// URL is the http or https URL to GET. Its host is best a literal
	// address (keepalived's connect_ip); a name is resolved on each probe.
	URL string
	// Host, if set, is sent as the Host header instead of the URL's host
	// (keepalived's virtualhost). For https it is also the server name
	// sent and verified, unless TLS.ServerName is set.
	Host string
	// StatusCodes are the status codes that succeed; empty means 200 to
	// 299, keepalived's default. StatusRange builds ranges.
	StatusCodes []int
	// Digest, if set, is the hex MD5 digest the body must have, as
	// keepalived's digest (computed by its genhash tool). Compare the
	// decoded body: Go undoes chunked transfer encoding, and asks for no
	// compression.
	Digest string
	// Regex, if set, must match the body (keepalived's regex; RE2 syntax
	// rather than PCRE). It is matched against the first MaxBody bytes.
	Regex *regexp.Regexp
	// RegexNoMatch inverts Regex: the check fails when the body matches
	// (keepalived's regex_no_match).
	RegexNoMatch bool
	// TLS configures https; nil means a default configuration, which
	// verifies the server's certificate. It is cloned, never modified.
	TLS *tls.Config
	// Dialer, if set, dials the connections; set its LocalAddr to choose
	// the source address (keepalived's bindto).
	Dialer *net.Dialer
	// Client, if set, makes the request instead of a client of the check's
	// own, for a custom transport; TLS and Dialer must then be nil and are
	// configured on it. Redirects are still not followed, and the request
	// still asks for the connection to be closed.
	Client *http.Client
	// MaxBody bounds how much of the body is read; 0 means
	// DefaultHTTPMaxBody. The body is always read, up to MaxBody, within
	// the probe's context, so a server that stalls mid-body fails the
	// check. With Digest set, a longer body fails it too.
	MaxBody int64
}

// StatusRange returns the status codes from lo to hi inclusive, for
// HTTP.StatusCodes: keepalived's "status_code 200-299 503" is
// append(StatusRange(200, 299), 503).
func StatusRange(lo, hi int) []int {
	var codes []int
	for c := lo; c <= hi; c++ {
		codes = append(codes, c)
	}
	return codes
}

// Validate reports what is wrong with h's configuration, each problem an
// error wrapping ErrCheck.
func (h HTTP) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: HTTP %q: %s", ErrCheck, h.URL, fmt.Sprintf(format, args...)))
	}
	u, err := url.Parse(h.URL)
	switch {
	case err != nil:
		bad("%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		bad("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		bad("the URL has no host")
	case strings.Contains(u.Hostname(), ":"):
		if _, err := netip.ParseAddr(u.Hostname()); err != nil {
			bad("host %q: %v", u.Hostname(), err)
		}
	}
	if err == nil && u.Port() != "" {
		if p, err := strconv.ParseUint(u.Port(), 10, 16); err != nil || p == 0 {
			bad("port %q is not 1 to 65535", u.Port())
		}
	}
	if strings.ContainsAny(h.Host, " \t\r\n/") {
		bad("Host %q is not a host name", h.Host)
	}
	for _, c := range h.StatusCodes {
		if c < 100 || c > 999 {
			bad("status code %d is not 100 to 999", c)
		}
	}
	if h.Digest != "" {
		if b, err := hex.DecodeString(h.Digest); err != nil || len(b) != md5.Size {
			bad("Digest %q is not 32 hexadecimal digits", h.Digest)
		}
	}
	if h.RegexNoMatch && h.Regex == nil {
		bad("RegexNoMatch is set without a Regex")
	}
	if h.Client != nil && (h.TLS != nil || h.Dialer != nil) {
		bad("TLS and Dialer configure the check's own client: with Client set, configure them on Client's transport")
	}
	if h.MaxBody < 0 {
		bad("MaxBody %d is negative", h.MaxBody)
	}
	return errors.Join(errs...)
}

// Check GETs URL within ctx and judges the response. It returns an error
// wrapping ErrCheck for a bad configuration, or one wrapping ErrHTTPTLS,
// ErrHTTPRequest, ErrHTTPStatus, ErrHTTPBodyTooLarge, ErrHTTPDigest or
// ErrHTTPRegex.
func (h HTTP) Check(ctx context.Context) error {
	if err := h.Validate(); err != nil {
		return err
	}
	client := h.Client
	if client == nil {
		tr := h.transport()
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	c := *client // never modify the caller's client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrHTTPRequest, h.URL, err)
	}
	if h.Host != "" {
		req.Host = h.Host
	}
	req.Close = true
	req.Header.Set("User-Agent", httpUserAgent)
	resp, err := c.Do(req)
	if err != nil {
		if isTLSError(err) || strings.HasPrefix(req.URL.Scheme, "https") && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
			// net/http replaces the tls.RecordHeaderError of a plain
			// HTTP server with that unwrapped message.
			return fmt.Errorf("%w: GET %s: %w", ErrHTTPTLS, h.URL, err)
		}
		return fmt.Errorf("%w: GET %s: %w", ErrHTTPRequest, h.URL, err)
	}
	defer resp.Body.Close()

	if !h.statusOK(resp.StatusCode) {
		return fmt.Errorf("%w: GET %s: %s, want %s", ErrHTTPStatus, h.URL, resp.Status, h.statusText())
	}

	limit := h.MaxBody
	if limit == 0 {
		limit = DefaultHTTPMaxBody
	}
	sum := md5.New()
	var body bytes.Buffer
	w := io.Writer(sum)
	if h.Regex != nil {
		w = io.MultiWriter(sum, &body)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("%w: GET %s: reading the body: %w", ErrHTTPRequest, h.URL, err)
	}
	truncated := n > limit
	if truncated && body.Len() > int(limit) {
		body.Truncate(int(limit))
	}

	if h.Digest != "" {
		if truncated {
			return fmt.Errorf("%w: GET %s: the body is longer than %d bytes, so its digest cannot be checked", ErrHTTPBodyTooLarge, h.URL, limit)
		}
		got := hex.EncodeToString(sum.Sum(nil))
		if !strings.EqualFold(got, h.Digest) {
			return fmt.Errorf("%w: GET %s: MD5 %s, want %s", ErrHTTPDigest, h.URL, got, strings.ToLower(h.Digest))
		}
	}
	if h.Regex != nil {
		matched := h.Regex.Match(body.Bytes())
		switch {
		case !matched && !h.RegexNoMatch:
			return fmt.Errorf("%w: GET %s: the body does not match %q", ErrHTTPRegex, h.URL, h.Regex)
		case matched && h.RegexNoMatch:
			return fmt.Errorf("%w: GET %s: the body matches %q (RegexNoMatch)", ErrHTTPRegex, h.URL, h.Regex)
		}
	}
	return nil
}

// transport returns a transport for one probe: no keep-alive, no proxy, no
// compression, HTTP/1.1.
func (h HTTP) transport() *http.Transport {
	d := h.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	var tc *tls.Config
	if h.TLS != nil {
		tc = h.TLS.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" && h.Host != "" {
		name := h.Host
		if host, _, err := net.SplitHostPort(name); err == nil {
			name = host
		}
		tc.ServerName = strings.Trim(name, "[]")
	}
	return &http.Transport{
		DialContext:            d.DialContext,
		TLSClientConfig:        tc,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

func (h HTTP) statusOK(code int) bool {
	if len(h.StatusCodes) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(h.StatusCodes, code)
}

// statusText describes StatusCodes compactly, ranges as "200-299".
func (h HTTP) statusText() string {
	if len(h.StatusCodes) == 0 {
		return "200-299"
	}
	codes := slices.Clone(h.StatusCodes)
	slices.Sort(codes)
	codes = slices.Compact(codes)
	var parts []string
	for i := 0; i < len(codes); {
		j := i
		for j+1 < len(codes) && codes[j+1] == codes[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(codes[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", codes[i], codes[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, " ")
}

// isTLSError reports whether err comes from the TLS handshake or the
// verification of the server's certificate.
func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
