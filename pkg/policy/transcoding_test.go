package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
)

// bookstoreSet compiles pkg/transcode's bookstore.proto in the test.
func bookstoreSet(t testing.TB) string {
	t.Helper()
	src, err := os.ReadFile("../transcode/testdata/bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	data, err := protoset.Compile(map[string]string{"bookstore.proto": string(src)}, "bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// grpcServices are a GRPC Service (grpc) next to baseYAML's HTTP ones.
const grpcServices = "kind: Service\nname: grpc\nspec:\n  protocol: GRPC\n  discovery:\n    static: [{address: 127.0.0.1, port: 9003}]\n"

// transcodedRoute is a Route (lines 1-5) whose transcoding block starts
// on line 6.
const transcodedRoute = route + "  gateways: [gw]\n  backends: [{service: grpc}]\n  transcoding:\n"

// TestBadTranscoding: every bad transcoding block names file, line,
// object and field: an unreadable or unparsable descriptor set, one whose
// imports are missing, a service not in it or without any google.api.http
// annotation, ambiguous REST mappings, a non-gRPC backend, a path
// rewrite, unknown fields.
func TestBadTranscoding(t *testing.T) {
	ambiguous, err := protoset.Compile(map[string]string{"amb.proto": `syntax = "proto3"; package amb; import "google/api/annotations.proto";
message R { string name = 1; string id = 2; }
service S {
  rpc A(R) returns (R) { option (google.api.http) = {get: "/v1/{name}"}; }
  rpc B(R) returns (R) { option (google.api.http) = {get: "/v1/{id}"}; }
}`}, "amb.proto")
	if err != nil {
		t.Fatal(err)
	}
	set := bookstoreSet(t)
	// The set without its imports: what protoc writes without
	// --include_imports (the last file is bookstore.proto itself).
	files := map[string]string{
		"pb/bookstore.pb": set,
		"pb/broken.pb":    "this is not a descriptor set",
		"pb/amb.pb":       string(ambiguous),
		"pb/huge.pb":      strings.Repeat("x", MaxDescriptorSetBytes+1),
		"pb/at-limit.pb":  strings.Repeat("x", MaxDescriptorSetBytes),
	}
	for _, tc := range []struct {
		name, yaml string
		line       int
		path       string
		msg        string
	}{
		{"missing set", transcodedRoute + "    descriptorSet: pb/nope.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding.descriptorSet", "cannot read pb/nope.pb"},
		{"no set", transcodedRoute + "    services: [bookstore.v1.Bookstore]\n", 6, "spec.transcoding.descriptorSet", "required: a file path"},
		{"outside the directory", transcodedRoute + "    descriptorSet: ../x.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding.descriptorSet", "outside the policy directory"},
		{"oversized set", transcodedRoute + "    descriptorSet: pb/huge.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding.descriptorSet", "over the 1048576-byte limit"},
		// At the limit the set is read (and this one holds nothing).
		{"set at the size limit", transcodedRoute + "    descriptorSet: pb/at-limit.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding.descriptorSet", "pb/at-limit.pb: the descriptor set holds no files"},
		{"empty service name", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore, \"\"]\n", 8, "spec.transcoding.services[1]", "must name a gRPC service (package.Service)"},
		{"unparsable set", transcodedRoute + "    descriptorSet: pb/broken.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding.descriptorSet", "pb/broken.pb: not a serialized FileDescriptorSet"},
		{"no services", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n", 6, "spec.transcoding.services", "required: list at least one gRPC service"},
		{"service not in the set", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services:\n      - bookstore.v1.Bookstore\n      - bookstore.v1.Library\n", 10, "spec.transcoding.services[1]", "service bookstore.v1.Library is not in the descriptor set"},
		{"service without annotations", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Admin]\n", 8, "spec.transcoding.services[0]", "no method has a google.api.http annotation"},
		{"duplicate service", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore, bookstore.v1.Bookstore]\n", 8, "spec.transcoding.services[1]", "duplicate service"},
		{"ambiguous mappings", transcodedRoute + "    descriptorSet: pb/amb.pb\n    services: [amb.S]\n", 8, "spec.transcoding.services", "/amb.S/A and /amb.S/B both map GET /v1/*"},
		{"unknown print option", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n    print: {pretty: true}\n", 9, "spec.transcoding.print.pretty", "unknown field"},
		{"unknown field", transcodedRoute + "    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n    autoMapping: true\n", 9, "spec.transcoding.autoMapping", "unknown field"},
		{"HTTP backend", route + "  gateways: [gw]\n  backends: [{service: grpc}, {service: a}]\n  transcoding:\n    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n", 6, "spec.transcoding", `Service "a" has protocol HTTP; transcoding turns REST calls into gRPC calls`},
		{"path rewrite", route + "  gateways: [gw]\n  backends: [{service: grpc}]\n  rewrite: {prefix: /}\n  transcoding:\n    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding", "cannot be combined with a path rewrite"},
		{"regex path rewrite", route + "  gateways: [gw]\n  backends: [{service: grpc}]\n  rewrite: {regex: {pattern: ^/v1, substitution: /v2}}\n  transcoding:\n    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n", 7, "spec.transcoding", "cannot be combined with a path rewrite"},
		{"no backends", route + "  gateways: [gw]\n  directResponse: {status: 200}\n  transcoding:\n    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n", 6, "spec.transcoding", "needs backends"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := map[string]string{"bad.yaml": tc.yaml, "grpc.yaml": grpcServices}
			for k, v := range files {
				fs[k] = v
			}
			s := Load(testFS(t, fs), nil)
			prefix := fmt.Sprintf("bad.yaml:%d: Route/r: %s: ", tc.line, tc.path)
			if _, ok := findErr(s, prefix, tc.msg); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.msg, strings.Join(s.Errors(), "\n"))
			}
			if s.Routes["r"] != nil {
				t.Error("the bad Route was served")
			}
		})
	}
}

// TestTranscodingLoaded: a good block loads the set and its bindings, and
// a Transformation that changes bodies is allowed on a transcoded GRPC
// Route (it sees the REST call's JSON), though still refused on a plain
// GRPC one.
func TestTranscodingLoaded(t *testing.T) {
	xform := "kind: Transformation\nname: x\nspec:\n  response:\n    body:\n      ops: [{remove: theme}]\n"
	s := Load(testFS(t, map[string]string{
		"pb/bookstore.pb": bookstoreSet(t),
		"grpc.yaml":       grpcServices,
		"x.yaml":          xform,
		"r.yaml":          "kind: Route\nname: rest\nspec:\n  gateways: [gw]\n  backends: [{service: grpc}]\n  transformation: x\n  transcoding:\n    descriptorSet: pb/bookstore.pb\n    services: [bookstore.v1.Bookstore]\n    print: {preserveProtoFieldNames: true}\n",
		"plain.yaml":      "kind: Route\nname: plain\nspec:\n  gateways: [gw]\n  backends: [{service: grpc}]\n  transformation: x\n",
	}), nil)
	r := s.Routes["rest"]
	if r == nil {
		t.Fatalf("rest not loaded: %s", strings.Join(s.Errors(), "\n"))
	}
	tc := r.Spec.Transcoding
	if tc.DescriptorFile != "pb/bookstore.pb" || len(tc.Descriptor) == 0 || !tc.Print.PreserveProtoFieldNames {
		t.Errorf("transcoding not loaded: file %q, %d bytes, print %+v", tc.DescriptorFile, len(tc.Descriptor), tc.Print)
	}
	if _, ok := findErr(s, "plain.yaml:6: Route/plain: spec.transformation: ", "is GRPC"); !ok {
		t.Errorf("a body Transformation on a plain GRPC Route was not refused:\n%s", strings.Join(s.Errors(), "\n"))
	}
}
