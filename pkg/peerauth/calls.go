package peerauth

import (
	"context"
	"strconv"
	"strings"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// Services as the calls-refused metric labels them.
const (
	ServiceXDS       = "xds"
	ServiceAuthz     = "authz"
	ServiceRateLimit = "ratelimit"
	ServiceUsage     = "usage"
	serviceOther     = "other"
)

// adsService is the gRPC service whose streams the xDS server checks
// itself, request by request (a node names its Gateway in each).
const adsService = "/envoy.service.discovery.v3.AggregatedDiscoveryService/"

// RefuseCall logs and counts a refused call or stream and returns the
// PermissionDenied error to end it with. detail says what the caller did
// and must not hold a secret.
func (a *Auth) RefuseCall(p *peer.Peer, service, reason, detail string) error {
	a.metrics.calls.WithLabelValues(service, reason).Inc()
	remote := "unknown"
	if p != nil && p.Addr != nil {
		remote = p.Addr.String()
	}
	gw, _ := GatewayOf(p)
	a.log.Warn("refused a gRPC call: the caller's certificate does not allow it",
		"service", service, "reason", reason, "remote", remote, "certificate_gateway", gw, "detail", detail)
	return status.Error(codes.PermissionDenied, "gatehouse: "+detail)
}

// UnaryInterceptor admits, with mTLS on, only calls from a peer whose
// client certificate names a Gateway, and a rate-limit call only for that
// Gateway's domain (wire.Domain), so that one Gateway's proxies cannot
// spend another's counters. Without mTLS it admits every call.
func (a *Auth) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := a.authorizeCall(ctx, info.FullMethod, req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor admits, with mTLS on, only streams from a peer whose
// client certificate names a Gateway; the xDS server then checks every
// request's node against it.
func (a *Auth) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := a.authorizeCall(ss.Context(), info.FullMethod, nil); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

func (a *Auth) authorizeCall(ctx context.Context, method string, req any) error {
	if !a.MTLS() {
		return nil
	}
	p, _ := peer.FromContext(ctx)
	svc := serviceOf(method)
	gw, ok := GatewayOf(p)
	if !ok {
		return a.RefuseCall(p, svc, ReasonUnauthenticated, "this port requires a client certificate naming a Gateway (mTLS)")
	}
	if rl, isRL := req.(*rlsv3.RateLimitRequest); isRL && rl.GetDomain() != wire.Domain(gw) {
		return a.RefuseCall(p, svc, ReasonDomainMismatch,
			"the certificate names Gateway "+gw+", whose rate-limit domain is "+wire.Domain(gw)+", not "+strconv.Quote(truncate(rl.GetDomain())))
	}
	return nil
}

func serviceOf(method string) string {
	switch {
	case strings.HasPrefix(method, adsService):
		return ServiceXDS
	case strings.HasPrefix(method, "/envoy.service.auth.v3.Authorization/"):
		return ServiceAuthz
	case strings.HasPrefix(method, "/envoy.service.ratelimit.v3.RateLimitService/"):
		return ServiceRateLimit
	case strings.HasPrefix(method, "/envoy.service.accesslog.v3.AccessLogService/"):
		return ServiceUsage
	}
	return serviceOther
}

// truncate bounds a caller-chosen string quoted in a log line or error.
func truncate(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
