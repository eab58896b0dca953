package openapi

import (
	"context"
	"os"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

func readDoc(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testPolicies: the Petstore and the parameter-kinds document, each in
// enforce and log-only mode.
func testPolicies(t testing.TB) map[string]Policy {
	pet, kinds := readDoc(t, "petstore.yaml"), readDoc(t, "kinds.yaml")
	return map[string]Policy{
		"petstore":     {Document: pet, Mode: Enforce, MaxBodyBytes: 64 << 10},
		"petstore-log": {Document: pet, Mode: LogOnly, Responses: LogOnly},
		"kinds":        {Document: kinds, Mode: Enforce},
	}
}

// serve puts s behind the real dispatcher on a loopback gRPC server, as
// cmd serve does.
func serve(t testing.TB, s *Service) extprocv3.ExternalProcessorClient {
	t.Helper()
	d := extproc.New()
	d.Handle(wire.ProcessorOpenAPI, s)
	return extprocv3.NewExternalProcessorClient(grpctest.Serve(t, d))
}

// req is one HTTP request as Envoy's ext_proc filter sends it: headers,
// then (when there is a body) the buffered body in one message.
type req struct {
	method, path string
	headers      [][2]string
	body         []byte
}

// result is what the processor decided: refused (an immediate response)
// or forwarded, and the dynamic metadata it set.
type result struct {
	refused  *extprocv3.ImmediateResponse
	metadata *structpb.Struct
	// response metadata (response validation), when a response was sent.
	respMetadata *structpb.Struct
}

type resp struct {
	status  string
	headers [][2]string
	body    []byte
}

func exchangeOnce(t testing.TB, c extprocv3.ExternalProcessorClient, policy string, r req, rs *resp) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, wire.ProcessorMetadataKey, wire.ProcessorOpenAPI, wire.OpenAPIPolicyMetadataKey, policy)
	s, err := c.Process(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte(r.method)}, {Key: ":path", RawValue: []byte(r.path)}, {Key: ":authority", RawValue: []byte("api.example")}, {Key: ":scheme", RawValue: []byte("https")}}
	for _, h := range r.headers {
		hs = append(hs, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
	}
	var out result
	send := func(m *extprocv3.ProcessingRequest) bool {
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
		a, err := s.Recv()
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		if ir := a.GetImmediateResponse(); ir != nil {
			out.refused = ir
			out.metadata = a.GetDynamicMetadata()
			return false
		}
		if md := a.GetDynamicMetadata(); md != nil {
			if a.GetResponseHeaders() != nil || a.GetResponseBody() != nil {
				out.respMetadata = md
			} else {
				out.metadata = md
			}
		}
		return true
	}
	ok := send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: hs}, EndOfStream: r.body == nil}}})
	if ok && r.body != nil {
		ok = send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: r.body, EndOfStream: true}}})
	}
	if ok && rs != nil {
		rh := []*corev3.HeaderValue{{Key: ":status", RawValue: []byte(rs.status)}}
		for _, h := range rs.headers {
			rh = append(rh, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
		}
		if send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: rh}, EndOfStream: rs.body == nil}}}) && rs.body != nil {
			send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: rs.body, EndOfStream: true}}})
		}
	}
	_ = s.CloseSend()
	return out
}

func field(s *structpb.Struct, key string) string {
	return s.GetFields()[wire.OpenAPIMetadataNamespace].GetStructValue().GetFields()[key].GetStringValue()
}
