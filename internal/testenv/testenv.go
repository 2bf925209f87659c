// Package testenv holds helpers for tests that depend on their environment,
// such as the shared test material kept beside the repository in
// ../shared/testdata.
//
// Outside CI that material may be missing, and the tests that need it skip
// and say why. CI sets VRRPKIT_REQUIRE_ALL=1: then nothing may be skipped
// and a missing prerequisite fails the test instead, so that a green run
// means every test really ran.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireAllEnv is the environment variable that turns skips into failures
// when it is set to "1".
const RequireAllEnv = "VRRPKIT_REQUIRE_ALL"

// RequireAll reports whether skipping is forbidden (VRRPKIT_REQUIRE_ALL=1).
func RequireAll() bool {
	return os.Getenv(RequireAllEnv) == "1"
}

// Skip skips the test with the formatted reason or, when RequireAll reports
// true, fails it with that reason. Either way the test stops.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireAll() {
		t.Fatalf(RequireAllEnv+"=1 forbids skipping: "+format, args...)
	}
	t.Skipf(format, args...)
}

// SharedTestdata returns the path of elem under the shared test material,
// ../shared/testdata relative to the repository root (the nearest directory
// above the working directory that holds go.mod). When that path does not
// exist it calls Skip, so the test stops there.
func SharedTestdata(t testing.TB, elem ...string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p := filepath.Join(append([]string{root, "..", "shared", "testdata"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Skip(t, "shared test material %s is absent (it lives outside the repository, present in CI): %v", p, err)
	}
	return p
}

// repoRoot returns the nearest directory holding go.mod, from the working
// directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildTestDaemon compiles internal/testdaemon to path with the go command
// on PATH (else Go's default install), as a static binary (CGO_ENABLED=0)
// the way the README builds examples/vrrpd: without the C library mapped in
// and cgo's threads, it is about 1 MiB smaller in memory.
func BuildTestDaemon(path string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(gobin, "build", "-o", path, "github.com/vrrpkit/vrrpkit/internal/testdaemon")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the test daemon: %v\n%s", err, out)
	}
	return nil
}

// CopyExecutable copies the program at from to a new executable file at
// to: a copy with a name of its own, for tests that track or kill a
// process by name.
func CopyExecutable(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
