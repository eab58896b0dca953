package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// testKey is an API key of consumer "acme" in testConfig.
const testKey = "gh_test-key-acme-0123456789"

func testConfig() *Config {
	return &Config{
		APIKeyAuth: map[string]APIKeyAuth{
			"partner-keys": {Header: "X-API-Key"},
			"query-keys":   {Query: "api_key"},
		},
		JWTAuth: map[string]JWTAuth{"corp-jwt": {Issuer: "https://idp.example.com/"}},
		Consumers: map[string]Consumer{
			"acme": {
				APIKeys:     []APIKey{{ID: "acme-1", SHA256: KeyDigest(testKey)}},
				JWTSubjects: []JWTSubject{{Issuer: "https://idp.example.com/", Subject: "acme-batch"}},
				Groups:      []string{"partners"},
			},
			"other": {APIKeys: []APIKey{{ID: "o", SHA256: KeyDigest("gh_other")}}, Groups: []string{"staff"}},
		},
		Policies: map[string]Policy{
			"partners-only": {Allow: &Allow{Groups: []string{"partners"}}},
		},
	}
}

// req is a CheckRequest as Envoy sends it, built from protojson.
type req struct {
	method, path string
	headers      map[string]string
	body         string
	ext          map[string]string
	jwt          map[string]any // provider -> payload
}

func (r req) buildErr() (*authv3.CheckRequest, error) {
	h := map[string]string{":authority": "api.example.com"}
	for k, v := range r.headers {
		h[k] = v
	}
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/"
	}
	httpReq := map[string]any{
		"id": "1", "method": r.method, "path": r.path, "host": "api.example.com",
		"scheme": "http", "protocol": "HTTP/1.1", "headers": h,
	}
	if r.body != "" {
		httpReq["body"] = r.body
	}
	attrs := map[string]any{
		"source":            map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 51234}}},
		"destination":       map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 8080}}},
		"request":           map[string]any{"time": "2026-11-25T12:00:00Z", "http": httpReq},
		"contextExtensions": r.ext,
	}
	if r.jwt != nil {
		attrs["metadataContext"] = map[string]any{"filterMetadata": map[string]any{wire.JWTMetadataNamespace: r.jwt}}
	}
	b, err := json.Marshal(map[string]any{"attributes": attrs})
	if err != nil {
		return nil, err
	}
	var cr authv3.CheckRequest
	if err := protojson.Unmarshal(b, &cr); err != nil {
		return nil, fmt.Errorf("protojson: %v\n%s", err, b)
	}
	return &cr, nil
}

func (r req) build(t testing.TB) *authv3.CheckRequest {
	t.Helper()
	cr, err := r.buildErr()
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// tryBuild is build for fuzzing: false when no such request can be made.
func (r req) tryBuild() (*authv3.CheckRequest, bool) {
	cr, err := r.buildErr()
	return cr, err == nil
}

func ext(route, authn, authz string) map[string]string {
	return map[string]string{
		wire.CtxGateway: "public", wire.CtxRoute: route,
		wire.CtxAuthentication: authn, wire.CtxAuthorization: authz,
	}
}

// decisions collects what the decision logger receives.
type decisions struct {
	mu  sync.Mutex
	all []Decision
}

func (d *decisions) log(x Decision) { d.mu.Lock(); d.all = append(d.all, x); d.mu.Unlock() }

func (d *decisions) last(t testing.TB) Decision {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.all) == 0 {
		t.Fatal("no decision logged")
	}
	return d.all[len(d.all)-1]
}

func newTestService(t testing.TB, cfg *Config) (*Service, *decisions) {
	t.Helper()
	logs := &decisions{}
	// A time limit far away: on a loaded machine the default 200 ms can
	// stop an evaluation that was only waiting for a CPU, and turn a
	// decision into a time-limit deny. Time limits have their own tests.
	s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return s, logs
}

// outcome summarizes a CheckResponse for assertions.
type outcome struct {
	status   int
	headers  map[string]string // upstream headers on allow, client headers on deny
	appendOv map[string]bool   // header -> set with OVERWRITE
	body     string
	meta     map[string]any
	resp     *authv3.CheckResponse
}

func check(t testing.TB, s *Service, r *authv3.CheckRequest) outcome {
	t.Helper()
	resp, err := s.Check(context.Background(), r)
	if err != nil {
		t.Fatalf("Check returned an error: %v", err)
	}
	return summarize(t, resp)
}

func summarize(t testing.TB, resp *authv3.CheckResponse) outcome {
	t.Helper()
	o := outcome{headers: map[string]string{}, appendOv: map[string]bool{}, resp: resp, meta: resp.GetDynamicMetadata().AsMap()}
	if ok := resp.GetOkResponse(); ok != nil {
		if resp.GetStatus().GetCode() != 0 {
			t.Fatalf("ok response with status code %d", resp.GetStatus().GetCode())
		}
		o.status = 200
		for _, h := range ok.GetHeaders() {
			o.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
			o.appendOv[h.GetHeader().GetKey()] = h.GetAppendAction().String() == "OVERWRITE_IF_EXISTS_OR_ADD"
		}
		return o
	}
	den := resp.GetDeniedResponse()
	if den == nil {
		t.Fatalf("response has neither ok nor denied: %v", resp)
	}
	if resp.GetStatus().GetCode() == 0 {
		t.Fatal("denied response with gRPC status OK")
	}
	o.status = int(den.GetStatus().GetCode())
	o.body = den.GetBody()
	for _, h := range den.GetHeaders() {
		o.headers[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return o
}

func (o outcome) String() string {
	return fmt.Sprintf("status %d headers %v body %q meta %v", o.status, o.headers, strings.TrimSpace(o.body), o.meta)
}
