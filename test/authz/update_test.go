package authz_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Updates swap the configuration under running Checks: every Check gets a
// decision from one whole version (allow-all or deny-all), none an error,
// and an update is visible to the next request.
func TestUpdateUnderLoad(t *testing.T) {
	version := func(allow bool) *authz.Config {
		src := "package envoy.authz\n\nallow := false\n"
		if allow {
			src = "package envoy.authz\n\nallow := true\n"
		}
		return &authz.Config{Policies: map[string]authz.Policy{"p": {Modules: map[string]string{"p.rego": src}}}}
	}
	s := startServer(t, version(true), nil)
	req := httpReq{ext: map[string]string{wire.CtxRoute: "r", wire.CtxAuthorization: "p"}}.build(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var allowed, denied atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100 && ctx.Err() == nil; i++ {
				resp, err := s.client.Check(ctx, req)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Check: %v", err)
					}
					return
				}
				switch summarize(resp).status {
				case 200:
					allowed.Add(1)
				case 403:
					denied.Add(1)
				default:
					t.Errorf("unexpected response %v", resp)
				}
			}
		}()
	}
	for i := 0; i < 6; i++ {
		if err := s.svc.Update(ctx, version(i%2 == 0)); err != nil {
			t.Fatal(err)
		}
		want := 403
		if i%2 == 0 {
			want = 200
		}
		if o := summarize(s.check(t, req)); o.status != want {
			t.Fatalf("after update %d: status %d, want %d", i, o.status, want)
		}
	}
	wg.Wait()
	t.Logf("%d allowed, %d denied during updates", allowed.Load(), denied.Load())
}
