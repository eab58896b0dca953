package authz_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// updateVersion is Config version v. Its parts change together: the one
// API key belongs to consumer c<v>, and the policy allows (even v) or
// denies with 429 (odd v) only consumer c<v>, saying x-version: v. A Check
// that read the consumers of one version and the policy of another gets
// 409 "torn".
func updateVersion(v int) *authz.Config {
	outcome := fmt.Sprintf(`{"allowed": true, "headers": {"x-version": "%d"}}`, v)
	if v%2 == 1 {
		outcome = fmt.Sprintf(`{"allowed": false, "http_status": 429, "body": "v%d", "headers": {"x-version": "%d"}}`, v, v)
	}
	src := fmt.Sprintf(`package envoy.authz

import rego.v1

allow := r if {
	input.gatehouse.consumer == "c%d"
	r := %s
} else := {"allowed": false, "http_status": 409, "body": concat(" ", ["torn: consumer", input.gatehouse.consumer, "under version %d"])}
`, v, outcome, v)
	return &authz.Config{
		APIKeyAuth: map[string]authz.APIKeyAuth{"keys": {Header: "x-api-key"}},
		Consumers: map[string]authz.Consumer{fmt.Sprintf("c%d", v): {
			APIKeys: []authz.APIKey{{ID: "k", SHA256: authz.KeyDigest("key-of-every-version")}},
		}},
		Policies: map[string]authz.Policy{"p": {Modules: map[string]string{"p.rego": src}}},
	}
}

// versionOf reads the version a response was decided by, and checks the
// response is that version's whole outcome.
func versionOf(o outcome) (int, error) {
	hs := o.upstream
	if o.status != 200 {
		hs = o.client
	}
	v, err := strconv.Atoi(hs["x-version"])
	if err != nil {
		return 0, fmt.Errorf("no version in %+v", o)
	}
	switch {
	case v%2 == 0 && (o.status != 200 || o.upstream[wire.ConsumerHeader] != fmt.Sprintf("c%d", v)):
		return v, fmt.Errorf("version %d: %+v, want 200 as consumer c%d", v, o, v)
	case v%2 == 1 && (o.status != 429 || o.body != fmt.Sprintf("v%d", v)):
		return v, fmt.Errorf("version %d: %+v, want 429 v%d", v, o, v)
	}
	return v, nil
}

// TestUpdateUnderLoad: Checks run while Update swaps versions whose
// outcomes differ (allow as c<v>, or deny 429). Every Check is decided by
// one whole version (consumers and policy of the same v; no 409 "torn"),
// one that was current at some time during the call (not older than the
// last version published before it, not newer than the one being
// installed after it), and each version is the answer once Update returns.
func TestUpdateUnderLoad(t *testing.T) {
	const versions = 16
	s := startServer(t, updateVersion(0), nil)
	req := httpReq{headers: map[string]string{"x-api-key": "key-of-every-version"},
		ext: map[string]string{wire.CtxRoute: "r", wire.CtxAuthentication: "keys", wire.CtxAuthorization: "p"}}.build(t)

	var published, installing atomic.Int64 // versions: Update returned; Update called
	done := make(chan struct{})
	errs := make(chan error, 1)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var seenMu sync.Mutex
	seen := map[int]int{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				lo := published.Load()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second) // per call
				resp, err := s.client.Check(ctx, req)
				cancel()
				hi := installing.Load()
				if err != nil {
					fail(fmt.Errorf("Check: %v", err))
					return
				}
				v, err := versionOf(summarize(resp))
				if err == nil && (int64(v) < lo || int64(v) > hi) {
					err = fmt.Errorf("decided by version %d during a call that began at version %d and ended installing %d", v, lo, hi)
				}
				if err != nil {
					fail(err)
					return
				}
				seenMu.Lock()
				seen[v]++
				seenMu.Unlock()
			}
		}()
	}
	for v := 1; v <= versions; v++ {
		installing.Store(int64(v))
		if err := s.svc.Update(context.Background(), updateVersion(v)); err != nil {
			t.Fatal(err)
		}
		published.Store(int64(v))
		if got, err := versionOf(summarize(s.check(t, req))); err != nil || got != v {
			t.Fatalf("after update %d: version %d (%v)", v, got, err)
		}
	}
	close(done)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if len(seen) < 2 {
		t.Errorf("concurrent Checks saw versions %v: want several, the test raced nothing", seen)
	}
	t.Logf("decisions per version during updates: %v", seen)
}
