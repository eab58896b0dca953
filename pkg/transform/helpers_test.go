package transform

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/test/testutil/grpctest"
)

// start serves reg on a real loopback gRPC server and returns a client.
func start(t testing.TB, reg interface{ Register(*grpc.Server) }) extprocv3.ExternalProcessorClient {
	t.Helper()
	conn := grpctest.Serve(t, reg)
	return extprocv3.NewExternalProcessorClient(conn)
}

// msg is one HTTP message of an exchange.
type msg struct {
	headers  [][2]string
	body     []byte
	trailers bool // the body is followed by trailers (sent, as with trailer mode SEND)
}

// result is what Envoy would forward after applying the answers.
type result struct {
	reqHeaders, respHeaders map[string]string // after mutations
	reqBody, respBody       []byte            // the concatenated mutated chunks
	immediate               *extprocv3.ImmediateResponse
}

// play runs one exchange as Envoy's ext_proc filter does: request headers,
// the body in chunks of chunk bytes (chunk <= 0: one buffered message, as
// in BUFFERED mode), trailers if any, then the response alike, waiting for
// each answer and applying its mutations as Envoy would.
func play(ctx context.Context, c extprocv3.ExternalProcessorClient, name string, md map[string]*structpb.Struct, req, resp msg, chunk int) (*result, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, MetadataKey, name)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Process(ctx)
	if err != nil {
		return nil, err
	}
	res := &result{}
	round := func(r *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, error) {
		r.MetadataContext = &corev3.Metadata{FilterMetadata: md}
		if err := stream.Send(r); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		a, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		res.immediate = a.GetImmediateResponse()
		return a, nil
	}
	for side, m := range []msg{req, resp} {
		response := side == 1
		hs := map[string]string{}
		for _, h := range m.headers {
			hs[h[0]] = h[1]
		}
		hm := &extprocv3.HttpHeaders{Headers: headerMap(m.headers), EndOfStream: len(m.body) == 0 && !m.trailers}
		r := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: hm}}
		if response {
			r.Request = &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: hm}
		}
		a, err := round(r)
		if err != nil || res.immediate != nil {
			return res, err
		}
		common := a.GetRequestHeaders().GetResponse()
		if response {
			common = a.GetResponseHeaders().GetResponse()
		}
		mutate(hs, common.GetHeaderMutation())
		var body []byte
		if common.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
			body = common.GetBodyMutation().GetBody()
		}
		n := chunk
		if n <= 0 {
			n = max(len(m.body), 1)
		}
		for off := 0; off < len(m.body); off += n {
			end := min(off+n, len(m.body))
			hb := &extprocv3.HttpBody{Body: m.body[off:end], EndOfStream: end == len(m.body) && !m.trailers}
			r := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: hb}}
			if response {
				r.Request = &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: hb}
			}
			a, err := round(r)
			if err != nil || res.immediate != nil {
				return res, err
			}
			bc := a.GetRequestBody().GetResponse()
			if response {
				bc = a.GetResponseBody().GetResponse()
			}
			switch bm := bc.GetBodyMutation().GetMutation().(type) {
			case *extprocv3.BodyMutation_Body:
				body = append(body, bm.Body...)
			case *extprocv3.BodyMutation_ClearBody:
			default:
				body = append(body, m.body[off:end]...)
			}
		}
		if m.trailers {
			tr := &extprocv3.HttpTrailers{Trailers: headerMap([][2]string{{"grpc-status", "0"}})}
			r := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{RequestTrailers: tr}}
			if response {
				r.Request = &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: tr}
			}
			if _, err := round(r); err != nil || res.immediate != nil {
				return res, err
			}
		}
		if response {
			res.respHeaders, res.respBody = hs, body
		} else {
			res.reqHeaders, res.reqBody = hs, body
		}
	}
	_ = stream.CloseSend()
	return res, nil
}

func mutate(hs map[string]string, m *extprocv3.HeaderMutation) {
	for _, k := range m.GetRemoveHeaders() {
		delete(hs, k)
	}
	for _, o := range m.GetSetHeaders() {
		hs[o.GetHeader().GetKey()] = string(o.GetHeader().GetRawValue())
	}
}

func headerMap(hs [][2]string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, h := range hs {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
	}
	return m
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
