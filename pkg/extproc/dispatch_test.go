package extproc

import (
	"context"
	"io"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// tagger is a processor that answers every message with a header mutation
// naming itself, so a test sees which processor got the stream.
type tagger string

func (tg tagger) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		if _, err := s.Recv(); err != nil {
			return nil
		}
		resp := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{
			Response: &extprocv3.CommonResponse{HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{
				{Header: &corev3.HeaderValue{Key: "x-processor", RawValue: []byte(tg)}},
			}}},
		}}}
		if err := s.Send(resp); err != nil {
			return err
		}
	}
}

func serve(t *testing.T, d *Dispatcher) extprocv3.ExternalProcessorClient {
	t.Helper()
	conn := grpctest.Serve(t, d)
	return extprocv3.NewExternalProcessorClient(conn)
}

// call opens a stream with the given metadata pairs, sends request
// headers and returns the processor's tag or the stream's error.
func call(t *testing.T, c extprocv3.ExternalProcessorClient, kv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, kv...)
	s, err := c.Process(ctx)
	if err != nil {
		return "", err
	}
	if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{}}}); err != nil && err != io.EOF {
		// io.EOF: the stream was refused; Recv returns its status.
		return "", err
	}
	resp, err := s.Recv()
	if err != nil {
		return "", err
	}
	_ = s.CloseSend()
	return string(resp.GetRequestHeaders().GetResponse().GetHeaderMutation().GetSetHeaders()[0].GetHeader().GetRawValue()), nil
}

// TestDispatchByMetadata: each stream reaches the processor its initial
// metadata names, over real gRPC.
func TestDispatchByMetadata(t *testing.T) {
	d := New()
	d.Handle("waf", tagger("waf"))
	d.Handle("transform", tagger("transform"))
	c := serve(t, d)
	for _, name := range []string{"waf", "transform", "waf"} {
		got, err := call(t, c, wire.ProcessorMetadataKey, name)
		if err != nil || got != name {
			t.Errorf("stream for %q reached %q (err %v)", name, got, err)
		}
	}
}

// TestDispatchFailsClosed: a stream naming no processor, an unknown one,
// or two (a confused or forged configuration) is refused with
// FAILED_PRECONDITION, which Envoy turns into a refused request.
func TestDispatchFailsClosed(t *testing.T) {
	d := New()
	d.Handle("waf", tagger("waf"))
	c := serve(t, d)
	for name, kv := range map[string][]string{
		"none":         nil,
		"unknown":      {wire.ProcessorMetadataKey, "nope"},
		"empty":        {wire.ProcessorMetadataKey, ""},
		"two":          {wire.ProcessorMetadataKey, "nope", wire.ProcessorMetadataKey, "waf"},
		"case variant": {"X-Gatehouse-Processor-Other", "waf"},
	} {
		got, err := call(t, c, kv...)
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s: got %q, err %v; want FAILED_PRECONDITION", name, got, err)
		}
	}
}

func TestHandleTwicePanics(t *testing.T) {
	d := New()
	d.Handle("waf", tagger("a"))
	defer func() {
		if recover() == nil {
			t.Error("second Handle(\"waf\") did not panic")
		}
	}()
	d.Handle("waf", tagger("b"))
}
