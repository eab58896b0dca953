package controller

import (
	"context"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

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
			Headers: &corev3.HeaderMap{Headers: hs}}}}); err != nil {
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
