package policy

import (
	"fmt"
	"strings"
	"testing"
)

// strictPetstore is the Petstore document with Pet closed
// (additionalProperties: false); its other schemas stay open.
func strictPetstore(t testing.TB) string {
	doc := petstoreDoc(t)
	const pet = "    Pet:\n      required: [name, photoUrls]\n      type: object\n"
	if !strings.Contains(doc, pet) {
		t.Fatal("the Petstore document's Pet schema moved; update strictPetstore")
	}
	return strings.Replace(doc, pet, pet+"      additionalProperties: false\n", 1)
}

// shapesDoc: closed request and response schemas, a oneOf request body, a
// map of closed objects, and a POST whose response has no body described.
const shapesDoc = `openapi: 3.0.3
info: {title: shapes, version: '1'}
paths:
  /user:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/User'}
        default:
          description: error
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    post:
      requestBody:
        content:
          application/json:
            schema:
              oneOf:
                - {$ref: '#/components/schemas/User'}
                - {$ref: '#/components/schemas/Problem'}
      responses:
        '204': {description: created}
components:
  schemas:
    User:
      type: object
      additionalProperties: false
      properties:
        id: {type: integer}
        name:
          type: object
          additionalProperties: false
          properties: {first: {type: string}, last: {type: string}}
        tags: {type: array, items: {type: string}}
        extra:
          type: object
          additionalProperties:
            type: object
            additionalProperties: false
            properties: {v: {type: string}}
    Problem:
      type: object
      additionalProperties: false
      properties:
        title: {type: string}
        status: {type: integer}
`

// schemaRoute is Route r (bad.yaml) validating against doc, applying
// Transformation x (x.yaml) on line 8.
func schemaRoute(match, doc string) string {
	return route + "  gateways: [gw]\n  backends: [{service: a}]\n  match: " + match + "\n  validation: {openapi: " + doc + "}\n  transformation: x\n"
}

func schemaFiles(t testing.TB, x, bad string) map[string]string {
	return map[string]string{
		"api/petstore.yaml": petstoreDoc(t),
		"api/strict.yaml":   strictPetstore(t),
		"api/shapes.yaml":   shapesDoc,
		"x.yaml":            xform + x,
		"bad.yaml":          bad,
	}
}

const (
	petWrites = "{path: {exact: /api/v3/pet}, methods: [PUT, POST]}"
	userGet   = "{path: {exact: /user}, methods: [GET]}"
	userPost  = "{path: {prefix: /user}, methods: [POST]}"
)

func reqOps(ops string) string  { return "  request:\n    body:\n      ops: " + ops + "\n" }
func respOps(ops string) string { return "  response:\n    body:\n      ops: " + ops + "\n" }

// TestTransformationSchemaPaths: a body op naming a field that no body of
// the Route's matched operations can have is refused on the Route (file,
// line, field, the op, the document); whatever the document leaves open
// loads. Request ops are judged by what they read (the client's body,
// validated before the transformation), response ops by what they create
// (the client's response, validated after it).
func TestTransformationSchemaPaths(t *testing.T) {
	for _, tc := range []struct {
		name, match, doc, x, want string
	}{
		// Refused.
		{"rename a property Pet lacks", petWrites, "api/strict.yaml", reqOps("[{rename: nickname, to: alias}]"),
			`Transformation "x" request.body.ops[0].rename: "nickname" cannot be in the request body of any operation this Route matches (addPet, updatePet: nickname: no such property and additionalProperties: false) in api/strict.yaml (the validation of Route/r)`},
		{"remove below a string", petWrites, "api/strict.yaml", reqOps("[{remove: name.first}]"), `ops[0].remove: "name.first" cannot be in the request body`},
		{"loose schema, below a string", petWrites, "api/petstore.yaml", reqOps("[{remove: nickname}, {remove: name.first}]"), `ops[1].remove: "name.first" cannot be in the request body of any operation this Route matches (addPet, updatePet: name is string, it has no fields)`},
		{"operations without a request body", "{path: {prefix: /api/v3/pet}, methods: [GET, DELETE]}", "api/petstore.yaml", reqOps("[{remove: id}]"),
			`"id" cannot be in the request body of any operation this Route matches (findPetsByStatus, findPetsByTags, deletePet, getPetById: no request body: the validator refuses one)`},
		{"array indexed by name", petWrites, "api/strict.yaml", reqOps("[{remove: tags.first}]"), `tags.first: an array is indexed by number`},
		{"second op checked", petWrites, "api/strict.yaml", reqOps("[{remove: id}, {move: owner, to: meta.owner}]"), `ops[1].move: "owner"`},
		{"unwrap of a missing field", petWrites, "api/strict.yaml", reqOps("[{unwrap: data.pet}]"), `ops[0].unwrap: "data.pet"`},
		{"no oneOf branch has it", userPost, "api/shapes.yaml", reqOps("[{remove: email}]"), `"email" cannot be in the request body`},
		{"closed map value", userPost, "api/shapes.yaml", reqOps("[{remove: extra.k.w}]"), `extra.k.w: no such property`},
		{"response rename to a closed field", userGet, "api/shapes.yaml", respOps("[{rename: userId, to: uid}]"),
			`response.body.ops[0].to: "uid" would make a response no operation this Route matches may return`},
		{"response wrap in a closed field", userGet, "api/shapes.yaml", respOps("[{wrap: ., in: data}]"), `response.body.ops[0].in: "data"`},
		{"response set below a string", userGet, "api/shapes.yaml", respOps("[{set: name.first.x, value: {literal: 1}}]"), `"name.first.x"`},
		// Reshaping one field ends nothing: a later read elsewhere is judged.
		{"read after a field is wrapped", petWrites, "api/strict.yaml", reqOps("[{wrap: category, in: inner}, {remove: nickname}]"), `ops[1].remove: "nickname" cannot be in the request body`},
		// A later op that creates nothing overwrites nothing.
		{"response rename to a closed field, then a remove", userGet, "api/shapes.yaml", respOps("[{rename: userId, to: uid}, {remove: name}]"),
			`response.body.ops[0].to: "uid" would make a response no operation this Route matches may return`},
		// A prefix ending inside a segment reaches the paths that segment starts.
		{"prefix ending inside a segment", "{path: {prefix: /api/v3/pe}, methods: [PUT]}", "api/strict.yaml", reqOps("[{rename: nickname, to: alias}]"), `"nickname" cannot be in the request body of any operation this Route matches (updatePet:`},
		// A match without methods matches every method of its path.
		{"no methods", "{path: {exact: /api/v3/pet}}", "api/strict.yaml", reqOps("[{rename: nickname, to: alias}]"), `"nickname" cannot be in the request body of any operation this Route matches (addPet, updatePet:`},

		// Loads: the path exists, or the document leaves it open.
		{"rename a property Pet has", petWrites, "api/strict.yaml", reqOps("[{rename: name, to: petName}, {remove: category.color}, {remove: tags.0.name}]"), ""},
		{"loose schema allows anything", petWrites, "api/petstore.yaml", reqOps("[{rename: nickname, to: alias}, {remove: category.color.x}]"), ""},
		{"a request body that is not JSON", "{path: {prefix: /api/v3/pet}}", "api/strict.yaml", reqOps("[{rename: nickname, to: alias}]"), ""},
		{"a regex path may match any operation", "{path: {regex: ^/api/v3/pet$}, methods: [PUT]}", "api/petstore.yaml", reqOps("[{remove: nickname}]"), ""},
		{"created by an earlier op", petWrites, "api/strict.yaml", reqOps("[{set: meta.owner, value: {header: x-owner}}, {move: meta.owner, to: owner}, {rename: name, to: nickname}, {remove: nickname}]"), ""},
		{"after the root is wrapped", petWrites, "api/strict.yaml", reqOps("[{wrap: ., in: pet}, {remove: pet.name}]"), ""},
		{"a form body", petWrites, "api/strict.yaml", "  request:\n    body:\n      from: form\n      ops: [{remove: nickname}]\n", ""},
		{"one oneOf branch has it", userPost, "api/shapes.yaml", reqOps("[{remove: title}, {remove: name.first}, {remove: extra.k.v}]"), ""},
		{"response reads are not judged", userGet, "api/shapes.yaml", respOps("[{remove: password}, {rename: user_id, to: id}]"), ""},
		{"response created then moved", userGet, "api/shapes.yaml", respOps("[{set: tmp, value: {literal: 1}}, {move: tmp, to: id}]"), ""},
		{"response set then its parent overwritten", userGet, "api/shapes.yaml", respOps("[{set: name.first.x, value: {literal: 1}}, {set: name.first, value: {literal: y}}]"), ""},
		{"response to XML", userGet, "api/shapes.yaml", "  response:\n    body:\n      to: xml\n      ops: [{rename: id, to: uid}]\n", ""},
		{"response without a described body", userPost, "api/shapes.yaml", respOps("[{set: created, value: {literal: true}}]"), ""},
		{"a response field of the error schema", userGet, "api/shapes.yaml", respOps("[{set: title, value: {literal: x}}]"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, schemaFiles(t, tc.x, schemaRoute(tc.match, tc.doc))), nil)
			prefix := "bad.yaml:8: Route/r: spec.transformation: "
			if tc.want == "" {
				if len(s.Errors()) > 0 || s.Routes["r"] == nil {
					t.Fatalf("want the Route served; errors:\n%s", strings.Join(s.Errors(), "\n"))
				}
				return
			}
			if _, ok := findErr(s, prefix, tc.want); !ok {
				t.Errorf("no error %q + %q; got:\n%s", prefix, tc.want, strings.Join(s.Errors(), "\n"))
			}
			if s.Routes["r"] != nil {
				t.Error("Route r is served despite the error")
			}
			if s.Transformations["x"] == nil {
				t.Error("the Transformation itself was refused; only the Route's use of it is wrong")
			}
		})
	}
}

// TestTransformationSchemaInherited: the document may come from the
// Route's Service and the Transformation from its Gateway's default; the
// error is then on spec.gateways and names the Service, and a Route that
// turns either off loads.
func TestTransformationSchemaInherited(t *testing.T) {
	const svc = "kind: Service\nname: pets\nspec:\n  discovery: {static: [{address: 127.0.0.1, port: 9101}]}\n  validation: {openapi: api/strict.yaml}\n---\n"
	const gw2 = "kind: Gateway\nname: gw2\nspec:\n  listeners: [{name: http, port: 8081, protocol: HTTP}]\n  defaults: {transformation: x}\n---\n"
	// Route r starts on line 13 of bad.yaml.
	r := svc + gw2 + route + "  gateways: [gw2]\n  backends: [{service: pets}]\n  match: " + petWrites + "\n"
	for _, tc := range []struct{ name, extra, want string }{
		{"default and inherited", "", fmt.Sprintf("bad.yaml:%d: Route/r: spec.gateways: ", 16) + `Transformation "x" request.body.ops[0].rename: "nickname"`},
		{"default turned off", "  transformation: none\n", ""},
		{"validation turned off", "  validation: {mode: off}\n", ""},
		{"own loose document", "  validation: {openapi: api/petstore.yaml}\n", ""},
		{"requests logged, not enforced", "  validation: {openapi: api/strict.yaml, mode: logOnly}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Load(testFS(t, schemaFiles(t, reqOps("[{rename: nickname, to: alias}]"), r+tc.extra)), nil)
			if tc.want == "" {
				if len(s.Errors()) > 0 || s.Routes["r"] == nil {
					t.Fatalf("want the Route served; errors:\n%s", strings.Join(s.Errors(), "\n"))
				}
				return
			}
			e, ok := findErr(s, tc.want, "(the validation of Service/pets)")
			if !ok {
				t.Errorf("no error %q; got:\n%s", tc.want, strings.Join(s.Errors(), "\n"))
			}
			if !strings.Contains(e, "api/strict.yaml") {
				t.Errorf("the error does not name the document: %s", e)
			}
		})
	}
}
