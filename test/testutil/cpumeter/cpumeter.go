// Package cpumeter adds a cpu-ns/op metric to benchmarks: the process CPU
// time (user + system, all threads, the GC included) per op. On a shared,
// loaded machine wall time mostly measures waiting for a core; CPU time is
// the steadier figure (wall ~= cpu/2 when both cores of a 2-core machine
// are free).
package cpumeter

import (
	"testing"
	"time"
)

// Meter measures one benchmark. Pause and Resume also stop and restart the
// benchmark timer, so work outside the timer is not counted either.
type Meter struct {
	b     *testing.B
	start time.Duration
	used  time.Duration
}

// Start resets the benchmark timer and starts measuring.
func Start(b *testing.B) *Meter {
	b.ResetTimer()
	return &Meter{b: b, start: ProcessCPU()}
}

// Pause stops the timer and the meter.
func (m *Meter) Pause() {
	m.b.StopTimer()
	m.used += ProcessCPU() - m.start
}

// Resume restarts the meter and the timer.
func (m *Meter) Resume() {
	m.start = ProcessCPU()
	m.b.StartTimer()
}

// Stop stops measuring and reports cpu-ns/op.
func (m *Meter) Stop() {
	m.Pause()
	m.b.ReportMetric(float64(m.used.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}
