package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
)

// identity is who the caller turned out to be.
type identity struct {
	consumer string
	groups   []string
	by       string // Authentication name, "" when none
	subject  string // JWT sub, when identified by a JWT
}

var versionTerm = ast.ObjectTerm(
	ast.Item(ast.StringTerm("encoding"), ast.StringTerm("protojson")),
	ast.Item(ast.StringTerm("ext_authz"), ast.StringTerm("v3")),
)

// errBadBody marks a body that claims to be JSON and is not. opa-envoy-plugin
// refuses such requests; so does gatehouse, unless the policy fails open.
var errBadBody = errors.New("request body is not valid JSON")

// buildInput builds the whole Rego input: opa-envoy-plugin's (attributes,
// parsed_path, parsed_query, parsed_body, truncated_body, version) plus
// input.gatehouse.
func buildInput(req *authv3.CheckRequest, maxBody int, gh *ast.Term) (ast.Value, error) {
	return buildInputFor(req, maxBody, gh, needAll)
}

// buildInputFor builds the part of the input that need says a policy can
// read. Path, query and body are still parsed when not needed, so a
// malformed request is an input error whatever the policy reads.
func buildInputFor(req *authv3.CheckRequest, maxBody int, gh *ast.Term, need *inputNeed) (ast.Value, error) {
	attrs := req.GetAttributes()
	in := ast.NewObjectWithCapacity(8)
	if n := need.child("attributes"); n != nil {
		if attrs != nil {
			in.Insert(ast.StringTerm("attributes"), protoToASTFor(attrs.ProtoReflect(), n))
		} else {
			in.Insert(ast.StringTerm("attributes"), ast.ObjectTerm())
		}
	}
	if need.child("version") != nil {
		in.Insert(ast.StringTerm("version"), versionTerm)
	}
	if need.child("gatehouse") != nil {
		in.Insert(ast.StringTerm("gatehouse"), gh)
	}
	if p := attrs.GetSource().GetPrincipal(); p != "" && need.child("source_principal") != nil {
		in.Insert(ast.StringTerm("source_principal"), ast.StringTerm(p))
	}

	h := attrs.GetRequest().GetHttp()
	needPath, needQuery := need.child("parsed_path") != nil, need.child("parsed_query") != nil
	parsedPath, parsedQuery, err := parsePathFor(h.GetPath(), needPath, needQuery)
	if err != nil {
		return in, err
	}
	if needPath {
		in.Insert(ast.StringTerm("parsed_path"), parsedPath)
	}
	if needQuery {
		in.Insert(ast.StringTerm("parsed_query"), parsedQuery)
	}

	body, truncated, err := parseBody(h, maxBody)
	if need.child("parsed_body") != nil {
		in.Insert(ast.StringTerm("parsed_body"), body)
	}
	if need.child("truncated_body") != nil {
		in.Insert(ast.StringTerm("truncated_body"), ast.InternedTerm(truncated))
	}
	return in, err
}

// parsePath splits the path as opa-envoy-plugin does: segments after the
// leading slashes, and the query as a map of value lists.
func parsePath(p string) (*ast.Term, *ast.Term, error) {
	return parsePathFor(p, true, true)
}

// parsePathFor checks the whole path and query but builds the terms only
// when asked (a nil term otherwise): a malformed path is an input error
// whether or not the policy reads it.
func parsePathFor(p string, buildPath, buildQuery bool) (*ast.Term, *ast.Term, error) {
	rawPath, rawQuery, _ := strings.Cut(p, "?")
	decoded, err := url.PathUnescape(rawPath)
	if err != nil {
		return ast.ArrayTerm(), ast.ObjectTerm(), fmt.Errorf("unparsable path: %w", err)
	}
	var path, query *ast.Term
	if buildPath {
		segs := strings.Split(strings.TrimLeft(decoded, "/"), "/")
		terms := make([]*ast.Term, len(segs))
		for i, s := range segs {
			terms[i] = ast.StringTerm(s)
		}
		path = ast.ArrayTerm(terms...)
	}
	if rawQuery == "" {
		if buildQuery {
			query = ast.ObjectTerm()
		}
		return path, query, nil
	}
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return ast.ArrayTerm(), ast.ObjectTerm(), fmt.Errorf("unparsable query: %w", err)
	}
	if !buildQuery {
		return path, nil, nil
	}
	q := ast.NewObjectWithCapacity(len(vals))
	for k, vs := range vals {
		vt := make([]*ast.Term, len(vs))
		for i, v := range vs {
			vt[i] = ast.StringTerm(v)
		}
		q.Insert(ast.StringTerm(k), ast.ArrayTerm(vt...))
	}
	return path, ast.NewTerm(q), nil
}

// parseBody parses the body as opa-envoy-plugin does: JSON, form-urlencoded
// and multipart/form-data bodies by content type. A body that Envoy cut
// short (x-envoy-auth-partial-body, or a content-length larger than what it
// sent) or that exceeds maxBody is reported as truncated with parsed_body
// null; other content types give null.
func parseBody(h *authv3.AttributeContext_HttpRequest, maxBody int) (*ast.Term, bool, error) {
	if maxBody < 0 {
		return ast.InternedNullTerm, false, nil
	}
	if maxBody == 0 {
		maxBody = DefaultMaxBodyBytes
	}
	headers := h.GetHeaders()
	if headers["x-envoy-auth-partial-body"] == "true" {
		return ast.InternedNullTerm, true, nil
	}
	ct := headers["content-type"]
	kind := ""
	switch {
	case strings.Contains(ct, "application/json"):
		kind = "json"
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		kind = "form"
	case strings.Contains(ct, "multipart/form-data"):
		kind = "multipart"
	default:
		return ast.InternedNullTerm, false, nil
	}
	body := []byte(h.GetBody())
	if len(body) == 0 {
		body = h.GetRawBody()
	}
	if len(body) == 0 {
		return ast.InternedNullTerm, false, nil
	}
	if cl, ok := headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return ast.InternedNullTerm, false, fmt.Errorf("content-length %q: %w", cl, errBadBody)
		}
		if n > int64(len(body)) {
			return ast.InternedNullTerm, true, nil
		}
	}
	if len(body) > maxBody {
		return ast.InternedNullTerm, true, nil
	}
	var v any
	var err error
	switch kind {
	case "json":
		v, err = parseJSONBody(body)
	case "form":
		var q url.Values
		q, err = url.ParseQuery(string(body))
		v = queryToAny(q)
	case "multipart":
		v, err = parseMultipart(ct, body)
	}
	if err != nil {
		return ast.InternedNullTerm, false, fmt.Errorf("%w: %v", errBadBody, err)
	}
	val, err := ast.InterfaceToValue(v)
	if err != nil {
		return ast.InternedNullTerm, false, fmt.Errorf("%w: %v", errBadBody, err)
	}
	return ast.NewTerm(val), false, nil
}

func parseJSONBody(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func queryToAny(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, vs := range q {
		l := make([]any, len(vs))
		for i, v := range vs {
			l[i] = v
		}
		out[k] = l
	}
	return out
}

// parseMultipart gives each form field's values; JSON parts are parsed.
func parseMultipart(contentType string, body []byte) (any, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, err
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil
	}
	values := map[string]any{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return values, nil
		}
		if err != nil {
			return nil, err
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		var v any = string(data)
		if strings.Contains(p.Header.Get("Content-Type"), "application/json") {
			if v, err = parseJSONBody(data); err != nil {
				return nil, err
			}
		}
		l, _ := values[name].([]any)
		values[name] = append(l, v)
	}
}

// gatehouseTerm is input.gatehouse.
func gatehouseTerm(gateway, route, policy string, id identity) *ast.Term {
	groups := make([]*ast.Term, len(id.groups))
	for i, g := range id.groups {
		groups[i] = ast.StringTerm(g)
	}
	return ast.ObjectTerm(
		ast.Item(ast.StringTerm("gateway"), ast.StringTerm(gateway)),
		ast.Item(ast.StringTerm("route"), ast.StringTerm(route)),
		ast.Item(ast.StringTerm("authorization"), ast.StringTerm(policy)),
		ast.Item(ast.StringTerm("consumer"), ast.StringTerm(id.consumer)),
		ast.Item(ast.StringTerm("groups"), ast.ArrayTerm(groups...)),
		ast.Item(ast.StringTerm("authenticated_by"), ast.StringTerm(id.by)),
		ast.Item(ast.StringTerm("subject"), ast.StringTerm(id.subject)),
	)
}
