package waf

import (
	"context"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/metadata"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// wsHandshake is a WebSocket upgrade request as Envoy's ext_proc sends it
// on an upgrade route: request headers, end_of_stream false (the upgraded
// body never ends), and nothing else until the response headers.
func wsHandshake(path string, extra ...[2]string) [][2]string {
	hs := append(get(path), [2]string{"connection", "upgrade"}, [2]string{"upgrade", "websocket"},
		[2]string{"sec-websocket-version", "13"}, [2]string{"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="})
	return append(hs, extra...)
}

// upgradeStream sends msgs on a stream naming policy, with the upgrade
// route's headers-only flag when headersOnly, and returns the immediate
// response, if any, and the number of answers before it.
func upgradeStream(t *testing.T, svc *Service, policy string, headersOnly bool, msgs ...*extprocv3.ProcessingRequest) (*extprocv3.ImmediateResponse, int) {
	t.Helper()
	client := startService(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, PolicyMetadataKey, policy)
	if headersOnly {
		ctx = metadata.AppendToOutgoingContext(ctx, wire.HeadersOnlyMetadataKey, "true")
	}
	stream, err := client.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			return ir, i
		}
	}
	return nil, len(msgs)
}

func reqHeaders(hs [][2]string) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hs)}}}
}

// TestUpgradeHeaderInjectionBlocked: on an upgrade route the WAF gets the
// handshake's headers only, end_of_stream false. An injection in the
// upgrade request's path or in one of its headers is still blocked at
// the headers (phase 2, CRS's 949110, runs then); without the flag the
// WAF would wait for a request end that never comes and let it through,
// which is the bypass the flag closes. A clean handshake passes.
func TestUpgradeHeaderInjectionBlocked(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	for name, hs := range map[string][][2]string{
		"path":    wsHandshake(sqli),
		"cookie":  wsHandshake("/chat", [2]string{"cookie", "session=1' UNION SELECT password FROM users--"}),
		"referer": wsHandshake("/chat", [2]string{"referer", "http://x/?q=<script>alert(document.cookie)</script>"}),
	} {
		if ir, _ := upgradeStream(t, svc, "edge", true, reqHeaders(hs)); ir == nil || ir.GetStatus().GetCode() != 403 {
			t.Errorf("%s: injection in the upgrade request not blocked: %v", name, ir)
		}
		if ir, _ := upgradeStream(t, svc, "edge", false, reqHeaders(hs)); ir != nil {
			t.Errorf("%s: without the flag the headers alone were judged (the test no longer shows the bypass): %v", name, ir)
		}
	}
	if ir, _ := upgradeStream(t, svc, "edge", true, reqHeaders(wsHandshake("/chat"))); ir != nil {
		t.Errorf("clean handshake blocked: %v", ir)
	}
}

// TestUpgradeStreamRefusesBody: a body or trailers on a headers-only
// stream (which Envoy does not send there) is refused, never evaluated
// after the request was judged or ignored.
func TestUpgradeStreamRefusesBody(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	body := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte("<script>alert(1)</script>"), EndOfStream: true}}}
	if ir, at := upgradeStream(t, svc, "edge", true, reqHeaders(wsHandshake("/chat")), body); ir == nil || at != 1 {
		t.Errorf("a body on a headers-only stream was not refused: %v at %d", ir, at)
	}
	trailers := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: &extprocv3.HttpTrailers{}}}
	if ir, at := upgradeStream(t, svc, "edge", true, reqHeaders(wsHandshake("/chat")), trailers); ir == nil || at != 1 {
		t.Errorf("trailers on a headers-only stream were not refused: %v at %d", ir, at)
	}
}
