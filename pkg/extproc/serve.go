package extproc

import (
	"errors"
	"io"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Handler answers one message of an exchange; done is true when the answer
// ends the exchange (an immediate response).
type Handler func(*extprocv3.ProcessingRequest) (resp *extprocv3.ProcessingResponse, done bool)

// Serve is the ext_proc stream loop every processor shares. start reads
// the stream's gRPC initial metadata and returns the exchange's Handler and
// what to run when the stream ends (nil: nothing), or an error that ends
// the stream before any message is read. Serve then answers each message
// in turn until Envoy half-closes the stream, a send fails, or an answer
// ends the exchange.
//
// A panic in start, the Handler or the cleanup costs one request, not the
// process: refusal (the processor's own immediate response) is sent, and
// the stream ends with INTERNAL "<name>: internal error: ...", which Envoy
// counts and, with failure_mode_allow false, answers with a refusal too
// (fail closed).
func Serve(stream extprocv3.ExternalProcessor_ProcessServer, name string, refusal func() *extprocv3.ProcessingResponse,
	start func(metadata.MD) (Handler, func(), error)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			_ = stream.Send(refusal())
			err = status.Errorf(codes.Internal, "%s: internal error: %v", name, p)
		}
	}()
	md, _ := metadata.FromIncomingContext(stream.Context())
	handle, cleanup, err := start(md)
	if err != nil {
		return err
	}
	if cleanup != nil {
		defer cleanup()
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, done := handle(req)
		if err := stream.Send(resp); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// One is the single value of key in md, or "" when it has none or
// several (a stream naming two policies names none).
func One(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) == 1 {
		return v[0]
	}
	return ""
}
