//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vrrpkit/vrrpkit/examples/vrrpd/kaconf"
	"github.com/vrrpkit/vrrpkit/internal/netns"
	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus/golden from vrrpd's diagnostics")

// corpusDir holds real-world keepalived.conf files, each naming its source
// in its first lines; SOURCES.md lists them with keepalived -t's status.
const corpusDir = "testdata/corpus"

// corpusMin is the least number of files the corpus must hold.
const corpusMin = 60

// keepalivedTestTimeout bounds one keepalived -t run.
const keepalivedTestTimeout = 20 * time.Second

// refusedOnPurpose are the corpus files keepalived runs with a meaning
// other than the one written, which vrrpd refuses instead, saying why.
// TestCorpusAgainstKeepalived treats them as knownGaps.
var refusedOnPurpose = map[string]string{
	// keepalived takes the rest of the instance, up to its '}', for the
	// names of tracked interfaces: the instance runs without its
	// authentication and addresses, in FAULT for the interfaces named
	// "authentication", "auth_type"... that do not exist.
	"33-docker-keepalived-track-interface-inline.conf": "track_interface without '{': keepalived reads the rest of the instance as interface names",
}

// knownGaps are the corpus files where vrrpd -t does not yet agree with
// keepalived -t: a different exit status, or an error for a file keepalived
// runs. Each names the feature or difference that causes it and where it is
// tracked. TestCorpusAgainstKeepalived fails for a disagreement not listed
// here, and for a file listed here that now agrees ("remove from
// knownGaps"): the list shrinks as the features land.
var knownGaps = map[string]string{}

// corpusFiles returns the corpus's configurations, sorted.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < corpusMin {
		t.Fatalf("%s: %d configurations, want at least %d", corpusDir, len(files), corpusMin)
	}
	sort.Strings(files)
	return files
}

// corpusHost is the host of the golden files: every script and interface
// exists, and the user keepalived_script does not.
type corpusHost struct{}

func (corpusHost) FindScript(string) error    { return nil }
func (corpusHost) UserExists(string) bool     { return false }
func (corpusHost) FindInterface(string) error { return nil }

// TestCorpusGolden runs vrrpd -t on each corpus file against corpusHost and
// compares its output and exit status with testdata/corpus/golden (-update
// rewrites them). It also checks that each file names its source.
func TestCorpusGolden(t *testing.T) {
	files := corpusFiles(t)
	sources := readSources(t)
	goldenDir := filepath.Join(corpusDir, "golden")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			checkHeader(t, f)
			if _, ok := sources[name]; !ok {
				t.Errorf("%s is not in SOURCES.md", name)
			}
			var out bytes.Buffer
			status := configTestHost(options{file: f, configID: "corpus"}, corpusHost{}, &out)
			got := fmt.Sprintf("# vrrpd -t, exit %d\n%s", status, strings.ReplaceAll(out.String(), corpusDir+"/", ""))
			golden := filepath.Join(goldenDir, strings.TrimSuffix(name, ".conf")+".golden")
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestCorpusGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("vrrpd -t differs from %s (go test -run TestCorpusGolden -update rewrites it):\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
	for name := range sources {
		if _, err := os.Stat(filepath.Join(corpusDir, name)); err != nil {
			t.Errorf("SOURCES.md lists %s: %v", name, err)
		}
	}
}

// checkHeader checks that f begins with its ! SOURCE, PATH, LICENSE and
// NOTE lines.
func checkHeader(t *testing.T, f string) {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 5)
	for i, key := range []string{"SOURCE", "PATH", "LICENSE", "NOTE"} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], "! "+key+": ") {
			t.Errorf("line %d is not \"! %s: ...\"", i+1, key)
		}
	}
}

// sourcesRow matches a row of SOURCES.md's table: file, source, path,
// license, keepalived -t status.
var sourcesRow = regexp.MustCompile(`^\| *([0-9][^ |]*\.conf) *\|.*\| *([^|]*?) *\|$`)

// readSources returns the keepalived -t status SOURCES.md records for each
// file.
func readSources(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := sourcesRow.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCorpusAgainstKeepalived runs keepalived -t (the real one) and vrrpd -t
// on each corpus file, in a network namespace that has the interfaces the
// files name, and checks that they agree: the same exit status, and no
// error from vrrpd for a file keepalived runs (exit 0, 5 or 6: warnings
// and a security warning do not stop keepalived). A keepalived status that
// differs from the one SOURCES.md records is logged. Files in knownGaps
// are expected to disagree.
func TestCorpusAgainstKeepalived(t *testing.T) {
	files := corpusFiles(t)
	if euid := os.Geteuid(); euid != 0 {
		testenv.Skip(t, "corpus: keepalived -t and the namespace need root (euid is %d)", euid)
	}
	bin, err := findKeepalived()
	if err != nil {
		testenv.Skip(t, "corpus: %v (Debian package keepalived)", err)
	}
	sources := readSources(t)
	for name := range knownGaps {
		if _, err := os.Stat(filepath.Join(corpusDir, name)); err != nil {
			t.Errorf("knownGaps lists %s: %v", name, err)
		}
	}
	lab := netns.New(t, 1)
	h := lab.Host(1)
	made := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			ifaces, err := corpusInterfaces(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := addInterfaces(h, ifaces, made); err != nil {
				t.Fatalf("adding interfaces %q: %v", ifaces, err)
			}
			ka, kaOut := keepalivedTest(t, h, bin, f)
			var out bytes.Buffer
			var status int
			if err := h.Do(func() error {
				status = configTest(options{file: f}, &out)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if rec := sources[name]; rec != ka.String() {
				// keepalived's status depends on the host as well as the
				// file: a tracked script whose command is missing here
				// is disabled (5) rather than a SECURITY VIOLATION (6).
				// vrrpd sees the same host, so the comparison below
				// holds; the record is only documentation.
				t.Logf("SOURCES.md records keepalived -t %q, it gave %q on this host (scripts present or not?)", rec, ka)
			}
			var diffs []string
			errs := errorLines(out.String())
			switch {
			case ka.signal != 0:
				// keepalived 2.2.7 -t kills itself with SIGTERM when it
				// checks a script as a non-root user: there is no status
				// to compare.
				if len(errs) > 0 {
					diffs = append(diffs, fmt.Sprintf("keepalived -t was %s; vrrpd has errors", ka))
				}
			default:
				if ka.code != status {
					diffs = append(diffs, fmt.Sprintf("vrrpd -t exits with %d, keepalived -t with %d", status, ka.code))
				}
				if runs := ka.code == 0 || ka.code == exitConfigTest || ka.code == exitSecurity; runs && len(errs) > 0 {
					diffs = append(diffs, "vrrpd has errors for a file keepalived runs")
				}
			}
			gap, known := knownGaps[name]
			if why, ok := refusedOnPurpose[name]; ok {
				gap, known = "refused on purpose: "+why, true
			}
			switch {
			case len(diffs) > 0 && !known:
				t.Errorf("%s\nvrrpd -t:\n%s\nkeepalived -t:\n%s", strings.Join(diffs, "; "), out.String(), kaOut)
			case len(diffs) > 0:
				t.Logf("known gap (%s): %s", gap, strings.Join(diffs, "; "))
			case known:
				t.Errorf("vrrpd -t now agrees with keepalived -t (exit %d): remove from knownGaps (%s)", status, gap)
			}
		})
	}
}

// errorLines returns the lines of vrrpd -t's output that are errors.
func errorLines(out string) []string {
	var errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "error: ") || strings.Contains(l, ": error: ") {
			errs = append(errs, l)
		}
	}
	return errs
}

// kaStatus is how keepalived -t ended.
type kaStatus struct {
	code   int
	signal syscall.Signal
}

// String returns the exit status, or "killed by SIGTERM".
func (s kaStatus) String() string {
	if s.signal != 0 {
		return "killed by " + sigName(s.signal)
	}
	return fmt.Sprint(s.code)
}

func sigName(s syscall.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return fmt.Sprintf("signal %d", int(s))
}

// findKeepalived returns the path of keepalived.
func findKeepalived() (string, error) {
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("keepalived is not installed")
}

// keepalivedTest runs keepalived -t -l -f f in h and returns how it ended
// and what it printed.
func keepalivedTest(t *testing.T, h *netns.Host, bin, f string) (kaStatus, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), keepalivedTestTimeout)
	defer cancel()
	cmd := h.Command(ctx, bin, "-t", "-l", "-f", f)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("keepalived -t -f %s: no result within %v\n%s", f, keepalivedTestTimeout, out)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return kaStatus{}, string(out)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return kaStatus{signal: ws.Signal()}, string(out)
		}
		return kaStatus{code: ee.ExitCode()}, string(out)
	}
	t.Fatalf("keepalived -t -f %s: %v\n%s", f, err, out)
	return kaStatus{}, ""
}

// addInterfaces adds to h, as veth pairs, the interfaces of names it does
// not have yet (made records those added).
func addInterfaces(h *netns.Host, names []string, made map[string]bool) error {
	return h.Do(func() error {
		for _, n := range names {
			if made[n] {
				continue
			}
			if _, err := netlink.LinkByName(n); err == nil {
				made[n] = true
				continue
			}
			veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n}, PeerName: fmt.Sprintf("vkc%d", len(made))}
			if err := netlink.LinkAdd(veth); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if err := netlink.LinkSetUp(veth); err != nil {
				return fmt.Errorf("%s up: %w", n, err)
			}
			made[n] = true
		}
		return nil
	})
}

// ifaceKeywords are followed by an interface name.
var ifaceKeywords = map[string]bool{
	"interface": true, "dev": true, "lvs_sync_daemon_interface": true, "default_interface": true,
}

// corpusInterfaces returns the interface names f uses: what kaconf reads,
// and, lexically, every word after interface, dev and their kin and in
// track_interface blocks, so that sections vrrpd does not decode (routes,
// keepalived's own reading of odd files) find their interfaces too.
func corpusInterfaces(f string) ([]string, error) {
	set := map[string]bool{}
	cfg, _, err := kaconf.Load(f, kaconf.LoadOptions{})
	if err != nil {
		return nil, err
	}
	for _, in := range cfg.Instances {
		set[in.Interface] = true
		for _, ti := range in.TrackInterfaces {
			set[ti.Name] = true
		}
		for _, v := range append(append([]kaconf.VIP(nil), in.VIPs...), in.ExcludedVIPs...) {
			set[v.Device] = true
		}
	}
	for _, g := range cfg.SyncGroups {
		for _, ti := range g.TrackInterfaces {
			set[ti.Name] = true
		}
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	inBlock := false
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexAny(line, "#!"); i >= 0 {
			line = line[:i]
		}
		w := strings.Fields(strings.NewReplacer("{", " { ", "}", " } ").Replace(line))
		if len(w) == 0 {
			continue
		}
		if inBlock {
			if w[0] == "}" {
				inBlock = false
			} else {
				set[w[0]] = true
			}
			continue
		}
		for i := 0; i+1 < len(w); i++ {
			if ifaceKeywords[w[i]] && w[i+1] != "{" && w[i+1] != "}" {
				set[w[i+1]] = true
			}
		}
		if w[0] == "track_interface" && len(w) > 1 {
			switch {
			case w[1] != "{":
				set[w[1]] = true
			case len(w) == 2:
				inBlock = true
			default:
				for _, x := range w[2:] {
					if x == "}" {
						break
					}
					set[x] = true
				}
			}
		}
	}
	var out []string
	for n := range set {
		if n != "" && len(n) <= 15 && !strings.ContainsAny(n, "/:") && n != "lo" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
