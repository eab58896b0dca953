package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

type registrar func(*grpc.Server)

func (r registrar) Register(g *grpc.Server) { r(g) }

// TestServeRunsTransformations: the services `gatehouse serve` starts
// with the authz component put the transformation service behind the
// ext_proc dispatcher, and the controller's update reaches it: a stream
// naming the processor transform and a Transformation of
// examples/transformations is transformed, one naming none is refused.
func TestServeRunsTransformations(t *testing.T) {
	svcs, err := newServices(&serviceOptions{components: []string{componentAuthz}}, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	snap := policy.Load(os.DirFS("../../examples/transformations"), nil)
	rules, err := controller.Rules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := svcs.update(t.Context(), rules); err != nil {
		t.Fatal(err)
	}
	client := extprocv3.NewExternalProcessorClient(grpctest.Serve(t, registrar(svcs.register)))
	call := func(name string) (*extprocv3.ProcessingResponse, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s, err := client.Process(metadata.AppendToOutgoingContext(ctx, wire.ProcessorMetadataKey, wire.ProcessorTransform, wire.TransformMetadataKey, name))
		if err != nil {
			return nil, err
		}
		defer s.CloseSend()
		if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":method", RawValue: []byte("POST")}, {Key: ":path", RawValue: []byte("/signup")},
				{Key: "content-type", RawValue: []byte("application/json")}}}}}}); err != nil && err != io.EOF {
			// io.EOF: the server already ended the stream (an unknown
			// Transformation); its status is what Recv returns.
			return nil, err
		}
		if _, err := s.Recv(); err != nil {
			return nil, err
		}
		if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{
			Body: []byte(`{"email":"ann@example.com"}`), EndOfStream: true}}}); err != nil {
			return nil, err
		}
		return s.Recv()
	}
	resp, err := call("signup-form")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.GetRequestBody().GetResponse().GetBodyMutation().GetBody()); got != "email=ann%40example.com&source=gateway" {
		t.Errorf("signup body %q, want the form", got)
	}
	if _, err := call("nope"); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("unknown Transformation: %v, want FAILED_PRECONDITION", err)
	}
}
