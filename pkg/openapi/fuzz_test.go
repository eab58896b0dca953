package openapi

import (
	"context"
	"encoding/json"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// FuzzExchange feeds arbitrary request lines, header values and bodies to
// an exchange as Envoy would send them: no input may panic, and a refusal
// is always a small, well-formed problem document.
func FuzzExchange(f *testing.F) {
	for _, tc := range corpus {
		hv := ""
		for _, h := range tc.r.headers {
			if h[0] == "x-client-version" {
				hv = h[1]
			}
		}
		f.Add(tc.policy == "kinds", tc.r.method, tc.r.path, hv, string(tc.r.body))
	}
	docs := map[bool]*compiled{}
	for _, k := range []bool{true, false} {
		name := map[bool]string{true: "kinds", false: "petstore"}[k]
		c, err := compile(testPolicies(f)[name])
		if err != nil {
			f.Fatal(err)
		}
		c.name = name
		docs[k] = c
	}
	f.Fuzz(func(t *testing.T, kinds bool, method, path, header, body string) {
		ex := &exchange{c: docs[kinds], ctx: context.Background()}
		hs := []*corev3.HeaderValue{{Key: ":method", RawValue: []byte(method)}, {Key: ":path", RawValue: []byte(path)},
			{Key: "content-type", RawValue: []byte(jsonCT)}, {Key: "x-client-version", RawValue: []byte(header)}, {Key: "cookie", RawValue: []byte("session=" + header)}}
		msgs := []*extprocv3.ProcessingRequest{{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{Headers: hs}}}},
			{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(body), EndOfStream: true}}}}
		for _, m := range msgs {
			out, done := ex.handle(m)
			if ir := out.GetImmediateResponse(); ir != nil {
				var p problem
				if len(ir.GetBody()) > 2048 || json.Unmarshal(ir.GetBody(), &p) != nil || p.Status < 400 {
					t.Fatalf("bad refusal %q", ir.GetBody())
				}
			}
			if done {
				return
			}
		}
	})
}
