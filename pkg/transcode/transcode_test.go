package transcode

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
)

// bookstore compiles testdata/bookstore.proto in the test (no protoc).
func bookstore(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile("testdata/bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	data, err := protoset.Compile(map[string]string{"bookstore.proto": string(src)}, "bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func bookstoreBindings(t *testing.T) []Binding {
	t.Helper()
	s, err := Load(bookstore(t))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.Bindings("bookstore.v1.Bookstore")
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestLoadBookstore(t *testing.T) {
	s, err := Load(bookstore(t))
	if err != nil {
		t.Fatal(err)
	}
	// Imports first, as protoc --include_imports writes them.
	want := []string{"google/protobuf/descriptor.proto", "google/api/http.proto", "google/api/annotations.proto", "google/api/httpbody.proto", "google/protobuf/any.proto", "bookstore.proto"}
	for _, n := range want {
		if !contains(s.Names, n) {
			t.Errorf("set lacks %s: %v", n, s.Names)
		}
	}
	if s.Names[len(s.Names)-1] != "bookstore.proto" {
		t.Errorf("bookstore.proto is not last: %v", s.Names)
	}
	bs, err := s.Bindings("bookstore.v1.Bookstore")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, b.String())
	}
	wantB := []string{
		"GET /v1/shelves -> /bookstore.v1.Bookstore/ListShelves",
		"GET /v1/{name=shelves/*} -> /bookstore.v1.Bookstore/GetShelf",
		"POST /v1/{parent=shelves/*}/books -> /bookstore.v1.Bookstore/CreateBook",
		"GET /v1/{name=shelves/*/books/*} -> /bookstore.v1.Bookstore/GetBook",
		"GET /v1/books/{name=**} -> /bookstore.v1.Bookstore/GetBook",
		"PATCH /v1/{book.name=shelves/*/books/*} -> /bookstore.v1.Bookstore/UpdateBook",
		"POST /v1/{name=shelves/*}:archive -> /bookstore.v1.Bookstore/ArchiveShelf",
		"GET /v1/authors/{author} -> /bookstore.v1.Bookstore/GetAuthor",
		"GET /v1/covers/{name=*} -> /bookstore.v1.Bookstore/GetCover",
	}
	if !reflect.DeepEqual(got, wantB) {
		t.Errorf("bindings:\n got %q\nwant %q", got, wantB)
	}
	if err := Ambiguous(bs); err != nil {
		t.Error(err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestLookup(t *testing.T) {
	bs := bookstoreBindings(t)
	for _, c := range []struct {
		method, path string
		want         string // gRPC path, "" for none
		vars         map[string]string
		query        map[string]string
		unknown      []string
	}{
		{"GET", "/v1/shelves", "/bookstore.v1.Bookstore/ListShelves", map[string]string{}, nil, nil},
		{"GET", "/v1/shelves?page_size=10&pageToken=x", "/bookstore.v1.Bookstore/ListShelves", map[string]string{}, map[string]string{"page_size": "10", "pageToken": "x"}, nil},
		{"GET", "/v1/shelves?color=red", "/bookstore.v1.Bookstore/ListShelves", map[string]string{}, map[string]string{}, []string{"color"}},
		// {name=shelves/*}: the variable takes the literal and the segment.
		{"GET", "/v1/shelves/7", "/bookstore.v1.Bookstore/GetShelf", map[string]string{"name": "shelves/7"}, nil, nil},
		// Literal "shelves" beats the wildcard of /v1/books/{name=**}, and
		// the verb is split off only where a binding registers it.
		{"POST", "/v1/shelves/7:archive", "/bookstore.v1.Bookstore/ArchiveShelf", map[string]string{"name": "shelves/7"}, nil, nil},
		{"POST", "/v1/shelves/7:burn", "", nil, nil, nil},
		{"POST", "/v1/shelves/7/books", "/bookstore.v1.Bookstore/CreateBook", map[string]string{"parent": "shelves/7"}, nil, nil},
		{"GET", "/v1/shelves/7/books/9", "/bookstore.v1.Bookstore/GetBook", map[string]string{"name": "shelves/7/books/9"}, nil, nil},
		{"PATCH", "/v1/shelves/7/books/9", "/bookstore.v1.Bookstore/UpdateBook", map[string]string{"book.name": "shelves/7/books/9"}, nil, nil},
		// ** takes every remaining segment, and zero of them.
		{"GET", "/v1/books/a/b/c", "/bookstore.v1.Bookstore/GetBook", map[string]string{"name": "a/b/c"}, nil, nil},
		{"GET", "/v1/books", "/bookstore.v1.Bookstore/GetBook", map[string]string{"name": ""}, nil, nil},
		// {author} is {author=*}: one segment, percent-decoded.
		{"GET", "/v1/authors/ann%20lee", "/bookstore.v1.Bookstore/GetAuthor", map[string]string{"author": "ann lee"}, nil, nil},
		{"GET", "/v1/authors/ann/lee", "", nil, nil, nil},
		// A multi-segment variable keeps an escaped slash escaped.
		{"GET", "/v1/books/a%2Fb/c%20d", "/bookstore.v1.Bookstore/GetBook", map[string]string{"name": "a%2Fb/c d"}, nil, nil},
		{"GET", "/v1/covers/a%2Fb", "/bookstore.v1.Bookstore/GetCover", map[string]string{"name": "a/b"}, nil, nil},
		{"GET", "/v1/covers/x", "/bookstore.v1.Bookstore/GetCover", map[string]string{"name": "x"}, nil, nil},
		{"DELETE", "/v1/shelves/7", "", nil, nil, nil},
		{"GET", "/v2/shelves", "", nil, nil, nil},
		// body "*": no field can come from the query.
		{"POST", "/v1/shelves/7:archive?name=x", "/bookstore.v1.Bookstore/ArchiveShelf", map[string]string{"name": "shelves/7"}, map[string]string{}, []string{"name"}},
	} {
		m := Lookup(bs, c.method, c.path)
		if c.want == "" {
			if m != nil {
				t.Errorf("%s %s: matched %s, want none", c.method, c.path, m.Binding)
			}
			continue
		}
		if m == nil {
			t.Errorf("%s %s: no match, want %s", c.method, c.path, c.want)
			continue
		}
		if m.Binding.GRPCPath() != c.want || !reflect.DeepEqual(m.Path, c.vars) || !reflect.DeepEqual(m.Query, c.query) || !reflect.DeepEqual(m.UnknownQuery, c.unknown) {
			t.Errorf("%s %s: got %s %v %v unknown %v, want %s %v %v unknown %v", c.method, c.path, m.Binding.GRPCPath(), m.Path, m.Query, m.UnknownQuery, c.want, c.vars, c.query, c.unknown)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	for _, ok := range []string{"/", "/v1", "/v1/{name}", "/v1/{name=*}", "/v1/{name=shelves/*/books/*}", "/v1/{name=**}", "/v1/**", "/v1/{a}/x/{b.c}:do", "/v1/a%20b"} {
		if _, err := ParseTemplate(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "v1", "/v1//x", "/v1/{name", "/v1/{1x}", "/v1/{a}/{a}", "/v1/**/x", "/v1/{a={b}}", "/v1/x:", "/v1/{a=**}/x", "/v1/{}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}

func TestLoadRefusesWhatEnvoyRefuses(t *testing.T) {
	good := bookstore(t)
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(good, set); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(s *descriptorpb.FileDescriptorSet)) []byte {
		c := proto.Clone(set).(*descriptorpb.FileDescriptorSet)
		f(c)
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"garbage":    {[]byte("not a descriptor set"), "not a serialized FileDescriptorSet"},
		"empty":      {nil, "holds no files"},
		"no imports": {mutate(func(s *descriptorpb.FileDescriptorSet) { s.File = s.File[len(s.File)-1:] }), "which is not earlier in the set"},
		"reversed": {mutate(func(s *descriptorpb.FileDescriptorSet) {
			s.File[0], s.File[len(s.File)-1] = s.File[len(s.File)-1], s.File[0]
		}), "which is not earlier in the set"},
		"duplicate file": {mutate(func(s *descriptorpb.FileDescriptorSet) { s.File = append(s.File, s.File[0]) }), "in the set twice"},
		"unlinkable": {mutate(func(s *descriptorpb.FileDescriptorSet) {
			s.File[len(s.File)-1].MessageType[0].Field[0].TypeName = proto.String(".bookstore.v1.Nothing")
			s.File[len(s.File)-1].MessageType[0].Field[0].Type = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
		}), "bookstore.proto"},
	} {
		_, err := Load(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

// compile builds a one-file set from a service body.
func compile(t *testing.T, body string) *Set {
	t.Helper()
	src := `syntax = "proto3"; package p; import "google/api/annotations.proto"; import "google/api/httpbody.proto";
message Req { string name = 1; Sub sub = 2; repeated Sub subs = 3; }
message Sub { string id = 1; }
message Resp { string x = 1; google.api.HttpBody raw = 2; }
` + body
	data, err := protoset.Compile(map[string]string{"p.proto": src}, "p.proto")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBindingsRefuseWhatEnvoyRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		body, want string
	}{
		"no annotations":      {`service S { rpc M(Req) returns (Resp); }`, "no method has a google.api.http annotation"},
		"bad template":        {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {get: "v1/x"}; } }`, "must start with /"},
		"unknown variable":    {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{nope}"}; } }`, "p.Req has no field nope"},
		"through repeated":    {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{subs.id}"}; } }`, "repeated"},
		"unknown body":        {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {post: "/v1/x" body: "nope"}; } }`, "body \"nope\""},
		"response_body plain": {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {get: "/v1/x" response_body: "x"}; } }`, "not a google.api.HttpBody field"},
		"custom without kind": {`service S { rpc M(Req) returns (Resp) { option (google.api.http) = {custom: {path: "/v1/x"}}; } }`, "custom pattern without a kind"},
	} {
		_, err := compile(t, c.body).Bindings("p.S")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
		if name == "no annotations" && !errors.Is(err, ErrNoBindings) {
			t.Errorf("no annotations: %v is not ErrNoBindings", err)
		}
	}
	s := compile(t, `service S { rpc M(Req) returns (Resp) { option (google.api.http) = {get: "/v1/x" response_body: "raw"}; } }`)
	if _, err := s.Bindings("p.S"); err != nil {
		t.Errorf("HttpBody response_body: %v", err)
	}
	if _, err := s.Bindings("p.Nope"); err == nil || !strings.Contains(err.Error(), "not in the descriptor set") {
		t.Errorf("missing service: %v", err)
	}
	if _, err := s.Bindings("p.Req"); err == nil || !strings.Contains(err.Error(), "not a service") {
		t.Errorf("message as service: %v", err)
	}
}

func TestAmbiguous(t *testing.T) {
	s := compile(t, `service S {
  rpc A(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{name}/x"}; }
  rpc B(Req) returns (Resp) { option (google.api.http) = {get: "/v1/{sub.id=*}/x"}; }
  rpc C(Req) returns (Resp) { option (google.api.http) = {post: "/v1/{name}/x" body: "*"}; }
  rpc D(Req) returns (Resp) { option (google.api.http) = {get: "/v1/y/x"}; }
}`)
	bs, err := s.Bindings("p.S")
	if err != nil {
		t.Fatal(err)
	}
	err = Ambiguous(bs)
	if err == nil || !strings.Contains(err.Error(), "/p.S/A and /p.S/B both map GET /v1/*/x") {
		t.Fatalf("got %v, want A and B ambiguous", err)
	}
	if strings.Contains(err.Error(), "/p.S/C") || strings.Contains(err.Error(), "/p.S/D") {
		t.Errorf("another method of another verb or a literal is not ambiguous: %v", err)
	}
}
