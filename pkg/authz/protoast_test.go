package authz

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// pluginProtomap is opa-envoy-plugin's conversion of a CheckRequest
// (envoyauth/protomap.go, v1.19.1): a walk of the message by JSON field
// names, Struct by AsMap, leaves as the Go values protoreflect gives. The
// plugin then hands the map to ast.InterfaceToValue (internal/internal.go),
// as pluginInput does.
func pluginProtomap(msg protoreflect.Message) map[string]any {
	if m, ok := msg.Interface().(interface{ AsMap() map[string]any }); ok {
		return m.AsMap()
	}
	resolve := func(k protoreflect.Kind, v protoreflect.Value) any {
		if k == protoreflect.MessageKind {
			return pluginProtomap(v.Message())
		}
		return v.Interface()
	}
	out := map[string]any{}
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			m := map[string]any{}
			v.Map().Range(func(k protoreflect.MapKey, e protoreflect.Value) bool {
				m[k.String()] = resolve(fd.MapValue().Kind(), e)
				return true
			})
			out[fd.JSONName()] = m
		case fd.IsList():
			l := make([]any, v.List().Len())
			for i := range l {
				l[i] = resolve(fd.Kind(), v.List().Get(i))
			}
			out[fd.JSONName()] = l
		default:
			out[fd.JSONName()] = resolve(fd.Kind(), v)
		}
		return true
	})
	return out
}

func pluginInput(t *testing.T, msg protoreflect.Message) ast.Value {
	t.Helper()
	v, err := ast.InterfaceToValue(pluginProtomap(msg))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The direct conversion must give exactly what opa-envoy-plugin gives, for
// every kind of field Envoy sends: request.time as {seconds, nanos},
// http.size and enums as numbers, bytes as base64, Struct payloads as maps.
func TestProtoToASTMatchesPlugin(t *testing.T) {
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
	r.Attributes.Source.Address.GetSocketAddress().Protocol = corev3.SocketAddress_UDP
	typed, err := anypb.New(structpb.NewStringValue("x"))
	if err != nil {
		t.Fatal(err)
	}
	r.Attributes.MetadataContext.TypedFilterMetadata = map[string]*anypb.Any{"t": typed}

	got := protoToAST(r.Attributes.ProtoReflect()).Value
	if want := pluginInput(t, r.Attributes.ProtoReflect()); got.Compare(want) != 0 {
		t.Errorf("direct conversion differs from the plugin's:\n got %v\nwant %v", got, want)
	}
	// The shapes the issue names, spelled out.
	for path, want := range map[string]string{
		`request.time`:                          `{"nanos": 500001000, "seconds": 1795608000}`,
		`request.http.size`:                     `1234567890123`,
		`source.address.socketAddress.protocol`: `1`,
		`metadataContext.filterMetadata["envoy.filters.http.jwt_authn"]["corp-jwt"].exp`: `2e+09`,
	} {
		ref, err := ast.ParseRef("x." + path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := got.Find(ref[1:])
		if err != nil || v.String() != want {
			t.Errorf("%s: got %v (%v), want %s", path, v, err, want)
		}
	}
}
