//go:build unix

package cpumeter

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time (user + system) this process has used. The
// benchmarks report it per op besides wall time, because on a shared,
// loaded machine wall time mostly measures waiting for a core.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
