package authz_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Envoy forwards path and header bytes as they arrived, which may not be
// UTF-8. With authz.ServerOption the request still gets a decision (and a
// log entry); without it the call would fail before reaching the service.
func TestNonUTF8OverTheWire(t *testing.T) {
	logs := &decisionLog{}
	svc, err := authz.New(authz.Options{DecisionLogger: logs.log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &authz.Config{Policies: map[string]authz.Policy{"p": {Modules: map[string]string{"p.rego": `package envoy.authz

allow if input.attributes.request.http.method == "GET"
`}}}}
	if err := svc.Update(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(authz.ServerOption())
	svc.Register(g)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	for _, method := range []string{"GET", "PUT"} {
		req := httpReq{method: method, path: "/AAAA/x", headers: map[string]string{"x-bad": "BBBB"},
			ext: map[string]string{wire.CtxRoute: "r", wire.CtxAuthorization: "p"}}.build(t)
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		// Same lengths, so the wire encoding stays valid.
		b = bytes.ReplaceAll(b, []byte("AAAA"), []byte("\xff\xfe\xfd\xfc"))
		b = bytes.ReplaceAll(b, []byte("BBBB"), []byte("b\xc3\x28b"))
		raw := rawMsg(b)
		var resp authv3.CheckResponse
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = conn.Invoke(ctx, "/envoy.service.auth.v3.Authorization/Check", &raw, &resp)
		cancel()
		if err != nil {
			t.Fatalf("%s: Check failed instead of deciding: %v", method, err)
		}
		want := 403
		if method == "GET" {
			want = 200
		}
		o := summarize(&resp)
		if o.status != want {
			t.Errorf("%s: status %d, want %d", method, o.status, want)
		}
		d, ok := logs.byID(o.meta[wire.DecisionIDMetadataKey].(string))
		if !ok || d.Path != "/\uFFFD/x" {
			t.Errorf("%s: logged path %q (logged %v)", method, d.Path, ok)
		}
	}
}
