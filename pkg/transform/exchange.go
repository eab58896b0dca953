package transform

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// exchange is the state of one stream: the body being held per side.
type exchange struct {
	t    *Transformation
	vals sources
	req  sideState
	resp sideState
}

type sideState struct {
	pending bool // the body is being collected
	done    bool
	buf     []byte
}

// handle answers one message; done is true after an immediate response.
func (e *exchange) handle(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
	e.vals.readMetadata(req.GetMetadataContext().GetFilterMetadata())
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return e.headers(e.t.Request, &e.req, r.RequestHeaders, false)
	case *extprocv3.ProcessingRequest_RequestBody:
		return e.body(e.t.Request, &e.req, r.RequestBody, false)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		if e.req.pending {
			return e.fail(false, errTrailers)
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}, false
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return e.headers(e.t.Response, &e.resp, r.ResponseHeaders, true)
	case *extprocv3.ProcessingRequest_ResponseBody:
		return e.body(e.t.Response, &e.resp, r.ResponseBody, true)
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		if e.resp.pending {
			return e.fail(true, errTrailers)
		}
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}, false
	}
	// Unknown message kinds (a newer Envoy): answer nothing in particular.
	return &extprocv3.ProcessingResponse{}, false
}

// errTrailers: a body followed by trailers cannot be replaced (the last
// body message has passed before the trailers say the body ended).
var errTrailers = errors.New("a body with trailers cannot be transformed")

var errTooLarge = errors.New("body over the transformation's limit")

func wrapHeaders(c *extprocv3.CommonResponse, response bool) *extprocv3.ProcessingResponse {
	h := &extprocv3.HeadersResponse{Response: c}
	if response {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: h}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: h}}
}

func wrapBody(c *extprocv3.CommonResponse, response bool) *extprocv3.ProcessingResponse {
	b := &extprocv3.BodyResponse{Response: c}
	if response {
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: b}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: b}}
}

func set(m *extprocv3.HeaderMutation, k, v string) {
	m.SetHeaders = append(m.SetHeaders, &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, RawValue: []byte(v)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	})
}

func (e *exchange) headers(s *Side, st *sideState, h *extprocv3.HttpHeaders, response bool) (*extprocv3.ProcessingResponse, bool) {
	e.vals.headers = map[string]string{}
	path := ""
	for _, hv := range h.GetHeaders().GetHeaders() {
		v := string(hv.GetRawValue())
		if len(hv.GetRawValue()) == 0 {
			v = hv.GetValue()
		}
		k := strings.ToLower(hv.GetKey())
		if _, dup := e.vals.headers[k]; !dup {
			e.vals.headers[k] = v
		}
		if k == ":path" {
			path = v
		}
	}
	if s == nil {
		return wrapHeaders(nil, response), false
	}
	m := &extprocv3.HeaderMutation{}
	if response {
		e.vals.status = e.vals.headers[":status"]
		if code, err := strconv.Atoi(e.vals.status); err == nil {
			if to, ok := s.Status[code]; ok {
				// Envoy lets a processor change :status (not a routing
				// header): source/extensions/filters/common/mutation_rules/
				// mutation_rules.cc, Checker::isAllowed.
				e.vals.status = strconv.Itoa(to)
				set(m, ":status", e.vals.status)
			}
		}
	}
	for _, n := range sortedKeys(s.SetHeaders) {
		v, ok := e.vals.value(s.SetHeaders[n])
		if !ok {
			if s.SetHeaders[n].Required {
				return e.fail(response, errMissing{"header " + n})
			}
			continue
		}
		str, isScalar := scalar(v)
		if !isScalar {
			str = ""
		}
		if strings.ContainsAny(str, "\r\n\x00") {
			// Envoy would reject the mutation (a 500); say why instead.
			return e.fail(response, errShape{"header " + n + ": value has control characters"})
		}
		set(m, strings.ToLower(n), str)
	}
	for _, n := range s.RemoveHeaders {
		m.RemoveHeaders = append(m.RemoveHeaders, strings.ToLower(n))
	}
	if !response && (len(s.SetQuery) > 0 || len(s.RemoveQuery) > 0) {
		p, err := e.query(s, path)
		if err != nil {
			return e.fail(false, err)
		}
		set(m, ":path", p)
	}
	c := &extprocv3.CommonResponse{HeaderMutation: m}
	if s.Body != nil {
		if s.Body.Template != nil {
			set(m, "content-type", s.Body.Template.ContentType)
		} else if s.Body.To != "" && s.Body.To != s.Body.From {
			set(m, "content-type", contentType(s.Body.To))
		}
		// The length changes with the body; Envoy removes it in streamed
		// mode itself, and in buffered mode rejects a body that does not
		// match it (ext_proc processing_mode.proto, BodySendMode).
		m.RemoveHeaders = append(m.RemoveHeaders, "content-length")
		if h.GetEndOfStream() {
			if s.Body.Template != nil {
				// No body to wait for: the template is the body.
				c.Status = extprocv3.CommonResponse_CONTINUE_AND_REPLACE
				c.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: render(s.Body.Template, nil, &e.vals)}}
			}
		} else {
			st.pending = true
		}
	}
	return wrapHeaders(c, response), false
}

func (e *exchange) query(s *Side, path string) (string, error) {
	p, rawq, _ := strings.Cut(path, "?")
	q, err := url.ParseQuery(rawq)
	if err != nil {
		return "", errMalformed{err}
	}
	for _, n := range s.RemoveQuery {
		q.Del(n)
	}
	for _, n := range sortedKeys(s.SetQuery) {
		v, ok := e.vals.value(s.SetQuery[n])
		if !ok {
			if s.SetQuery[n].Required {
				return "", errMissing{"query " + n}
			}
			continue
		}
		str, _ := scalar(v)
		q.Set(n, str)
	}
	if len(q) == 0 {
		return p, nil
	}
	return p + "?" + q.Encode(), nil
}

func (e *exchange) body(s *Side, st *sideState, b *extprocv3.HttpBody, response bool) (*extprocv3.ProcessingResponse, bool) {
	if s == nil || s.Body == nil {
		return wrapBody(nil, response), false
	}
	if st.done {
		// Body after its end (Envoy never sends one): refuse rather than
		// let an untransformed chunk through.
		return e.fail(response, errShape{"body data after the end of the body"})
	}
	st.pending = true
	if len(st.buf)+len(b.GetBody()) > s.Body.max() {
		st.buf = nil
		return e.fail(response, errTooLarge)
	}
	st.buf = append(st.buf, b.GetBody()...)
	if !b.GetEndOfStream() {
		// Hold the chunk: nothing reaches the other side until the whole
		// body is transformed.
		return wrapBody(&extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}}, response), false
	}
	st.pending, st.done = false, true
	out, err := e.transform(s.Body, st.buf)
	st.buf = nil
	if err != nil {
		return e.fail(response, err)
	}
	return wrapBody(&extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: out}}}, response), false
}

func (e *exchange) transform(b *Body, in []byte) ([]byte, error) {
	if len(in) == 0 && b.Template == nil {
		return in, nil
	}
	var root any
	if len(in) > 0 {
		var err error
		if root, err = decode(b.From, in); err != nil {
			return nil, err
		}
	}
	root, err := apply(root, b.Ops, &e.vals)
	if err != nil {
		return nil, err
	}
	if b.Template != nil {
		return render(b.Template, root, &e.vals), nil
	}
	out, _, err := encode(b.To, b.XMLRoot, root)
	return out, err
}

// fail answers in place of the message: 413 for a request body over the
// limit, 400 for one the transformation cannot read or reshape, 502 for
// any response it cannot transform (the upstream's fault, not the
// client's). Nothing half-transformed has passed: every chunk was held.
func (e *exchange) fail(response bool, err error) (*extprocv3.ProcessingResponse, bool) {
	var ms errMalformed
	switch {
	case response:
		return immediate(typev3.StatusCode_BadGateway, "response could not be transformed", "transform_bad_response"), true
	case errors.Is(err, errTooLarge):
		return immediate(typev3.StatusCode_PayloadTooLarge, "request body too large", "transform_body_too_large"), true
	case errors.As(err, &ms):
		return immediate(typev3.StatusCode_BadRequest, "malformed request body: "+err.Error(), "transform_malformed_body"), true
	default:
		return immediate(typev3.StatusCode_BadRequest, "request does not fit the transformation: "+err.Error(), "transform_bad_request"), true
	}
}

func immediate(code typev3.StatusCode, msg, details string) *extprocv3.ProcessingResponse {
	m := &extprocv3.HeaderMutation{}
	set(m, "content-type", "text/plain")
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status: &typev3.HttpStatus{Code: code}, Headers: m, Body: []byte(msg + "\n"), Details: details,
	}}}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
