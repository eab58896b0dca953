package authz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"google.golang.org/protobuf/types/known/structpb"
)

// identity is who the caller turned out to be.
type identity struct {
	consumer string
	groups   []string
	by       string           // Authentication name, "" when none
	subject  string           // token sub, when identified by a JWT or an introspected token
	token    *tokenInfo       // an introspected token
	payload  *structpb.Struct // a verified JWT payload, read on demand (tok)
}

// tok is what the caller's token says, nil without a token. A JWT payload
// is converted only here, when require or input.gatehouse needs it.
func (id *identity) tok() *tokenInfo {
	if id.token == nil && id.payload != nil {
		id.token = jwtToken(id.payload.AsMap())
	}
	return id.token
}

var versionTerm = ast.ObjectTerm(
	ast.Item(ast.StringTerm("encoding"), ast.StringTerm("protojson")),
	ast.Item(ast.StringTerm("ext_authz"), ast.StringTerm("v3")),
)

// errBadBody marks a body that claims a media type it does not hold (JSON
// that does not parse, has data after the value or a duplicate key; a form
// that does not decode). opa-envoy-plugin refuses such requests (400).
var errBadBody = errors.New("malformed request body")

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
	if err := checkHeaderSize(h); err != nil {
		return in, err
	}
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

	body, err := checkBody(h, maxBody, need)
	if err != nil {
		return in, err
	}
	if need.child("parsed_body") != nil {
		in.Insert(ast.StringTerm("parsed_body"), body.term)
	}
	if need.child("truncated_body") != nil {
		in.Insert(ast.StringTerm("truncated_body"), ast.InternedTerm(body.truncated))
	}
	return in, nil
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
		return ast.ArrayTerm(), ast.ObjectTerm(), badRequest("unparsable path: %v", err)
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
		return ast.ArrayTerm(), ast.ObjectTerm(), badRequest("unparsable query: %v", err)
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

// parsedBody is what the input says of the request body.
type parsedBody struct {
	term      *ast.Term // input.parsed_body
	truncated bool      // input.truncated_body, as opa-envoy-plugin sets it
	// cut: the policy would see less than the client sent (Envoy cut the
	// body, or it is larger than what gatehouse parses).
	cut bool
}

// checkBody is parseBody, refusing (413) a body that was cut when the
// policy reads the body: a policy must never decide on a part of it.
func checkBody(h *authv3.AttributeContext_HttpRequest, maxBody int, need *inputNeed) (parsedBody, error) {
	b, err := parseBody(h, maxBody)
	if err != nil {
		return b, err
	}
	if b.cut && readsBody(need) {
		return b, &requestError{status: http.StatusRequestEntityTooLarge,
			err: errors.New("the policy reads the request body and it was cut before authorization")}
	}
	return b, nil
}

// parseBody parses the body as opa-envoy-plugin does (JSON,
// form-urlencoded and multipart/form-data bodies), but recognizes the media
// type per RFC 9110 (case-insensitive, parameters apart, application/*+json
// is JSON), refuses duplicate JSON object keys and data after the JSON
// value, and reports a cut body. Other media types give null.
func parseBody(h *authv3.AttributeContext_HttpRequest, maxBody int) (parsedBody, error) {
	null := parsedBody{term: ast.InternedNullTerm}
	headers := h.GetHeaders()
	// Envoy sets this header itself (dropping any the client sent) when it
	// forwards a body cut at max_request_bytes (allow_partial_message).
	// Envoy: source/extensions/filters/common/ext_authz/check_request_utils.cc
	if headers["x-envoy-auth-partial-body"] == "true" {
		return parsedBody{term: ast.InternedNullTerm, truncated: true, cut: true}, nil
	}
	body := []byte(h.GetBody())
	if len(body) == 0 {
		body = h.GetRawBody()
	}
	if len(body) == 0 {
		return null, nil
	}
	ct, hasCT := headers["content-type"]
	kind, params, err := bodyKind(ct)
	if err != nil && hasCT {
		return null, badRequest("content-type %q: %v", ct, err)
	}
	longer := false // the client declared more than Envoy sent
	if cl, ok := headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil && kind != "" {
			return null, badRequest("content-length %q: %v", cl, err)
		}
		longer = err == nil && n > int64(len(body))
	}
	if kind == "" {
		return parsedBody{term: ast.InternedNullTerm, cut: longer}, nil
	}
	if longer {
		return parsedBody{term: ast.InternedNullTerm, truncated: true, cut: true}, nil
	}
	if maxBody < 0 {
		return null, nil // body parsing disabled by configuration
	}
	if maxBody == 0 {
		maxBody = DefaultMaxBodyBytes
	}
	if len(body) > maxBody {
		return parsedBody{term: ast.InternedNullTerm, truncated: true, cut: true}, nil
	}
	var v any
	switch kind {
	case "json":
		v, err = parseJSONBody(body)
	case "form":
		var q url.Values
		q, err = url.ParseQuery(string(body))
		v = queryToAny(q)
	case "multipart":
		v, err = parseMultipart(params["boundary"], body)
	}
	if err == nil {
		var val ast.Value
		if val, err = ast.InterfaceToValue(v); err == nil {
			return parsedBody{term: ast.NewTerm(val)}, nil
		}
	}
	return null, &requestError{status: http.StatusBadRequest, err: fmt.Errorf("%w (%s): %v", errBadBody, kind, err)}
}

// bodyKind names the body parser for a Content-Type: "json", "form",
// "multipart" or "" (not parsed). Media types compare as RFC 9110 says
// (type and subtype case-insensitive, parameters apart), so
// "Application/JSON; charset=utf-8" and "application/problem+json" are JSON.
func bodyKind(contentType string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "", nil, err
	}
	// ParseMediaType lower-cases the type and subtype.
	switch {
	case mt == "application/json", strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"):
		return "json", params, nil
	case mt == "application/x-www-form-urlencoded":
		return "form", params, nil
	case mt == "multipart/form-data":
		return "multipart", params, nil
	}
	return "", params, nil
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
func parseMultipart(boundary string, body []byte) (any, error) {
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
		if kind, _, _ := bodyKind(p.Header.Get("Content-Type")); kind == "json" {
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
		ast.Item(ast.StringTerm("client_id"), ast.StringTerm(id.tok().clientIDOrEmpty())),
		ast.Item(ast.StringTerm("scopes"), ast.ArrayTerm(scopeTerms(id.tok())...)),
	)
}
