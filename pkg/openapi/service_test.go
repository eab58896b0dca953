package openapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// TestLogOnlyForwardsAndRecords: in log-only mode an invalid request goes
// on, and the failure is in the dynamic metadata for the access log.
func TestLogOnlyForwardsAndRecords(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	got := exchangeOnce(t, c, "petstore-log", req{method: "GET", path: "/api/v3/pet/1%20OR%201=1"}, nil)
	if got.refused != nil {
		t.Fatalf("log-only refused: %s", got.refused.GetBody())
	}
	if field(got.metadata, "action") != "log" || field(got.metadata, "location") != "path" || field(got.metadata, "field") != "petId" || field(got.metadata, "policy") != "petstore-log" {
		t.Errorf("metadata %v: want action log, path petId, policy petstore-log", got.metadata)
	}
	body := exchangeOnce(t, c, "petstore-log", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":1}`)}, nil)
	if body.refused != nil || field(body.metadata, "location") != "body" {
		t.Errorf("log-only body failure: refused %v, metadata %v", body.refused, body.metadata)
	}
}

// TestResponseValidationLogOnly: a response that does not match the
// document is recorded, never refused; a matching one records nothing.
func TestResponseValidationLogOnly(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	r := req{method: "GET", path: "/api/v3/pet/10"}
	good := exchangeOnce(t, c, "petstore-log", r, &resp{status: "200", headers: ct(jsonCT), body: []byte(validPet)})
	if good.refused != nil || good.respMetadata != nil {
		t.Errorf("valid response: refused %v, metadata %v", good.refused, good.respMetadata)
	}
	bad := exchangeOnce(t, c, "petstore-log", r, &resp{status: "200", headers: ct(jsonCT), body: []byte(`{"name":"a","photoUrls":"leak"}`)})
	if bad.refused != nil || field(bad.respMetadata, "response") == "" {
		t.Errorf("invalid response: refused %v, metadata %v (want recorded)", bad.refused, bad.respMetadata)
	}
	undeclared := exchangeOnce(t, c, "petstore-log", req{method: "GET", path: "/api/v3/user/logout"}, &resp{status: "418"})
	if field(undeclared.respMetadata, "response") != "" {
		// logout declares a default response: 418 is allowed.
		t.Errorf("status covered by default reported: %v", undeclared.respMetadata)
	}
	// A response over the body limit is not validated (a truncated body
	// would be a false mismatch), and says so.
	big := exchangeOnce(t, c, "petstore-log", r, &resp{status: "200", headers: ct(jsonCT), body: []byte(`{"name":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `","photoUrls":[]}`)})
	if got := field(big.respMetadata, "response"); !strings.Contains(got, "not validated") {
		t.Errorf("oversized response recorded %q, want not validated", got)
	}
	// Responses: off (the enforce policy) validates nothing.
	off := exchangeOnce(t, c, "petstore", r, &resp{status: "200", headers: ct(jsonCT), body: []byte(`not json`)})
	if off.respMetadata != nil {
		t.Errorf("responses off recorded %v", off.respMetadata)
	}
}

// TestUnknownPolicyFailsClosed: a stream naming no known validation ends
// with FAILED_PRECONDITION (Envoy then refuses the request), not a pass.
func TestUnknownPolicyFailsClosed(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	for _, name := range []string{"nope", ""} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, wire.OpenAPIPolicyMetadataKey, name)
		s, err := c.Process(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{}}})
		_, err = s.Recv()
		cancel()
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("policy %q: %v, want FAILED_PRECONDITION", name, err)
		}
	}
}

// TestUpdateMakeBeforeBreak: a bad document leaves the running set in
// place; a good one replaces it.
func TestUpdateMakeBeforeBreak(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	if err := svc.Update(map[string]Policy{"petstore": {Document: []byte("openapi: 3.0.0\npaths: {"), Mode: Enforce}}); err == nil || !strings.Contains(err.Error(), "petstore") {
		t.Fatalf("bad document: %v, want an error naming the policy", err)
	}
	if got := exchangeOnce(t, c, "petstore", req{method: "GET", path: "/api/v3/pet/x"}, nil); got.refused == nil {
		t.Error("after a failed update the old document no longer validates")
	}
	if err := svc.Update(map[string]Policy{"kinds": {Document: readDoc(t, "kinds.yaml"), Mode: Enforce}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, wire.OpenAPIPolicyMetadataKey, "petstore")
	s, _ := c.Process(ctx)
	_ = s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{}}})
	if _, err := s.Recv(); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("removed policy still served: %v", err)
	}
}

// TestHostileInputNotEchoed: a refusal never carries the client's value
// unbounded: a 64 KiB header and a content type full of markup and
// control characters give a small problem body without them.
func TestHostileInputNotEchoed(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	huge := strings.Repeat("<script>alert(1)</script>", 64<<10/25)
	for _, r := range []req{
		{method: "POST", path: notes, headers: kindsHeaders(huge, goodSession), body: []byte(`{"title":"x"}`)},
		{method: "POST", path: "/api/v3/pet", headers: ct("text/x-" + huge + "\r\nX-Injected: 1"), body: []byte(validPet)},
		{method: "POST", path: "/api/v3/pet", headers: append(ct(jsonCT), [2]string{"x-request-id", huge + "\n"}), body: []byte(`{"name":"` + huge + `"}`)},
	} {
		got := exchangeOnce(t, c, map[bool]string{true: "kinds", false: "petstore"}[r.path == notes], r, nil)
		if got.refused == nil {
			t.Fatalf("%s: forwarded", r.path)
		}
		b := got.refused.GetBody()
		if len(b) > 1024 || strings.Count(string(b), "<script>") > 8 || strings.Contains(string(b), "\n\"") || strings.Contains(string(b), "\r") {
			t.Errorf("problem body of %d bytes echoes the input: %.300s", len(b), b)
		}
		var p problem
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("problem body is not JSON: %v", err)
		}
	}
}

// TestCheckRejectsBadDocuments: what the policy loader refuses, with the
// reason.
func TestCheckRejectsBadDocuments(t *testing.T) {
	pet := readDoc(t, "petstore.yaml")
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"not yaml", Policy{Document: []byte("openapi: [3"), Mode: Enforce}, "parse document"},
		{"not openapi", Policy{Document: []byte("hello: world\n"), Mode: Enforce}, "invalid document"},
		{"broken schema", Policy{Document: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {type: strnig}\n"), Mode: Enforce}, "invalid document"},
		{"external ref reads no file", Policy{Document: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '200': {$ref: 'file:///etc/passwd#/x'}\n"), Mode: Enforce}, "parse document"},
		{"server variable in path", Policy{Document: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers: [{url: '/{v}', variables: {v: {default: v1}}}]\npaths: {}\n"), Mode: Enforce}, "variable"},
		{"no mode", Policy{Document: pet}, "mode"},
		{"enforced responses", Policy{Document: pet, Mode: Enforce, Responses: Enforce}, "responses"},
		{"unknown responses", Policy{Document: pet, Mode: LogOnly, Responses: "always"}, "responses"},
		{"negative limit", Policy{Document: pet, Mode: Enforce, MaxDepth: -1}, "negative"},
	} {
		err := Check(tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if err := Check(Policy{Document: pet, Mode: LogOnly, Responses: LogOnly}); err != nil {
		t.Errorf("petstore: %v", err)
	}
}

// TestUpdateReusesUnchanged: an unchanged policy keeps its compiled
// document across updates; a changed one is compiled again.
func TestUpdateReusesUnchanged(t *testing.T) {
	pol := testPolicies(t)
	svc, err := New(pol)
	if err != nil {
		t.Fatal(err)
	}
	before := (*svc.docs.Load())["petstore"]
	changed := pol["kinds"]
	changed.Mode = LogOnly
	pol["kinds"] = changed
	if err := svc.Update(pol); err != nil {
		t.Fatal(err)
	}
	after := *svc.docs.Load()
	if after["petstore"] != before {
		t.Error("unchanged petstore compiled again")
	}
	if after["kinds"].policy.Mode != LogOnly {
		t.Error("changed kinds kept its old mode")
	}
}

// TestTrailersEndTheRequest: with request trailers the body's message is
// not end_of_stream; validation runs when the trailers arrive, so an
// invalid body followed by trailers is still refused.
func TestTrailersEndTheRequest(t *testing.T) {
	ex := &exchange{c: mustCompile(t, "petstore"), ctx: context.Background()}
	hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte("POST")}, {Key: ":path", RawValue: []byte("/api/v3/pet")}, {Key: "content-type", RawValue: []byte(jsonCT)}}
	for i, m := range []*extprocv3.ProcessingRequest{
		{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: hs}}}},
		{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"name":{"$ne":1},"photoUrls":[]}`)}}},
	} {
		if out, done := ex.handle(m); done || out.GetImmediateResponse() != nil {
			t.Fatalf("message %d refused before the request ended", i)
		}
	}
	out, done := ex.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}})
	if !done || out.GetImmediateResponse().GetStatus().GetCode() != 400 {
		t.Fatalf("invalid body with trailers: %v, want 400 at the trailers", out)
	}
}

func mustCompile(t *testing.T, name string) *compiled {
	t.Helper()
	c, err := compile(testPolicies(t)[name])
	if err != nil {
		t.Fatal(err)
	}
	c.name = name
	return c
}
