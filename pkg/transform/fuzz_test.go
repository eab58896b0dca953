package transform

import (
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

var fuzzT = Transformation{
	Request: &Side{Body: &Body{From: "xml", To: "json", Ops: []Op{{Rename: "a", To: "b"}, {Move: "c.d", To: "e"}, {Wrap: ".", In: "w"}, {Unwrap: "w"}}}},
	Response: &Side{Status: map[int]int{500: 502}, Body: &Body{From: "json", To: "xml", MaxBytes: 4096,
		Ops: []Op{{Set: "x.y", Value: &Value{Header: "h"}}, {Remove: "z"}}}},
}

// FuzzExchange: any bodies, chunking and message order a peer on the gRPC
// port sends get an answer, never a panic; a refusal is 400, 413 or 502.
func FuzzExchange(f *testing.F) {
	f.Add([]byte(`<a><c><d>1</d></c></a>`), []byte(`{"z":1,"x":{}}`), uint8(3), uint8(0))
	f.Add([]byte(`<!DOCTYPE a><a/>`), []byte(`[1,2`), uint8(1), uint8(5))
	f.Add([]byte{}, []byte(`{"a b":1}`), uint8(7), uint8(2))
	f.Fuzz(func(t *testing.T, reqBody, respBody []byte, chunk, order uint8) {
		n := int(chunk%16) + 1
		msgs := []*extprocv3.ProcessingRequest{{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
			Headers: headerMap([][2]string{{":path", "/?a=1"}, {"h", string(respBody)}}), EndOfStream: len(reqBody) == 0}}}}
		for off := 0; off < len(reqBody); off += n {
			end := min(off+n, len(reqBody))
			msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: reqBody[off:end], EndOfStream: end == len(reqBody)}}})
		}
		msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
			Headers: headerMap([][2]string{{":status", "500"}, {"h", string(reqBody)}})}}})
		for off := 0; off < len(respBody); off += n {
			end := min(off+n, len(respBody))
			msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: respBody[off:end], EndOfStream: end == len(respBody)}}})
		}
		msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseTrailers{ResponseTrailers: &extprocv3.HttpTrailers{}}})
		if k := int(order) % len(msgs); order%2 == 1 {
			msgs = append(msgs[k:], msgs[:k]...)
		}
		e := &exchange{t: &fuzzT}
		for _, m := range msgs {
			out, done := e.handle(m)
			if out == nil {
				t.Fatal("no answer")
			}
			if done {
				if c := out.GetImmediateResponse().GetStatus().GetCode(); c != 400 && c != 413 && c != 502 {
					t.Fatalf("refused with %v", c)
				}
				return
			}
		}
	})
}
