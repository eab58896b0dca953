package transform

import (
	"fmt"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func post(ct string) [][2]string {
	return [][2]string{{":method", "POST"}, {":path", "/api/users?page=2&debug=1"}, {":authority", "api.example"},
		{"content-type", ct}, {"content-length", "99"}, {"x-tenant", "acme"}, {"x-request-id", "r-1"}}
}

var okJSON = msg{headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}, body: []byte(`{"ok":true}`)}

// envoyMetadata is what Envoy forwards with metadata_options: the verified
// JWT payload (jwt_authn) and the authz service's consumer.
func envoyMetadata(t testing.TB) map[string]*structpb.Struct {
	jwt, err := structpb.NewStruct(map[string]any{"users-jwt": map[string]any{"sub": "u-42", "scope": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	az, _ := structpb.NewStruct(map[string]any{wire.ConsumerMetadataKey: "mobile-app"})
	return map[string]*structpb.Struct{wire.JWTMetadataNamespace: jwt, wire.ConsumerMetadataNamespace: az}
}

func svc(t testing.TB, ts map[string]Transformation) *Service {
	t.Helper()
	s, err := New(ts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func lit(v any) *Value { return &Value{Literal: v} }

// modes: BUFFERED (one body message) and STREAMED with small chunks.
var modes = map[string]int{"buffered": 0, "streamed-5B": 5}

// TestBodyOps: each JSON operation, each value source, in both modes; the
// body Envoy forwards is the transformed one, with no stale length.
func TestBodyOps(t *testing.T) {
	in := `{"name":"Ann","mail":"a@x","pw":"s3cret","addr":{"city":"Oslo"},"data":{"id":7}}`
	for _, tc := range []struct {
		op   Op
		want string
	}{
		{Op{Set: "role", Value: lit("user")}, `"role":"user"`},
		{Op{Set: "meta.tenant", Value: &Value{Header: "X-Tenant"}}, `"meta":{"tenant":"acme"}`},
		{Op{Set: "sub", Value: &Value{Claim: "sub"}}, `"sub":"u-42"`},
		{Op{Set: "by", Value: &Value{Consumer: true}}, `"by":"mobile-app"`},
		{Op{Set: "gone", Value: &Value{Header: "x-absent"}}, `"name":"Ann"`},
		{Op{Remove: "pw"}, `"mail":"a@x","name":"Ann"`},
		{Op{Rename: "mail", To: "email"}, `"email":"a@x"`},
		{Op{Move: "addr.city", To: "city"}, `"addr":{},"city":"Oslo"`},
		{Op{Wrap: ".", In: "user"}, `{"user":{"addr"`},
		{Op{Wrap: "addr", In: "home"}, `"addr":{"home":{"city":"Oslo"}}`},
		{Op{Unwrap: "data.id"}, `"data":7`},
		{Op{Unwrap: "addr"}, `{"city":"Oslo"}`},
	} {
		for mode, chunk := range modes {
			s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{tc.op}}}}})
			res, err := play(ctx(t), start(t, s), "t", envoyMetadata(t), msg{headers: post("application/json"), body: []byte(in)}, okJSON, chunk)
			if err != nil || res.immediate != nil {
				t.Fatalf("%+v %s: err %v immediate %v", tc.op, mode, err, res.immediate)
			}
			if !strings.Contains(string(res.reqBody), tc.want) {
				t.Errorf("%+v %s: body %s, want %s", tc.op, mode, res.reqBody, tc.want)
			}
			if _, ok := res.reqHeaders["content-length"]; ok {
				t.Errorf("%+v %s: stale content-length forwarded", tc.op, mode)
			}
			if string(res.respBody) != `{"ok":true}` {
				t.Errorf("%s: untransformed response changed: %s", mode, res.respBody)
			}
		}
	}
}

// TestRequiredValueMissing: a required claim that is absent refuses the
// request rather than forwarding it without the field.
func TestRequiredValueMissing(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{{Set: "sub", Value: &Value{Claim: "sub", Required: true}}}}}}})
	res, err := play(ctx(t), start(t, s), "t", nil, msg{headers: post("application/json"), body: []byte(`{}`)}, okJSON, 0)
	if err != nil || res.immediate == nil || res.immediate.Status.Code != 400 {
		t.Fatalf("err %v immediate %v, want 400", err, res.immediate)
	}
}

// TestClaimsAndConsumerOnlyFromMetadata: a client sending headers named
// like the claim, the consumer or the transformation changes nothing.
func TestClaimsAndConsumerOnlyFromMetadata(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{
		{Set: "sub", Value: &Value{Claim: "sub"}}, {Set: "by", Value: &Value{Consumer: true}}}}}}, "other": {}})
	hs := append(post("application/json"), [2]string{"sub", "admin"}, [2]string{wire.ConsumerHeader, "admin"}, [2]string{MetadataKey, "other"})
	res, err := play(ctx(t), start(t, s), "t", nil, msg{headers: hs, body: []byte(`{}`)}, okJSON, 0)
	if err != nil || res.immediate != nil {
		t.Fatal(err, res.immediate)
	}
	if string(res.reqBody) != `{}` {
		t.Errorf("client headers filled claims or consumer: %s", res.reqBody)
	}
}

// TestConversions: JSON<->XML and JSON<->form, in both modes, with the
// content type following.
func TestConversions(t *testing.T) {
	for _, tc := range []struct {
		name, from, to, ct, in, want, wantCT string
	}{
		{"json-xml", "json", "xml", "application/json", `{"user":{"name":"Ann & Bob","tags":["a","b"]}}`,
			`<order><user><name>Ann &amp; Bob</name><tags>a</tags><tags>b</tags></user></order>`, "application/xml"},
		{"xml-json", "xml", "json", "application/xml", `<?xml version="1.0"?><user id="7"><name>Ann</name><tag>a</tag><tag>b</tag></user>`,
			`{"@id":"7","name":"Ann","tag":["a","b"]}`, "application/json"},
		{"json-form", "json", "form", "application/json", `{"q":"a b&c","n":3,"t":["x","y"]}`, `n=3&q=a+b%26c&t=x&t=y`, "application/x-www-form-urlencoded"},
		{"form-json", "form", "json", "application/x-www-form-urlencoded", `q=a+b%26c&t=x&t=y`, `{"q":"a b\u0026c","t":["x","y"]}`, "application/json"},
	} {
		for mode, chunk := range modes {
			s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{From: tc.from, To: tc.to, XMLRoot: "order"}}}})
			res, err := play(ctx(t), start(t, s), "t", nil, msg{headers: post(tc.ct), body: []byte(tc.in)}, okJSON, chunk)
			if err != nil || res.immediate != nil {
				t.Fatalf("%s %s: err %v immediate %v", tc.name, mode, err, res.immediate)
			}
			if !strings.Contains(string(res.reqBody), tc.want) {
				t.Errorf("%s %s: body %s, want %s", tc.name, mode, res.reqBody, tc.want)
			}
			if res.reqHeaders["content-type"] != tc.wantCT {
				t.Errorf("%s %s: content-type %q", tc.name, mode, res.reqHeaders["content-type"])
			}
		}
	}
}

// TestResponseReshapeStatusAndTemplate: the response side: status mapped,
// headers changed, body from a template whose values cannot break out of
// their JSON strings (a claim carrying JSON syntax stays a string).
func TestResponseReshapeStatusAndTemplate(t *testing.T) {
	tr := Transformation{Response: &Side{
		Status:        map[int]int{201: 200, 404: 204},
		SetHeaders:    map[string]Value{"x-served-by": {Literal: "gatehouse"}},
		RemoveHeaders: []string{"server"},
		Body: &Body{Ops: []Op{{Rename: "id", To: "userId"}}, Template: &Template{ContentType: "application/json",
			Text: `{"user":${body.userId},"name":${body.name},"sub":${claim.sub},"status":${status},"none":${body.nope}}`}},
	}}
	md := envoyMetadata(t)
	md[wire.JWTMetadataNamespace].Fields["users-jwt"].GetStructValue().Fields["sub"] = structpb.NewStringValue(`x","admin":true,"y":"`)
	for mode, chunk := range modes {
		res, err := play(ctx(t), start(t, svc(t, map[string]Transformation{"t": tr})), "t", md, msg{headers: post("application/json")},
			msg{headers: [][2]string{{":status", "201"}, {"server", "nginx"}, {"content-type", "application/json"}}, body: []byte(`{"id":7,"name":"A\"n<n>"}`)}, chunk)
		if err != nil || res.immediate != nil {
			t.Fatal(err, res.immediate)
		}
		want := `{"user":7,"name":"A\"n\u003cn\u003e","sub":"x\",\"admin\":true,\"y\":\"","status":"200","none":null}`
		if string(res.respBody) != want {
			t.Errorf("%s: body\n%s\nwant\n%s", mode, res.respBody, want)
		}
		if res.respHeaders[":status"] != "200" || res.respHeaders["x-served-by"] != "gatehouse" || res.respHeaders["server"] != "" {
			t.Errorf("%s: headers %v", mode, res.respHeaders)
		}
	}
	// No body at all (404 -> 204): the template still answers, replacing.
	res, err := play(ctx(t), start(t, svc(t, map[string]Transformation{"t": tr})), "t", md, msg{headers: post("application/json")},
		msg{headers: [][2]string{{":status", "404"}}}, 0)
	if err != nil || res.immediate != nil || res.respHeaders[":status"] != "204" || !strings.Contains(string(res.respBody), `"status":"204"`) {
		t.Errorf("bodiless response: %v %v %v %s", err, res.immediate, res.respHeaders, res.respBody)
	}
}

// TestHeadersAndQuery: header set/remove and query changes (via :path).
func TestHeadersAndQuery(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{
		SetHeaders: map[string]Value{"x-user": {Claim: "sub"}}, RemoveHeaders: []string{"x-tenant"},
		SetQuery: map[string]Value{"tenant": {Header: "x-tenant"}}, RemoveQuery: []string{"debug"},
	}}})
	res, err := play(ctx(t), start(t, s), "t", envoyMetadata(t), msg{headers: post("application/json"), body: []byte(`{"a":1}`)}, okJSON, 3)
	if err != nil || res.immediate != nil {
		t.Fatal(err, res.immediate)
	}
	if res.reqHeaders[":path"] != "/api/users?page=2&tenant=acme" || res.reqHeaders["x-user"] != "u-42" || res.reqHeaders["x-tenant"] != "" {
		t.Errorf("headers %v", res.reqHeaders)
	}
	if string(res.reqBody) != `{"a":1}` || res.reqHeaders["content-length"] != "99" {
		t.Errorf("no body transformation, yet body %s / length %q changed", res.reqBody, res.reqHeaders["content-length"])
	}
}

// TestMalformedBodies: 400, and not a byte of the body forwarded, in both
// modes; an XML entity bomb or external entity is refused, not expanded.
func TestMalformedBodies(t *testing.T) {
	for _, tc := range []struct{ from, ct, body string }{
		{"json", "application/json", `{"name":"Ann",`},
		{"json", "application/json", `{"a":1} {"b":2}`},
		{"json", "application/json", strings.Repeat("[", 100) + strings.Repeat("]", 100)},
		{"xml", "application/xml", `<a><b></a>`},
		{"xml", "application/xml", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`},
		{"xml", "application/xml", `<a/><b/>`},
		{"form", "application/x-www-form-urlencoded", `a=%zz`},
		{"json", "text/xml", `<user/>`}, // the declared content type does not pick the decoder
	} {
		for mode, chunk := range modes {
			s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{From: tc.from, Ops: []Op{{Remove: "x"}}}}}})
			res, err := play(ctx(t), start(t, s), "t", nil, msg{headers: post(tc.ct), body: []byte(tc.body)}, okJSON, chunk)
			if err != nil {
				t.Fatal(err)
			}
			if res.immediate == nil || res.immediate.Status.Code != 400 {
				t.Errorf("%q %s: %v, want 400", tc.body, mode, res.immediate)
			}
			if len(res.reqBody) != 0 {
				t.Errorf("%q %s: %q forwarded before the refusal", tc.body, mode, res.reqBody)
			}
		}
	}
	// A body that parses but cannot take the operation: also 400.
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{{Set: "a.b", Value: lit(1)}}}}}})
	res, _ := play(ctx(t), start(t, s), "t", nil, msg{headers: post("application/json"), body: []byte(`{"a":"str"}`)}, okJSON, 0)
	if res.immediate == nil || res.immediate.Status.Code != 400 {
		t.Errorf("set under a string: %v, want 400", res.immediate)
	}
}

// TestHugeBodies: over the limit is 413 for a request (streamed: refused
// when the limit is crossed, before the end), 502 for a response.
func TestHugeBodies(t *testing.T) {
	tr := Transformation{Request: &Side{Body: &Body{MaxBytes: 1024, Ops: []Op{{Remove: "x"}}}}, Response: &Side{Body: &Body{MaxBytes: 1024}}}
	big := []byte(`{"x":"` + strings.Repeat("a", 4096) + `"}`)
	for mode, chunk := range map[string]int{"buffered": 0, "streamed": 512} {
		res, err := play(ctx(t), start(t, svc(t, map[string]Transformation{"t": tr})), "t", nil, msg{headers: post("application/json"), body: big}, okJSON, chunk)
		if err != nil || res.immediate == nil || res.immediate.Status.Code != 413 || len(res.reqBody) != 0 {
			t.Errorf("%s request: err %v immediate %v forwarded %d bytes, want 413 and nothing", mode, err, res.immediate, len(res.reqBody))
		}
		res, err = play(ctx(t), start(t, svc(t, map[string]Transformation{"t": tr})), "t", nil, msg{headers: post("application/json")},
			msg{headers: okJSON.headers, body: big}, chunk)
		if err != nil || res.immediate == nil || res.immediate.Status.Code != 502 || len(res.respBody) != 0 {
			t.Errorf("%s response: err %v immediate %v, want 502", mode, err, res.immediate)
		}
	}
}

// TestTrailersFailClosed: a body followed by trailers cannot be replaced
// after the fact; it is refused, never forwarded untransformed.
func TestTrailersFailClosed(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{{Remove: "pw"}}}}}})
	res, err := play(ctx(t), start(t, s), "t", nil, msg{headers: post("application/json"), body: []byte(`{"pw":"s3cret"}`), trailers: true}, okJSON, 4)
	if err != nil || res.immediate == nil || res.immediate.Status.Code != 400 || strings.Contains(string(res.reqBody), "s3cret") {
		t.Errorf("err %v immediate %v body %q", err, res.immediate, res.reqBody)
	}
}

// TestUnknownTransformationFailsClosed: no metadata, or an unknown name,
// ends the stream with an error (Envoy then answers 500, never forwards).
func TestUnknownTransformationFailsClosed(t *testing.T) {
	c := start(t, svc(t, map[string]Transformation{"t": {}}))
	for _, name := range []string{"", "nope"} {
		_, err := play(ctx(t), c, name, nil, msg{headers: post("application/json")}, okJSON, 0)
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%q: %v, want FailedPrecondition", name, err)
		}
	}
}

// TestBadTransformation: each bad field is named.
func TestBadTransformation(t *testing.T) {
	for _, tc := range []struct {
		t    Transformation
		want string
	}{
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{Remove: "a", Rename: "b"}}}}}, "request.body.ops[0].op: exactly one"},
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{}}}}}, "request.body.ops[0].op"},
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{Set: "a..b", Value: lit(1)}}}}}, "ops[0].set: path"},
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{Set: "a"}}}}}, "ops[0].value: required"},
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{Set: "a", Value: &Value{Header: "x", Claim: "y"}}}}}}, "ops[0].value: exactly one"},
		{Transformation{Request: &Side{Body: &Body{Ops: []Op{{Rename: "a", To: "b.c"}}}}}, "ops[0].to"},
		{Transformation{Request: &Side{Body: &Body{From: "yaml"}}}, "request.body.from"},
		{Transformation{Request: &Side{Body: &Body{To: "csv"}}}, "request.body.to"},
		{Transformation{Request: &Side{Body: &Body{MaxBytes: 1 << 30}}}, "request.body.maxBytes"},
		{Transformation{Request: &Side{Body: &Body{XMLRoot: "a b"}}}, "request.body.xmlRoot"},
		{Transformation{Response: &Side{Body: &Body{Template: &Template{ContentType: "text/plain", Text: "${env.HOME}"}}}}, "response.body.template.text"},
		{Transformation{Response: &Side{Body: &Body{Template: &Template{ContentType: "text/plain", Text: "${body.a"}}}}, "unclosed"},
		{Transformation{Response: &Side{Status: map[int]int{200: 99}}}, "response.status.200"},
		{Transformation{Request: &Side{Status: map[int]int{200: 201}}}, "request.status"},
		{Transformation{Response: &Side{SetQuery: map[string]Value{"a": {Literal: "b"}}}}, "response.setQuery"},
		{Transformation{Request: &Side{SetHeaders: map[string]Value{wire.ConsumerHeader: {Literal: "admin"}}}}, "request.setHeaders.x-gatehouse-consumer"},
		{Transformation{Request: &Side{SetHeaders: map[string]Value{":authority": {Literal: "evil"}}}}, "request.setHeaders.:authority"},
		{Transformation{Request: &Side{RemoveHeaders: []string{"Content-Length"}}}, "request.removeHeaders[0]"},
		{Transformation{Request: &Side{SetHeaders: map[string]Value{"x-envoy-original-path": {Literal: "/"}}}}, "x-envoy-original-path"},
	} {
		_, err := New(map[string]Transformation{"p": tc.t})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "transformation p") {
			t.Errorf("%+v: err %v, want %q", tc.t, err, tc.want)
		}
	}
}

// TestHeaderValueInjection: a header value carrying CR/LF (from a claim)
// is refused, not sent for Envoy to reject or split.
func TestHeaderValueInjection(t *testing.T) {
	md := envoyMetadata(t)
	md[wire.JWTMetadataNamespace].Fields["users-jwt"].GetStructValue().Fields["sub"] = structpb.NewStringValue("u\r\nx-admin: 1")
	s := svc(t, map[string]Transformation{"t": {Request: &Side{SetHeaders: map[string]Value{"x-user": {Claim: "sub"}}}}})
	res, err := play(ctx(t), start(t, s), "t", md, msg{headers: post("application/json")}, okJSON, 0)
	if err != nil || res.immediate == nil || res.immediate.Status.Code != 400 {
		t.Errorf("err %v immediate %v headers %v", err, res.immediate, res.reqHeaders)
	}
	_ = fmt.Sprint
}

// TestDuplicateKeysLeaveNoCopy: a removed field given twice (the parser
// differential trick: the backend might read the other copy) leaves no
// copy in what is forwarded.
func TestDuplicateKeysLeaveNoCopy(t *testing.T) {
	s := svc(t, map[string]Transformation{"t": {Request: &Side{Body: &Body{Ops: []Op{{Remove: "role"}, {Set: "sub", Value: &Value{Claim: "sub"}}}}}}})
	res, err := play(ctx(t), start(t, s), "t", envoyMetadata(t), msg{headers: post("application/json"), body: []byte(`{"role":"admin","sub":"x","role":"user","sub":"y"}`)}, okJSON, 3)
	if err != nil || res.immediate != nil || string(res.reqBody) != `{"sub":"u-42"}` {
		t.Errorf("err %v immediate %v body %s", err, res.immediate, res.reqBody)
	}
}

// TestBodyAfterEndRefused: a body message after the end of the body is
// refused, not passed through untransformed.
func TestBodyAfterEndRefused(t *testing.T) {
	e := &exchange{t: &Transformation{Request: &Side{Body: &Body{Ops: []Op{{Remove: "pw"}}}}}}
	e.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{}`), EndOfStream: true}}})
	out, done := e.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{Body: []byte(`{"pw":"x"}`), EndOfStream: true}}})
	if !done || out.GetImmediateResponse().GetStatus().GetCode() != 400 {
		t.Errorf("second body passed: %v", out)
	}
}
