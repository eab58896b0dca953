// Package security_authz attacks gatehouse's ext_authz service from the
// client's side: every request here is what a client can make Envoy send
// (or what a peer reaching the service port can send), delivered over real
// gRPC to the service configured as `gatehouse serve` configures it.
package security_authz

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// apiKey is consumer acme's key in config().
const apiKey = "gh_security-test-key-acme"

const (
	allowAll = `package envoy.authz
allow := true`
	readsBody = `package envoy.authz
default allow := false
allow if input.parsed_body.amount <= 100`
	readsConsumer = `package envoy.authz
default allow := false
allow if input.gatehouse.consumer == "acme"`
	undefined = `package envoy.authz
allow if input.attributes.request.http.method == "GET"`
	malformed = `package envoy.authz
allow := {"allowed": "yes"}`
	conflict = `package envoy.authz
allow := true if input.parsed_path[0] == "boom"
allow := false if input.parsed_path[0] == "boom"`
	// slow loops past any evaluation time limit.
	slow = `package envoy.authz
allow if count([x | some x in numbers.range(1, 100000000); x % 7 == 0]) > 0`
	// wholeInput reads every header and the whole input, as a value.
	wholeInput = `package envoy.authz
allow if {
	count(input.attributes.request.http.headers) > 0
	json.marshal(input) != ""
}`
)

// config: every Rego Authorization says failOpen, so any deny a test sees
// is a decision, not the failure mode.
func config() *authz.Config {
	cfg := &authz.Config{
		APIKeyAuth: map[string]authz.APIKeyAuth{"keys": {Header: "x-api-key"}},
		JWTAuth:    map[string]authz.JWTAuth{"corp-jwt": {Issuer: "https://idp.example.com/"}},
		Consumers: map[string]authz.Consumer{
			"acme": {
				APIKeys:     []authz.APIKey{{ID: "acme-1", SHA256: authz.KeyDigest(apiKey)}},
				JWTSubjects: []authz.JWTSubject{{Issuer: "https://idp.example.com/", Subject: "acme-batch"}},
				Groups:      []string{"partners"},
			},
		},
		Policies: map[string]authz.Policy{"partners": {Allow: &authz.Allow{Groups: []string{"partners"}}}},
	}
	for name, src := range map[string]string{
		"allow-all": allowAll, "reads-body": readsBody, "reads-consumer": readsConsumer,
		"undefined": undefined, "malformed": malformed, "conflict": conflict, "slow": slow, "whole-input": wholeInput,
	} {
		cfg.Policies[name] = authz.Policy{Modules: map[string]string{name + ".rego": src}, FailOpen: true}
	}
	return cfg
}

type server struct {
	client authv3.AuthorizationClient
	mu     sync.Mutex
	logs   map[string]authz.Decision // by decision id
}

// start serves the service on a loopback port with the options `gatehouse
// serve` uses for it (the lenient codec, a 16 MiB message limit).
func start(t *testing.T, evalTimeout time.Duration) *server {
	t.Helper()
	s := &server{logs: map[string]authz.Decision{}}
	svc, err := authz.New(authz.Options{EvalTimeout: evalTimeout, DecisionLogger: func(d authz.Decision) {
		s.mu.Lock()
		s.logs[d.ID] = d
		s.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(context.Background(), config()); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(authz.ServerOption(), grpc.MaxRecvMsgSize(16<<20))
	svc.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.client = authv3.NewAuthorizationClient(conn)
	return s
}

// request is what a client controls, plus the route Envoy matched.
type request struct {
	method, path, body string
	headers            map[string]string
	authn, policy      string         // the route's Authentication names and Authorization
	anonymous          bool           // the route allows anonymous callers
	jwt                map[string]any // verified payloads jwt_authn put in metadata
}

func (r request) build(t *testing.T) *authv3.CheckRequest {
	t.Helper()
	if r.method == "" {
		r.method = "GET"
	}
	if r.path == "" {
		r.path = "/"
	}
	h := map[string]string{":authority": "api.example.com", ":method": r.method, ":path": r.path}
	for k, v := range r.headers {
		h[k] = v
	}
	http := map[string]any{"id": "1", "method": r.method, "path": r.path, "host": "api.example.com", "scheme": "https", "protocol": "HTTP/1.1", "headers": h}
	if r.body != "" {
		http["body"] = r.body
	}
	anon := "false"
	if r.anonymous || r.authn == "" {
		anon = "true"
	}
	attrs := map[string]any{
		"source":  map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "203.0.113.7", "portValue": 40000}}},
		"request": map[string]any{"time": "2026-12-03T12:00:00Z", "http": http},
		"contextExtensions": map[string]string{
			wire.CtxGateway: "public", wire.CtxRoute: "r", wire.CtxAuthentication: r.authn,
			wire.CtxAuthorization: r.policy, wire.CtxAllowAnonymous: anon,
		},
	}
	if r.jwt != nil {
		attrs["metadataContext"] = map[string]any{"filterMetadata": map[string]any{wire.JWTMetadataNamespace: r.jwt}}
	}
	b, err := json.Marshal(map[string]any{"attributes": attrs})
	if err != nil {
		t.Fatal(err)
	}
	var cr authv3.CheckRequest
	if err := protojson.Unmarshal(b, &cr); err != nil {
		t.Fatal(err)
	}
	return &cr
}

// outcome is what Envoy does with the answer.
type outcome struct {
	status   int
	upstream map[string]string // headers set on the upstream request when allowed
	decision authz.Decision
}

func (s *server) check(t *testing.T, cr *authv3.CheckRequest) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.client.Check(ctx, cr)
	if err != nil {
		t.Fatalf("Check failed (Envoy would apply the filter's failure mode): %v", err)
	}
	id := resp.GetDynamicMetadata().GetFields()[wire.DecisionIDMetadataKey].GetStringValue()
	s.mu.Lock()
	d, ok := s.logs[id]
	s.mu.Unlock()
	if !ok {
		t.Fatalf("no decision logged for id %q", id)
	}
	o := outcome{upstream: map[string]string{}, decision: d}
	if ok := resp.GetOkResponse(); ok != nil && resp.GetStatus().GetCode() == 0 {
		o.status = 200
		for _, h := range ok.GetHeaders() {
			o.upstream[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		return o
	}
	o.status = int(resp.GetDeniedResponse().GetStatus().GetCode())
	return o
}
