package openapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// failure is why a request does not match: where (path, query, header,
// cookie, body, method), which field (a parameter name or a JSON pointer
// into the body) and a reason that does not quote the client's input.
type failure struct {
	status   int
	location string
	field    string
	reason   string
}

// maxDetail bounds every string the problem body carries that may come
// from the request (a parameter name is the document's, but a content
// type or a reason from a parser may quote the client).
const maxDetail = 200

// clip bounds s and drops control characters, so a hostile value cannot
// grow the answer or the access log, nor forge lines in either.
func clip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxDetail {
			b.WriteString("...")
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// requestFailure turns a kin-openapi error into a failure. The reason is
// the schema's (kin-openapi keeps the value out of SchemaError.Reason),
// else kin-openapi's own words, clipped.
func requestFailure(err error) *failure {
	f := &failure{status: http.StatusBadRequest}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		switch {
		case re.Parameter != nil:
			f.location, f.field = re.Parameter.In, re.Parameter.Name
		case re.RequestBody != nil:
			f.location = "body"
		}
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		if p := se.JSONPointer(); f.location == "body" {
			f.field = "/" + strings.Join(p, "/")
		}
	}
	if f.location == "" {
		f.location = "request"
	}
	if f.location == "body" && f.field == "" && re != nil && strings.HasPrefix(re.Reason, "header Content-Type") {
		f.location, f.field = "header", "content-type"
	}
	f.field = clip(f.field)
	f.reason = detailOf(err, "the request does not match the API description")
	return f
}

// detailOf is the most specific reason that does not carry the value.
func detailOf(err error, fallback string) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) && se.Reason != "" {
		return clip(se.Reason)
	}
	var re *openapi3filter.RequestError
	if errors.As(err, &re) {
		switch {
		case errors.Is(err, openapi3filter.ErrInvalidRequired):
			return "value is required but missing"
		case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
			return "empty value is not allowed"
		case re.Reason != "":
			return clip(re.Reason)
		}
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) && pe.Reason != "" {
		return clip(pe.Reason)
	}
	var rse *openapi3filter.ResponseError
	if errors.As(err, &rse) && rse.Reason != "" {
		return clip(rse.Reason)
	}
	return fallback
}

// problem is an RFC 9457 problem document.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Location  string `json:"location"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// refuse answers the client itself: Envoy does not forward the request,
// and applies the answer's dynamic metadata before its local reply
// (Envoy: source/extensions/filters/http/ext_proc/ext_proc.cc,
// onReceiveMessage, kImmediateResponse), so the access log sees it.
func (e *exchange) refuse(f *failure) *extprocv3.ProcessingResponse {
	p := problem{Type: "about:blank", Title: http.StatusText(f.status), Status: f.status, Detail: f.reason, Location: f.location, Field: f.field, RequestID: clip(e.requestID)}
	body, _ := json.Marshal(p)
	hdrs := []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "content-type", RawValue: []byte("application/problem+json")}}}
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(f.status)},
			Headers: &extprocv3.HeaderMutation{SetHeaders: hdrs},
			Body:    append(body, '\n'),
			Details: "openapi_invalid_request",
		}},
		DynamicMetadata: e.metadata("refuse", f, ""),
	}
}

// jsonDepth is the deepest nesting of arrays and objects in b, found in
// one pass without decoding (a body nested a million levels deep must not
// cost a million-level decode before being refused). Brackets inside
// strings do not count.
func jsonDepth(b []byte) int {
	depth, maxDepth, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				maxDepth = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}
