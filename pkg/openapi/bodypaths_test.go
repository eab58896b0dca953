package openapi

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const pathsDoc = `openapi: 3.0.3
info: {title: paths, version: '1'}
servers: [{url: /v1}, {url: https://api.example.com/v2}]
paths:
  /node:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Node'}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                allOf:
                  - {type: object, additionalProperties: false, properties: {a: {type: string}}}
                  - {type: object, additionalProperties: false, properties: {b: {type: integer}}}
            text/plain:
              schema: {type: string}
components:
  schemas:
    Node:
      type: object
      additionalProperties: false
      properties:
        value: {type: integer}
        next: {$ref: '#/components/schemas/Node'}
        list: {type: array, items: {$ref: '#/components/schemas/Node'}}
        any: {}
`

// TestCanExist: what a schema rules out (a closed object without the
// property, a scalar descended into, an array indexed by name or by a
// signed number) and what it leaves open (an untyped value, allOf
// branches, a recursive schema past the walk's depth).
func TestCanExist(t *testing.T) {
	ops, err := Operations([]byte(pathsDoc))
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Method != "POST" || strings.Join(ops[0].Paths, " ") != "/v1/node /v2/node" || ops[0].Name != "POST /node" {
		t.Fatalf("operations: %+v", ops)
	}
	req, resp := ops[0].Request, ops[0].Response
	if len(req) != 1 || len(resp) != 1 {
		t.Fatalf("want one JSON schema each (text/plain is not JSON): %d %d", len(req), len(resp))
	}
	deep := "next" + strings.Repeat(".next", 80) + ".nope"
	for _, tc := range []struct {
		path, why string // why "": can exist
	}{
		{"value", ""},
		{"next.next.value", ""},
		{"list.3.next.value", ""},
		{"any.x.y", ""},
		{deep, ""}, // past maxSchemaDepth: not judged
		{"nope", "nope: no such property and additionalProperties: false"},
		{"next.nope", "next.nope: no such property"},
		{"value.x", "value is integer, it has no fields"},
		{"list.x", "list.x: an array is indexed by number"},
		{"list.-1", "list.-1: an array is indexed by number"},
		{"list.0.nope", "list.0.nope: no such property"},
	} {
		ok, why := CanExist(req[0], strings.Split(tc.path, "."))
		if ok != (tc.why == "") || (tc.why != "" && !strings.Contains(why, tc.why)) {
			t.Errorf("request %s: got %v %q, want %q", tc.path, ok, why, tc.why)
		}
	}
	for _, tc := range []struct {
		path string
		ok   bool
	}{{"a", true}, {"b", true}, {"c", false}, {"a.x", false}} {
		if ok, why := CanExist(resp[0], strings.Split(tc.path, ".")); ok != tc.ok {
			t.Errorf("response %s: got %v %q", tc.path, ok, why)
		}
	}
	if ok, _ := CanExist(nil, []string{"x"}); !ok {
		t.Error("no schema must allow every path")
	}
}

// TestOperationsPetstore: every Petstore operation, with the body the
// document does not describe as nil (anything goes).
func TestOperationsPetstore(t *testing.T) {
	doc, err := os.ReadFile("testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := Operations(doc)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Operation{}
	for _, o := range ops {
		byName[o.Name] = o
	}
	if len(ops) != 19 {
		t.Errorf("%d operations, want 19", len(ops))
	}
	if o := byName["addPet"]; len(o.Request) != 1 || o.Request[0] == nil || o.Paths[0] != "/api/v3/pet" {
		t.Errorf("addPet: %+v", o)
	}
	if o := byName["getPetById"]; len(o.Request) != 0 {
		t.Errorf("getPetById takes no request body, want no schema: %+v", o.Request)
	}
	if o := byName["uploadFile"]; len(o.Request) != 1 || o.Request[0] != nil {
		t.Errorf("uploadFile's body is not JSON, want [nil]: %+v", o.Request)
	}
}

// TestCanExistBounded: a chain of schemas whose oneOf names the next one
// twice doubles at every level (2^40 walks, in a document of 40 lines);
// the walk stops early and allows the path (a document must not stall a
// policy load; not judged is not refused).
func TestCanExistBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: loop, version: '1'}\npaths:\n  /x:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/S0'}\n      responses: {'204': {description: ok}}\ncomponents:\n  schemas:\n")
	const levels = 40
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&b, "    S%d: {oneOf: [{$ref: '#/components/schemas/S%d'}, {$ref: '#/components/schemas/S%d'}]}\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "    S%d: {type: object, additionalProperties: false, properties: {a: {type: string}}}\n", levels)
	ops, err := Operations([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok, why := CanExist(ops[0].Request[0], []string{"nope"})
	if !ok || time.Since(start) > 2*time.Second {
		t.Errorf("got %v %q after %s; want allowed, quickly", ok, why, time.Since(start))
	}
	// The chain's last levels, short enough to walk: judged.
	s := ops[0].Request[0]
	for i := 0; i < levels-3; i++ {
		s = s.OneOf[0].Value
	}
	if ok, _ := CanExist(s, []string{"a"}); !ok {
		t.Error("a: want allowed")
	}
	if ok, why := CanExist(s, []string{"nope"}); ok || !strings.Contains(why, "nope: no such property") {
		t.Errorf("nope: got %v %q, want refused", ok, why)
	}
}
