package transform

import (
	"fmt"
	"sync/atomic"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// MetadataKey is the gRPC initial metadata naming a stream's
// Transformation; Envoy sets it from the route's ExtProcPerRoute
// grpc_service, so a client cannot choose it (it is not a request header).
const MetadataKey = wire.TransformMetadataKey

// ProcessorName is this service's value of the dispatcher's
// x-gatehouse-processor metadata (pkg/extproc).
const ProcessorName = wire.ProcessorTransform

// Service is the ext_proc server. Update swaps the set atomically; a
// stream keeps the Transformation it started with.
type Service struct {
	extprocv3.UnimplementedExternalProcessorServer
	set atomic.Pointer[map[string]*Transformation]
}

// New validates the transformations; the error names the failing one.
func New(ts map[string]Transformation) (*Service, error) {
	s := &Service{}
	if err := s.Update(ts); err != nil {
		return nil, err
	}
	return s, nil
}

// Update validates a new set and swaps it in; on error the old set stays.
func (s *Service) Update(ts map[string]Transformation) error {
	m := make(map[string]*Transformation, len(ts))
	for name, t := range ts {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("transformation %s: %w", name, err)
		}
		t := t
		m[name] = &t
	}
	s.set.Store(&m)
	return nil
}

// Register adds the service to a gRPC server on its own (without the
// pkg/extproc dispatcher).
func (s *Service) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// Process handles one HTTP exchange; a dispatcher may call it directly.
func (s *Service) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	// A bug costs one request (fail closed), not the process (extproc.Serve).
	return extproc.Serve(stream, "transform", internalErrorRefusal, func(md metadata.MD) (extproc.Handler, func(), error) {
		name := extproc.One(md, MetadataKey)
		t := (*s.set.Load())[name]
		if t == nil {
			// Fail closed: forwarding untransformed would hand the upstream
			// (or the client) a shape it was promised it would not see.
			return nil, nil, status.Errorf(codes.FailedPrecondition, "no transformation %q", name)
		}
		ex := &exchange{t: t}
		return ex.handle, nil, nil
	})
}

func internalErrorRefusal() *extprocv3.ProcessingResponse {
	return immediate(typev3.StatusCode_InternalServerError, "transformation failed", "transform_internal_error")
}
