package health

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vrrpkit/vrrpkit/internal/privnet"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// The tests that open sockets run in a private network (internal/privnet):
// a network namespace of their own whose loopback carries 198.18.0.1,
// 198.18.0.2, fd00::1 and fd00::2. Their servers listen on 198.18.0.1 (or
// fd00::1), on ports the kernel picks.

// listenTCP listens on a port of the private network's first address of
// network ("tcp4" or "tcp6"), accepting and closing connections until the
// test ends, and returns the address and the remote addresses of the
// accepted connections.
func listenTCP(t testing.TB, network string) (netip.AddrPort, <-chan netip.AddrPort) {
	t.Helper()
	host := privnet.Addrs().A
	if network == "tcp6" {
		host = privnet.Addrs().A6
	}
	ln, err := net.Listen(network, netip.AddrPortFrom(host, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	peers := make(chan netip.AddrPort, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case peers <- c.RemoteAddr().(*net.TCPAddr).AddrPort():
			default:
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().(*net.TCPAddr).AddrPort(), peers
}

// listen4 listens on a port of the private network's first IPv4 address.
func listen4(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(privnet.Addrs().A, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// closedPort returns an address of the private network on which nothing
// listens.
func closedPort(t testing.TB) netip.AddrPort {
	t.Helper()
	ln := listen4(t)
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

func TestTCPValidate(t *testing.T) {
	for _, addr := range []string{"", "localhost:80", "198.18.0.1", "198.18.0.1:0", "198.18.0.1:http", "[fd00::1]", "300.18.0.1:80"} {
		err := TCP{Address: addr}.Check(context.Background())
		if !errors.Is(err, ErrCheck) {
			t.Errorf("TCP{%q}.Check = %v, want ErrCheck", addr, err)
		}
	}
	for _, addr := range []string{"198.18.0.1:80", "[fd00::1]:443", "[fe80::1%eth0]:80"} {
		if err := (TCP{Address: addr}).Validate(); err != nil {
			t.Errorf("TCP{%q}.Validate = %v", addr, err)
		}
	}
}

func TestTCPCheck(t *testing.T) { privnet.Run(t, testTCPCheck) }

func testTCPCheck(t *testing.T, n privnet.Net) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			ap, peers := listenTCP(t, network)
			if err := (TCP{Address: ap.String()}).Check(context.Background()); err != nil {
				t.Fatalf("Check of a listening port: %v", err)
			}
			select {
			case <-peers:
			case <-time.After(5 * time.Second):
				t.Fatal("the listener saw no connection")
			}
		})
	}

	t.Run("closed port", func(t *testing.T) {
		ap := closedPort(t)
		err := TCP{Address: ap.String()}.Check(context.Background())
		if !errors.Is(err, ErrTCPConnect) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Check of a closed port = %v, want ErrTCPConnect wrapping ECONNREFUSED", err)
		}
		if !strings.Contains(err.Error(), ap.String()) {
			t.Fatalf("error %q does not name %s", err, ap)
		}
	})

	t.Run("context done", func(t *testing.T) {
		ap, _ := listenTCP(t, "tcp4")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := TCP{Address: ap.String()}.Check(ctx)
		if !errors.Is(err, ErrTCPConnect) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Check with a cancelled context = %v", err)
		}
	})

	t.Run("bind address", func(t *testing.T) {
		ap, peers := listenTCP(t, "tcp4")
		// Not the address the kernel would choose (the listener's own).
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: n.B.AsSlice()}}
		if err := (TCP{Address: ap.String(), Dialer: d}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case peer := <-peers:
			if peer.Addr() != n.B {
				t.Fatalf("connection from %s, want %s", peer, n.B)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the listener saw no connection")
		}
	})

	t.Run("closed at once", func(t *testing.T) {
		ln := listen4(t)
		defer ln.Close()
		if err := (TCP{Address: ln.Addr().String()}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(make([]byte, 1))
		if n != 0 || err != io.EOF {
			t.Fatalf("server read %d bytes, %v; want EOF: the checker sends nothing and closes", n, err)
		}
	})
}

// TestTCPMonitor runs a TCP check under a Monitor on the real clock (real
// sockets cannot be used in a synctest bubble): the listener goes away
// and comes back.
func TestTCPMonitor(t *testing.T) { privnet.Run(t, testTCPMonitor) }

func testTCPMonitor(t *testing.T, n privnet.Net) {
	addr := closedPort(t).String() // a Monitor starting as failed

	m, err := NewMonitor(Check{Name: "tcp", Checker: TCP{Address: addr}, Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2, InitFail: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan bool, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = m.Run(ctx, func(up bool) { reports <- up })
	}()
	defer func() {
		cancel()
		<-done
	}()
	next := func(want bool) {
		t.Helper()
		select {
		case up := <-reports:
			if up != want {
				t.Fatalf("report %v, want %v", up, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no report %v within 10 s", want)
		}
	}
	next(false) // the initial state
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	next(true)
	if up, err := m.Up(); !up || err != nil {
		t.Fatalf("Up = %v, %v", up, err)
	}
	ln.Close()
	next(false)
	if _, err := m.Up(); !errors.Is(err, ErrTCPConnect) {
		t.Fatalf("last error %v, want ErrTCPConnect", err)
	}
}

// newServer returns an unstarted httptest server with h on the private
// network's first address, whose TLS certificate (once StartTLS is
// called) covers that address and example.com.
func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = listen4(t)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
	return srv
}

// httpServer starts an HTTP (or HTTPS) server with h on the private
// network, closed when the test ends.
func httpServer(t testing.TB, tlsOn bool, h http.Handler) *httptest.Server {
	t.Helper()
	srv := newServer(t, h)
	if tlsOn {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// testCert returns a self-signed certificate for example.com and the
// private network's first addresses.
func testCert(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"vrrpkit test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"example.com"},
		IPAddresses:           []net.IP{privnet.Addrs().A.AsSlice(), privnet.Addrs().A6.AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

const testBody = "<html><body>all good: 42 backends</body></html>\n"

func testMD5(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestHTTPValidate(t *testing.T) {
	re := regexp.MustCompile("x")
	for _, tc := range []struct {
		name string
		h    HTTP
		want string
	}{
		{"ok", HTTP{URL: "http://198.18.0.1:8080/health"}, ""},
		{"ok ipv6", HTTP{URL: "https://[fd00::1]:8443/"}, ""},
		{"ok name", HTTP{URL: "http://localhost/"}, ""},
		{"no url", HTTP{}, "scheme"},
		{"ftp", HTTP{URL: "ftp://198.18.0.1/"}, "scheme"},
		{"no host", HTTP{URL: "http:///x"}, "no host"},
		{"bad port", HTTP{URL: "http://198.18.0.1:99999/"}, "port"},
		{"bad ipv6", HTTP{URL: "http://[::zz]/"}, "::zz"},
		{"bad digest", HTTP{URL: "http://198.18.0.1/", Digest: "abc"}, "Digest"},
		{"bad digest chars", HTTP{URL: "http://198.18.0.1/", Digest: strings.Repeat("g", 32)}, "Digest"},
		{"bad status", HTTP{URL: "http://198.18.0.1/", StatusCodes: []int{20}}, "status code"},
		{"no match without regex", HTTP{URL: "http://198.18.0.1/", RegexNoMatch: true}, "RegexNoMatch"},
		{"client and tls", HTTP{URL: "https://198.18.0.1/", Client: &http.Client{}, TLS: &tls.Config{}}, "Client"},
		{"negative max body", HTTP{URL: "http://198.18.0.1/", MaxBody: -1}, "MaxBody"},
		{"bad host", HTTP{URL: "http://198.18.0.1/", Host: "a b"}, "Host"},
		{"regex", HTTP{URL: "http://198.18.0.1/", Regex: re, RegexNoMatch: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCheck) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrCheck mentioning %q", err, tc.want)
			}
			if cerr := tc.h.Check(context.Background()); !errors.Is(cerr, ErrCheck) {
				t.Fatalf("Check = %v, want ErrCheck", cerr)
			}
		})
	}
}

func TestHTTPCheck(t *testing.T) { privnet.Run(t, testHTTPCheck) }

func testHTTPCheck(t *testing.T, n privnet.Net) {
	var (
		mu        sync.Mutex
		hosts     []string
		agents    []string
		redirHits atomic.Int32
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		io.WriteString(w, testBody)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for _, part := range strings.SplitAfter(testBody, " ") {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		redirHits.Add(1)
		io.WriteString(w, testBody)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("a", 2000) + "needle"))
	})
	srv := httpServer(t, false, mux)

	check := func(t *testing.T, h HTTP, want error) error {
		t.Helper()
		err := h.Check(context.Background())
		if want == nil && err != nil {
			t.Fatalf("Check: %v", err)
		}
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("Check = %v, want %v", err, want)
		}
		return err
	}

	t.Run("ok", func(t *testing.T) {
		check(t, HTTP{URL: srv.URL + "/ok"}, nil)
		mu.Lock()
		defer mu.Unlock()
		if got := hosts[len(hosts)-1]; got != strings.TrimPrefix(srv.URL, "http://") {
			t.Fatalf("server saw Host %q", got)
		}
		if got := agents[len(agents)-1]; got != httpUserAgent {
			t.Fatalf("server saw User-Agent %q", got)
		}
	})
	t.Run("virtual host", func(t *testing.T) {
		check(t, HTTP{URL: srv.URL + "/ok", Host: "www.example.test"}, nil)
		mu.Lock()
		defer mu.Unlock()
		if got := hosts[len(hosts)-1]; got != "www.example.test" {
			t.Fatalf("server saw Host %q, want the virtual host", got)
		}
	})
	t.Run("status", func(t *testing.T) {
		err := check(t, HTTP{URL: srv.URL + "/unavailable"}, ErrHTTPStatus)
		if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "want 200-299") {
			t.Fatalf("error %q does not give the status and the expected ones", err)
		}
		check(t, HTTP{URL: srv.URL + "/unavailable", StatusCodes: []int{200, 503}}, nil)
		err = check(t, HTTP{URL: srv.URL + "/ok", StatusCodes: append(StatusRange(400, 499), 503, 505)}, ErrHTTPStatus)
		if !strings.Contains(err.Error(), "want 400-499 503 505") {
			t.Fatalf("error %q does not list the expected codes as ranges", err)
		}
		check(t, HTTP{URL: srv.URL + "/missing"}, ErrHTTPStatus)
	})
	t.Run("redirects are not followed", func(t *testing.T) {
		err := check(t, HTTP{URL: srv.URL + "/redirect"}, ErrHTTPStatus)
		if !strings.Contains(err.Error(), "302") {
			t.Fatalf("error %q does not give 302", err)
		}
		check(t, HTTP{URL: srv.URL + "/redirect", StatusCodes: []int{302}}, nil)
		check(t, HTTP{URL: srv.URL + "/redirect", StatusCodes: []int{302}, Client: srv.Client()}, nil)
		if n := redirHits.Load(); n != 0 {
			t.Fatalf("the redirect target was fetched %d times", n)
		}
	})
	t.Run("digest", func(t *testing.T) {
		check(t, HTTP{URL: srv.URL + "/ok", Digest: testMD5(testBody)}, nil)
		check(t, HTTP{URL: srv.URL + "/ok", Digest: strings.ToUpper(testMD5(testBody))}, nil)
		check(t, HTTP{URL: srv.URL + "/chunked", Digest: testMD5(testBody)}, nil)
		err := check(t, HTTP{URL: srv.URL + "/ok", Digest: testMD5("something else")}, ErrHTTPDigest)
		if !strings.Contains(err.Error(), testMD5(testBody)) {
			t.Fatalf("error %q does not give the digest found", err)
		}
		// The status is judged first, as keepalived does.
		check(t, HTTP{URL: srv.URL + "/unavailable", Digest: testMD5(testBody)}, ErrHTTPStatus)
	})
	t.Run("regex", func(t *testing.T) {
		check(t, HTTP{URL: srv.URL + "/ok", Regex: regexp.MustCompile(`all good: \d+ backends`)}, nil)
		err := check(t, HTTP{URL: srv.URL + "/ok", Regex: regexp.MustCompile(`degraded`)}, ErrHTTPRegex)
		if !strings.Contains(err.Error(), "degraded") {
			t.Fatalf("error %q does not give the regex", err)
		}
		check(t, HTTP{URL: srv.URL + "/ok", Regex: regexp.MustCompile(`degraded`), RegexNoMatch: true}, nil)
		check(t, HTTP{URL: srv.URL + "/ok", Regex: regexp.MustCompile(`all good`), RegexNoMatch: true}, ErrHTTPRegex)
		check(t, HTTP{URL: srv.URL + "/ok", Regex: regexp.MustCompile(`all good`), Digest: testMD5("x")}, ErrHTTPDigest)
	})
	t.Run("max body", func(t *testing.T) {
		check(t, HTTP{URL: srv.URL + "/big", MaxBody: 100}, nil)
		check(t, HTTP{URL: srv.URL + "/big", MaxBody: 100, Regex: regexp.MustCompile("needle")}, ErrHTTPRegex)
		check(t, HTTP{URL: srv.URL + "/big", MaxBody: 3000, Regex: regexp.MustCompile("needle")}, nil)
		check(t, HTTP{URL: srv.URL + "/big", Regex: regexp.MustCompile("needle")}, nil)
		check(t, HTTP{URL: srv.URL + "/big", MaxBody: 2006, Digest: testMD5(strings.Repeat("a", 2000) + "needle")}, nil)
		check(t, HTTP{URL: srv.URL + "/big", MaxBody: 2005, Digest: testMD5(strings.Repeat("a", 2000) + "needle")}, ErrHTTPBodyTooLarge)
	})
	t.Run("connection refused", func(t *testing.T) {
		err := check(t, HTTP{URL: "http://" + closedPort(t).String() + "/"}, ErrHTTPRequest)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("error %v does not wrap ECONNREFUSED", err)
		}
	})
}

func TestHTTPTimeout(t *testing.T) { privnet.Run(t, testHTTPTimeout) }

func testHTTPTimeout(t *testing.T, n privnet.Net) {
	release := make(chan struct{})
	defer close(release)
	srv := httpServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := HTTP{URL: srv.URL + path}.Check(ctx)
			if !errors.Is(err, ErrHTTPRequest) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Check = %v, want ErrHTTPRequest wrapping DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Check returned after %v, long past its deadline", d)
			}
		})
	}
}

func TestHTTPS(t *testing.T) { privnet.Run(t, testHTTPS) }

func testHTTPS(t *testing.T, n privnet.Net) {
	var sni atomic.Value
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, testBody)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point
	srv.TLS.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(hello.ServerName)
		return nil, nil
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	t.Run("verification on by default", func(t *testing.T) {
		err := HTTP{URL: srv.URL + "/"}.Check(context.Background())
		var verr *tls.CertificateVerificationError
		if !errors.Is(err, ErrHTTPTLS) || !errors.As(err, &verr) {
			t.Fatalf("Check = %v, want ErrHTTPTLS wrapping a verification error", err)
		}
	})
	t.Run("server's CA", func(t *testing.T) {
		conf := &tls.Config{RootCAs: pool}
		if err := (HTTP{URL: srv.URL + "/", TLS: conf, Digest: testMD5(testBody)}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if conf.ServerName != "" {
			t.Fatal("the caller's tls.Config was modified")
		}
	})
	t.Run("virtual host is the server name", func(t *testing.T) {
		// The certificate is for example.com and the server's address.
		if err := (HTTP{URL: srv.URL + "/", Host: "example.com", TLS: &tls.Config{RootCAs: pool}}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := sni.Load(); got != "example.com" {
			t.Fatalf("server saw SNI %q, want example.com", got)
		}
		err := HTTP{URL: srv.URL + "/", Host: "wrong.example.net", TLS: &tls.Config{RootCAs: pool}}.Check(context.Background())
		var herr x509.HostnameError
		if !errors.Is(err, ErrHTTPTLS) || !errors.As(err, &herr) {
			t.Fatalf("Check with a host the certificate does not cover = %v", err)
		}
		// An explicit ServerName wins over Host.
		if err := (HTTP{URL: srv.URL + "/", Host: "wrong.example.net", TLS: &tls.Config{RootCAs: pool, ServerName: "example.com"}}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		if err := (HTTP{URL: srv.URL + "/", TLS: &tls.Config{InsecureSkipVerify: true}}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plain HTTP to a TLS server", func(t *testing.T) {
		err := HTTP{URL: strings.Replace(srv.URL, "https://", "http://", 1) + "/"}.Check(context.Background())
		if err == nil {
			t.Fatal("plain HTTP to a TLS server succeeded")
		}
	})
	t.Run("TLS to a plain server", func(t *testing.T) {
		plain := newServer(t, http.NotFoundHandler())
		plain.Config.ErrorLog = log.New(io.Discard, "", 0)
		plain.Start()
		defer plain.Close()
		err := HTTP{URL: strings.Replace(plain.URL, "http://", "https://", 1) + "/"}.Check(context.Background())
		if !errors.Is(err, ErrHTTPTLS) {
			t.Fatalf("Check = %v, want ErrHTTPTLS", err)
		}
	})
}

// countFDs returns how many file descriptors this process has open.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.Skip(t, "cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// settle waits, for at most 10 s, until the goroutines and file
// descriptors are back to at most the given counts plus slack.
func settle(t *testing.T, goroutines, fds int) {
	t.Helper()
	const slack = 3
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if g <= goroutines+slack && f <= fds+slack {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines %d (were %d), fds %d (were %d) after the probes\n%s", g, goroutines, f, fds, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHTTPNoLeak runs many probes and checks that goroutines and file
// descriptors do not pile up.
func TestHTTPNoLeak(t *testing.T) { privnet.Run(t, testHTTPNoLeak) }

func testHTTPNoLeak(t *testing.T, n privnet.Net) {
	const probes = 300
	for _, tc := range []struct {
		name   string
		tls    bool
		client bool
	}{{"http", false, false}, {"https", true, false}, {"own client", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var closed atomic.Int32
			srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, testBody)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					closed.Add(1)
				}
			}
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			h := HTTP{URL: srv.URL + "/", Digest: testMD5(testBody)}
			switch {
			case tc.client:
				h.Client = srv.Client() // keep-alive transport: req.Close still closes
			case tc.tls:
				pool := x509.NewCertPool()
				pool.AddCert(srv.Certificate())
				h.TLS = &tls.Config{RootCAs: pool}
			}
			for range 5 { // warm up: lazily started runtime goroutines
				if err := h.Check(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			settle(t, runtime.NumGoroutine(), countFDs(t))
			g0, f0 := runtime.NumGoroutine(), countFDs(t)
			start := closed.Load()
			for i := range probes {
				if err := h.Check(context.Background()); err != nil {
					t.Fatalf("probe %d: %v", i, err)
				}
			}
			settle(t, g0, f0)
			deadline := time.Now().Add(10 * time.Second)
			for closed.Load()-start < probes && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := closed.Load() - start; n < probes {
				t.Fatalf("the server saw %d of %d connections closed", n, probes)
			}
		})
	}
}

// roundTripFunc is an http.RoundTripper without a network, for synctest.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHTTPMonitor runs an HTTP check under a Monitor with rise and fall on
// the fake clock, through a transport without sockets.
func TestHTTPMonitor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var status atomic.Int32
		status.Store(200)
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if !r.Close {
				t.Error("the request does not ask for the connection to be closed")
			}
			code := int(status.Load())
			if code == 0 {
				<-r.Context().Done() // a hung server
				return nil, r.Context().Err()
			}
			return &http.Response{
				StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{}, Body: io.NopCloser(strings.NewReader(testBody)), Request: r,
			}, nil
		})
		h := HTTP{URL: "http://198.18.0.1:8080/health", Client: &http.Client{Transport: rt}, Regex: regexp.MustCompile("all good")}
		m, err := NewMonitor(Check{Name: "web", Checker: h, Interval: 2 * time.Second, Timeout: time.Second, Rise: 3, Fall: 2}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		type report struct {
			at time.Duration
			up bool
		}
		var (
			mu      sync.Mutex
			reports []report
		)
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = m.Run(ctx, func(up bool) {
				mu.Lock()
				reports = append(reports, report{time.Since(start), up})
				mu.Unlock()
			})
		}()
		time.Sleep(9 * time.Second)
		status.Store(503) // probes at 10 and 12 fail: down at 12
		time.Sleep(10 * time.Second)
		status.Store(200) // probes at 20, 22, 24 succeed: up at 24
		time.Sleep(10 * time.Second)
		status.Store(0) // probes at 30 and 32 (+1 s timeouts) hang: down at 33
		// Stopped between two timeouts: the last error is a probe's own.
		time.Sleep(9500 * time.Millisecond)
		cancel()
		<-done
		_, lastErr := m.Up()
		if !errors.Is(lastErr, ErrHTTPRequest) || !errors.Is(lastErr, context.DeadlineExceeded) {
			t.Errorf("last error %v, want a deadline", lastErr)
		}
		want := []report{{0, true}, {12 * time.Second, false}, {24 * time.Second, true}, {33 * time.Second, false}}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(reports) != fmt.Sprint(want) {
			t.Fatalf("reports = %v, want %v", reports, want)
		}
	})
}

// TestHTTPDigestGenhash compares Digest with keepalived's genhash, the
// tool keepalived's documentation gives for computing digests, run
// against a loopback server.
func TestHTTPDigestGenhash(t *testing.T) { privnet.Run(t, testHTTPDigestGenhash) }

func testHTTPDigestGenhash(t *testing.T, n privnet.Net) {
	genhash, err := exec.LookPath("genhash")
	if err != nil {
		testenv.Skip(t, "keepalived's genhash is not installed: %v", err)
	}
	bodies := map[string]string{
		"/page":    testBody,
		"/binary":  "\x00\x01\x02\xff binary \r\n\r\n body",
		"/chunked": strings.Repeat("chunk ", 500),
	}
	srv := httpServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/chunked" && r.ProtoAtLeast(1, 1) {
			for i := 0; i < len(body); i += 100 {
				io.WriteString(w, body[i:min(i+100, len(body))])
				w.(http.Flusher).Flush()
			}
			return
		}
		io.WriteString(w, body)
	}))
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	for path, body := range bodies {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, genhash, "-s", ap.Addr().String(), "-p", fmt.Sprint(ap.Port()), "-u", path).CombinedOutput()
			if err != nil {
				t.Fatalf("genhash: %v\n%s", err, out)
			}
			// genhash prints the digest alone, or "MD5SUM = digest" with -v.
			var digest string
			hexDigest := regexp.MustCompile(`^(?:.*MD5SUM = )?([0-9a-f]{32})\s*$`)
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if m := hexDigest.FindStringSubmatch(sc.Text()); m != nil {
					digest = m[1]
				}
			}
			if digest == "" {
				t.Fatalf("no MD5SUM in genhash's output:\n%s", out)
			}
			if digest != testMD5(body) {
				t.Fatalf("genhash says %s, the body's MD5 is %s", digest, testMD5(body))
			}
			if err := (HTTP{URL: srv.URL + path, Digest: digest}).Check(context.Background()); err != nil {
				t.Fatalf("Check with genhash's digest: %v", err)
			}
		})
	}
}
