package waf

import (
	"fmt"
	"strings"
	"sync/atomic"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	coraza "github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// PolicyMetadataKey is the gRPC initial metadata key naming the policy of a
// stream. Envoy sets it from the route's ext_proc configuration, so a client
// cannot choose it: it is not a request header.
const PolicyMetadataKey = wire.WAFPolicyMetadataKey

// MetadataNamespace is the dynamic metadata namespace of the decisions; the
// access log reads %DYNAMIC_METADATA(gatehouse.waf:rule_ids)%.
const MetadataNamespace = wire.WAFMetadataNamespace

// Service is the ext_proc server. Policies are swapped atomically by Update;
// a stream keeps the WAF it started with.
type Service struct {
	extprocv3.UnimplementedExternalProcessorServer
	wafs atomic.Pointer[map[string]coraza.WAF]
}

// New compiles the policies; the error names the failing policy.
func New(policies map[string]Policy) (*Service, error) {
	s := &Service{}
	if err := s.Update(policies); err != nil {
		return nil, err
	}
	return s, nil
}

// Update compiles a new set of policies and swaps it in; on error the
// previous set stays.
func (s *Service) Update(policies map[string]Policy) error {
	wafs := make(map[string]coraza.WAF, len(policies))
	for name, p := range policies {
		w, err := compile(p)
		if err != nil {
			return fmt.Errorf("firewall %s: %w", name, err)
		}
		wafs[name] = w
	}
	s.wafs.Store(&wafs)
	return nil
}

func compile(p Policy) (coraza.WAF, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	w, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(p.directives()))
	if err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	return w, nil
}

// Register adds the service to gatehouse's gRPC server.
func (s *Service) Register(g *grpc.Server) { extprocv3.RegisterExternalProcessorServer(g, s) }

// Process handles one HTTP request/response exchange.
func (s *Service) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	// A bug must cost one request, not the process: the request is
	// refused (fail closed), the stream ends with an error Envoy counts,
	// and gatehouse keeps serving (extproc.Serve).
	return extproc.Serve(stream, "waf", internalErrorRefusal, func(md metadata.MD) (extproc.Handler, func(), error) {
		name := extproc.One(md, PolicyMetadataKey)
		w := (*s.wafs.Load())[name]
		if w == nil {
			// Fail closed: a stream without a known policy is a configuration
			// error, and letting it through would turn the WAF off silently.
			return nil, nil, status.Errorf(codes.FailedPrecondition, "no firewall policy %q", name)
		}
		ex := newExchange(w, name)
		// An upgrade route's stream: Envoy sends headers only (the upgraded
		// body never ends), so the request and the response are judged
		// at their headers (wire.HeadersOnlyMetadataKey).
		ex.headersOnly = extproc.One(md, wire.HeadersOnlyMetadataKey) == "true"
		return ex.handle, ex.close, nil
	})
}

func internalErrorRefusal() *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}, Body: []byte("request refused: web application firewall internal error\n"), Details: "waf_internal_error",
	}}}
}

// exchange is the Coraza transaction of one stream.
type exchange struct {
	tx        types.Transaction
	policy    string
	requestID string
	// reqDone: phase 2 evaluated; a request body message after it (Envoy
	// never sends one) is ignored rather than evaluated twice.
	reqDone, respDone, logged bool
	// headersOnly: an upgrade route's stream; phase 2 runs with the
	// request headers (else CRS's blocking evaluation, rule 949110, would
	// never run and a header injection would pass), phase 4 with the
	// response headers, and a body or trailers message, which Envoy does
	// not send on such a stream, is refused rather than evaluated late.
	headersOnly bool
}

func newExchange(w coraza.WAF, policy string) *exchange {
	return &exchange{tx: w.NewTransaction(), policy: policy}
}

func (e *exchange) close() {
	e.log()
	_ = e.tx.Close()
}

// log runs phase 5 (CRS's correlation rules, 980xxx) once. It runs before
// the last answer when the response ends normally, so its ids reach the
// dynamic metadata; otherwise when the stream ends.
func (e *exchange) log() {
	if e.logged {
		return
	}
	e.logged = true
	e.tx.ProcessLogging()
}

// handle evaluates one message; done is true when the answer ends the
// exchange (an immediate response).
func (e *exchange) handle(req *extprocv3.ProcessingRequest) (*extprocv3.ProcessingResponse, bool) {
	var it *types.Interruption
	var out *extprocv3.ProcessingResponse
	switch req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestBody, *extprocv3.ProcessingRequest_RequestTrailers,
		*extprocv3.ProcessingRequest_ResponseBody, *extprocv3.ProcessingRequest_ResponseTrailers:
		if e.headersOnly {
			return e.block(&types.Interruption{Action: "deny", Status: 403}), true
		}
	}
	switch r := req.Request.(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		it = e.requestHeaders(req, r.RequestHeaders)
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: &extprocv3.HeadersResponse{}}}
	case *extprocv3.ProcessingRequest_RequestBody:
		it = e.requestBody(r.RequestBody)
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_RequestTrailers:
		it = e.endRequest()
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		it = e.responseHeaders(r.ResponseHeaders)
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: &extprocv3.HeadersResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseBody:
		it = e.responseBody(r.ResponseBody)
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: &extprocv3.BodyResponse{}}}
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		it = e.endResponse()
		out = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{ResponseTrailers: &extprocv3.TrailersResponse{}}}
	default:
		// Unknown message kinds (newer Envoy): pass, do not guess.
		return &extprocv3.ProcessingResponse{}, false
	}
	if it != nil {
		return e.block(it), true
	}
	out.DynamicMetadata = e.metadata("pass")
	return out, false
}

func (e *exchange) requestHeaders(req *extprocv3.ProcessingRequest, h *extprocv3.HttpHeaders) *types.Interruption {
	var method, path, authority, scheme string
	hasAuthority := false
	proto := "HTTP/1.1"
	for _, hv := range h.GetHeaders().GetHeaders() {
		v := headerValue(hv)
		switch hv.GetKey() {
		case ":method":
			method = v
		case ":path":
			path = v
		case ":authority":
			authority, hasAuthority = v, true
		case ":scheme":
			scheme = v
		case "x-request-id":
			e.requestID = v
			e.tx.AddRequestHeader(hv.GetKey(), v)
		default:
			if strings.HasPrefix(hv.GetKey(), ":") {
				continue
			}
			e.tx.AddRequestHeader(hv.GetKey(), v)
		}
	}
	_ = scheme
	if hasAuthority {
		// Envoy passes Host as :authority (all HTTP versions); the rules
		// read Host, including an empty one (rule 920290).
		e.tx.AddRequestHeader("Host", authority)
	}
	if p := attr(req, "request.protocol"); p != "" {
		proto = p
	}
	client, port := clientAddress(req)
	e.tx.ProcessConnection(client, port, "", 0)
	e.tx.ProcessURI(path, method, proto)
	if it := e.tx.ProcessRequestHeaders(); it != nil {
		return it
	}
	if h.GetEndOfStream() || e.headersOnly {
		// No body: phase 2 (where CRS compares the anomaly score with the
		// threshold, rule 949110) runs now, or it would never run.
		return e.endRequest()
	}
	return nil
}

func (e *exchange) requestBody(b *extprocv3.HttpBody) *types.Interruption {
	if e.reqDone {
		return nil
	}
	if it, _, err := e.tx.WriteRequestBody(b.GetBody()); it != nil || err != nil {
		return orFail(it, err)
	}
	if b.GetEndOfStream() {
		return e.endRequest()
	}
	return nil
}

func (e *exchange) endRequest() *types.Interruption {
	if e.reqDone {
		return nil
	}
	e.reqDone = true
	it, err := e.tx.ProcessRequestBody()
	return orFail(it, err)
}

func (e *exchange) responseHeaders(h *extprocv3.HttpHeaders) *types.Interruption {
	// A response without request end (Envoy answers before the body
	// finished, e.g. a local reply) still gets phase 2 first.
	if it := e.endRequest(); it != nil {
		return it
	}
	code := 0
	for _, hv := range h.GetHeaders().GetHeaders() {
		v := headerValue(hv)
		if hv.GetKey() == ":status" {
			fmt.Sscanf(v, "%d", &code)
			continue
		}
		if strings.HasPrefix(hv.GetKey(), ":") {
			continue
		}
		e.tx.AddResponseHeader(hv.GetKey(), v)
	}
	if it := e.tx.ProcessResponseHeaders(code, "HTTP/1.1"); it != nil {
		return it
	}
	if h.GetEndOfStream() || e.headersOnly {
		return e.endResponse()
	}
	return nil
}

func (e *exchange) responseBody(b *extprocv3.HttpBody) *types.Interruption {
	if e.respDone {
		return nil
	}
	if e.tx.IsResponseBodyProcessable() {
		if it, _, err := e.tx.WriteResponseBody(b.GetBody()); it != nil || err != nil {
			return orFail(it, err)
		}
	}
	if b.GetEndOfStream() {
		return e.endResponse()
	}
	return nil
}

func (e *exchange) endResponse() *types.Interruption {
	if e.respDone {
		return nil
	}
	e.respDone = true
	it, err := e.tx.ProcessResponseBody()
	if it == nil && err == nil {
		e.log()
	}
	return orFail(it, err)
}

// orFail turns an evaluation error into a block: a body Coraza cannot
// process must not pass uninspected (fail closed).
func orFail(it *types.Interruption, err error) *types.Interruption {
	if it != nil {
		return it
	}
	if err != nil {
		return &types.Interruption{Action: "deny", Status: 403}
	}
	return nil
}

// block answers 403 with the request id, so a user reporting a false
// positive can give the operator the id that finds the log line.
func (e *exchange) block(it *types.Interruption) *extprocv3.ProcessingResponse {
	code := typev3.StatusCode_Forbidden
	if it.Status == 413 {
		code = typev3.StatusCode_PayloadTooLarge
	}
	body := "request blocked by the web application firewall"
	var hdrs []*corev3.HeaderValueOption
	if e.requestID != "" {
		body += "; request id " + e.requestID
		hdrs = append(hdrs, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "x-request-id", RawValue: []byte(e.requestID)}})
	}
	hdrs = append(hdrs, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: "content-type", RawValue: []byte("text/plain")}})
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: code},
			Headers: &extprocv3.HeaderMutation{SetHeaders: hdrs},
			Body:    []byte(body + "\n"),
			Details: "waf_blocked",
		}},
		DynamicMetadata: e.metadata("block"),
	}
}

// MatchedIDs are the ids of the rules that matched and log (the rules CRS
// reports; nolog bookkeeping rules are left out), ascending.
func (e *exchange) MatchedIDs() []int {
	set := map[int]bool{}
	for _, mr := range e.tx.MatchedRules() {
		if l, ok := mr.(interface{ Log() bool }); ok && !l.Log() {
			continue
		}
		set[mr.Rule().ID()] = true
	}
	return sortedIDs(set)
}

func (e *exchange) metadata(action string) *structpb.Struct {
	ids := e.MatchedIDs()
	if len(ids) == 0 && action == "pass" {
		return nil
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	if action == "pass" && len(ids) > 0 {
		action = "detect"
	}
	v, _ := structpb.NewStruct(map[string]any{MetadataNamespace: map[string]any{
		"action": action, "policy": e.policy, "rule_ids": strings.Join(parts, ","),
	}})
	return v
}

func headerValue(hv *corev3.HeaderValue) string {
	if len(hv.GetRawValue()) > 0 {
		return string(hv.GetRawValue())
	}
	return hv.GetValue()
}

// attr reads an Envoy attribute the filter was configured to send
// (request_attributes), "" when absent.
func attr(req *extprocv3.ProcessingRequest, name string) string {
	s := req.GetAttributes()["envoy.filters.http.ext_proc"]
	if s == nil {
		return ""
	}
	return s.GetFields()[name].GetStringValue()
}

// clientAddress is the downstream peer Envoy saw (source.address), not a
// forwarded-for header a client can write.
func clientAddress(req *extprocv3.ProcessingRequest) (string, int) {
	a := attr(req, "source.address")
	if a == "" {
		return "0.0.0.0", 0
	}
	i := strings.LastIndex(a, ":")
	if i < 0 {
		return a, 0
	}
	port := 0
	fmt.Sscanf(a[i+1:], "%d", &port)
	return strings.Trim(a[:i], "[]"), port
}
