package extproc

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// looper is a processor built on Serve: it counts request headers and
// answers the third with an immediate 418 (ending the exchange); "boom"
// panics on the second message; "none" refuses the stream before reading.
type looper struct{ cleaned atomic.Int32 }

func (l *looper) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	refusal := func() *extprocv3.ProcessingResponse {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_InternalServerError}}}}
	}
	return Serve(s, "looper", refusal, func(md metadata.MD) (Handler, func(), error) {
		mode := One(md, "x-mode")
		if mode == "none" {
			return nil, nil, status.Error(codes.FailedPrecondition, "no such mode")
		}
		n := 0
		return func(*extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
			n++
			if mode == "boom" && n == 2 {
				panic("bug")
			}
			if n == 3 {
				return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
					Status: &typev3.HttpStatus{Code: typev3.StatusCode_Continue + 318}}}}, true
			}
			return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}, false
		}, func() { l.cleaned.Add(1) }, nil
	})
}

// TestServeLoop: Serve answers message by message, ends the stream after
// an answer that ends the exchange, turns a panic into the processor's
// refusal and INTERNAL, refuses before reading when start fails, and runs
// the cleanup once per started stream.
func TestServeLoop(t *testing.T) {
	l := &looper{}
	d := New()
	d.Handle("looper", l)
	c := serve(t, d)
	run := func(mode string) (codes []int, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := c.Process(metadata.AppendToOutgoingContext(ctx, "x-gatehouse-processor", "looper", "x-mode", mode))
		if err != nil {
			return nil, err
		}
		for i := 0; i < 5; i++ {
			if err := s.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{}}}); err != nil {
				// The server ended the stream; Recv says how.
				_, err = s.Recv()
				if errors.Is(err, io.EOF) {
					err = nil
				}
				return codes, err
			}
			resp, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return codes, nil
			}
			if err != nil {
				return codes, err
			}
			codes = append(codes, int(resp.GetImmediateResponse().GetStatus().GetCode()))
		}
		return codes, nil
	}
	got, err := run("ok")
	if err != nil || len(got) != 3 || got[0] != 0 || got[1] != 0 || got[2] != 418 {
		t.Errorf("ok: answers %v err %v, want [0 0 418] then the end", got, err)
	}
	got, err = run("boom")
	if len(got) != 2 || got[1] != 500 || status.Code(err) != codes.Internal || status.Convert(err).Message() != "looper: internal error: bug" {
		t.Errorf("boom: answers %v err %v; want [0 500] and INTERNAL", got, err)
	}
	got, err = run("none")
	if len(got) != 0 || status.Code(err) != codes.FailedPrecondition {
		t.Errorf("none: answers %v err %v; want FAILED_PRECONDITION before any answer", got, err)
	}
	// Cleanup runs as the handler returns, after the client saw the end.
	deadline := time.Now().Add(10 * time.Second)
	for l.cleaned.Load() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := l.cleaned.Load(); n != 2 {
		t.Errorf("cleanup ran %d times, want 2 (the two started streams)", n)
	}
}
