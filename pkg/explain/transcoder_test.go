package explain

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

const bookstorePolicy = `
kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: bookstore
spec:
  protocol: GRPC
  discovery: {static: [{address: 127.0.0.1, port: 9001}]}
---
kind: Route
name: books-rest
spec:
  gateways: [edge]
  match: {path: {prefix: /v1, segments: true}}
  backends: [{service: bookstore}]
  transcoding:
    descriptorSet: bookstore.pb
    services: [bookstore.v1.Bookstore]
---
kind: Route
name: books-grpc
spec:
  gateways: [edge]
  match: {path: {prefix: /bookstore.v1.Bookstore/}}
  backends: [{service: bookstore}]
`

// bookstoreInputs translates bookstorePolicy with a descriptor set
// compiled in the test from pkg/transcode's bookstore.proto.
func bookstoreInputs(t *testing.T) Inputs {
	t.Helper()
	src, err := os.ReadFile("../transcode/testdata/bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	set, err := protoset.Compile(map[string]string{"bookstore.proto": string(src)}, "bookstore.proto")
	if err != nil {
		t.Fatal(err)
	}
	snap := policy.Load(fstest.MapFS{"policy.yaml": {Data: []byte(bookstorePolicy)}, "bookstore.pb": {Data: set}}, nil)
	if errs := snap.Errors(); len(errs) > 0 {
		t.Fatalf("policy: %s", strings.Join(errs, "\n"))
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Inputs{Policy: snap, Groups: groups}
}

// TestExplainTranscoding: explain names the gRPC method a REST request
// maps to, with the fields bound from the path, the query and the body,
// for several templates ({name=shelves/*}, {author} = {author=*}, **,
// a custom verb, a body field and body "*"), and says when the
// transcoder refuses (no rule: 404; an unknown query parameter: 400) or
// is not involved (a native gRPC call, a route without transcoding).
func TestExplainTranscoding(t *testing.T) {
	in := bookstoreInputs(t)
	for _, c := range []struct {
		method, path string
		headers      []KV
		want         string // in the transcoder's effect
	}{
		{"GET", "/v1/shelves/7", nil, `transcodes to gRPC /bookstore.v1.Bookstore/GetShelf (rule GET /v1/{name=shelves/*}): name="shelves/7" from the path`},
		{"GET", "/v1/authors/ann", nil, `/bookstore.v1.Bookstore/GetAuthor (rule GET /v1/authors/{author}): author="ann" from the path`},
		{"GET", "/v1/authors/ann?with_books=true", nil, `author="ann" from the path, with_books="true" from the query`},
		{"GET", "/v1/covers/x", nil, `/bookstore.v1.Bookstore/GetCover (rule GET /v1/covers/{name=*}): name="x"`},
		{"GET", "/v1/books/a/b/c", nil, `/bookstore.v1.Bookstore/GetBook (rule GET /v1/books/{name=**}): name="a/b/c"`},
		{"GET", "/v1/shelves/7/books/9", nil, `/bookstore.v1.Bookstore/GetBook (rule GET /v1/{name=shelves/*/books/*}): name="shelves/7/books/9"`},
		{"POST", "/v1/shelves/7/books", nil, `/bookstore.v1.Bookstore/CreateBook (rule POST /v1/{parent=shelves/*}/books): parent="shelves/7" from the path, the JSON body fills book`},
		{"PATCH", "/v1/shelves/7/books/9", nil, `/bookstore.v1.Bookstore/UpdateBook (rule PATCH /v1/{book.name=shelves/*/books/*}): book.name="shelves/7/books/9" from the path, the JSON body fills book`},
		{"POST", "/v1/shelves/7:archive", nil, `/bookstore.v1.Bookstore/ArchiveShelf (rule POST /v1/{name=shelves/*}:archive): name="shelves/7" from the path, the JSON body fills the rest of the request`},
		{"POST", "/v1/shelves/7:archive", nil, "a body value for a path field that differs from the path's is refused 400"},
		{"GET", "/v1/shelves/7?name=shelves/8", nil, "WARNING: the query parameter name names a field the path already binds"},
		// A method without an annotation cannot be reached over REST, even
		// by its gRPC name under the REST prefix.
		{"POST", "/v1/bookstore.v1.Bookstore/Reindex", nil, "refuses 404"},
		{"DELETE", "/v1/shelves/7", nil, "refuses 404: no google.api.http rule of bookstore.v1.Bookstore maps DELETE /v1/shelves/7"},
		{"GET", "/v1/shelves?color=red", nil, "refuses 400: query parameter(s) color are no field of the request of /bookstore.v1.Bookstore/ListShelves"},
		{"POST", "/v1/shelves/7", []KV{{Name: "content-type", Value: "application/grpc"}}, "passes the gRPC call through untranscoded"},
		{"POST", "/bookstore.v1.Bookstore/GetShelf", nil, "disabled on this route"},
	} {
		res := explainOK(t, in, Request{Gateway: "edge", Host: "books.example.com", Method: c.method, Path: c.path, Headers: c.headers})
		if res.Route == nil {
			t.Errorf("%s %s: no route: %s", c.method, c.path, res.NoMatch)
			continue
		}
		effect := ""
		for _, f := range res.Route.Filters {
			if f.Filter == "envoy.filters.http.grpc_json_transcoder" {
				effect = f.Effect
			}
		}
		if !strings.Contains(effect, c.want) {
			t.Errorf("%s %s: transcoder effect %q, want %q", c.method, c.path, effect, c.want)
		}
	}
	// The text form names the method on its own line.
	res := explainOK(t, in, Request{Gateway: "edge", Host: "books.example.com", Method: "GET", Path: "/v1/shelves/7"})
	var buf bytes.Buffer
	if err := WriteText(&buf, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "gRPC call") || !strings.Contains(buf.String(), "/bookstore.v1.Bookstore/GetShelf (rule GET /v1/{name=shelves/*})") {
		t.Errorf("text form lacks the method:\n%s", buf.String())
	}
	if tc := res.Route.Transcoding; tc == nil || tc.GRPCMethod != "/bookstore.v1.Bookstore/GetShelf" || tc.PathFields["name"] != "shelves/7" {
		t.Errorf("Transcoding = %+v", tc)
	}
}
