package bench

import (
	"testing"
	"time"
)

// cpuMeter adds a cpu-ns/op metric (process CPU time per op, all cores and
// the GC included) to a benchmark; pause and resume also stop and restart
// the benchmark timer.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
	used  time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{b: b, start: processCPU()}
}

func (m *cpuMeter) pause() {
	m.b.StopTimer()
	m.used += processCPU() - m.start
}

func (m *cpuMeter) resume() {
	m.start = processCPU()
	m.b.StartTimer()
}

func (m *cpuMeter) stop() {
	m.pause()
	m.b.ReportMetric(float64(m.used.Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}
