package authz

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tornConfig is version v: the one key belongs to consumer c<v>, and the
// policy allows only c<v>, saying x-version: v; a Check that took the
// consumers of one version and the policy of another gets 409.
func tornConfig(v int) *Config {
	src := fmt.Sprintf(`package envoy.authz

import rego.v1

allow := {"allowed": true, "headers": {"x-version": "%d"}} if input.gatehouse.consumer == "c%d"
else := {"allowed": false, "http_status": 409, "body": "torn"}
`, v, v)
	return &Config{
		APIKeyAuth: map[string]APIKeyAuth{"keys": {Header: "x-api-key"}},
		Consumers:  map[string]Consumer{fmt.Sprintf("c%d", v): {APIKeys: []APIKey{{ID: "k", SHA256: KeyDigest(testKey)}}}},
		Policies:   map[string]Policy{"p": {Modules: map[string]string{"p.rego": src}}},
	}
}

// TestNoTornReads swaps two compiled versions as fast as it can while
// Checks run on both engines: each Check must read one version whole
// (consumers and policy together), however often the state changes under
// it. Update's own compile time makes swaps rare; this makes them constant.
func TestNoTornReads(t *testing.T) {
	for _, engine := range []string{EngineIR, EngineTopdown} {
		t.Run(engine, func(t *testing.T) {
			// The time limit is far away: under load it would deny, which is
			// no torn read.
			var last atomic.Value
			s, err := New(Options{EvalTimeout: 10 * time.Second, topdownOnly: engine == EngineTopdown,
				DecisionLogger: func(d Decision) { last.Store(d.Reasons) }})
			if err != nil {
				t.Fatal(err)
			}
			var states [2]*state
			for v := range states {
				if states[v], err = buildState(context.Background(), tornConfig(v), nil); err != nil {
					t.Fatal(err)
				}
			}
			s.state.Store(states[0])
			cr := req{headers: map[string]string{"x-api-key": testKey}, ext: ext("r", "keys", "p")}.build(t)
			var stop atomic.Bool
			var swaps atomic.Int64
			go func() {
				for i := 1; !stop.Load(); i++ {
					s.state.Store(states[i%2])
					swaps.Add(1)
				}
			}()
			defer stop.Store(true)
			var wg sync.WaitGroup
			var seen [2]atomic.Int64
			errs := make(chan error, 2)
			for w := 0; w < 2; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 3000; i++ {
						resp, _ := s.Check(context.Background(), cr)
						ok := resp.GetOkResponse()
						var v string
						for _, h := range ok.GetHeaders() {
							if h.GetHeader().GetKey() == "x-version" {
								v = h.GetHeader().GetValue()
							}
						}
						if ok == nil || (v != "0" && v != "1") {
							errs <- fmt.Errorf("check %d: a torn read: %v (reasons of the last decision: %q)", i, resp, last.Load())
							return
						}
						seen[v[0]-'0'].Add(1)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			t.Logf("%d swaps; decisions by version 0: %d, version 1: %d", swaps.Load(), seen[0].Load(), seen[1].Load())
			if seen[0].Load() == 0 || seen[1].Load() == 0 {
				t.Errorf("one version decided every Check: the swaps raced nothing")
			}
		})
	}
}
