package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
)

// catalogSet compiles pkg/transcode's bookstore.proto with catalog.proto
// (maps, Struct/Value/Any, wrappers, a custom json_name, HttpBody and
// streams next to the bookstore's messages).
func catalogSet(t testing.TB) string {
	t.Helper()
	srcs := map[string]string{}
	for _, f := range []string{"bookstore.proto", "catalog.proto"} {
		b, err := os.ReadFile("../transcode/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
	}
	data, err := protoset.Compile(srcs, "catalog.proto")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// protoRoute: a transcoding Route r matching match, its Transformation x
// on line 6 (spec.transformation), print options appended.
func protoRoute(match, print string) string {
	return route + "  gateways: [gw]\n  match: " + match + "\n  backends: [{service: grpc}]\n  transformation: x\n" +
		"  transcoding:\n    descriptorSet: pb/cat.pb\n    services: [bookstore.v1.Bookstore, bookstore.v1.Catalog]\n" + print
}

func protoFiles(t testing.TB, xform, route string) map[string]string {
	return map[string]string{
		"pb/cat.pb": catalogSet(t),
		"grpc.yaml": grpcServices,
		"x.yaml":    "kind: Transformation\nname: x\nspec:\n" + xform,
		"bad.yaml":  route,
	}
}

func protoReq(ops string) string  { return "  request:\n    body:\n      ops: " + ops + "\n" }
func protoResp(ops string) string { return "  response:\n    body:\n      ops: " + ops + "\n" }

const (
	// POST under /v1/shelves: CreateBook (body: book, a Book) and
	// ArchiveShelf (body: *, a GetShelfRequest); they answer a Book and
	// a Shelf.
	shelfWrites = "{path: {prefix: /v1/shelves}, methods: [POST]}"
	// Catalog.Search (body: *, a SearchRequest; answers a SearchResponse).
	search = "{path: {exact: '/v1/catalog:search'}, methods: [POST]}"
)

// TestTransformationProtoSchema: on a transcoding Route, request ops'
// created paths must fit the request message the transcoder parses the
// transformed body into, and response ops' source paths the JSON it
// prints, for some method the Route reaches; JSON and proto names, maps
// and Struct are allowed, a field no reached message has and a path below
// a string are refused, naming the op, the methods and the set.
func TestTransformationProtoSchema(t *testing.T) {
	const at = "bad.yaml:7: Route/r: spec.transformation: "
	for _, tc := range []struct {
		name, xform, match, print string
		want                      string // "": loads
	}{
		// Refused.
		{"request rename to a field no message has", protoReq("[{rename: name, to: titel}]"), shelfWrites, "",
			`Transformation "x" request.body.ops[0].to: "titel" would make a request body no method this Route transcodes to can take (/bookstore.v1.Bookstore/CreateBook, /bookstore.v1.Bookstore/ArchiveShelf: bookstore.v1.Book has no field titel by JSON or proto name; the transcoder parses`},
		{"response rename of a field no message has", protoResp("[{rename: subtitle, to: sub}]"), shelfWrites, "",
			`Transformation "x" response.body.ops[0].rename: "subtitle" cannot be in the JSON the transcoder prints for any method this Route transcodes to (/bookstore.v1.Bookstore/CreateBook, /bookstore.v1.Bookstore/ArchiveShelf: bookstore.v1.Book has no field subtitle by JSON name`},
		{"request set below a string", protoReq("[{set: title.main, value: {literal: x}}]"), shelfWrites, "",
			`request.body.ops[0].set: "title.main" would make a request body`},
		{"response remove below a string", protoResp("[{remove: title.x}]"), shelfWrites, "",
			`response.body.ops[0].remove: "title.x" cannot be in the JSON`},
		{"response proto name printed as JSON name", protoResp("[{remove: next_page_token}]"), search, "",
			`"next_page_token" cannot be in the JSON the transcoder prints for any method this Route transcodes to (/bookstore.v1.Catalog/Search: bookstore.v1.SearchResponse has no field next_page_token by JSON name`},
		{"response JSON name with proto names printed", protoResp("[{remove: nextPageToken}]"), search, "    print: {preserveProtoFieldNames: true}\n",
			`has no field nextPageToken by proto name`},
		{"request array indexed by name", protoReq("[{set: books.first, value: {literal: x}}]"), search, "",
			`books is repeated (a JSON array): an array is indexed by number`},
		{"a later op does not excuse an earlier one", protoReq("[{set: nope, value: {literal: 1}}, {set: queryText, value: {literal: x}}]"), search, "",
			`request.body.ops[0].set: "nope"`},
		// A match without methods reaches every method's bindings: under a
		// prefix, and at an exact path (each method's binding there).
		{"a prefix without methods", protoReq("[{set: nope, value: {literal: x}}]"), "{path: {prefix: /v1/shelves}}", "",
			`request.body.ops[0].set: "nope" would make a request body no method this Route transcodes to can take`},
		{"an exact path without methods", protoReq("[{set: nope, value: {literal: x}}]"), "{path: {exact: '/v1/catalog:search'}}", "",
			`request.body.ops[0].set: "nope" would make a request body no method this Route transcodes to can take (/bookstore.v1.Catalog/Search:`},
		// Allowed.
		{"request JSON name", protoReq("[{rename: q, to: queryText}]"), search, "", ""},
		{"request proto name", protoReq("[{rename: q, to: query_text}]"), search, "", ""},
		{"request reads are the client's", protoReq("[{remove: legacy}, {move: old.q, to: query_text}]"), search, "", ""},
		{"request Struct below", protoReq("[{set: filters.a.b, value: {literal: 1}}]"), search, "", ""},
		{"request map below", protoReq("[{set: labels.team, value: {literal: x}}]"), search, "", ""},
		{"request array by index", protoReq("[{set: books.0.title, value: {literal: x}}]"), search, "", ""},
		{"response JSON name", protoResp("[{remove: nextPageToken}, {rename: ISBN, to: isbn}]"), search, "", ""},
		{"response proto name when printed", protoResp("[{remove: next_page_token}]"), search, "    print: {preserveProtoFieldNames: true}\n", ""},
		{"response Value and map below", protoResp("[{remove: facets.x.y}, {remove: byAuthor.bob.title}]"), search, "", ""},
		{"response creates what it likes", protoResp("[{set: meta.generated, value: {literal: true}}]"), search, "", ""},
		{"one reached method holds it", protoReq("[{set: title, value: {literal: x}}]"), shelfWrites, "", ""},
		{"every method reached", protoReq("[{set: queryText, value: {literal: x}}]"), "{path: {prefix: /}}", "", ""},
		{"a regex reaches every method", protoReq("[{set: queryText, value: {literal: x}}]"), "{path: {regex: '/v1/.*'}}", "", ""},
		{"after a reshape nothing is judged", protoResp("[{unwrap: shelves}, {remove: anything}]"), "{path: {exact: /v1/shelves}, methods: [GET]}", "", ""},
		{"no reached method takes a body", protoReq("[{set: anything, value: {literal: x}}]"), "{path: {prefix: /v1/shelves}, methods: [GET]}", "", ""},
		{"a stream is not judged", protoResp("[{remove: anything}]"), "{path: {exact: '/v1/catalog:watch'}}", "", ""},
		{"an HttpBody is not judged", protoResp("[{remove: anything}]"), "{path: {prefix: /v1/covers/}}", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, protoFiles(t, tc.xform, protoRoute(tc.match, tc.print))), nil)
			if tc.want == "" {
				if len(s.Errors()) > 0 || s.Routes["r"] == nil {
					t.Fatalf("want the Route served; errors:\n%s", strings.Join(s.Errors(), "\n"))
				}
				return
			}
			e, ok := findErr(s, at, tc.want)
			if !ok {
				t.Fatalf("no error %q + %q; got:\n%s", at, tc.want, strings.Join(s.Errors(), "\n"))
			}
			if !strings.Contains(e, "in pb/cat.pb (spec.transcoding)") {
				t.Errorf("the error does not name the descriptor set: %s", e)
			}
			if s.Routes["r"] != nil {
				t.Error("the bad Route was served")
			}
		})
	}
}

// TestTransformationProtoSchemaInherited: a Gateway-default
// Transformation is checked too, the error on spec.gateways; a Route
// that turns it off loads.
func TestTransformationProtoSchemaInherited(t *testing.T) {
	const gw2 = "kind: Gateway\nname: gw2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults: {transformation: x}\n---\n"
	r := gw2 + route + "  gateways: [gw2]\n  match: " + search + "\n  backends: [{service: grpc}]\n" +
		"  transcoding:\n    descriptorSet: pb/cat.pb\n    services: [bookstore.v1.Catalog]\n"
	files := protoFiles(t, protoReq("[{set: nope, value: {literal: 1}}]"), r)
	s := Load(testFS(t, files), nil)
	if _, ok := findErr(s, "bad.yaml:10: Route/r: spec.gateways: ", `Transformation "x" request.body.ops[0].set: "nope"`); !ok {
		t.Errorf("the default Transformation was not checked; got:\n%s", strings.Join(s.Errors(), "\n"))
	}
	files["bad.yaml"] = r + "  transformation: none\n"
	if s := Load(testFS(t, files), nil); len(s.Errors()) > 0 || s.Routes["r"] == nil {
		t.Errorf("want the Route served; errors:\n%s", strings.Join(s.Errors(), "\n"))
	}
}
