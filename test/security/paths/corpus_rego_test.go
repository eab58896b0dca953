package security_paths

import (
	"context"
	"encoding/json"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// echoPolicy allows every request and reports, in response headers, what
// the Rego library and input.parsed_path make of its path.
const echoPolicy = `package envoy.authz

import data.gatehouse.lib

lib_path := p if {
	p := lib.path
} else := "<ambiguous>"

under_admin := true if lib.path_prefix("/admin") else := false

under_public := true if lib.path_prefix("/public") else := false

allow := {"allowed": true, "headers": {
	"x-lib-path": lib_path,
	"x-admin": sprintf("%v", [under_admin]),
	"x-public": sprintf("%v", [under_public]),
	"x-parsed-path": json.marshal(input.parsed_path),
}}
`

type libView struct {
	path          string
	admin, public bool
	parsedPath    []string
	denied        bool
}

func newEchoService(t *testing.T) *authz.Service {
	t.Helper()
	svc, err := authz.New(authz.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &authz.Config{Policies: map[string]authz.Policy{"echo": {Modules: map[string]string{"echo.rego": echoPolicy}}}}
	if err := svc.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	// The library must not push a policy off the fast engine.
	if e := svc.Engines()["echo"]; e != authz.EngineIR {
		t.Errorf("policy using the path helpers runs on %q, want %q", e, authz.EngineIR)
	}
	return svc
}

// decide sends path, as Envoy would forward it, through the authz service's
// public API and reads the echoed view back.
func decide(t *testing.T, svc *authz.Service, path string) libView {
	t.Helper()
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: path, Host: "api.example.com", Headers: map[string]string{},
		}},
		ContextExtensions: map[string]string{wire.CtxAuthorization: "echo"},
	}}
	resp, d := svc.CheckAs(context.Background(), req, "", nil)
	if !d.Allowed {
		return libView{denied: true}
	}
	v := libView{}
	for _, h := range resp.GetOkResponse().GetHeaders() {
		switch h.GetHeader().GetKey() {
		case "x-lib-path":
			v.path = h.GetHeader().GetValue()
		case "x-admin":
			v.admin = h.GetHeader().GetValue() == "true"
		case "x-public":
			v.public = h.GetHeader().GetValue() == "true"
		case "x-parsed-path":
			if err := json.Unmarshal([]byte(h.GetHeader().GetValue()), &v.parsedPath); err != nil {
				t.Fatalf("%s: parsed_path %q: %v", path, h.GetHeader().GetValue(), err)
			}
		}
	}
	return v
}

// TestPathConfusionRego: the library helpers, evaluated by the authz
// service on the path Envoy forwards (and on the raw path, for an Envoy
// that normalized less), agree with the upstream's reading: a path under
// /admin is never "under /public" for lib.path_prefix.
func TestPathConfusionRego(t *testing.T) {
	svc := newEchoService(t)
	c := emitted(t)
	for _, a := range corpus {
		if a.reject || a.host != "" {
			continue
		}
		_, _, _, fwd := reach(t, c, a, true)
		for _, p := range []string{fwd, a.path} {
			v := decide(t, svc, p)
			if v.denied {
				continue // an input error (e.g. a bad escape) denies: safe
			}
			want := upstreamView(p)
			if v.path != want {
				t.Errorf("%s: lib.path of %q = %q, want %q (the upstream's reading)", a.name, p, v.path, want)
			}
			isAdmin := want == "/admin" || len(want) > 7 && want[:7] == "/admin/"
			if v.admin != isAdmin {
				t.Errorf("%s: lib.path_prefix(\"/admin\") on %q = %v, want %v", a.name, p, v.admin, isAdmin)
			}
			if isAdmin && v.public {
				t.Errorf("%s: %q is both under /admin and, for lib.path_prefix, under /public", a.name, p)
			}
		}
	}
}

// TestParsedPathKeepsPluginShape records what input.parsed_path is for the
// confusing spellings: opa-envoy-plugin's shape (decoded once, split on
// '/', ;parameters kept), which policies written for the plugin expect.
// Policies that compare segments should use lib.segments instead.
func TestParsedPathKeepsPluginShape(t *testing.T) {
	svc := newEchoService(t)
	for path, want := range map[string][]string{
		"/admin;x=1/users":         {"admin;x=1", "users"},
		"/public/..;/admin":        {"public", "..;", "admin"},
		"/public%252F..%252Fadmin": {"public%2F..%2Fadmin"},
		"/public%2F..%2Fadmin":     {"public", "..", "admin"},
		"/ADMIN/":                  {"ADMIN", ""},
		"/a?x=1":                   {"a"},
	} {
		v := decide(t, svc, path)
		if v.denied || len(v.parsedPath) != len(want) {
			t.Errorf("%s: parsed_path %q (denied %v), want %q", path, v.parsedPath, v.denied, want)
			continue
		}
		for i := range want {
			if v.parsedPath[i] != want[i] {
				t.Errorf("%s: parsed_path %q, want %q", path, v.parsedPath, want)
				break
			}
		}
	}
	// An invalid escape is an input error: denied, never allowed.
	if v := decide(t, svc, "/admin/%zz"); !v.denied {
		t.Errorf("/admin/%%zz: allowed with %+v; want an input error (deny)", v)
	}
}
