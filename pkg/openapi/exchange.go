package openapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// exchange is the state of one stream: the request as built from Envoy's
// messages, and the route it matched.
type exchange struct {
	c         *compiled
	ctx       context.Context
	req       *http.Request
	input     *openapi3filter.RequestValidationInput
	body      []byte
	requestID string
	// failure recorded in log-only mode (the request went on).
	logged *failure
	// reqDone: the request was judged; later request messages pass.
	reqDone bool
	// headersOnly: an upgrade route's stream (wire.HeadersOnlyMetadataKey):
	// Envoy sends headers only, so the request is judged whole at its
	// headers (no body), and a body message, which Envoy does not send on
	// such a stream, is refused rather than let through unjudged.
	headersOnly bool
	status      int
	rhdr        http.Header
	rbody       []byte
	// rTooBig: the response body passed MaxBodyBytes; a truncated body
	// would be reported as a mismatch it is not, so it is not validated.
	rTooBig bool
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Authentication is the Authentication and Authorization policies'
		// job (jwt_authn, ext_authz, earlier in the chain); the document's
		// security requirements are not a second, weaker check.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Defaults would be written into a copy of the body nobody
		// forwards: the upstream gets the client's bytes.
		SkipSettingDefaults: true,
	}
}

func (e *exchange) handle(pr *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
	if _, body := pr.Request.(*extprocv3.ProcessingRequest_RequestBody); body && e.headersOnly {
		return e.refuse(&failure{status: http.StatusBadRequest, location: "body", reason: "a body on an upgrade request"}), true
	}
	switch r := pr.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		f := e.requestHeaders(r.RequestHeaders)
		if f == nil && (r.RequestHeaders.GetEndOfStream() || e.headersOnly) {
			f = e.endRequest()
		}
		return e.answer(f, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}})
	case *extprocv3.ProcessingRequest_RequestBody:
		f := e.requestBody(r.RequestBody.GetBody())
		if f == nil && r.RequestBody.GetEndOfStream() {
			f = e.endRequest()
		}
		return e.answer(f, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}})
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return e.answer(e.endRequest(), &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}})
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		out := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
		e.responseHeaders(r.ResponseHeaders)
		if r.ResponseHeaders.GetEndOfStream() || e.headersOnly {
			out.DynamicMetadata = e.endResponse()
		}
		return out, false
	case *extprocv3.ProcessingRequest_ResponseBody:
		out := &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
		e.responseBody(r.ResponseBody.GetBody())
		if r.ResponseBody.GetEndOfStream() {
			out.DynamicMetadata = e.endResponse()
		}
		return out, false
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}, DynamicMetadata: e.endResponse()}, false
	default:
		// Unknown message kinds (a newer Envoy): pass, do not guess.
		return &extprocv3.ProcessingResponse{}, false
	}
}

// answer refuses the request (enforce) or records the failure and lets it
// go on (log-only); done is true when the answer ends the exchange.
func (e *exchange) answer(f *failure, out *extprocv3.ProcessingResponse) (*extprocv3.ProcessingResponse, bool) {
	if f == nil {
		return out, false
	}
	if e.c.policy.Mode == Enforce {
		return e.refuse(f), true
	}
	e.logged = f
	out.DynamicMetadata = e.metadata("log", f, "")
	return out, false
}

// requestHeaders builds the request and validates what does not need the
// body (route, path, query, header and cookie parameters), so a request
// with bad parameters is refused before its body is buffered.
func (e *exchange) requestHeaders(h *extprocv3.HttpHeaders) *failure {
	var method, path, authority string
	hdr := http.Header{}
	for _, hv := range h.GetHeaders().GetHeaders() {
		v := headerValue(hv)
		switch k := hv.GetKey(); k {
		case ":method":
			method = v
		case ":path":
			path = v
		case ":authority":
			authority = v
		default:
			if !strings.HasPrefix(k, ":") {
				hdr.Add(k, v)
			}
		}
	}
	e.requestID = hdr.Get("x-request-id")
	e.reqDone = false
	u, err := url.ParseRequestURI(path)
	if err != nil || method == "" || !strings.HasPrefix(path, "/") {
		return &failure{status: http.StatusBadRequest, location: "path", reason: "the request line is not a valid origin-form request target"}
	}
	// Go's query parser drops the pairs it cannot parse (a ';' separator,
	// a bad escape) and kin-openapi validates what is left, while the
	// upstream may read them: a parser differential that would smuggle
	// ?sort=asc;DROP... past a validated parameter. Refused instead.
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return &failure{status: http.StatusBadRequest, location: "query", reason: "the query string does not parse (a ';' separator or a bad percent-escape)"}
	}
	rest, ok := e.c.stripBase(u.Path)
	if !ok {
		return &failure{status: http.StatusNotFound, location: "path", reason: "no operation of the API matches the path"}
	}
	ru := *u
	ru.Path, ru.RawPath = rest, ""
	req := &http.Request{Method: method, URL: &ru, Host: authority, Header: hdr, Body: http.NoBody}
	route, params, err := e.c.router.FindRoute(req)
	if err != nil {
		return routeFailure(err)
	}
	e.req = req
	e.input = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, QueryParams: q, Route: route, Options: options()}
	if f := repeated(route, q, req); f != nil {
		return f
	}
	noBody := *e.input.Options
	noBody.ExcludeRequestBody = true
	in := *e.input
	in.Options = &noBody
	if err := openapi3filter.ValidateRequest(e.ctx, &in); err != nil {
		return requestFailure(err)
	}
	return nil
}

func (e *exchange) requestBody(b []byte) *failure {
	if e.input == nil || e.reqDone {
		return nil
	}
	if len(e.body)+len(b) > e.c.policy.MaxBodyBytes {
		return &failure{status: http.StatusRequestEntityTooLarge, location: "body", reason: "the body is larger than " + strconv.Itoa(e.c.policy.MaxBodyBytes) + " bytes"}
	}
	e.body = append(e.body, b...)
	return nil
}

// endRequest validates the body once the request has ended.
func (e *exchange) endRequest() *failure {
	if e.input == nil || e.reqDone {
		return nil
	}
	e.reqDone = true
	op := e.input.Route.Operation
	if op.RequestBody == nil {
		if len(e.body) > 0 {
			return &failure{status: http.StatusBadRequest, location: "body", reason: "the operation takes no request body"}
		}
		return nil
	}
	if isJSON(e.req.Header.Get("content-type")) {
		if d := jsonDepth(e.body); d > e.c.policy.MaxDepth {
			return &failure{status: http.StatusBadRequest, location: "body", reason: "the body is nested deeper than " + strconv.Itoa(e.c.policy.MaxDepth) + " levels"}
		}
	}
	e.req.Body = io.NopCloser(bytes.NewReader(e.body))
	e.req.ContentLength = int64(len(e.body))
	if err := openapi3filter.ValidateRequestBody(e.ctx, e.input, op.RequestBody.Value); err != nil {
		return requestFailure(err)
	}
	return nil
}

func (e *exchange) responseHeaders(h *extprocv3.HttpHeaders) {
	e.rhdr = http.Header{}
	for _, hv := range h.GetHeaders().GetHeaders() {
		k := hv.GetKey()
		if k == ":status" {
			e.status, _ = strconv.Atoi(headerValue(hv))
		} else if !strings.HasPrefix(k, ":") {
			e.rhdr.Add(k, headerValue(hv))
		}
	}
}

func (e *exchange) responseBody(b []byte) {
	if e.rTooBig || len(e.rbody)+len(b) > e.c.policy.MaxBodyBytes {
		e.rTooBig, e.rbody = true, nil
		return
	}
	e.rbody = append(e.rbody, b...)
}

// endResponse validates the response (log-only: the upstream has acted
// already) and returns the metadata recording a mismatch.
func (e *exchange) endResponse() *structpb.Struct {
	if e.input == nil || e.rhdr == nil || e.c.policy.Responses != LogOnly {
		return nil
	}
	if e.rTooBig {
		e.rhdr = nil
		return e.metadata("", nil, "not validated: the body is larger than "+strconv.Itoa(e.c.policy.MaxBodyBytes)+" bytes")
	}
	opts := options()
	opts.IncludeResponseStatus = true
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: e.input, Status: e.status, Header: e.rhdr, Options: opts}
	in.SetBodyBytes(e.rbody)
	err := openapi3filter.ValidateResponse(e.ctx, in)
	e.rhdr = nil
	if err == nil {
		return nil
	}
	return e.metadata("", nil, detailOf(err, "the response does not match the document"))
}

func headerValue(hv *corev3.HeaderValue) string {
	if len(hv.GetRawValue()) > 0 {
		return string(hv.GetRawValue())
	}
	return hv.GetValue()
}

func isJSON(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "json")
}

// metadata records the decision for the access log (namespace
// wire.OpenAPIMetadataNamespace). f is the request's failure, resp a
// response mismatch.
func (e *exchange) metadata(action string, f *failure, resp string) *structpb.Struct {
	m := map[string]any{"policy": e.c.name}
	if f != nil {
		m["action"] = action
		m["location"] = f.location
		m["field"] = f.field
		m["reason"] = f.reason
	}
	if resp != "" {
		m["response"] = resp
	}
	v, _ := structpb.NewStruct(map[string]any{wire.OpenAPIMetadataNamespace: m})
	return v
}

// routeFailure: a path the document does not describe is 404, a method it
// does not allow there 405.
func routeFailure(err error) *failure {
	if re, ok := err.(*routers.RouteError); ok && re.Reason == routers.ErrMethodNotAllowed.Error() {
		return &failure{status: http.StatusMethodNotAllowed, location: "method", reason: "the API does not allow this method on this path"}
	}
	return &failure{status: http.StatusNotFound, location: "path", reason: "no operation of the API matches the path"}
}
