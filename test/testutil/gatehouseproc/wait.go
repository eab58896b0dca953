package gatehouseproc

import (
	"bufio"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
)

// The waits the end-to-end suites share: each polls with a bound, fails the
// test past it with the last thing it saw, and returns how long it took so
// that the suite can report the figure (never gate on it).

// Status decodes /api/v1/status into T, the part of it a suite looks at.
func Status[T any](t testing.TB, p *Proc) T {
	t.Helper()
	_, body := p.Get("/api/v1/status")
	var st T
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/api/v1/status: %v: %s", err, body)
	}
	return st
}

// WaitStatus polls the status until ok holds and returns how long that
// took; past bound it fails t with what and the last status.
func WaitStatus[T any](t testing.TB, p *Proc, what string, bound time.Duration, ok func(T) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var st T
	for time.Since(start) < bound {
		if st = Status[T](t, p); ok(st) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := json.Marshal(st)
	t.Fatalf("%s: not within %v; status %s", what, bound, b)
	return 0
}

// Metric returns one sample of /metrics ("name{labels}"), -1 when absent.
func (p *Proc) Metric(sample string) float64 {
	_, body := p.Get("/metrics")
	return MetricIn(body, sample)
}

// MetricIn returns one sample of a Prometheus text exposition, -1 when
// absent.
func MetricIn(body, sample string) float64 {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, sample+" ") {
			if v, err := strconv.ParseFloat(strings.TrimSpace(line[len(sample):]), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// callPause is the pause between two calls of the answer waits: short,
// since they time how soon a change reaches the client.
const callPause = 2 * time.Millisecond

// WaitAnswer calls until want answers and returns how long that took; past
// bound it fails t with the last answer.
func WaitAnswer(t testing.TB, c testpb.TestServiceClient, want string, bound time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < bound {
		if last = Call(c); last == want {
			return time.Since(start)
		}
		time.Sleep(callPause)
	}
	t.Fatalf("%q did not answer within %v; last answer %q", want, bound, last)
	return 0
}

// onlyQuiet is how many consecutive answers WaitOnly wants from the
// expected names: enough that a round robin over the old endpoints would
// have shown one of them.
const onlyQuiet = 40

// WaitOnly calls until only names answer, onlyQuiet times in a row, and
// returns how long that took; past bound it fails t.
func WaitOnly(t testing.TB, c testpb.TestServiceClient, bound time.Duration, names ...string) time.Duration {
	t.Helper()
	ok := map[string]bool{}
	for _, n := range names {
		ok[n] = true
	}
	start := time.Now()
	since, last := 0, ""
	for time.Since(start) < bound {
		if last = Call(c); ok[last] {
			if since++; since >= onlyQuiet {
				return time.Since(start)
			}
		} else {
			since = 0
		}
		time.Sleep(callPause)
	}
	t.Fatalf("not only %v answering within %v; last answer %q", names, bound, last)
	return 0
}
