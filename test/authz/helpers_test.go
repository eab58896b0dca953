// Package authz_test drives gatehouse's ext_authz service over real gRPC on
// loopback, with CheckRequests built from protojson as Envoy sends them.
package authz_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
)

// server is the service on a real gRPC server on a loopback port.
type server struct {
	svc    *authz.Service
	client authv3.AuthorizationClient
	logs   *decisionLog
}

type decisionLog struct {
	mu  sync.Mutex
	all []authz.Decision
}

func (l *decisionLog) log(d authz.Decision) { l.mu.Lock(); l.all = append(l.all, d); l.mu.Unlock() }

func (l *decisionLog) byID(id string) (authz.Decision, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.all {
		if d.ID == id {
			return d, true
		}
	}
	return authz.Decision{}, false
}

// startServer serves svc (wrapped by wrap, if given) and returns a client.
func startServer(t testing.TB, cfg *authz.Config, wrap func(*authz.Service) authv3.AuthorizationServer) *server {
	t.Helper()
	logs := &decisionLog{}
	// A time limit far away: under load the default 200 ms could stop an
	// evaluation that was only waiting for a CPU.
	svc, err := authz.New(authz.Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	if wrap != nil {
		authv3.RegisterAuthorizationServer(g, wrap(svc))
	} else {
		svc.Register(g)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &server{svc: svc, client: authv3.NewAuthorizationClient(conn), logs: logs}
}

func (s *server) check(t testing.TB, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.client.Check(ctx, req)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

// envoyRequest builds a CheckRequest the way Envoy's ext_authz filter
// fills it, from JSON (protojson field names), and checks it parses.
func envoyRequest(t testing.TB, v map[string]any) *authv3.CheckRequest {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var r authv3.CheckRequest
	if err := protojson.Unmarshal(b, &r); err != nil {
		t.Fatalf("protojson: %v\n%s", err, b)
	}
	return &r
}

type httpReq struct {
	method, path, body string
	headers            map[string]string
	ext                map[string]string
	jwt                map[string]any // jwt_authn payloads by provider
}

func (h httpReq) build(t testing.TB) *authv3.CheckRequest {
	headers := map[string]string{":authority": "api.example.com", "x-request-id": "8d3e0c46"}
	for k, v := range h.headers {
		headers[k] = v
	}
	if h.method == "" {
		h.method = "GET"
	}
	if h.path == "" {
		h.path = "/"
	}
	headers[":method"], headers[":path"] = h.method, h.path
	http := map[string]any{"id": "42", "method": h.method, "path": h.path, "host": "api.example.com", "scheme": "http", "protocol": "HTTP/1.1", "headers": headers}
	if h.body != "" {
		http["body"] = h.body
	}
	attrs := map[string]any{
		"source":            map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 40000}}},
		"destination":       map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 8080}}},
		"request":           map[string]any{"time": "2026-11-25T12:00:00Z", "http": http},
		"contextExtensions": h.ext,
	}
	if h.jwt != nil {
		attrs["metadataContext"] = map[string]any{"filterMetadata": map[string]any{"envoy.filters.http.jwt_authn": h.jwt}}
	}
	return envoyRequest(t, map[string]any{"attributes": attrs})
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hs256 signs claims with HMAC-SHA256, as the OPA tutorials' tokens are
// (shared secret "secret").
func hs256(t testing.TB, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	hdr := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := hdr + "." + enc.EncodeToString(b)
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// outcome is what Envoy would do with a response.
type outcome struct {
	status   int
	upstream map[string]string // headers added to the upstream request (allowed)
	client   map[string]string // headers on the denial (denied)
	body     string
	meta     map[string]any
}

func summarize(resp *authv3.CheckResponse) outcome {
	o := outcome{upstream: map[string]string{}, client: map[string]string{}, meta: resp.GetDynamicMetadata().AsMap()}
	if ok := resp.GetOkResponse(); ok != nil && resp.GetStatus().GetCode() == 0 {
		o.status = 200
		for _, h := range ok.GetHeaders() {
			o.upstream[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		return o
	}
	d := resp.GetDeniedResponse()
	o.status = int(d.GetStatus().GetCode())
	o.body = d.GetBody()
	for _, h := range d.GetHeaders() {
		o.client[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return o
}

func protoClone(r *authv3.CheckRequest) *authv3.CheckRequest {
	return proto.Clone(r).(*authv3.CheckRequest)
}

// rawCodec sends pre-encoded bytes, so a test can put on the wire what a
// proto marshaller would refuse to produce (invalid UTF-8 in strings).
type rawCodec struct{}

type rawMsg []byte

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*rawMsg)), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(*authv3.CheckResponse))
}

func (rawCodec) Name() string { return "proto" }
