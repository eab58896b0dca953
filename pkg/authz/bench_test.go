package authz

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
)

// BenchmarkBuildInput is the CheckRequest -> Rego input conversion alone.
func BenchmarkBuildInput(b *testing.B) {
	r := req{path: "/people/1?lang=en", headers: map[string]string{
		"authorization": "Bearer x.y.z", "user-agent": "curl/8.5.0", "accept": "*/*",
		"x-forwarded-proto": "http", "x-request-id": "1455bbb0-0623-4810-a2c6-df73ffd8863a",
	}, ext: ext("r", "", "p"), jwt: map[string]any{"corp-jwt": map[string]any{"sub": "alice", "exp": 2e9}}}.build(b)
	gh := gatehouseTerm("public", "r", "p", identity{consumer: "acme", groups: []string{"partners"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := buildInput(r, 0, gh); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrimerEvaluation is the evaluation cost per decision the issue
// sets a target for (<= 10 µs): input conversion from the CheckRequest
// plus evaluating the OPA primer's JWT RBAC policy (an HS256 verification,
// time checks, globs), on the IR engine and, as the baseline measured in
// the same run, on OPA's topdown. Reported, not gated.
func BenchmarkPrimerEvaluation(b *testing.B) {
	primer, err := os.ReadFile("../../test/authz/testdata/primer_rbac.rego")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix()
	tok := hs256ForTest(b, map[string]any{"role": "admin", "sub": "Ym9i", "nbf": now - 60, "exp": now + 86400})
	cr := req{path: "/people/1", headers: map[string]string{
		"authorization": "Bearer " + tok, "user-agent": "curl/8.5.0", "accept": "*/*",
		"x-forwarded-proto": "http", "x-envoy-expected-rq-timeout-ms": "15000",
	}, ext: ext("people", "", "primer")}.build(b)
	cfg := &Config{Policies: map[string]Policy{"primer": {Modules: map[string]string{"primer.rego": string(primer)}}}}
	perOp := map[string]float64{}
	for _, engine := range []string{"topdown", "ir"} {
		b.Run(engine, func(b *testing.B) {
			s, err := New(Options{EvalTimeout: 10 * time.Second, topdownOnly: engine == "topdown"})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Update(context.Background(), cfg); err != nil {
				b.Fatal(err)
			}
			st := s.state.Load()
			p := st.policies["primer"]
			if engine == "ir" && p.prog == nil {
				b.Fatalf("primer not on the IR engine: %s", p.engine)
			}
			id := identity{consumer: wire.AnonymousConsumer}
			ctx := context.Background()
			b.ReportAllocs()
			m := cpumeter.Start(b)
			start := time.Now()
			for i := 0; i < b.N; i++ {
				d := Decision{Gateway: "public", Route: "people", Policy: "primer"}
				res, err := s.evalRego(ctx, st, p, cr, &d, id)
				if err != nil || !res.allowed {
					b.Fatalf("decision: %+v %v", res, err)
				}
			}
			perOp[engine] = float64(time.Since(start).Nanoseconds()) / float64(b.N)
			m.Stop()
			if engine == "ir" && perOp["topdown"] > 0 {
				b.ReportMetric(perOp["topdown"]/perOp["ir"], "x-faster-than-topdown")
			}
		})
	}
}
