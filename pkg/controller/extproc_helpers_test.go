package controller

import (
	"context"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/metadata"
)

// headersVerdict sends one request's headers (end of stream) over a new
// ext_proc stream carrying the gRPC metadata md, as Envoy's filter does,
// and returns the immediate response's status (0: forwarded) or the
// stream's error.
func headersVerdict(client extprocv3.ExternalProcessorClient, md []string, hs []*corev3.HeaderValue) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Process(metadata.AppendToOutgoingContext(ctx, md...))
	if err != nil {
		return 0, err
	}
	// A Send error (io.EOF when the processor has already ended the
	// stream) is not the verdict: the stream's status comes from Recv.
	_ = s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: hs}, EndOfStream: true}}})
	resp, err := s.Recv()
	if err != nil {
		return 0, err
	}
	_ = s.CloseSend()
	return int(resp.GetImmediateResponse().GetStatus().GetCode()), nil
}
