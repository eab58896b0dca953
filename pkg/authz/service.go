package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
	"go.opentelemetry.io/otel/trace"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Service implements envoy.service.auth.v3.Authorization.
type Service struct {
	authv3.UnimplementedAuthorizationServer

	opts    Options
	metrics *decisionMetrics
	tracer  trace.Tracer               // nil: tracing off
	cache   cache.InterQueryValueCache // shared by evaluations: verified JWTs (io_jwt) and parsed keys
	state   atomic.Pointer[state]
	mu      sync.Mutex // serializes Update
}

// New returns a Service with an empty Config: until the first Update, routes
// that name an Authentication get 401 and routes that name an Authorization
// get 403 (nothing is known yet, so nothing is allowed).
func New(opts Options) (*Service, error) {
	if opts.EvalTimeout < 0 {
		return nil, fmt.Errorf("authz: negative eval timeout %v", opts.EvalTimeout)
	}
	if opts.EvalTimeout == 0 {
		opts.EvalTimeout = DefaultEvalTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := newDecisionMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("authz: metrics: %w", err)
	}
	s := &Service{opts: opts, cache: newValueCache(), metrics: m, tracer: tracing.Tracer(opts.TracerProvider, TracerName)}
	st, _ := buildState(context.Background(), nil, nil)
	s.state.Store(st)
	return s, nil
}

// Update compiles cfg and swaps it in atomically. Rego is prepared once per
// distinct (query, modules): a policy whose text did not change keeps its
// prepared query. On error nothing changes, so the last good Config keeps
// deciding; the error names every bad object (and file and line for Rego).
func (s *Service) Update(ctx context.Context, cfg *Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := buildState(ctx, cfg, s.state.Load())
	if err != nil {
		return fmt.Errorf("authz config: %w", err)
	}
	s.state.Store(st)
	return nil
}

// Register adds the service to a gRPC server.
func (s *Service) Register(g *grpc.Server) { authv3.RegisterAuthorizationServer(g, s) }

// Check decides one request. It always answers with a decision; it never
// returns an error, because Envoy would then apply the filter's failure
// mode rather than the policy's.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	if s.tracer == nil {
		resp, _ := s.check(ctx, req, nil)
		return resp, nil
	}
	ctx, span := s.startSpan(ctx, req)
	resp, d := s.check(ctx, req, nil)
	endSpan(span, &d)
	return resp, nil
}

// CheckAs decides req as if the caller had already been identified as
// consumer (with groups), skipping authentication: a dry run of the
// route's Authorization ("gatehouse authz eval"). The Decision is also
// returned; it goes to the DecisionLogger as usual.
func (s *Service) CheckAs(ctx context.Context, req *authv3.CheckRequest, consumer string, groups []string) (*authv3.CheckResponse, Decision) {
	if consumer == "" {
		consumer = wire.AnonymousConsumer
	}
	return s.check(ctx, req, &identity{consumer: consumer, groups: groups})
}

func (s *Service) check(ctx context.Context, req *authv3.CheckRequest, preset *identity) (resp *authv3.CheckResponse, d Decision) {
	start := s.opts.Now()
	useDetectedClient(req)
	st := s.state.Load()
	h := req.GetAttributes().GetRequest().GetHttp()
	ext := req.GetAttributes().GetContextExtensions()
	d = Decision{
		ID:      newDecisionID(),
		Time:    start,
		Gateway: ext[wire.CtxGateway],
		Route:   ext[wire.CtxRoute],
		Policy:  ext[wire.CtxAuthorization],
		Method:  strings.ToValidUTF8(h.GetMethod(), "\uFFFD"),
		Path:    logPath(h.GetPath()),
	}
	defer func() {
		if p := recover(); p != nil {
			// A bug must cost one request, not the process or the proxy's
			// view of the service.
			d.Reasons = append(d.Reasons, fmt.Sprintf("internal error: %v", p))
			resp = s.deny(&d, http.StatusForbidden, nil, nil)
		}
		d.Duration = s.opts.Now().Sub(start)
		s.metrics.record(st, &d)
		if s.opts.DecisionLogger != nil {
			s.opts.DecisionLogger(d)
		}
	}()
	return s.decide(ctx, st, req, &d, preset), d
}

func (s *Service) decide(ctx context.Context, st *state, req *authv3.CheckRequest, d *Decision, preset *identity) *authv3.CheckResponse {
	attrs := req.GetAttributes()
	ext := attrs.GetContextExtensions()
	var names []string
	for _, n := range strings.Split(ext[wire.CtxAuthentication], ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	realm := d.Gateway
	if realm == "" {
		realm = "gatehouse"
	}
	var id identity
	var fail *authFailure
	if preset != nil {
		id = *preset
		d.Reasons = append(d.Reasons, "dry run: identified as "+id.consumer)
	} else {
		id, fail = st.identify(ctx, attrs, names, ext[wire.CtxAllowAnonymous] == "true", realm)
	}
	if fail != nil {
		d.Consumer = wire.AnonymousConsumer
		d.Reasons = append(d.Reasons, fail.reason)
		if fail.status != 0 {
			return s.deny(d, fail.status, nil, ptr(fail.body))
		}
		return s.deny(d, http.StatusUnauthorized, []*corev3.HeaderValueOption{header("www-authenticate", fail.challenge)}, ptr("401 Unauthorized: no valid credential\n"))
	}
	d.Consumer, d.AuthenticatedBy = id.consumer, id.by
	if id.by != "" {
		d.Reasons = append(d.Reasons, "authenticated by "+id.by)
	}
	if resp := s.checkRequire(d, ext, &id, preset != nil, realm); resp != nil {
		return resp
	}

	if d.Policy == "" {
		return s.allow(d, id, nil)
	}
	p, ok := st.policies[d.Policy]
	if !ok {
		d.Reasons = append(d.Reasons, fmt.Sprintf("authorization %q is not configured", d.Policy))
		return s.deny(d, http.StatusForbidden, nil, nil)
	}
	if p.allow != nil {
		if inAnyGroup(id.groups, p.allow.Groups) {
			d.Reasons = append(d.Reasons, "consumer is in an allowed group")
			return s.allow(d, id, nil)
		}
		d.Reasons = append(d.Reasons, fmt.Sprintf("consumer %q is in none of the groups %v", id.consumer, p.allow.Groups))
		return s.deny(d, http.StatusForbidden, nil, nil)
	}
	res, err := s.evalRego(ctx, st, p, req, d, id)
	var bad *requestError
	var none *noDecisionError
	switch {
	case errors.As(err, &bad):
		// The client chose this request: decided, never failed open.
		d.Reasons = append(d.Reasons, err.Error(), "denied: the request cannot be authorized as sent")
		return s.deny(d, bad.status, nil, denyBody(bad.status, bad.err.Error()))
	case errors.As(err, &none):
		d.Reasons = append(d.Reasons, err.Error(), "denied: a policy that decides nothing allows nothing")
		return s.deny(d, http.StatusForbidden, nil, nil)
	case topdown.IsCancel(err) && ctx.Err() != nil:
		// The caller went away (Envoy's call timed out, and Envoy applied
		// its own failure mode, or the client left): nobody reads this
		// answer, and a stop the caller chose is no evaluation failure.
		d.Reasons = append(d.Reasons, fmt.Sprintf("evaluation stopped: the caller cancelled the check (%v)", ctx.Err()),
			"denied: the caller is gone")
		return s.deny(d, http.StatusForbidden, nil, nil)
	case err != nil:
		// An evaluation error or the time limit: failOpen applies.
		if topdown.IsCancel(err) {
			err = fmt.Errorf("evaluation time limit of %v reached", s.opts.EvalTimeout)
		}
		d.Reasons = append(d.Reasons, err.Error())
		if p.failOpen {
			d.FailedOpen = true
			d.Reasons = append(d.Reasons, "allowed: policy fails open")
			return s.allow(d, id, nil)
		}
		return s.deny(d, http.StatusForbidden, nil, nil)
	}
	if res.allowed {
		d.Reasons = append(d.Reasons, "policy allowed")
		return s.allow(d, id, res)
	}
	d.Reasons = append(d.Reasons, "policy denied")
	status := http.StatusForbidden
	if res.status != 0 {
		status = res.status
	}
	return s.denyWith(d, status, res)
}

// checkRequire enforces the Route's require block (scopes and claims of
// the caller's token): 403 with RFC 6750's insufficient_scope challenge
// when the token lacks any of it. A dry run (CheckAs) has no token and
// skips it, saying so.
func (s *Service) checkRequire(d *Decision, ext map[string]string, id *identity, dry bool, realm string) *authv3.CheckResponse {
	rq, err := parseRequirement(ext)
	if err != nil {
		// Gatehouse wrote it: a bad one is a bug, and a bug denies.
		d.Reasons = append(d.Reasons, err.Error())
		return s.deny(d, http.StatusForbidden, nil, nil)
	}
	if rq == nil {
		return nil
	}
	if dry {
		d.Reasons = append(d.Reasons, "dry run: the route's require (scopes, claims) is not checked")
		return nil
	}
	scopes, claims := rq.unmet(id.tok())
	if len(scopes)+len(claims) == 0 {
		return nil
	}
	if len(scopes) > 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("token lacks required scopes %v", scopes))
	}
	if len(claims) > 0 {
		d.Reasons = append(d.Reasons, fmt.Sprintf("token claims %v do not hold the required values", claims))
	}
	return s.deny(d, http.StatusForbidden, []*corev3.HeaderValueOption{header("www-authenticate", insufficientScope(realm, rq))},
		ptr("403 Forbidden: the access token lacks the scope or claims this route requires\n"))
}

func (s *Service) evalRego(ctx context.Context, st *state, p *compiledPolicy, req *authv3.CheckRequest, d *Decision, id identity) (*policyResult, error) {
	if p.prog != nil && !s.opts.topdownOnly {
		d.Engine = EngineIR
		res, err := s.evalIR(ctx, st, p, req, d, id)
		if !errors.Is(err, regovm.ErrUnsupported) {
			return res, err
		}
		// A conflict the plan met building a whole document, where
		// topdown looks up one key and may not: topdown decides.
		d.Reasons = append(d.Reasons, "the IR engine handed the decision to topdown: "+err.Error())
	}
	d.Engine = EngineTopdown
	return s.evalTopdown(ctx, st, p, req, d, id)
}

func (s *Service) evalTopdown(ctx context.Context, st *state, p *compiledPolicy, req *authv3.CheckRequest, d *Decision, id identity) (*policyResult, error) {
	var gh *ast.Term // only built when the policy can read input.gatehouse
	if p.need.child("gatehouse") != nil {
		gh = gatehouseTerm(d.Gateway, d.Route, d.Policy, id)
	}
	input, err := buildInputFor(req, st.maxBody, gh, p.need)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	// Metrics are never read: the no-op set saves a map per evaluation.
	// Cancellation by timer and by the caller's context, without the
	// goroutine per evaluation that OPA starts for a cancellable context.
	cancel := topdown.NewCancel()
	timer := time.AfterFunc(s.opts.EvalTimeout, cancel.Cancel)
	defer timer.Stop()
	defer context.AfterFunc(ctx, cancel.Cancel)()
	rs, err := p.pq.Eval(ctx, rego.EvalParsedInput(input), rego.EvalExternalCancel(cancel),
		rego.EvalInterQueryBuiltinValueCache(s.cache), rego.EvalMetrics(metrics.NoOp()))
	if err != nil {
		return nil, fmt.Errorf("evaluation error: %w", err)
	}
	switch {
	case len(rs) == 0:
		return nil, noDecision("decision %s is undefined", p.query)
	case len(rs) > 1:
		return nil, noDecision("decision %s has %d results, want 1", p.query, len(rs))
	case len(rs[0].Expressions) != 1:
		return nil, noDecision("decision %s has %d expressions, want 1", p.query, len(rs[0].Expressions))
	}
	res, err := parseResult(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, noDecision("decision %s: %v", p.query, err)
	}
	return res, nil
}

// okResponse holds every message of an allow response, so that the
// response of a decision is one allocation rather than a dozen: on the
// decision path the garbage collector's share grows with every object.
// The messages are used in place, never copied.
type okResponse struct {
	resp       authv3.CheckResponse
	status     rpcstatus.Status
	okw        authv3.CheckResponse_OkResponse
	ok         authv3.OkHttpResponse
	consumer   corev3.HeaderValueOption
	consumerHV corev3.HeaderValue
	headers    [1]*corev3.HeaderValueOption
	meta       responseMetadata
}

func (s *Service) allow(d *Decision, id identity, r *policyResult) *authv3.CheckResponse {
	d.Allowed, d.Status = true, http.StatusOK
	x := &okResponse{}
	ok := &x.ok
	if r != nil {
		ok.Headers = withoutConsumerHeader(r.headers)
		ok.HeadersToRemove = withoutConsumerName(r.removeHeaders)
		ok.ResponseHeadersToAdd = r.responseHeaders
		ok.QueryParametersToSet = r.setQuery
		ok.QueryParametersToRemove = r.removeQuery
	}
	// Overwrite, never append: a client-sent value must not survive even if
	// header_mutation in front of this filter were missing.
	x.consumerHV = corev3.HeaderValue{Key: wire.ConsumerHeader, Value: id.consumer}
	x.consumer.Header = &x.consumerHV
	x.consumer.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	if len(ok.Headers) == 0 {
		x.headers[0] = &x.consumer
		ok.Headers = x.headers[:]
	} else {
		ok.Headers = append(ok.Headers, &x.consumer)
	}
	x.status.Code = int32(codes.OK)
	x.okw.OkResponse = ok
	x.resp.Status = &x.status
	x.resp.HttpResponse = &x.okw
	x.resp.DynamicMetadata = x.meta.build(d, dynamicOf(r))
	return &x.resp
}

func (s *Service) deny(d *Decision, status int, headers []*corev3.HeaderValueOption, body *string) *authv3.CheckResponse {
	return s.denyWith(d, status, &policyResult{headers: headers, body: body})
}

func (s *Service) denyWith(d *Decision, status int, r *policyResult) *authv3.CheckResponse {
	d.Allowed, d.Status = false, status
	code := codes.PermissionDenied
	if status == http.StatusUnauthorized {
		code = codes.Unauthenticated
	}
	denied := &authv3.DeniedHttpResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Headers: r.headers,
	}
	if r.body != nil {
		denied.Body = *r.body
	}
	return &authv3.CheckResponse{
		Status:          &rpcstatus.Status{Code: int32(code)},
		HttpResponse:    &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
		DynamicMetadata: metadata(d, r.dynamic),
	}
}

func dynamicOf(r *policyResult) *structpb.Struct {
	if r == nil {
		return nil
	}
	return r.dynamic
}

// metadata is the dynamic metadata Envoy's ext_authz filter emits under its
// own name: the policy's, then consumer and decision id, which a policy
// cannot override (rate-limit descriptors trust them).
func metadata(d *Decision, fromPolicy *structpb.Struct) *structpb.Struct {
	return new(responseMetadata).build(d, fromPolicy)
}

// responseMetadata holds the messages of metadata's result, to be
// allocated along with the rest of a response.
type responseMetadata struct {
	s                  structpb.Struct
	consumer, id       structpb.Value
	consumerStr, idStr structpb.Value_StringValue
}

func (m *responseMetadata) build(d *Decision, fromPolicy *structpb.Struct) *structpb.Struct {
	fields := make(map[string]*structpb.Value, len(fromPolicy.GetFields())+2)
	for k, v := range fromPolicy.GetFields() {
		fields[k] = v
	}
	m.consumerStr.StringValue, m.consumer.Kind = d.Consumer, &m.consumerStr
	m.idStr.StringValue, m.id.Kind = d.ID, &m.idStr
	fields[wire.ConsumerMetadataKey] = &m.consumer
	fields[wire.DecisionIDMetadataKey] = &m.id
	m.s.Fields = fields
	return &m.s
}

func inAnyGroup(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func header(k, v string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: k, Value: v},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}

func ptr[T any](v T) *T { return &v }

// valueCacheConfig turns on OPA's cache of verified JWTs (io.jwt.decode_verify
// and the io.jwt.verify_* builtins; keyed by token and key, so a cached
// entry never vouches for another key; time constraints are still checked
// on every evaluation). Policies written for opa-envoy-plugin verify the
// token on every request; without the cache that dominates their cost.
const valueCacheConfig = `{"inter_query_builtin_value_cache": {"max_num_entries": 10000,
	"named": {"io_jwt": {"max_num_entries": 10000, "disabled": false}}}}`

func newValueCache() cache.InterQueryValueCache {
	cfg, err := cache.ParseCachingConfig([]byte(valueCacheConfig))
	if err != nil {
		panic("authz: built-in cache config: " + err.Error()) // a constant: caught by any test
	}
	return cache.NewInterQueryValueCache(context.Background(), cfg)
}
