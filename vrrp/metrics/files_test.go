package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// exported returns the names of the metrics a Collector describes.
func exported(t *testing.T) []string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 64)
	NewCollector(stubSource{}).Describe(ch)
	close(ch)
	var names []string
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names = append(names, m[1])
	}
	return names
}

// metricNames returns the vrrpkit_ names text uses.
func metricNames(text string) []string {
	return regexp.MustCompile(`vrrpkit_[a-z_]+`).FindAllString(text, -1)
}

// The alert rules pass promtool's check and its unit tests
// (alerts_test.yml: two Masters, no Master, flapping, FAULT, a
// misconfigured peer, bind errors), and name only metrics the Collector
// exports.
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Skip(t, "promtool (Debian package prometheus) is needed: %v", err)
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	rules, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	names := exported(t)
	for _, n := range metricNames(string(rules)) {
		if !slices.Contains(names, n) {
			t.Errorf("alerts.yml uses %s, which the Collector does not export", n)
		}
	}
}

// The Grafana dashboard is valid JSON whose queries name only metrics the
// Collector exports.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	names := exported(t)
	queries := 0
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			queries++
			used := metricNames(q.Expr)
			if len(used) == 0 {
				t.Errorf("panel %q: query %q uses no vrrpkit metric", p.Title, q.Expr)
			}
			for _, n := range used {
				if !slices.Contains(names, n) {
					t.Errorf("panel %q uses %s, which the Collector does not export", p.Title, n)
				}
			}
		}
	}
	if queries < 8 {
		t.Errorf("%d queries in the dashboard", queries)
	}
}
