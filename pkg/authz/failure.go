package authz

import (
	"fmt"
	"net/http"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// What may fail open. A policy's failOpen covers only what the client
// cannot choose: an evaluation error (a conflict, a built-in error, an
// internal failure) or the evaluation timeout. Everything else is decided,
// whatever failOpen says:
//   - a request the input cannot be built from (requestError): 400, or 413
//     when the policy reads a body that was cut;
//   - an undefined or malformed decision (noDecisionError): 403, because
//     the request shape that makes a policy say nothing is the client's
//     choice, and a policy that says nothing allows nothing.
// Authentication runs before any of this and never fails open.

// requestError is a request the policy's input cannot be built from.
type requestError struct {
	status int // http.StatusBadRequest or http.StatusRequestEntityTooLarge
	err    error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, err: fmt.Errorf(format, args...)}
}

// noDecisionError is an evaluation that gave no valid decision: undefined,
// several results, or a value that is not a decision.
type noDecisionError struct{ err error }

func (e *noDecisionError) Error() string { return e.err.Error() }
func (e *noDecisionError) Unwrap() error { return e.err }

func noDecision(format string, args ...any) error {
	return &noDecisionError{err: fmt.Errorf(format, args...)}
}

// readsBody reports whether a policy with this input need can read the
// request body: input.parsed_body, or the body Envoy sent
// (attributes.request.http.body or rawBody).
func readsBody(need *inputNeed) bool {
	if need.child("parsed_body") != nil {
		return true
	}
	n := need
	for _, k := range []string{"attributes", "request", "http"} {
		if n = n.child(k); n == nil {
			return false
		}
	}
	return n.child("body") != nil || n.child("rawBody") != nil
}

// denyBody is the body of a denial the service decides by itself.
func denyBody(status int, reason string) *string {
	s := fmt.Sprintf("%d %s: %s\n", status, http.StatusText(status), reason)
	return &s
}

// maxHeaderBytes is the most header data Envoy forwards: the largest
// max_request_headers_kb its HTTP connection manager accepts (8192 KiB;
// Envoy: api/envoy/extensions/filters/network/http_connection_manager/v3/
// http_connection_manager.proto, and pkg/policy's limit for a Gateway). A
// CheckRequest with more came from no Envoy of gatehouse's: refused before
// any input is built from it.
const maxHeaderBytes = 8192 << 10

// checkHeaderSize refuses (431) a request whose headers or path exceed
// maxHeaderBytes.
func checkHeaderSize(h *authv3.AttributeContext_HttpRequest) error {
	n := 0
	for k, v := range h.GetHeaders() {
		n += len(k) + len(v)
	}
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		n += len(hv.GetKey()) + len(hv.GetValue()) + len(hv.GetRawValue())
	}
	if n > maxHeaderBytes || len(h.GetPath()) > maxHeaderBytes {
		return &requestError{status: http.StatusRequestHeaderFieldsTooLarge,
			err: fmt.Errorf("headers of %d bytes or path of %d bytes: more than Envoy forwards (%d)", n, len(h.GetPath()), maxHeaderBytes)}
	}
	return nil
}
