package transform

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// processor is the interface of pkg/extproc's dispatcher.
type processor interface {
	Process(extprocv3.ExternalProcessor_ProcessServer) error
}

var _ processor = (*Service)(nil)

// dispatcher stands in for pkg/extproc: one ExternalProcessor
// registration, streams routed by x-gatehouse-processor.
type dispatcher struct {
	extprocv3.UnimplementedExternalProcessorServer
	by map[string]processor
}

func (d dispatcher) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, d) }

func (d dispatcher) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	md, _ := metadata.FromIncomingContext(s.Context())
	if v := md.Get("x-gatehouse-processor"); len(v) == 1 && d.by[v[0]] != nil {
		return d.by[v[0]].Process(s)
	}
	return status.Error(codes.FailedPrecondition, "no processor")
}

// TestCalledFromDispatcher: Process works unchanged behind a dispatcher
// sharing the ExternalProcessor service name with the WAF.
func TestCalledFromDispatcher(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{{Remove: "pw"}}}}}})
	c := start(t, dispatcher{by: map[string]processor{ProcessorName: s, "waf": trivial{}}})
	cx := metadata.AppendToOutgoingContext(ctx(t), "x-gatehouse-processor", ProcessorName)
	res, err := play(cx, c, "t", nil, msg{headers: post("application/json"), body: []byte(`{"pw":"x","a":1}`)}, okJSON, 0)
	if err != nil || res.immediate != nil || string(res.reqBody) != `{"a":1}` {
		t.Fatalf("err %v immediate %v body %s", err, res.immediate, res.reqBody)
	}
}

// TestPanicRefusesTheRequest: a bug while transforming refuses the one
// request (500) and the service serves the next stream.
func TestPanicRefusesTheRequest(t *testing.T) {
	s := svc(t, map[string]Transformation{"ok": {}})
	// An op that skipped validation (no value): applyOne dereferences nil.
	m := map[string]*Transformation{"ok": {}, "buggy": {Request: &Side{Body: &Body{Ops: []Op{{Set: "a"}}}}}}
	s.set.Store(&m)
	c := start(t, s)
	res, err := play(ctx(t), c, "buggy", nil, msg{headers: post("application/json"), body: []byte(`{}`)}, okJSON, 0)
	if err != nil || res.immediate == nil || res.immediate.Status.Code != 500 {
		t.Fatalf("panic: err %v res %+v, want an immediate 500", err, res)
	}
	if len(res.reqBody) != 0 {
		t.Errorf("body forwarded despite the panic: %s", res.reqBody)
	}
	if res, err := play(ctx(t), c, "ok", nil, msg{headers: post("application/json"), body: []byte(`{}`)}, okJSON, 0); err != nil || res.immediate != nil {
		t.Fatalf("next stream after a panic: %v %v", err, res.immediate)
	}
}
