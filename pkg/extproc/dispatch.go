// Package extproc serves Envoy's external processing API
// (envoy.service.ext_proc.v3.ExternalProcessor) once on gatehouse's gRPC
// port for several processors (the WAF, request transformation, ...):
// a grpc.Server can register a service only once, so each stream is
// handed to the processor named by its gRPC initial metadata
// wire.ProcessorMetadataKey, which the translator sets in the ext_proc
// filter's grpc_service.initial_metadata. Serve is the stream loop the
// processors share.
package extproc

import (
	"fmt"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Processor handles one ext_proc stream (one HTTP exchange).
type Processor interface {
	Process(extprocv3.ExternalProcessor_ProcessServer) error
}

// Dispatcher is the one ExternalProcessor registered on the server.
type Dispatcher struct {
	extprocv3.UnimplementedExternalProcessorServer
	mu    sync.RWMutex
	procs map[string]Processor
}

// New returns a Dispatcher without processors.
func New() *Dispatcher { return &Dispatcher{procs: map[string]Processor{}} }

// Handle routes streams naming name to p. Registering a name twice is a
// programming error (two processors would fight over the streams).
func (d *Dispatcher) Handle(name string, p Processor) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.procs[name]; dup {
		panic(fmt.Sprintf("extproc: processor %q registered twice", name))
	}
	d.procs[name] = p
}

// Register adds the dispatcher to gatehouse's gRPC server.
func (d *Dispatcher) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, d) }

// Process hands the stream to its processor. A stream that names none, an
// unknown one, or several is refused with FAILED_PRECONDITION before any
// message is read: with the filter's default failure_mode_allow: false,
// Envoy then refuses the request (fail closed) instead of skipping a
// protection nobody configured correctly.
func (d *Dispatcher) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	names := md.Get(wire.ProcessorMetadataKey)
	if len(names) != 1 {
		return status.Errorf(codes.FailedPrecondition, "extproc: want exactly one %s metadata value, have %d", wire.ProcessorMetadataKey, len(names))
	}
	d.mu.RLock()
	p := d.procs[names[0]]
	d.mu.RUnlock()
	if p == nil {
		return status.Errorf(codes.FailedPrecondition, "extproc: no processor %q", names[0])
	}
	return p.Process(stream)
}
