package translate

import (
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	faultcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// anyFault is the fault filter of the chain; it injects nothing itself.
// A Route's fault is its per-route HTTPFault, which replaces the filter's
// settings for that route (Envoy: source/extensions/filters/http/fault/
// fault_filter.cc, decodeHeaders: "Route-level configuration overrides
// filter-level configuration"); Routes without one get the empty settings:
// no delay, no abort. grpc-go implements the same filter for proxyless
// clients (gRFC A33; grpc-go: internal/xds/httpfilter/fault).
var anyFault = mustAny(&faultv3.HTTPFault{})

// usesFault reports whether some Route has a fault block.
func usesFault(routes []*policy.Route) bool {
	for _, r := range routes {
		if r.Spec.Fault != nil && !r.Answers() {
			return true
		}
	}
	return false
}

// faultConfig is a Route's HTTPFault. Percentages are fixed in the config:
// header_delay and header_abort (which let the x-envoy-fault-* request
// headers choose the fault) are never emitted, so a client cannot inject
// a fault the policy did not write.
func faultConfig(f *policy.Fault) *anyT {
	hf := &faultv3.HTTPFault{}
	if d := f.Delay; d != nil {
		hf.Delay = &faultcommonv3.FaultDelay{
			FaultDelaySecifier: &faultcommonv3.FaultDelay_FixedDelay{FixedDelay: durationpb.New(d.Duration.D())},
			Percentage:         percent(d.Percent),
		}
	}
	if a := f.Abort; a != nil {
		fa := &faultv3.FaultAbort{Percentage: percent(a.Percent)}
		if a.GRPCStatus != nil {
			fa.ErrorType = &faultv3.FaultAbort_GrpcStatus{GrpcStatus: uint32(*a.GRPCStatus)}
		} else {
			fa.ErrorType = &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(a.Status)}
		}
		hf.Abort = fa
	}
	if h := f.WhenHeader; h != nil {
		hm := &routev3.HeaderMatcher{Name: h.Name}
		if h.Present {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}
		} else {
			hm.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: stringMatch(h)}
		}
		hf.Headers = []*routev3.HeaderMatcher{hm}
	}
	return mustAny(hf)
}

func percent(p int) *typev3.FractionalPercent {
	return &typev3.FractionalPercent{Numerator: uint32(p), Denominator: typev3.FractionalPercent_HUNDRED}
}

// faultOrder: the fault filter, where present, comes right before the
// router, so that a fault only ever hits a request every protection
// (CORS, authentication, authorization, rate limits) let through: an
// abort never answers in place of a 401 or 429, and a delay never holds
// a request nobody is allowed to make (a cheap way to tie up the gateway).
func (c *checker) faultOrder(where string, fs []*hcmv3.HttpFilter) {
	for i, f := range fs {
		t := protoreflect.FullName(strings.TrimPrefix(f.GetTypedConfig().GetTypeUrl(), "type.googleapis.com/"))
		if t != faultType {
			continue
		}
		// The transcoder may sit between: it only converts what fault
		// let through (transcoderOrder).
		if i+2 != len(fs) && (i+3 != len(fs) || filterType(fs[i+1]) != transcoderType) {
			c.fail("%s http filter %q: the fault filter must come right before the router (after every filter that can refuse a request)", where, f.GetName())
		}
	}
}
