// Package translate turns a validated policy snapshot into Envoy resources,
// one group per (Gateway, client kind). It is pure: no clocks, no I/O, no
// mutation of its input, and the same input always gives the same output.
// doc.go records the choices it makes where the design leaves room.
package translate

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// ClientKind says which kind of xDS client a snapshot group is for.
type ClientKind string

const (
	// ClientEnvoy is an Envoy proxy (node.user_agent_name "envoy" or unset).
	ClientEnvoy ClientKind = "envoy"
	// ClientGRPC is a proxyless gRPC client (any other user_agent_name).
	ClientGRPC ClientKind = "grpc"
)

// GroupKey names one snapshot group. Its String() is the go-control-plane
// node hash key: "<gateway>/<kind>".
type GroupKey struct {
	Gateway string
	Client  ClientKind
}

func (k GroupKey) String() string { return k.Gateway + "/" + string(k.Client) }

// Group is everything one group of clients gets except endpoints: each slice
// sorted by resource name. Endpoints are built separately (Endpoints) so that
// an endpoint-only change never rebuilds listeners, routes or clusters.
type Group struct {
	Listeners []types.Resource // *listener.Listener
	Routes    []types.Resource // *route.RouteConfiguration
	Clusters  []types.Resource // *cluster.Cluster
	Secrets   []types.Resource // *tls.Secret
	// EDS maps each EDS resource name that a Cluster of this group asks for
	// to the Service whose endpoints it carries.
	EDS map[string]string
	// LocalZone maps each EDS name of a Gateway with a zone (spec.zone or
	// Options.Zone) to that zone: Endpoints gives the endpoints in it
	// priority 0 and the others priority 1. Names absent from it (or a nil
	// map) get every endpoint at priority 0.
	LocalZone map[string]string
	// Hashes holds the ContentHash of resources of this group that
	// Translate had to encode anyway (the Envoy clusters, for their EDS
	// names) or composed from encodings it keeps (the route tables, see
	// routehash.go), and, for the proxyless clusters, a hash derived from
	// their Envoy cluster's (grpcClusterHash: different for every
	// different encoding, not equal to the encoding's ContentHash), by
	// pointer. The publisher uses them as versions instead of encoding
	// those resources again; anything not in it (or a nil map) it hashes
	// itself.
	// Like the resources, it is read-only once Translate returns.
	Hashes map[types.Resource]uint64
	// Key is the group's key, set by Translate; Check names it in errors.
	Key GroupKey
	// checked is set once Translate's checks passed. Groups are immutable
	// after Translate (their resources go to the snapshot cache as they
	// are), so a later Check with endpoints only checks the endpoints.
	checked bool
	// memo is Options.Memo of the Translate that built the group: Check
	// skips the per-resource rules of resources it already passed.
	memo *Memo
	// pre holds the Routes and Clusters whose own rules Translate already
	// ran, side by side, while it built them (precheck.go): Check skips
	// those rules for them.
	pre *prechecked
	// Skipped lists, sorted, what a proxyless gRPC group leaves out because
	// grpc-go cannot honour it (e.g. "Route/x: query matching"). Always empty
	// for Envoy groups. It is informational: nothing checks it.
	Skipped []string
}

// Options tune a translation. The zero value is usable: every zero field
// takes the default named beside it.
type Options struct {
	// AuthzAddr and RateLimitAddr are host:port where Envoy reaches
	// gatehouse's ext_authz and rate-limit gRPC services (the clusters
	// gatehouse/authz and gatehouse/ratelimit). Default DefaultServiceAddr:
	// by default both share gatehouse's xDS port.
	AuthzAddr     string
	RateLimitAddr string
	// UsageAddr is where Envoy reaches gatehouse's access-log service
	// (cluster gatehouse/usage), used by Gateways with accessLog.usage.
	// Default DefaultServiceAddr.
	UsageAddr string
	// ExtProcAddr is where Envoy reaches gatehouse's external processing
	// service (cluster gatehouse/extproc: the WAF, transformations), used
	// by Gateways with a Firewall or a Transformation. Default
	// DefaultServiceAddr.
	ExtProcAddr string
	// WAFTimeout bounds one message exchange with the WAF (ext_proc
	// message_timeout, default DefaultWAFTimeout); past it the request is
	// refused.
	WAFTimeout time.Duration
	// TransformTimeout bounds one message exchange with the
	// transformation service (default DefaultTransformTimeout); past it
	// the request is refused.
	TransformTimeout time.Duration
	// AuthzTimeout bounds one ext_authz Check (default 250ms: a Rego
	// decision takes microseconds, so this only covers the network and a
	// busy authz service; past it the route's failure mode applies).
	AuthzTimeout time.Duration
	// RateLimitTimeout bounds one ShouldRateLimit call (default 100ms, the
	// per-call bound the rate-limit issue sets).
	RateLimitTimeout time.Duration
	// MaxAuthzBodyBytes is how much of a request body ext_authz buffers
	// and sends to the authz service (default 8192), so that Rego can
	// decide on input.parsed_body. Larger bodies are sent truncated.
	MaxAuthzBodyBytes uint32
	// SystemCAFile is the CA bundle file, on the Envoy host, that Envoy
	// checks remote JWKS servers and Services with tls but no caFile
	// against (default DefaultSystemCAFile). Envoy reads trust anchors only
	// from trusted_ca: system_root_certs is not implemented in Envoy (gRPC
	// only), and SAN matchers without a CA are refused at load.
	SystemCAFile string
	// Zone is the zone of the proxies of every Gateway without spec.zone
	// (serve --zone); "" for none. Groups are per Gateway, not per proxy,
	// so a proxy's own node locality cannot choose its priorities.
	Zone string
	// ServiceTLS, when set, makes Envoy call gatehouse's own gRPC services
	// (ext_authz, rate limit, the usage access log) over TLS (gatehouse
	// serve with --tls-cert): nil means plaintext.
	ServiceTLS *ServiceTLS
	// Memo, when set, carries resources from one Translate to the next,
	// reused where their inputs are unchanged (see Memo); the output is
	// the same with or without it. Nil: everything is built anew.
	Memo *Memo
	// DiscoveredJWKS returns the jwks_uri OpenID Connect discovery found
	// for a JWT Authentication without jwks (pkg/oidc), "" while it never
	// succeeded: the provider then accepts no token (fail closed, see
	// jwtDiscoveryProvider). Nil: nothing is discovered.
	DiscoveredJWKS func(*policy.JWTAuth) string
	// DiscoveredLogin returns the endpoints OpenID Connect discovery found
	// for an oauth2Login Authentication that names an issuer (pkg/oidc);
	// empty fields while it never succeeded: the login is then left out
	// and the Route's token Authentication refuses requests without a
	// token. Nil: nothing is discovered.
	DiscoveredLogin func(*policy.OAuth2LoginAuth) LoginEndpoints
	// EDSReady, when set, is called once per Translate, on its goroutine,
	// once the Clusters are built and as the groups start, with every EDS
	// name those Clusters ask for: the caller can start building the
	// ClusterLoadAssignments while Translate finishes (on a full build
	// they take the cores as the groups finish). It must not block, and it
	// is called even when the groups then fail.
	EDSReady func([]EDSTarget)
}

// EDSTarget is an EDS name a translated Cluster asks for: the Service
// whose endpoints it carries and the zone of the Gateways using it
// (Group.EDS and Group.LocalZone hold the same).
type EDSTarget struct {
	EDS, Service, Zone string
}

// ServiceTLS are files on the Envoy host for Envoy's TLS connections to
// gatehouse's own gRPC services. CAFile verifies gatehouse's certificate,
// which must name the host Envoy dials (DNS or IP SAN); CertFile and
// KeyFile, when set, are the proxy's client certificate (mTLS: gatehouse
// then admits only calls of the Gateway the certificate names).
type ServiceTLS struct {
	CAFile, CertFile, KeyFile string
}

// Defaults of Options.
const (
	DefaultServiceAddr       = "127.0.0.1:18000"
	DefaultAuthzTimeout      = 250 * time.Millisecond
	DefaultRateLimitTimeout  = 100 * time.Millisecond
	DefaultMaxAuthzBodyBytes = 8192
	// DefaultSystemCAFile is the CA bundle of Debian, Ubuntu (Envoy's
	// official images) and Alpine with ca-certificates; Envoy Gateway
	// uses the same file for its system trust store.
	DefaultSystemCAFile = "/etc/ssl/certs/ca-certificates.crt"
)

// withDefaults fills zero fields and checks the addresses.
func (o Options) withDefaults() (Options, error) {
	if o.AuthzAddr == "" {
		o.AuthzAddr = DefaultServiceAddr
	}
	if o.RateLimitAddr == "" {
		o.RateLimitAddr = DefaultServiceAddr
	}
	if o.UsageAddr == "" {
		o.UsageAddr = DefaultServiceAddr
	}
	if o.ExtProcAddr == "" {
		o.ExtProcAddr = DefaultServiceAddr
	}
	if o.WAFTimeout <= 0 {
		o.WAFTimeout = DefaultWAFTimeout
	}
	if o.TransformTimeout <= 0 {
		o.TransformTimeout = DefaultTransformTimeout
	}
	if o.AuthzTimeout <= 0 {
		o.AuthzTimeout = DefaultAuthzTimeout
	}
	if o.RateLimitTimeout <= 0 {
		o.RateLimitTimeout = DefaultRateLimitTimeout
	}
	if o.MaxAuthzBodyBytes == 0 {
		o.MaxAuthzBodyBytes = DefaultMaxAuthzBodyBytes
	}
	if o.SystemCAFile == "" {
		o.SystemCAFile = DefaultSystemCAFile
	}
	if o.Zone != "" {
		if err := policy.CheckZone(o.Zone); err != nil {
			return o, fmt.Errorf("translate: Options.Zone: %w", err)
		}
	}
	if t := o.ServiceTLS; t != nil && (t.CAFile == "" || (t.CertFile == "") != (t.KeyFile == "")) {
		return o, fmt.Errorf("translate: Options.ServiceTLS: CAFile is required, and CertFile and KeyFile go together")
	}
	for _, a := range []struct{ name, addr string }{{"AuthzAddr", o.AuthzAddr}, {"RateLimitAddr", o.RateLimitAddr}, {"UsageAddr", o.UsageAddr}, {"ExtProcAddr", o.ExtProcAddr}} {
		h, _, err := splitHostPort(a.addr)
		if err != nil {
			return o, fmt.Errorf("translate: Options.%s: %w", a.name, err)
		}
		// 0.0.0.0 or :: as a cluster endpoint makes Envoy dial itself.
		if ip, err := netip.ParseAddr(h); err == nil && ip.Unmap().IsUnspecified() {
			return o, fmt.Errorf("translate: Options.%s: %q is an unspecified address, which Envoy cannot dial; advertise the address at which Envoy reaches the service", a.name, a.addr)
		}
	}
	return o, nil
}

// Translate builds every group of every Gateway: for each Gateway,
// GroupKey{gw, ClientEnvoy} and GroupKey{gw, ClientGRPC}. It returns an error
// naming the Gateway and resource if any check fails; the caller must then
// publish nothing from this result.
func Translate(p *policy.Snapshot, opts Options) (map[GroupKey]*Group, error) {
	if p == nil {
		return map[GroupKey]*Group{}, nil
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Memo != nil {
		opts.Memo.mu.Lock()
		defer opts.Memo.mu.Unlock()
		defer opts.Memo.waitKept() // before the unlock: keep runs beside the groups
	}
	ix, err := newIndex(p, opts)
	if err != nil {
		return nil, err
	}
	out := make(map[GroupKey]*Group, 2*len(p.Gateways))
	// Groups only read the index, so the two client kinds are built and
	// checked side by side: on a 2-core machine that halves a full build.
	names := sortedKeys(p.Gateways)
	envoy := make([]*Group, len(names))
	grpc := make([]*Group, len(names))
	var grpcErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, name := range names {
			g, err := buildGRPCGroup(p.Gateways[name], ix.routesOf(name), ix)
			if err != nil {
				grpcErr = fmt.Errorf("gateway %s (grpc): %w", name, err)
				return
			}
			g.Key = GroupKey{Gateway: name, Client: ClientGRPC}
			g.memo, g.pre = opts.Memo, ix.pre
			if err := hashRouteConfigs(g, ix.routeEnc); err != nil {
				grpcErr = fmt.Errorf("gateway %s (grpc): %w", name, err)
				return
			}
			if err := Check(g, nil); err != nil {
				grpcErr = err
				return
			}
			g.checked = true
			grpc[i] = g
		}
	}()
	if opts.EDSReady != nil {
		// After the proxyless groups' goroutine is started: the caller's
		// goroutines then queue behind the two groups instead of holding
		// a core while one group waits for it (the scheduler does not
		// time-slice goroutines finer than 10 ms), and take the cores as
		// the groups finish.
		opts.EDSReady(ix.edsTargets)
	}
	var envoyErr error
	for i, name := range names {
		g, err := buildEnvoyGroup(p.Gateways[name], ix.routesOf(name), ix, opts)
		if err != nil {
			envoyErr = fmt.Errorf("gateway %s (envoy): %w", name, err)
			break
		}
		g.Key = GroupKey{Gateway: name, Client: ClientEnvoy}
		g.memo, g.pre = opts.Memo, ix.pre
		if err := hashRouteConfigs(g, ix.routeEnc); err != nil {
			envoyErr = fmt.Errorf("gateway %s (envoy): %w", name, err)
			break
		}
		if err := Check(g, nil); err != nil {
			envoyErr = err
			break
		}
		g.checked = true
		envoy[i] = g
	}
	<-done
	if err := errors.Join(envoyErr, grpcErr); err != nil {
		return nil, err
	}
	for i := range names {
		out[envoy[i].Key] = envoy[i]
		out[grpc[i].Key] = grpc[i]
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
