package testenv

import (
	"fmt"
	"runtime"
	"testing"
)

// recorder is a testing.TB that records how the test stopped.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder in its own goroutine, as Skipf and Fatalf end
// the goroutine that calls them.
func run(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestSkip(t *testing.T) {
	for _, tc := range []struct {
		env           string
		skip, fail    bool
		wantInMessage string
	}{
		{env: "", skip: true, wantInMessage: "no pcap 42"},
		{env: "0", skip: true, wantInMessage: "no pcap 42"},
		{env: "1", fail: true, wantInMessage: RequireAllEnv + "=1 forbids skipping: no pcap 42"},
	} {
		t.Run("env="+tc.env, func(t *testing.T) {
			t.Setenv(RequireAllEnv, tc.env)
			r := run(func(tb testing.TB) { Skip(tb, "no pcap %d", 42) })
			if (r.skipped != "") != tc.skip || (r.failed != "") != tc.fail {
				t.Fatalf("skipped=%q failed=%q, want skip=%v fail=%v", r.skipped, r.failed, tc.skip, tc.fail)
			}
			if got := r.skipped + r.failed; got != tc.wantInMessage {
				t.Errorf("message %q, want %q", got, tc.wantInMessage)
			}
		})
	}
}

func TestSharedTestdataMissing(t *testing.T) {
	t.Setenv(RequireAllEnv, "")
	r := run(func(tb testing.TB) { SharedTestdata(tb, "no-such-file-in-shared-testdata") })
	if r.skipped == "" || r.failed != "" {
		t.Fatalf("skipped=%q failed=%q, want a skip", r.skipped, r.failed)
	}
	t.Setenv(RequireAllEnv, "1")
	r = run(func(tb testing.TB) { SharedTestdata(tb, "no-such-file-in-shared-testdata") })
	if r.failed == "" {
		t.Fatalf("skipped=%q, want a failure under %s=1", r.skipped, RequireAllEnv)
	}
}
