package admin

import (
	"testing"
	"testing/fstest"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// A NACKed JWKS cluster on an issuer's host is traced back to the JWT
// Authentication that discovers its keys from that issuer.
func TestResourceObjectsDiscoveredJWKS(t *testing.T) {
	snap := policy.Load(fstest.MapFS{"a.yaml": {Data: []byte("kind: Authentication\nname: login\nspec:\n  jwt:\n    issuer: https://login.example.com/\n    audiences: [app]\n")}}, nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("rejected: %v", snap.Rejected)
	}
	got := resourceObjects(snap, "web", "jwks/login.example.com")
	if len(got) != 1 || got[0] != (store.Ref{Kind: policy.KindAuthentication, Name: "login"}) {
		t.Errorf("resourceObjects = %v, want Authentication/login", got)
	}
}
