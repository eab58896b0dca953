package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// realServices are gatehouse's own ext_authz and rate-limit services fed
// the way cmd/gatehouse feeds them, with the last decision's reasons kept.
type realServices struct {
	authz *authz.Service
	rl    *ratelimit.Service
	mu    sync.Mutex
	last  []string
}

func newRealServices(t *testing.T) *realServices {
	t.Helper()
	s := &realServices{}
	a, err := authz.New(authz.Options{DecisionLogger: func(d authz.Decision) {
		s.mu.Lock()
		s.last = d.Reasons
		s.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ratelimit.New(ratelimit.Options{Store: ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	s.authz, s.rl = a, rl
	return s
}

func (s *realServices) update(ctx context.Context, r ServiceRules) error {
	return errors.Join(s.authz.Update(ctx, r.Authz), s.rl.Update(r.RateLimit))
}

// check asks ext_authz as a proxy whose admin route names authorization,
// and returns the outcome: "allow", "policy denied", "not configured"...
func (s *realServices) check(t *testing.T, authorization string) string {
	t.Helper()
	resp, err := s.authz.Check(t.Context(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/admin"}},
		ContextExtensions: map[string]string{
			wire.CtxGateway: "public", wire.CtxRoute: "admin", wire.CtxAuthorization: authorization,
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
		return "allow"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.last {
		if strings.Contains(r, "is not configured") {
			return "not configured"
		}
	}
	return "policy denied"
}

// Authorization z allows; v2 replaces it by z2, which denies.
var (
	realV1 = map[string]string{"all.yaml": strings.Replace(protectedPolicy, "  authentication: [keys]\n", "", 1),
		"p.yaml": strings.Replace(protectingPolicies, "default allow := false", "default allow := true", 1)}
	realV2 = map[string]string{"all.yaml": strings.Replace(realV1["all.yaml"], "authorization: z\n", "authorization: z2\n", 1),
		"p.yaml": strings.Replace(protectingPolicies, "name: z\n", "name: z2\n", 1)}
)

// With the real services: while v2 is being published a proxy on v1 (z)
// is still allowed and one on v2 (z2) is decided by z2; after a Publish
// that set nothing the services answer as v1 again; after a good one, z is
// gone.
func TestRealServicesFollowThePublishedVersion(t *testing.T) {
	svc := newRealServices(t)
	f := startFailingWith(t, realV1, svc.update)
	if got := svc.check(t, "z"); got != "allow" {
		t.Fatalf("v1 served, z: %s", got)
	}

	f.flaky.set(errors.New("injected publish failure"), false, func() {
		if got := svc.check(t, "z"); got != "allow" {
			t.Errorf("while publishing, a proxy still on v1 (z): %s, want allow", got)
		}
		if got := svc.check(t, "z2"); got != "policy denied" {
			t.Errorf("while publishing, a proxy already on v2 (z2): %s, want policy denied", got)
		}
	})
	f.edit(t, realV2)
	if st := f.ctrl.Status(); !strings.Contains(st.LastError, "injected publish failure") {
		t.Fatalf("LastError %q", st.LastError)
	}
	if got := svc.check(t, "z"); got != "allow" {
		t.Errorf("after the failed publish, z: %s, want allow (the proxies have v1)", got)
	}
	if got := svc.check(t, "z2"); got != "not configured" {
		t.Errorf("after the failed publish, z2: %s, want not configured (no proxy has v2)", got)
	}

	f.flaky.set(nil, false, nil)
	f.edit(t, realV2)
	if got := svc.check(t, "z"); got != "not configured" {
		t.Errorf("v2 published, z: %s, want not configured", got)
	}
	if got := svc.check(t, "z2"); got != "policy denied" {
		t.Errorf("v2 published, z2: %s, want policy denied", got)
	}
}
