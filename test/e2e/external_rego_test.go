package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// A Rego file named from outside the policy directory (POLICY-MODEL.md's
// rego: ../policies/users.rego) is watched like the directory itself: an
// edit is live in well under the periodic resync (turned off here).
func TestExternalRegoEditIsLive(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "gatehouse")
	rego := filepath.Join(root, "policies", "users.rego")
	writeRego := func(methods string) {
		t.Helper()
		writePolicy(t, filepath.Dir(rego), map[string]string{"users.rego": "package envoy.authz\n\ndefault allow := false\n\nallow if input.attributes.request.http.method in " + methods + "\n"})
	}
	writeRego(`{"GET"}`)
	writePolicy(t, dir, map[string]string{
		"gateway.yaml": gatewayYAML,
		"authz.yaml":   "kind: Authorization\nname: users-authz\nspec:\n  rego: ../policies/users.rego\n",
	})
	g := startGatehouse(t, dir, "--resync", "0")

	cc, err := grpc.NewClient(g.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := authv3.NewAuthorizationClient(cc)
	allowed := func(method string) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: "/users", Host: "x"}},
			ContextExtensions: map[string]string{wire.CtxGateway: "public", wire.CtxRoute: "r",
				wire.CtxAuthorization: "users-authz", wire.CtxAllowAnonymous: "true"},
		}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return resp.GetOkResponse() != nil
	}
	if !allowed("GET") || allowed("POST") {
		t.Fatal("initial policy: want GET allowed, POST denied")
	}
	start := time.Now()
	writeRego(`{"GET", "POST"}`)
	for !allowed("POST") {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("edit of %s not live within 5s", rego)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("edit of a Rego file outside the policy directory live after %v (resync off)", time.Since(start).Round(time.Millisecond))
}
