// Package bench holds the failover benchmark of vrrpkit against keepalived,
// run on demand in network namespaces (internal/netns): crash and graceful
// failover timings at 1 s, 100 ms and 10 ms adverts, CPU time per advert
// and resident memory with 1, 255 and 1,000 instances, the stability of
// 1,000 instances at 10 ms, and the Go heap a Router holds per instance.
//
// Its tests skip unless VRRPKIT_BENCH asks for them, so that
// "go test ./..." stays fast. Run them as root with
//
//	scripts/bench-failover.sh
//
// or directly:
//
//	sudo VRRPKIT_BENCH=all go test ./internal/bench -run . -v -timeout 2h
//
// VRRPKIT_BENCH is "all" or a comma-separated list of failover, cpu, stable
// and heap. Other knobs (all optional):
//
//	VRRPKIT_BENCH_OUT      append the markdown tables to this file
//	VRRPKIT_BENCH_N        trials per interval (default 5 at 1 s, 20 below)
//	VRRPKIT_BENCH_INTERVALS advert intervals of the failover run (default
//	                       "1s,100ms,10ms")
//	VRRPKIT_BENCH_PERIOD   CPU measuring period (default 30s)
//	VRRPKIT_BENCH_STABLE   stability period (default 30s)
//	VRRPKIT_BENCH_STABLE_N instance counts of the stability run (default 1000)
//	VRRPKIT_BENCH_CPU_N    instance counts of the CPU run (default 1,255,1000)
//	VRRPKIT_BENCH_IMPLS    implementations (default "vrrpkit,keepalived")
//	VRRPKIT_BENCH_PROFILE  directory for CPU profiles of the vrrpkit daemons
//	                       (cpu and stable; profiling adds its own cost)
//	                       and heap profiles of the Routers (heap)
//	VRRPKIT_BENCH_DAEMON   a prebuilt internal/testdaemon to run instead of
//	                       building this tree's (to compare a change)
//
// The results and how they were produced are in BENCHMARKS.md.
package bench
