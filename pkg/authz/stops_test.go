package authz

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Evaluations that stop before a decision, on both engines: the time
// limit (failOpen applies) and the caller going away (it does not).

// timeLimitBound is how long past the time limit a stopped evaluation may
// take to answer: generous, for a loaded 2-core machine. The IR engine
// reads the clock every 32 steps, topdown is cancelled by a timer; both
// answered within a few milliseconds of the limit here.
const timeLimitBound = 500 * time.Millisecond

func stopConfig() *Config {
	mod := map[string]string{"policy.rego": slowPolicy}
	return &Config{Policies: map[string]Policy{
		"slow":      {Modules: mod},
		"slow-open": {Modules: mod, FailOpen: true},
	}}
}

func newStopService(t *testing.T, engine string, timeout time.Duration) (*Service, *decisions) {
	t.Helper()
	logs := &decisions{}
	s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: timeout, topdownOnly: engine == EngineTopdown})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), stopConfig()); err != nil {
		t.Fatal(err)
	}
	if e := s.Engines()["slow"]; engine == EngineIR && e != EngineIR {
		t.Fatalf("slow policy on %q, want the IR engine", e)
	}
	return s, logs
}

// TestEvalTimeLimit: a policy that outruns Options.EvalTimeout is stopped
// near the limit, on both engines; the reason names the limit; it denies
// (403), or allows with failed_open when the policy fails open.
func TestEvalTimeLimit(t *testing.T) {
	const limit = 50 * time.Millisecond
	for _, engine := range []string{EngineIR, EngineTopdown} {
		s, logs := newStopService(t, engine, limit)
		for _, tc := range []struct {
			policy     string
			status     int
			failedOpen bool
		}{{"slow", 403, false}, {"slow-open", 200, true}} {
			t.Run(engine+"/"+tc.policy, func(t *testing.T) {
				start := time.Now()
				o := check(t, s, req{ext: ext("r", "", tc.policy)}.build(t))
				took := time.Since(start)
				d := logs.last(t)
				t.Logf("stopped after %v (limit %v)", took, limit)
				if o.status != tc.status || d.FailedOpen != tc.failedOpen || d.Engine != engine {
					t.Errorf("got %v, failed open %v, engine %q; want %d, failed open %v; reasons %q", o, d.FailedOpen, d.Engine, tc.status, tc.failedOpen, d.Reasons)
				}
				if want := "evaluation time limit of 50ms reached"; len(d.Reasons) == 0 || d.Reasons[0] != want {
					t.Errorf("reasons %q, want first %q", d.Reasons, want)
				}
				if took < limit || took > limit+timeLimitBound {
					t.Errorf("answered after %v, want between %v and %v", took, limit, limit+timeLimitBound)
				}
			})
		}
	}
}

// TestCallerCancels: when the caller's context ends (Envoy's call timed
// out and Envoy applied its own failure mode, or the client left), the
// evaluation stops at once on both engines and the decision is a deny
// that says so, never failed open: nobody reads it, and the stop is no
// evaluation failure. Both a context cancelled before the call and a
// deadline passing mid-evaluation.
func TestCallerCancels(t *testing.T) {
	const callerDeadline = 30 * time.Millisecond
	for _, engine := range []string{EngineIR, EngineTopdown} {
		// The time limit is far away: only the caller can stop these.
		s, logs := newStopService(t, engine, 10*time.Second)
		for _, policy := range []string{"slow", "slow-open"} {
			cr := req{ext: ext("r", "", policy)}.build(t)
			t.Run(engine+"/"+policy+"/cancelled before", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				start := time.Now()
				resp, err := s.Check(ctx, cr)
				took := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				assertCallerGone(t, summarize(t, resp), logs.last(t), engine, "context canceled")
				if took > timeLimitBound {
					t.Errorf("answered after %v, want under %v", took, timeLimitBound)
				}
			})
			t.Run(engine+"/"+policy+"/deadline mid-evaluation", func(t *testing.T) {
				start := time.Now() // before the deadline is set: took cannot undercut it
				ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
				defer cancel()
				resp, err := s.Check(ctx, cr)
				took := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("stopped after %v (caller's deadline %v)", took, callerDeadline)
				assertCallerGone(t, summarize(t, resp), logs.last(t), engine, "context deadline exceeded")
				if took < callerDeadline || took > callerDeadline+timeLimitBound {
					t.Errorf("answered after %v, want between %v and %v", took, callerDeadline, callerDeadline+timeLimitBound)
				}
			})
		}
	}
}

func assertCallerGone(t *testing.T, o outcome, d Decision, engine, ctxErr string) {
	t.Helper()
	if o.status != 403 || d.FailedOpen || d.Engine != engine {
		t.Errorf("got %v, failed open %v, engine %q; want 403, not failed open, on %s; reasons %q", o, d.FailedOpen, d.Engine, engine, d.Reasons)
	}
	want := []string{"evaluation stopped: the caller cancelled the check (" + ctxErr + ")", "denied: the caller is gone"}
	if strings.Join(d.Reasons, "\n") != strings.Join(want, "\n") {
		t.Errorf("reasons %q, want %q", d.Reasons, want)
	}
}

// TestSeveralResults: a query with variables can have several results;
// it runs on topdown (the plan keeps distinct values, not rows: see
// compileIR) and denies with the count, whatever failOpen says.
func TestSeveralResults(t *testing.T) {
	mod := map[string]string{"policy.rego": "package envoy.authz\n\nallow := true\n"}
	cfg := &Config{Policies: map[string]Policy{
		"two-rows":        {Modules: mod, Query: "data.envoy.authz.allow == x; x = [true, true][_]", FailOpen: true},
		"two-values":      {Modules: mod, Query: "x := [true, false][_]; data.envoy.authz.allow", FailOpen: true},
		"one-row":         {Modules: mod, Query: "x := data.envoy.authz.allow"},
		"no-rows":         {Modules: mod, Query: "x := [][_]; data.envoy.authz.allow", FailOpen: true},
		"two-expressions": {Modules: mod, Query: "data.envoy.authz.allow; data.envoy.authz.allow", FailOpen: true},
	}}
	want := map[string]struct {
		status int
		reason string
	}{
		"two-rows":        {403, "decision data.envoy.authz.allow == x; x = [true, true][_] has 2 results, want 1"},
		"two-values":      {403, "has 2 results, want 1"},
		"one-row":         {200, "policy allowed"},
		"no-rows":         {403, "is undefined"},
		"two-expressions": {403, "has 2 expressions, want 1"},
	}
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		for name, w := range want {
			t.Run(engine+"/"+name, func(t *testing.T) {
				o := check(t, s, req{ext: ext("r", "", name)}.build(t))
				d := logs.last(t)
				if o.status != w.status || d.FailedOpen || d.Engine != EngineTopdown {
					t.Fatalf("got %v, failed open %v, engine %q; want %d on topdown; reasons %q", o, d.FailedOpen, d.Engine, w.status, d.Reasons)
				}
				if !strings.Contains(strings.Join(d.Reasons, "; "), w.reason) {
					t.Errorf("reasons %q, want one containing %q", d.Reasons, w.reason)
				}
			})
		}
	}
}

// TestTopdownFallbackReasons: each reason a policy is evaluated by topdown
// rather than the IR engine, as Engines reports it (and status shows), and
// the decision that follows. compileIR has two more reasons ("IR plan not
// compiled", "the plan's result is not a single value") that no Rego
// policy was found to reach: every Compile error of a planned policy wraps
// ErrUnsupported, and every plain data reference plans a single value.
func TestTopdownFallbackReasons(t *testing.T) {
	head := "package envoy.authz\n\nimport rego.v1\n\n"
	tests := []struct {
		name, src, query string
		engine           string // want, as Engines reports it: exact, or a prefix then a substring
		contains         string
		status           int
	}{
		{name: "query with variables", src: head + "allow := true\n", query: "x := data.envoy.authz.allow",
			engine: "topdown: the query is not a plain data reference", status: 200},
		{name: "query with a call", src: head + "allow := true\n", query: `data.envoy.authz.allow == true`,
			engine: "topdown: the query is not a plain data reference", status: 200},
		{name: "query into input", src: head + "allow := true\n", query: "input.attributes",
			engine: "topdown: the query is not a plain data reference", status: 403},
		{name: "with replaces a built-in", src: head + "allow if { time.now_ns() == 1 with time.now_ns as 1 }\n",
			engine: "topdown: no IR plan: regovm: unsupported plan: a with replaces the built-in time.now_ns", status: 200},
		{name: "built-in the IR engine does not run", src: head + "allow if trace(\"checked\")\n",
			engine: "topdown: func ", contains: "regovm: unsupported plan: built-in trace", status: 200},
	}
	cfg := &Config{Policies: map[string]Policy{}}
	for _, tc := range tests {
		cfg.Policies[tc.name] = Policy{Modules: map[string]string{"policy.rego": tc.src}, Query: tc.query}
	}
	s, logs := newTestService(t, cfg)
	engines := s.Engines()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := engines[tc.name]
			if tc.contains == "" && got != tc.engine || tc.contains != "" && (!strings.HasPrefix(got, tc.engine) || !strings.Contains(got, tc.contains)) {
				t.Errorf("engine %q, want %q (containing %q)", got, tc.engine, tc.contains)
			}
			o := check(t, s, req{ext: ext("r", "", tc.name)}.build(t))
			if d := logs.last(t); o.status != tc.status || d.Engine != EngineTopdown {
				t.Errorf("got %v on %q, want %d on topdown; reasons %q", o, d.Engine, tc.status, d.Reasons)
			}
		})
	}

	// At evaluation: a conflict the IR engine meets may be one topdown
	// never meets (the plan builds whole documents; topdown looks up what
	// the query reads), so the IR engine hands the decision to topdown and
	// the log says why. Here topdown meets it too: an evaluation error.
	t.Run("conflict at evaluation", func(t *testing.T) {
		s, logs := newTestService(t, &Config{Policies: map[string]Policy{"err": {Modules: map[string]string{"policy.rego": errPolicy}}}})
		if e := s.Engines()["err"]; e != EngineIR {
			t.Fatalf("engine %q, want %q", e, EngineIR)
		}
		o := check(t, s, req{path: "/boom", ext: ext("r", "", "err")}.build(t))
		d := logs.last(t)
		const want = "the IR engine handed the decision to topdown: "
		if o.status != 403 || d.Engine != EngineTopdown || len(d.Reasons) != 2 || !strings.HasPrefix(d.Reasons[0], want) ||
			!strings.Contains(d.Reasons[0], "conflict") || !strings.HasPrefix(d.Reasons[1], "evaluation error: ") {
			t.Errorf("got %v on %q, reasons %q; want 403 on topdown, reasons %q... (a conflict), then topdown's evaluation error", o, d.Engine, d.Reasons, want)
		}
		if o := check(t, s, req{path: "/ok", ext: ext("r", "", "err")}.build(t)); o.status != 200 || logs.last(t).Engine != EngineIR {
			t.Errorf("no conflict: %v on %q, want 200 on the IR engine", o, logs.last(t).Engine)
		}
	})
}

// TestPolicyNeedsAllowXorRego: the service's Config refuses an
// Authorization with both a simple rule and Rego, or neither (pkg/policy
// refuses them in the model too: "set exactly one of rego, inline,
// allow"), and the last good Config keeps deciding.
func TestPolicyNeedsAllowXorRego(t *testing.T) {
	s, logs := newTestService(t, regoConfig())
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"both", Policy{Allow: &Allow{Groups: []string{"partners"}}, Modules: map[string]string{"p.rego": allowAllPolicy}}, `authorization "both": has both allow and rego`},
		{"both, empty groups", Policy{Allow: &Allow{}, Modules: map[string]string{"p.rego": allowAllPolicy}}, `authorization "both, empty groups": has both allow and rego`},
		{"neither", Policy{}, `authorization "neither": needs allow or rego`},
		{"query only", Policy{Query: "data.envoy.authz.allow", FailOpen: true}, `authorization "query only": needs allow or rego`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := regoConfig()
			cfg.Policies[tc.name] = tc.p
			cfg.Policies["rbac"] = Policy{Modules: map[string]string{"policy.rego": allowAllPolicy}} // would allow DELETE
			err := s.Update(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Update: %v, want an error containing %q", err, tc.want)
			}
			o := check(t, s, req{method: "DELETE", path: "/orders/1", headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "partner-keys", "rbac")}.build(t))
			if o.status != 403 {
				t.Errorf("after the refused update: %v, want the last good policy's 403; reasons %q", o, logs.last(t).Reasons)
			}
			o = check(t, s, req{ext: ext("r", "", tc.name)}.build(t))
			if o.status != 403 || !strings.Contains(strings.Join(logs.last(t).Reasons, ";"), "is not configured") {
				t.Errorf("refused policy %q decided: %v; reasons %q", tc.name, o, logs.last(t).Reasons)
			}
		})
	}
}
