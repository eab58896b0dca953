package waf

import (
	"sync"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	coraza "github.com/corazawaf/coraza/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

var (
	fuzzWAFOnce sync.Once
	fuzzWAF     coraza.WAF
)

// FuzzExchange: any headers, bodies and message order Envoy (or a peer on
// the gRPC port) sends must give an answer, never a panic, and a blocked
// exchange must always be answered 403 or 413.
func FuzzExchange(f *testing.F) {
	f.Add("GET", "/search?q=1' or 1=1--", "application/json", []byte(`{"a":"<script>"}`), []byte("ok"), uint8(0))
	f.Add("POST", "/", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--\r\n"), []byte(""), uint8(3))
	f.Add("", "", "", []byte{0xff, 0xfe}, []byte{0}, uint8(7))
	f.Fuzz(func(t *testing.T, method, path, ctype string, body, resp []byte, order uint8) {
		fuzzWAFOnce.Do(func() {
			w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(Policy{InspectResponse: true}.directives()))
			if err != nil {
				t.Fatal(err)
			}
			fuzzWAF = w
		})
		hs := [][2]string{{":method", method}, {":path", path}, {":authority", "x"}, {"content-type", ctype}}
		msgs := []*extprocv3.ProcessingRequest{{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(hs), EndOfStream: len(body) == 0}}}}
		msgs = append(msgs, bodySteps(body, 7, false)...)
		msgs = append(msgs, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap([][2]string{{":status", "200"}, {"content-type", ctype}})}}})
		msgs = append(msgs, bodySteps(resp, 5, true)...)
		// A peer may send messages out of order: rotate by order.
		if n := len(msgs); order%2 == 1 && n > 1 {
			k := int(order) % n
			msgs = append(msgs[k:], msgs[:k]...)
		}
		e := newExchange(fuzzWAF, "fuzz")
		defer e.close()
		for _, m := range msgs {
			out, done := e.handle(m)
			if out == nil {
				t.Fatal("no answer")
			}
			if done {
				if c := out.GetImmediateResponse().GetStatus().GetCode(); c != 403 && c != 413 {
					t.Fatalf("blocked with status %v", c)
				}
				return
			}
		}
	})
}
