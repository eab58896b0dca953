// Package testenv holds what every process test shares: how a missing
// dependency (Consul, Redis, envoyproxy/ratelimit) is reported, and the
// loopback ports the real servers a test starts listen on.
package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

// SkipMissingEnv is the opt-out: with GATEHOUSE_SKIP_MISSING=1 a test whose
// dependency is not installed is skipped. Without it the test fails, so a
// run that lacks a dependency cannot pass by skipping what it did not run.
const SkipMissingEnv = "GATEHOUSE_SKIP_MISSING"

// Missing reports that a dependency of the test is not installed: it
// fails t, or skips it when SkipMissingEnv is set to 1. The message says
// how to install it (the Makefile target that does).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(SkipMissingEnv) == "1" {
		t.Skipf("%s (skipped: %s=1)", msg, SkipMissingEnv)
	}
	t.Fatalf("%s (set %s=1 to skip instead)", msg, SkipMissingEnv)
}

// Ports are drawn below the kernel's ephemeral range (32768 and up on
// Linux by default), so that no listener on :0 or outgoing connection
// elsewhere in the test run can take one while a server is stopped and
// restarted on the same port (the Consul outage and Redis restart tests do
// that).
const (
	PortLow  = 20000
	PortHigh = 32000
)

// FreePorts returns n distinct loopback ports in [PortLow, PortHigh) that
// were free a moment ago, for TCP and UDP both (Consul's DNS and serf use
// both). Each port stays reserved for the test until it ends: test binaries
// of different packages run at the same time, and a port a test leaves
// unbound on purpose (a killed Consul agent or Redis, restarted later on the
// same port) would otherwise look free to the others. The reservation is an
// advisory lock on a per-port file, held by this process; the kernel drops
// it when the process exits, however it exits.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	for tries := 0; len(out) < n; tries++ {
		if tries > 1000+10*n {
			t.Fatalf("no %d free loopback ports in [%d, %d)", n, PortLow, PortHigh)
		}
		port := PortLow + rand.IntN(PortHigh-PortLow)
		if slices.Contains(out, port) {
			continue
		}
		if !reserve(t, port) {
			continue // another test process holds it
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		closers = append(closers, func() { l.Close() })
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // UDP side taken: try another
		}
		closers = append(closers, func() { u.Close() })
		out = append(out, port)
	}
	return out
}

// FreePort is FreePorts(t, 1)[0].
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// reserveDir holds one lock file per reserved port, shared by every test
// process of the run.
var reserveDir = filepath.Join(os.TempDir(), "gatehouse-test-ports")

// reserve takes the lock of port for the rest of t, or reports that
// another process (or this one, for another test) holds it. A port this
// process reserved stays reserved, even if the listen check that follows
// fails: it is only skipped.
func reserve(t testing.TB, port int) bool {
	t.Helper()
	if err := os.MkdirAll(reserveDir, 0o777); err != nil {
		t.Fatalf("port reservations: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(reserveDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("port reservations: %v", err)
	}
	// flock locks belong to the open file, so a second open of the same
	// file in this process conflicts too: two tests of one binary cannot
	// share a port either.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return false
	}
	t.Cleanup(func() { f.Close() })
	return true
}
