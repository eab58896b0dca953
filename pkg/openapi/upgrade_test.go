package openapi

import (
	"context"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

func upgradeHeaders(method, path string) *extprocv3.ProcessingRequest {
	hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte(method)}, {Key: ":path", RawValue: []byte(path)},
		{Key: "connection", RawValue: []byte("upgrade")}, {Key: "upgrade", RawValue: []byte("websocket")}, {Key: "content-type", RawValue: []byte(jsonCT)}}
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: hs}}}}
}

// TestUpgradeRequestJudgedAtHeaders: on an upgrade route (headers only,
// end_of_stream false) the request is judged whole at its headers: an
// operation that requires a body is refused there (without the flag the
// validator would wait for a body that never comes and never judge it),
// a valid handshake passes, and a body message, which Envoy does not send
// on such a stream, is refused rather than let through unjudged.
func TestUpgradeRequestJudgedAtHeaders(t *testing.T) {
	c := mustCompile(t, "petstore")
	ex := &exchange{c: c, ctx: context.Background(), headersOnly: true}
	if out, done := ex.handle(upgradeHeaders("POST", "/api/v3/pet")); !done || out.GetImmediateResponse().GetStatus().GetCode() != 400 {
		t.Errorf("upgrade request missing its required body: %v, want 400 at the headers", out)
	}
	ex = &exchange{c: c, ctx: context.Background()}
	if out, done := ex.handle(upgradeHeaders("POST", "/api/v3/pet")); done || out.GetImmediateResponse() != nil {
		t.Errorf("without the flag the headers alone were judged (the test no longer shows what the flag fixes): %v", out)
	}
	ex = &exchange{c: c, ctx: context.Background(), headersOnly: true}
	if out, done := ex.handle(upgradeHeaders("GET", "/api/v3/pet/findByStatus?status=available")); done || out.GetImmediateResponse() != nil {
		t.Fatalf("valid upgrade request refused: %v", out)
	}
	body := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"name":{"$ne":1}}`), EndOfStream: true}}}
	if out, done := ex.handle(body); !done || out.GetImmediateResponse() == nil {
		t.Errorf("a body on a headers-only stream: %v, want refused", out)
	}
}
