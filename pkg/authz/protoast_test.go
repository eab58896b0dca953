package authz

import (
	"bytes"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/encoding/protojson"
)

// The direct conversion must give exactly what opa-envoy-plugin's
// protojson -> JSON route gives, for every kind of field Envoy sends.
func TestProtoToASTMatchesProtojson(t *testing.T) {
	r := req{
		method: "POST", path: "/people/7?lang=en&lang=fr", body: `{"a": 1}`,
		headers: map[string]string{"content-type": "application/json", "x-empty": ""},
		ext:     ext("r", "corp-jwt", "p"),
		jwt: map[string]any{"corp-jwt": map[string]any{
			"sub": "alice", "exp": 2e9, "iat": 1.5, "roles": []any{"a", "b"}, "nested": map[string]any{"ok": true, "none": nil},
		}},
	}.build(t)
	h := r.Attributes.Request.Http
	h.Size = 1234567890123
	h.RawBody = []byte{0, 1, 2, 0xff}
	h.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "x-raw", RawValue: []byte("v\xff")}, {Key: "x-str", Value: "s"}}}
	r.Attributes.Request.Time.Nanos = 500001000
	r.Attributes.Source.Principal = "spiffe://x"
	r.Attributes.Source.Labels = map[string]string{"app": "web"}

	got := protoToAST(r.Attributes.ProtoReflect()).Value
	b, err := protojson.Marshal(r.Attributes)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Compare(want) != 0 {
		t.Errorf("direct conversion differs from protojson:\n got %v\nwant %v", got, want)
	}
}
