// Package interop holds the namespace tests that run vrrpkit on the real
// network: our test daemon (internal/testdaemon) against itself and against
// keepalived 2.2.7, in labs of network namespaces built by internal/netns.
// It has no code of its own beyond the tests; they need root and keepalived
// and skip without them (CI makes those skips failures).
package interop
