package controller

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/memory"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
	"github.com/gatehouse-dev/gatehouse/pkg/waf"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

const userInfoV1 = `kind: Transformation
name: user-info
spec:
  response:
    status: {404: 200}
    body:
      ops:
        - {rename: mail, to: email}
        - {remove: password_hash}
`

// TestTransformationReachesTheService: a Transformation committed to a
// policy store becomes the transformation service's (Rules, as the
// controller hands them over) and reshapes, over real gRPC through the
// dispatcher that also serves the WAF, a response built as Envoy sends
// it (response headers, then the BUFFERED body). A Transformation the next
// commit renames keeps answering during make-before-break (withNames)
// and is refused after it (fail closed).
func TestTransformationReachesTheService(t *testing.T) {
	ctx := t.Context()
	st := memory.New(map[string][]byte{})
	commit := func(files map[string]string) ServiceRules {
		t.Helper()
		var ch []store.Change
		for p, c := range files {
			var data []byte
			if c != "" {
				data = []byte(c)
			}
			ch = append(ch, store.Change{Path: p, Content: data})
		}
		if _, err := st.Commit(ctx, "", ch, store.Meta{Author: "test", Message: "transformation"}); err != nil {
			t.Fatal(err)
		}
		tree, err := st.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		snap := policy.Load(tree.FS(), nil)
		if errs := snap.Errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
		r, err := Rules(snap, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := commit(map[string]string{"x.yaml": userInfoV1})
	next := commit(map[string]string{"x.yaml": "", "y.yaml": `kind: Transformation
name: user-info-v2
spec:
  response:
    body: {to: xml, xmlRoot: user}
`})

	svc, err := transform.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := waf.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := extproc.New()
	d.Handle(wire.ProcessorWAF, w)
	d.Handle(wire.ProcessorTransform, svc)
	client := extprocv3.NewExternalProcessorClient(grpctest.Serve(t, d))

	// call plays Envoy's response path for a Route with a response body
	// Transformation: response headers (the service answers them before
	// the body, which Envoy holds), then the whole body in one message.
	call := func(name string) (code string, body string, err error) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cctx = metadata.AppendToOutgoingContext(cctx, wire.ProcessorMetadataKey, wire.ProcessorTransform, wire.TransformMetadataKey, name)
		s, err := client.Process(cctx)
		if err != nil {
			return "", "", err
		}
		defer s.CloseSend()
		hs := []*corev3.HeaderValue{{Key: ":status", RawValue: []byte("404")}, {Key: "content-type", RawValue: []byte("application/json")}, {Key: "content-length", RawValue: []byte("52")}}
		if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
			Headers: &corev3.HeaderMap{Headers: hs}}}}); err != nil && err != io.EOF {
			// io.EOF: the server already ended the stream (a refused
			// Transformation); its status is what Recv returns.
			return "", "", err
		}
		resp, err := s.Recv()
		if err != nil {
			return "", "", err
		}
		for _, h := range resp.GetResponseHeaders().GetResponse().GetHeaderMutation().GetSetHeaders() {
			if h.GetHeader().GetKey() == ":status" {
				code = string(h.GetHeader().GetRawValue())
			}
		}
		if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
			Body: []byte(`{"id":7,"mail":"ann@example.com","password_hash":"x"}`), EndOfStream: true}}}); err != nil {
			return "", "", err
		}
		if resp, err = s.Recv(); err != nil {
			return "", "", err
		}
		return code, string(resp.GetResponseBody().GetResponse().GetBodyMutation().GetBody()), nil
	}

	if err := svc.Update(first.Transform); err != nil {
		t.Fatal(err)
	}
	if code, body, err := call("user-info"); err != nil || code != "200" || body != `{"email":"ann@example.com","id":7}` {
		t.Fatalf("user-info: status %q body %s err %v", code, body, err)
	}
	// make: both names answer while the proxies move to the next version.
	if err := svc.Update(withNames(first, next).Transform); err != nil {
		t.Fatal(err)
	}
	if _, body, err := call("user-info"); err != nil || body != `{"email":"ann@example.com","id":7}` {
		t.Errorf("during the transition, user-info: %s %v", body, err)
	}
	if _, body, err := call("user-info-v2"); err != nil || body == "" || body[0] != '<' {
		t.Errorf("during the transition, user-info-v2: %s %v", body, err)
	}
	// break: the dropped Transformation is refused, never passed through.
	if err := svc.Update(next.Transform); err != nil {
		t.Fatal(err)
	}
	if _, _, err := call("user-info"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("dropped Transformation: err %v, want FAILED_PRECONDITION", err)
	}
}

// TestExampleUserInfo: examples/transformations' user-info, as the
// controller hands it to the service, does what docs/transformations.md's
// worked example says, over real gRPC with the messages Envoy sends for
// that Route's processing mode (request headers; response headers, then
// the buffered body) and the verified JWT payload as Envoy forwards it.
func TestExampleUserInfo(t *testing.T) {
	snap := policy.Load(os.DirFS("../../examples/transformations"), nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	rules, err := Rules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := transform.New(rules.Transform)
	if err != nil {
		t.Fatal(err)
	}
	d := extproc.New()
	d.Handle(wire.ProcessorTransform, svc)
	client := extprocv3.NewExternalProcessorClient(grpctest.Serve(t, d))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := client.Process(metadata.AppendToOutgoingContext(ctx, wire.ProcessorMetadataKey, wire.ProcessorTransform, wire.TransformMetadataKey, "user-info"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := structpb.NewStruct(map[string]any{"users-jwt": map[string]any{"sub": "u-42", "iss": "https://idp.example.com/"}})
	if err != nil {
		t.Fatal(err)
	}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wire.JWTMetadataNamespace: payload}}
	hv := func(kv ...string) *corev3.HeaderMap {
		m := &corev3.HeaderMap{}
		for i := 0; i+1 < len(kv); i += 2 {
			m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
		}
		return m
	}
	exchange := func(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
		t.Helper()
		req.MetadataContext = md
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	set := func(m *extprocv3.HeaderMutation) map[string]string {
		out := map[string]string{}
		for _, h := range m.GetSetHeaders() {
			out[h.GetHeader().GetKey()] = string(h.GetHeader().GetRawValue())
		}
		return out
	}
	// A client's own x-user-id is overwritten by the verified subject, and
	// a request header naming another Transformation (or processor)
	// changes nothing: only the gRPC metadata Envoy sets counts.
	r := exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
		Headers: hv(":method", "GET", ":path", "/user/info", ":authority", "api.example", "x-user-id", "admin",
			wire.TransformMetadataKey, "signup-form", wire.ProcessorMetadataKey, "waf"), EndOfStream: true}}})
	if got := set(r.GetRequestHeaders().GetResponse().GetHeaderMutation())["x-user-id"]; got != "u-42" {
		t.Errorf("request x-user-id %q, want the claim u-42", got)
	}
	r = exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
		Headers: hv(":status", "404", "content-type", "application/json", "content-length", "60", "x-powered-by", "users/1.0")}}})
	hm := r.GetResponseHeaders().GetResponse().GetHeaderMutation()
	if got := set(hm)[":status"]; got != "200" {
		t.Errorf("status %q, want 404 mapped to 200", got)
	}
	if rm := strings.Join(hm.GetRemoveHeaders(), ","); !strings.Contains(rm, "x-powered-by") || !strings.Contains(rm, "content-length") {
		t.Errorf("removed headers %q, want x-powered-by and content-length", rm)
	}
	r = exchange(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{
		Body: []byte(`{"id":7,"mail":"ann@example.com","password_hash":"$2b$10$x"}`), EndOfStream: true}}})
	want := `{"user":{"email":"ann@example.com","id":7,"subject":"u-42"}}`
	if got := string(r.GetResponseBody().GetResponse().GetBodyMutation().GetBody()); got != want {
		t.Errorf("response body %s, want %s", got, want)
	}
}
