// Package perf measures pwreset against its performance targets: cold start
// beside a hello-world function, the cost and the round trips of one
// rotation, connection reuse across invocations, the throughput of a large
// batch under the APIs' rate limits, and the binary's footprint. Everything
// runs on loopback against the emulated cloud and runtime API.
//
// Its Go benchmarks (bench_test.go) cover the in-process figures; the
// program in cmd/perfreport runs the rest side by side and writes
// docs/PERFORMANCE.md. Nothing here asserts a duration: timings are reported,
// never tested.
package perf
