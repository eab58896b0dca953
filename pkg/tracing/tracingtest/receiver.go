// Package tracingtest runs a real OTLP receiver for the tracing tests: the
// OpenTelemetry Collector's otlpreceiver, built by `make otlpreceiver` from
// test/tools/otlpreceiver, which prints every batch it receives as a line
// of OTLP/JSON. It is test-only code (it imports testing) in a non-test package so
// that several test packages can share it.
package tracingtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// Version is the Collector release `make otlpreceiver` builds; the binary
// is cached under otlpreceiver-<Version>.
const Version = "v0.165.0"

// Span is one received span, flattened from the OTLP/JSON batch.
type Span struct {
	TraceID      string
	SpanID       string
	ParentSpanID string // "" for a root
	Name         string
	Kind         int // OTLP SpanKind: 2 is SERVER
	Service      string
	Scope        string
	Attributes   map[string]string // values as JSON text of the OTLP AnyValue
	StartNs      uint64
	EndNs        uint64
	StatusCode   int // 2 is ERROR
}

// SpanKindServer is OTLP's SPAN_KIND_SERVER.
const SpanKindServer = 2

// OTLP/JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// ids in hex, 64-bit integers as strings.
type batch struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []kv `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Scope struct {
				Name string `json:"name"`
			} `json:"scope"`
			Spans []struct {
				TraceID      string `json:"traceId"`
				SpanID       string `json:"spanId"`
				ParentSpanID string `json:"parentSpanId"`
				Name         string `json:"name"`
				Kind         int    `json:"kind"`
				Start        string `json:"startTimeUnixNano"`
				End          string `json:"endTimeUnixNano"`
				Attributes   []kv   `json:"attributes"`
				Status       struct {
					Code int `json:"code"`
				} `json:"status"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type kv struct {
	Key   string                     `json:"key"`
	Value map[string]json.RawMessage `json:"value"`
}

// text is an AnyValue as plain text: a string value unquoted, others as
// their JSON.
func text(v map[string]json.RawMessage) string {
	for k, raw := range v {
		var s string
		if (k == "stringValue" || k == "intValue") && json.Unmarshal(raw, &s) == nil {
			return s
		}
		return string(raw)
	}
	return ""
}

func attrs(kvs []kv) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, a := range kvs {
		m[a.Key] = text(a.Value)
	}
	return m
}

func flatten(b *batch) []Span {
	var out []Span
	for _, rs := range b.ResourceSpans {
		service := attrs(rs.Resource.Attributes)["service.name"]
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				start, _ := strconv.ParseUint(s.Start, 10, 64)
				end, _ := strconv.ParseUint(s.End, 10, 64)
				out = append(out, Span{
					TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID, Name: s.Name, Kind: s.Kind,
					Service: service, Scope: ss.Scope.Name, Attributes: attrs(s.Attributes), StartNs: start, EndNs: end,
					StatusCode: s.Status.Code,
				})
			}
		}
	}
	return out
}

// Receiver is a running otlpreceiver; it stops when the test ends.
type Receiver struct {
	Addr string // OTLP/gRPC, host:port

	mu    sync.Mutex
	spans []Span
	raw   bytes.Buffer // every line, for failure messages
	bad   int          // lines that were not OTLP/JSON
}

// Start runs the receiver on a free loopback port and waits (bounded) until
// it accepts connections. A missing binary fails t (skips it with
// GATEHOUSE_SKIP_MISSING=1).
func Start(t testing.TB) *Receiver {
	t.Helper()
	bin := gatehouseproc.CachedTool(t, "GATEHOUSE_OTLPRECEIVER", "otlpreceiver-"+Version, "otlpreceiver", "otlpreceiver")
	r := &Receiver{Addr: gatehouseproc.FreeAddr(t)}
	cmd := exec.Command(bin, "-grpc", r.Addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr gatehouseproc.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("otlpreceiver: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var b batch
			err := json.Unmarshal(sc.Bytes(), &b)
			r.mu.Lock()
			r.raw.Write(sc.Bytes())
			r.raw.WriteByte('\n')
			if err == nil {
				r.spans = append(r.spans, flatten(&b)...)
			} else {
				r.bad++
			}
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("otlpreceiver stderr:\n%s", stderr.String())
		}
	})
	const bound = 20 * time.Second
	start := time.Now()
	for {
		c, err := net.DialTimeout("tcp", r.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Since(start) > bound {
			t.Fatalf("otlpreceiver not listening on %s after %v: %s", r.Addr, bound, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Raw returns every line received so far.
func (r *Receiver) Raw() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw.String()
}

// WaitFor waits up to bound for n spans that match, and fails t otherwise.
// It returns the matching spans and the time they took to arrive.
func (r *Receiver) WaitFor(t testing.TB, bound time.Duration, n int, match func(Span) bool) ([]Span, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		var got []Span
		for _, s := range r.Spans() {
			if match(s) {
				got = append(got, s)
			}
		}
		r.mu.Lock()
		bad := r.bad
		r.mu.Unlock()
		if bad > 0 {
			t.Fatalf("otlpreceiver printed %d lines that are not OTLP/JSON:\n%s", bad, r.Raw())
		}
		if len(got) >= n {
			return got, time.Since(start)
		}
		if time.Since(start) > bound {
			t.Fatalf("%d of %d spans arrived within %v; received:\n%s", len(got), n, bound, r.Raw())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Named matches spans by name.
func Named(name string) func(Span) bool { return func(s Span) bool { return s.Name == name } }

// String is a span for messages.
func (s Span) String() string {
	return fmt.Sprintf("%s trace=%s span=%s parent=%s %v", s.Name, s.TraceID, s.SpanID, s.ParentSpanID, s.Attributes)
}
