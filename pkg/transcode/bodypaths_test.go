package transcode

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
)

// catalogBindings: the bindings of testdata/catalog.proto's Catalog and
// bookstore.proto's Bookstore, by method name.
func catalogBindings(t *testing.T) map[string]*Binding {
	t.Helper()
	srcs := map[string]string{}
	for _, f := range []string{"bookstore.proto", "catalog.proto"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(b)
	}
	data, err := protoset.Compile(srcs, "catalog.proto")
	if err != nil {
		t.Fatal(err)
	}
	set, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Binding{}
	for _, svc := range []string{"bookstore.v1.Bookstore", "bookstore.v1.Catalog"} {
		bs, err := set.Bindings(svc)
		if err != nil {
			t.Fatal(err)
		}
		for i := range bs {
			if out[bs[i].Method] == nil {
				out[bs[i].Method] = &bs[i]
			}
		}
	}
	return out
}

// TestRequestPath: the request body's message, by JSON or proto name;
// maps, Struct and Any open below; scalars, enums, wrappers and
// Timestamp closed; repeated fields indexed by number only; bodies the
// transcoder does not parse as the message's JSON not judged.
func TestRequestPath(t *testing.T) {
	bs := catalogBindings(t)
	for _, tc := range []struct {
		method, path string
		judged, ok   bool
		why          string
	}{
		{"Search", "queryText", true, true, ""},
		{"Search", "query_text", true, true, ""},
		{"Search", "queryTxt", true, false, "bookstore.v1.SearchRequest has no field queryTxt by JSON or proto name"},
		{"Search", "query_text.x", true, false, "bookstore.v1.SearchRequest.query_text is a string, it has no fields"},
		{"Search", "filters.a.b.c", true, true, ""},
		{"Search", "labels.any.thing", true, true, ""},
		{"Search", "extra.any.thing", true, true, ""},
		{"Search", "books.0.title", true, true, ""},
		{"Search", "books.0", true, true, ""},
		{"Search", "books", true, true, ""},
		{"Search", "books.title", true, false, "books is repeated (a JSON array): an array is indexed by number"},
		{"Search", "books.-1", true, false, "indexed by number"},
		{"Search", "books.0.subtitle", true, false, "bookstore.v1.Book has no field subtitle"},
		{"Search", "books.0.title.x", true, false, "books.0.title is a string"},
		{"Search", "cursor", true, true, ""},
		{"Search", "cursor.value", true, false, "is a google.protobuf.StringValue, printed as a JSON scalar"},
		{"Search", "genre.x", true, false, "genre is an enum"},
		{"Search", "since.seconds", true, false, "google.protobuf.Timestamp, printed as a JSON scalar"},
		// body: labels (a map): the body is the map's JSON object.
		{"Tag", "anything", true, true, ""},
		{"Tag", "a.b", true, true, ""},
		// body: book.
		{"CreateBook", "title", true, true, ""},
		{"CreateBook", "parent", true, false, "bookstore.v1.Book has no field parent"},
		{"CreateBook", "title.main", true, false, "book.title is a string"},
		// Not judged: no body, an HttpBody, a client stream.
		{"GetShelf", "anything", false, true, ""},
		{"Upload", "anything", false, true, ""},
		{"Import", "anything", false, true, ""},
	} {
		b := bs[tc.method]
		judged, ok, why := b.RequestPath(strings.Split(tc.path, "."))
		if judged != tc.judged || ok != tc.ok || !strings.Contains(why, tc.why) || (ok && why != "") {
			t.Errorf("%s %q: judged %v ok %v %q, want %v %v %q", tc.method, tc.path, judged, ok, why, tc.judged, tc.ok, tc.why)
		}
	}
}

// TestResponsePath: the printed response uses JSON names (a custom
// json_name too) unless preserve_proto_field_names, then proto names
// only; HttpBody outputs and server streams are not judged.
func TestResponsePath(t *testing.T) {
	bs := catalogBindings(t)
	for _, tc := range []struct {
		method, path string
		protoNames   bool
		judged, ok   bool
		why          string
	}{
		{"Search", "nextPageToken", false, true, true, ""},
		{"Search", "next_page_token", false, true, false, "no field next_page_token by JSON name"},
		{"Search", "next_page_token", true, true, true, ""},
		{"Search", "nextPageToken", true, true, false, "no field nextPageToken by proto name"},
		{"Search", "ISBN", false, true, true, ""},
		{"Search", "isbn_code", false, true, false, "no field isbn_code"},
		{"Search", "isbnCode", false, true, false, "no field isbnCode"},
		{"Search", "isbn_code", true, true, true, ""},
		{"Search", "facets.x.y", false, true, true, ""},
		{"Search", "byAuthor.bob.title", false, true, true, ""},
		{"Search", "by_author.bob", false, true, false, "no field by_author"},
		{"Search", "books.0.title.x", false, true, false, "books.0.title is a string"},
		{"GetShelf", "theme", false, true, true, ""},
		{"GetShelf", "title", false, true, false, "bookstore.v1.Shelf has no field title"},
		{"Import", "books.0.author", false, true, true, ""},
		// Not judged: an HttpBody output, a server stream.
		{"GetCover", "anything", false, false, true, ""},
		{"Watch", "anything", false, false, true, ""},
	} {
		b := bs[tc.method]
		judged, ok, why := b.ResponsePath(strings.Split(tc.path, "."), tc.protoNames)
		if judged != tc.judged || ok != tc.ok || !strings.Contains(why, tc.why) || (ok && why != "") {
			t.Errorf("%s %q (proto names %v): judged %v ok %v %q, want %v %v %q", tc.method, tc.path, tc.protoNames, judged, ok, why, tc.judged, tc.ok, tc.why)
		}
	}
}

// TestMayMatchPrefix: a Route prefix reaches a template when some path
// under it may match; literals must agree, wildcards take any segment,
// "**" the rest, the verb belongs to the last segment.
func TestMayMatchPrefix(t *testing.T) {
	for _, tc := range []struct {
		tmpl, prefix string
		fold, want   bool
	}{
		{"/v1/{parent=shelves/*}/books", "/", false, true},
		{"/v1/{parent=shelves/*}/books", "/v1/shel", false, true},
		{"/v1/{parent=shelves/*}/books", "/v1/shelves/x/books", false, true},
		{"/v1/{parent=shelves/*}/books", "/v1/catalog", false, false},
		{"/v1/{parent=shelves/*}/books", "/v1/shelves/x/books/y", false, false},
		{"/v1/{parent=shelves/*}/books", "/V1/Shelves", false, false},
		{"/v1/{parent=shelves/*}/books", "/V1/Shelves", true, true},
		{"/v1/books/{name=**}", "/v1/books/a/b/c", false, true},
		{"/v1/catalog:search", "/v1/catalog:se", false, true},
		{"/v1/catalog:search", "/v1/catalog:import", false, false},
		{"/v1/{name=shelves/*}:archive", "/v1/shelves/s1:archive", false, true},
		{"/v1/shelves", "/v1/shelves/", false, false},
		{"/v2", "/v1", false, false},
	} {
		tm, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := tm.MayMatchPrefix(tc.prefix, tc.fold); got != tc.want {
			t.Errorf("%s under %q (fold %v): %v, want %v", tc.tmpl, tc.prefix, tc.fold, got, tc.want)
		}
	}
}
