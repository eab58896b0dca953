package translate

import (
	"sort"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// retriableStatusCodes is the retry_on condition that makes Envoy read
// retriable_status_codes (source/common/router/retry_state_impl.cc,
// RetryStateImpl::wouldRetryFromHeaders); without it they are ignored.
const retriableStatusCodes = "retriable-status-codes"

// envoyRetryPolicy maps a Route's retries for Envoy; nil when nothing is
// retried.
func envoyRetryPolicy(rt *policy.Retries) *routev3.RetryPolicy {
	if rt == nil || len(rt.On)+len(rt.StatusCodes) == 0 {
		return nil
	}
	on := append([]string(nil), rt.On...)
	rp := &routev3.RetryPolicy{}
	if len(rt.StatusCodes) > 0 {
		on = append(on, retriableStatusCodes)
		rp.RetriableStatusCodes = make([]uint32, len(rt.StatusCodes))
		for i, c := range rt.StatusCodes {
			rp.RetriableStatusCodes[i] = uint32(c)
		}
		sort.Slice(rp.RetriableStatusCodes, func(i, j int) bool { return rp.RetriableStatusCodes[i] < rp.RetriableStatusCodes[j] })
	}
	rp.RetryOn = strings.Join(on, ",")
	if rt.Attempts > 0 {
		rp.NumRetries = wrapperspb.UInt32(uint32(rt.Attempts))
	}
	if rt.PerTryTimeout > 0 {
		rp.PerTryTimeout = durationpb.New(rt.PerTryTimeout.D())
	}
	if rt.PerTryIdleTimeout > 0 {
		rp.PerTryIdleTimeout = durationpb.New(rt.PerTryIdleTimeout.D())
	}
	rp.RetryBackOff = retryBackOff(rt.Backoff)
	return rp
}

// retryBackOff: both Envoy and grpc-go take base and max (max defaults to
// 10 x base in both: Envoy's route_components.proto, grpc-go's
// xdsresource generateRetryConfig).
func retryBackOff(b *policy.RetryBackoff) *routev3.RetryPolicy_RetryBackOff {
	if b == nil {
		return nil
	}
	bo := &routev3.RetryPolicy_RetryBackOff{BaseInterval: durationpb.New(b.Base.D())}
	if b.Max > 0 {
		bo.MaxInterval = durationpb.New(b.Max.D())
	}
	return bo
}

// hedgePolicy: only hedge_on_per_try_timeout. Envoy's router reads
// nothing else of HedgePolicy (source/common/router/router.cc,
// FilterUtility::finalHedgingParams); initial_requests and
// additional_request_chance are marked not implemented in
// api/envoy/config/route/v3/route_components.proto, so they are never set.
func hedgePolicy(rt *policy.Retries) *routev3.HedgePolicy {
	if rt == nil || !rt.HedgeOnPerTryTimeout {
		return nil
	}
	return &routev3.HedgePolicy{HedgeOnPerTryTimeout: true}
}

// routeTimeouts sets a Route's idle, stream and gRPC timeouts on ra (after
// timeout and streamingAction).
//
// max_stream_duration changes how Envoy times a request: the router's
// timeout is no longer read (source/common/router/router.cc,
// FilterUtility::finalTimeout, usingNewTimeouts) and the connection
// manager bounds the stream instead, from its start: by grpc-timeout
// (capped at grpc_timeout_header_max, less grpc_timeout_header_offset)
// when the call sends one, else by max_stream_duration
// (source/common/http/conn_manager_impl.cc, refreshDurationTimeout). So
// when grpcTimeout turns it on for a Route that is not streaming, the
// Route's timeout (or Envoy's default 15s) moves to max_stream_duration,
// and calls without grpc-timeout stay bounded as before. The same holds
// for a streaming Route with a timeout (streamingAction sets
// grpc_timeout_header_max): without this its timeout would be read by
// nobody.
func routeTimeouts(ra *routev3.RouteAction, r *policy.Route, streaming bool) {
	s := &r.Spec
	if s.IdleTimeout > 0 {
		ra.IdleTimeout = durationpb.New(s.IdleTimeout.D())
	}
	if s.GRPCTimeout == nil && s.StreamTimeout <= 0 && (ra.MaxStreamDuration == nil || s.Timeout <= 0) {
		return
	}
	// From here max_stream_duration is set (by streamingAction, or below).
	msd := ra.MaxStreamDuration
	if msd == nil {
		msd = &routev3.RouteAction_MaxStreamDuration{}
		ra.MaxStreamDuration = msd
	}
	if g := s.GRPCTimeout; g != nil {
		msd.GrpcTimeoutHeaderMax = durationpb.New(g.Max.D())
		if g.Offset > 0 {
			msd.GrpcTimeoutHeaderOffset = durationpb.New(g.Offset.D())
		}
	}
	switch {
	case s.StreamTimeout > 0:
		msd.MaxStreamDuration = durationpb.New(s.StreamTimeout.D())
	case r.EffectiveTimeout(streaming) > 0:
		msd.MaxStreamDuration = durationpb.New(r.EffectiveTimeout(streaming))
	}
	// Not read any more; left out so the table says what applies.
	if msd.MaxStreamDuration != nil {
		ra.Timeout = nil
	}
}

// grpcTimeouts: grpc-go bounds a call by grpc_timeout_header_max when set,
// else by max_stream_duration, together with the caller's own deadline
// (grpc-go: internal/xds/xdsclient/xdsresource/unmarshal_rds.go,
// routesProtoToSlice). It has no idle timeouts.
func grpcTimeouts(r *policy.Route) *routev3.RouteAction_MaxStreamDuration {
	s := &r.Spec
	max, header := s.Timeout.D(), s.Timeout.D()
	if s.StreamTimeout > 0 {
		max, header = s.StreamTimeout.D(), s.StreamTimeout.D()
	}
	if g := s.GRPCTimeout; g != nil {
		header = g.Max.D()
	}
	if max <= 0 && header <= 0 {
		return nil
	}
	msd := &routev3.RouteAction_MaxStreamDuration{}
	if max > 0 {
		msd.MaxStreamDuration = durationpb.New(max)
	}
	if header > 0 {
		msd.GrpcTimeoutHeaderMax = durationpb.New(header)
	}
	return msd
}

// retryBudget is the Envoy circuit-breaker form of a Service's retry budget.
func retryBudget(b *policy.RetryBudget) *clusterv3.CircuitBreakers_Thresholds_RetryBudget {
	rb := &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
		BudgetPercent:       &typev3.Percent{Value: policy.DefaultRetryBudgetPercent},
		MinRetryConcurrency: wrapperspb.UInt32(policy.DefaultRetryBudgetMinConcurrency),
	}
	if b.Percent != nil {
		rb.BudgetPercent.Value = *b.Percent
	}
	if b.MinConcurrency != nil {
		rb.MinRetryConcurrency.Value = uint32(*b.MinConcurrency)
	}
	return rb
}

// grpcIgnoredTimeouts lists the Route's retry and timeout settings grpc-go
// does not implement (grpc-go: internal/xds/xdsclient/xdsresource/
// unmarshal_rds.go reads retry_on codes, num_retries, retry_back_off and
// max_stream_duration only), so status says so instead of implying them.
func grpcIgnoredTimeouts(r *policy.Route) []string {
	var out []string
	s := &r.Spec
	if s.IdleTimeout > 0 {
		out = append(out, "idleTimeout")
	}
	if g := s.GRPCTimeout; g != nil && g.Offset > 0 {
		out = append(out, "grpcTimeout.offset")
	}
	if rt := s.Retries; rt != nil {
		if len(rt.StatusCodes) > 0 {
			out = append(out, "retries.statusCodes")
		}
		if rt.PerTryTimeout > 0 {
			out = append(out, "retries.perTryTimeout")
		}
		if rt.PerTryIdleTimeout > 0 {
			out = append(out, "retries.perTryIdleTimeout")
		}
		if rt.HedgeOnPerTryTimeout {
			out = append(out, "retries.hedgeOnPerTryTimeout")
		}
	}
	return out
}
