//go:build linux

package netns

// For the external tests (keepalived_test.go).
var (
	ProcStat = procStat
	PidAlive = pidAlive
)
