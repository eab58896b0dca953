package openapi

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Service is the processor registered with the pkg/extproc dispatcher
// under wire.ProcessorOpenAPI. Policies are swapped atomically by Update;
// a stream keeps the compiled document it started with.
type Service struct {
	docs atomic.Pointer[map[string]*compiled]
}

// New compiles the policies; the error names the failing policy.
func New(policies map[string]Policy) (*Service, error) {
	s := &Service{}
	if err := s.Update(policies); err != nil {
		return nil, err
	}
	return s, nil
}

// Update compiles a new set of policies (once per policy version, not per
// request) and swaps it in; on error the previous set stays
// (make-before-break). A policy unchanged since the running set keeps its
// compiled document: the controller updates twice per change (make, then
// break), and most changes do not touch the documents.
func (s *Service) Update(policies map[string]Policy) error {
	var prev map[string]*compiled
	if p := s.docs.Load(); p != nil {
		prev = *p
	}
	docs := make(map[string]*compiled, len(policies))
	for name, p := range policies {
		if c := prev[name]; c != nil && c.orig.same(p) {
			docs[name] = c
			continue
		}
		c, err := compile(p)
		if err != nil {
			return fmt.Errorf("openapi validation %s: %w", name, err)
		}
		c.name = name
		docs[name] = c
	}
	s.docs.Store(&docs)
	return nil
}

// Process handles one HTTP exchange.
func (s *Service) Process(stream extprocv3.ExternalProcessor_ProcessServer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			// A bug (in kin-openapi or here) costs one request, refused,
			// not the process.
			_ = stream.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode_InternalServerError}, Body: []byte("request refused: request validation internal error\n"), Details: "openapi_internal_error",
			}}})
			err = status.Errorf(codes.Internal, "openapi: internal error: %v", p)
		}
	}()
	name, headersOnly := "", false
	if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
		if v := md.Get(wire.OpenAPIPolicyMetadataKey); len(v) == 1 {
			name = v[0]
		}
		v := md.Get(wire.HeadersOnlyMetadataKey)
		headersOnly = len(v) == 1 && v[0] == "true"
	}
	docs := s.docs.Load()
	var c *compiled
	if docs != nil {
		c = (*docs)[name]
	}
	if c == nil {
		// Fail closed: a stream naming no known validation is a
		// configuration error; passing it would turn validation off.
		return status.Errorf(codes.FailedPrecondition, "no openapi validation %q", name)
	}
	ex := &exchange{c: c, ctx: stream.Context(), headersOnly: headersOnly}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, done := ex.handle(req)
		if err := stream.Send(resp); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}
