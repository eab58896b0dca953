package openapi

import (
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Body paths: what pkg/policy needs to refuse a Transformation whose body
// operations name fields that cannot exist in the document a Route
// validates against (issue 15, "paths that cannot exist in the schema
// given"). The answer is conservative: a path is refused only when the
// schema says no value can have it; anything the document leaves open
// (no schema, no additionalProperties: false, a composition) allows it.

// Operation is one operation of a document as a Route may match it.
type Operation struct {
	Method string
	// Paths are the operation's path templates under each server's base
	// path ("/api/v3/pet/{petId}"); one, unprefixed, without servers.
	Paths []string
	// Name is the operationId, else "METHOD /template".
	Name string
	// Request and Response are the JSON body schemas of the request and of
	// every response; a nil entry is a body the document does not describe
	// as JSON (a response without JSON content, a request body of another
	// media type, which a JSON transformation may still parse): anything
	// goes. No Request entry at all: the operation has no requestBody, and
	// the validator refuses a request with a body (exchange.go, endRequest).
	Request, Response []*openapi3.Schema
}

// Operations loads doc as the validator does (no external references)
// and lists its operations, in path then method order.
func Operations(doc []byte) ([]Operation, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	bases, err := basePaths(d.Servers)
	if err != nil {
		return nil, err
	}
	if len(bases) == 0 {
		bases = []string{""}
	}
	var out []Operation
	if d.Paths == nil {
		return nil, nil
	}
	tmpls := d.Paths.InMatchingOrder()
	sort.Strings(tmpls)
	for _, tmpl := range tmpls {
		item := d.Paths.Value(tmpl)
		methods := item.Operations()
		names := make([]string, 0, len(methods))
		for m := range methods {
			names = append(names, m)
		}
		sort.Strings(names)
		for _, m := range names {
			op := methods[m]
			o := Operation{Method: m, Name: op.OperationID}
			if o.Name == "" {
				o.Name = m + " " + tmpl
			}
			for _, b := range bases {
				o.Paths = append(o.Paths, b+tmpl)
			}
			if op.RequestBody != nil && op.RequestBody.Value == nil {
				o.Request = []*openapi3.Schema{nil}
			} else if op.RequestBody != nil {
				o.Request = jsonSchemas(op.RequestBody.Value.Content)
			}
			if op.Responses == nil || op.Responses.Len() == 0 {
				o.Response = []*openapi3.Schema{nil}
			}
			if op.Responses != nil {
				for _, r := range op.Responses.Map() {
					if r.Value == nil {
						o.Response = append(o.Response, nil)
						continue
					}
					o.Response = append(o.Response, jsonSchemas(r.Value.Content)...)
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// jsonSchemas are the schemas of content's JSON media types; [nil] when
// it has none (kin-openapi validates no body then: anything goes).
func jsonSchemas(content openapi3.Content) []*openapi3.Schema {
	var out []*openapi3.Schema
	for ct, mt := range content {
		if !jsonMediaType(ct) {
			continue
		}
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			return []*openapi3.Schema{nil}
		}
		out = append(out, mt.Schema.Value)
	}
	if len(out) == 0 {
		return []*openapi3.Schema{nil}
	}
	return out
}

// jsonMediaType: the validator's JSON test (isJSON), or a wildcard a JSON
// body falls under.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(ct)
	}
	return isJSON(mt) || mt == "*/*" || mt == "application/*"
}

// maxSchemaDepth bounds the walk's depth (recursive schemas refer to
// themselves) and maxSchemaSteps its length (compositions branch: a
// schema whose oneOf lists itself twice would double at every level).
// Past either the path is allowed: not judged is not refused.
const (
	maxSchemaDepth = 64
	maxSchemaSteps = 10000
)

// CanExist reports whether some value valid against s can hold a field at
// path (dotted names, a number indexes an array, as pkg/transform reads
// them); when not, why names the segment and the reason.
func CanExist(s *openapi3.Schema, path []string) (ok bool, why string) {
	w := walk{}
	ok, why = w.canExist(s, path, 0, "")
	if w.steps > maxSchemaSteps {
		return true, ""
	}
	return ok, why
}

type walk struct{ steps int }

func (w *walk) canExist(s *openapi3.Schema, path []string, depth int, at string) (bool, string) {
	w.steps++
	if s == nil || len(path) == 0 || depth > maxSchemaDepth || w.steps > maxSchemaSteps {
		return true, ""
	}
	// A composition: the path exists if any branch allows it (for allOf
	// this is looser than JSON Schema, on purpose: refuse only the sure).
	branches := append(append(append(openapi3.SchemaRefs(nil), s.AllOf...), s.AnyOf...), s.OneOf...)
	why := ""
	for _, b := range branches {
		if b == nil || b.Value == nil {
			return true, ""
		}
		ok, wh := w.canExist(b.Value, path, depth+1, at)
		if ok {
			return true, ""
		}
		if why == "" {
			why = wh
		}
	}
	own := (s.Type != nil && !s.Type.IsEmpty()) || len(s.Properties) > 0 || s.Items != nil ||
		s.AdditionalProperties.Has != nil || s.AdditionalProperties.Schema != nil
	if len(branches) > 0 && !own {
		return false, why
	}
	seg, rest := path[0], path[1:]
	here := seg
	if at != "" {
		here = at + "." + seg
	}
	typed := s.Type != nil && !s.Type.IsEmpty()
	canObject := !typed || s.Type.Includes(openapi3.TypeObject)
	canArray := !typed || s.Type.Includes(openapi3.TypeArray)
	if canObject {
		if p, ok := s.Properties[seg]; ok {
			if p == nil || p.Value == nil {
				return true, ""
			}
			if ok, wh := w.canExist(p.Value, rest, depth+1, here); ok {
				return true, ""
			} else if why == "" {
				why = wh
			}
		} else if len(s.PatternProperties) > 0 {
			return true, "" // 3.1 pattern properties: not worth guessing
		} else if ap := s.AdditionalProperties.Schema; ap != nil {
			if ap.Value == nil {
				return true, ""
			}
			if ok, wh := w.canExist(ap.Value, rest, depth+1, here); ok {
				return true, ""
			} else if why == "" {
				why = wh
			}
		} else if ap := s.AdditionalProperties.Has; ap == nil || *ap {
			return true, ""
		} else if why == "" {
			why = fmt.Sprintf("%s: no such property and additionalProperties: false", here)
		}
	}
	if canArray {
		if _, err := strconv.Atoi(seg); err == nil && seg[0] != '-' && seg[0] != '+' {
			if s.Items == nil || s.Items.Value == nil {
				return true, ""
			}
			if ok, wh := w.canExist(s.Items.Value, rest, depth+1, here); ok {
				return true, ""
			} else if why == "" {
				why = wh
			}
		} else if !canObject && why == "" {
			why = fmt.Sprintf("%s: an array is indexed by number", here)
		}
	}
	if !canObject && !canArray && why == "" {
		parent := at
		if parent == "" {
			parent = "the body"
		}
		why = fmt.Sprintf("%s is %s, it has no fields", parent, strings.Join(s.Type.Slice(), " or "))
	}
	return false, why
}
