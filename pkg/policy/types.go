// Package policy is Gatehouse's user-facing model (POLICY-MODEL.md): the object
// types, strict YAML decoding with file:line errors, validation and reference
// resolution. It reads only the fs.FS it is given, plus, through
// Options.ReadFile (LoadDir, DirReader, FSReader), the files policies name
// (certificates, JWKS, Rego) when those lie outside it.
package policy

import "time"

// Kinds of objects.
const (
	KindGateway        = "Gateway"
	KindService        = "Service"
	KindRoute          = "Route"
	KindAuthentication = "Authentication"
	KindAuthorization  = "Authorization"
	KindConsumer       = "Consumer"
	KindPlan           = "Plan"
	KindRateLimit      = "RateLimit"
	KindFirewall       = "Firewall"
	KindTransformation = "Transformation"
)

// Meta is common to every object. File and Line say where the object starts.
type Meta struct {
	Kind   string            `yaml:"kind"`
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
	File   string            `yaml:"-"`
	Line   int               `yaml:"-"`
}

// Ref is "Kind/name", the way errors and status name an object.
func (m Meta) Ref() string { return m.Kind + "/" + m.Name }

// Duration is a Go duration string in YAML ("250ms", "5s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ---- Gateway ----

type Gateway struct {
	Meta `yaml:",inline"`
	Spec GatewaySpec `yaml:"spec"`
}

type GatewaySpec struct {
	Listeners []Listener       `yaml:"listeners"`
	Limits    *GatewayLimits   `yaml:"limits"`
	AccessLog *AccessLog       `yaml:"accessLog"`
	Tracing   *Tracing         `yaml:"tracing"`
	Defaults  *GatewayDefaults `yaml:"defaults"`
	// Proxyless: what proxyless gRPC clients of this Gateway get; a Route's
	// own proxyless block overrides it.
	Proxyless *Proxyless `yaml:"proxyless"`
	// ClientIP says how the client's address is found behind trusted
	// proxies (clientip.go); without it the client is the TCP peer (or
	// the PROXY protocol's source on a proxyProtocol listener).
	ClientIP *ClientIP `yaml:"clientIP"`
	// IPAccess allows or denies clients by address before any other
	// filter runs (edge.go).
	IPAccess *IPAccess `yaml:"ipAccess"`
	// Zone is where this Gateway's proxies run (default: serve --zone).
	// Endpoints in that zone get priority 0 and the others priority 1, so
	// traffic leaves the zone only when none of its endpoints is left.
	Zone string `yaml:"zone"`
}

// Proxyless says how proxyless gRPC clients treat protected Routes. They
// run none of Envoy's HTTP filters, so a Route that names an
// Authentication, an Authorization or a RateLimit (directly or through
// the Gateway's defaults) is withheld from them: a matching call fails
// (UNAVAILABLE) rather than reaching the backend unchecked. ServeUnprotected
// is the explicit opt-in to serve such Routes anyway, without any of their
// protections (the client or the backend enforces its own policy).
type Proxyless struct {
	ServeUnprotected bool `yaml:"serveUnprotected"`
}

// Protocols of a Gateway listener.
const (
	ProtocolHTTP  = "HTTP"
	ProtocolHTTPS = "HTTPS"
)

type Listener struct {
	Name      string       `yaml:"name"`
	Port      int          `yaml:"port"`
	Protocol  string       `yaml:"protocol"` // HTTP | HTTPS
	Hostnames []string     `yaml:"hostnames"`
	TLS       *ListenerTLS `yaml:"tls"`
	// HTTPSRedirect makes an HTTP listener answer every request with a
	// redirect to https (same host and path) instead of serving Routes.
	HTTPSRedirect bool `yaml:"httpsRedirect"`
	// ProxyProtocol requires a PROXY protocol header (v1 or v2) at the
	// start of every connection, as a TCP load balancer in front sends it;
	// its source address becomes the client's (clientip.go).
	ProxyProtocol bool `yaml:"proxyProtocol"`
}

type ListenerTLS struct {
	Certificate string `yaml:"certificate"` // path relative to the file naming it
	Key         string `yaml:"key"`
	MinVersion  string `yaml:"minVersion"` // "1.2" | "1.3"; default 1.2
	// ClientCertificates asks clients for a certificate (mTLS), checked
	// against trusted CAs; nil: none asked for.
	ClientCertificates *ClientCertificates `yaml:"clientCertificates"`
	// Filled by Load from the files above (not YAML fields). Secret material:
	// never log or print KeyPEM.
	CertificatePEM []byte `yaml:"-"`
	KeyPEM         []byte `yaml:"-"`
}

type GatewayLimits struct {
	MaxRequestHeadersKB int      `yaml:"maxRequestHeadersKB"`
	RequestTimeout      Duration `yaml:"requestTimeout"`
	StreamIdleTimeout   Duration `yaml:"streamIdleTimeout"`
	// Edge limits (edge.go); omitted means the translator's default.
	RequestHeadersTimeout Duration        `yaml:"requestHeadersTimeout"`
	MaxHeadersCount       int             `yaml:"maxHeadersCount"`
	MaxConcurrentStreams  int             `yaml:"maxConcurrentStreams"`
	PerClient             *PerClientLimit `yaml:"perClient"`
	// MaxConnectionsPerListener bounds the connections open at once on
	// each of the Gateway's listeners (edge.go); 0: the translator's
	// default.
	MaxConnectionsPerListener int `yaml:"maxConnectionsPerListener"`
}

type AccessLog struct {
	Format string `yaml:"format"` // json (default) | text
	Path   string `yaml:"path"`   // default /dev/stdout
	// Usage also streams every request's entry to gatehouse's access-log
	// service (usage analytics: gatehouse usage, /api/v1/usage and the
	// gatehouse_usage_* metrics). Off by default.
	Usage bool `yaml:"usage"`
	// OpenTelemetry also sends every entry, with the same fields as the
	// JSON log, to an OpenTelemetry collector's logs service (OTLP over
	// gRPC): Service names a Service of protocol GRPC.
	OpenTelemetry *TelemetrySink `yaml:"openTelemetry"`
	// SuccessSamplePercent is the share of successful requests logged
	// (0-100, default 100) to the file and OpenTelemetry sinks; a request
	// with status 400 or more, or with a response flag, is always logged.
	// The usage stream is never sampled (its counts must be exact).
	SuccessSamplePercent *float64 `yaml:"successSamplePercent"`
}

// Tracing makes the Gateway's Envoys trace requests and send the spans to
// a collector Service: openTelemetry (OTLP over gRPC, W3C trace context,
// a Service of protocol GRPC) or zipkin (JSON over HTTP to
// /api/v2/spans, B3 headers).
type Tracing struct {
	Provider string `yaml:"provider"` // openTelemetry | zipkin
	Service  string `yaml:"service"`
	// SamplePercent is the share of requests without a sampling decision
	// that are traced (0-100, default 100).
	SamplePercent *float64 `yaml:"samplePercent"`
	// Tags are literal tags added to every span (an environment, a region).
	Tags map[string]string `yaml:"tags"`
}

// Tracing providers.
const (
	TracingOpenTelemetry = "openTelemetry"
	TracingZipkin        = "zipkin"
)

// TelemetrySink is a collector that Envoy reaches through a Service.
type TelemetrySink struct {
	Service string `yaml:"service"`
}

// GatewayDefaults apply to the Gateway's Routes that do not say otherwise.
type GatewayDefaults struct {
	Authentication *[]string `yaml:"authentication"` // Authentication names; nil or []: none
	RateLimit      string    `yaml:"rateLimit"`      // RateLimit name; "" or RateLimitNone: none
	CORS           *CORS     `yaml:"cors"`           // CORS of Routes without their own (cors.go)
	Firewall       string    `yaml:"firewall"`       // Firewall name; "" or FirewallNone: none
	Cache          *Cache    `yaml:"cache"`          // Cache of Routes without their own (types_cache.go)
	// Transformation names the Transformation of Routes that name none of
	// their own; "" or TransformationNone: none (types_cdn.go).
	Transformation string `yaml:"transformation"`
	// CDN and Compression of Routes without their own (types_cdn.go).
	CDN         *CDN         `yaml:"cdn"`
	Compression *Compression `yaml:"compression"`
	// Upgrades the Gateway's Routes accept when they name none of their
	// own (upgrades.go); nil: websocket. CONNECT is never a default.
	Upgrades *[]string `yaml:"upgrades"`
}

// ---- Service ----

type Service struct {
	Meta `yaml:",inline"`
	Spec ServiceSpec `yaml:"spec"`
}

// Service protocols.
const (
	ServiceHTTP  = "HTTP"
	ServiceHTTP2 = "HTTP2"
	ServiceGRPC  = "GRPC"
)

type ServiceSpec struct {
	Protocol         string            `yaml:"protocol"` // HTTP (default) | HTTP2 | GRPC
	Discovery        Discovery         `yaml:"discovery"`
	LoadBalancer     *LoadBalancer     `yaml:"loadBalancer"`
	ConnectTimeout   Duration          `yaml:"connectTimeout"`
	TLS              *UpstreamTLS      `yaml:"tls"`
	CircuitBreaker   *CircuitBreaker   `yaml:"circuitBreaker"`
	OutlierDetection *OutlierDetection `yaml:"outlierDetection"`
	HealthCheck      *HealthCheck      `yaml:"healthCheck"`
	// Validation checks the requests of every Route whose backends name
	// this Service against an OpenAPI document, unless the Route carries
	// its own (validation.go, validation_inherit.go); nil: none.
	Validation *Validation `yaml:"validation"`
}

// Discovery has exactly one of Consul, DNS, Eureka, Kubernetes or Static.
type Discovery struct {
	Consul     *ConsulDiscovery     `yaml:"consul"`
	DNS        *DNSDiscovery        `yaml:"dns"` // pkg/policy/dns.go
	Eureka     *EurekaDiscovery     `yaml:"eureka"`
	Kubernetes *KubernetesDiscovery `yaml:"kubernetes"`
	Static     []StaticEndpoint     `yaml:"static"`
}

// KubernetesDiscovery reads a Kubernetes Service's EndpointSlices.
type KubernetesDiscovery struct {
	Service   string `yaml:"service"`   // the Kubernetes Service name
	Namespace string `yaml:"namespace"` // default "default"
	// Port is the EndpointSlice port: a name (the Service port's name) or a
	// number (the endpoints' port, i.e. the target port, since EndpointSlices
	// carry target ports only). Required when the Service has several ports.
	Port string `yaml:"port"`
}

// EurekaDiscovery reads a Eureka application's instances (the servers are
// gatehouse flags: --eureka-url).
type EurekaDiscovery struct {
	App string `yaml:"app"` // the Eureka application name (matched case-insensitively)
	// VIP, if set, keeps only the instances whose vipAddress (secure or
	// not, a comma-separated list in Eureka) names it.
	VIP string `yaml:"vip"`
}

type ConsulDiscovery struct {
	Service    string   `yaml:"service"`
	Tags       []string `yaml:"tags"`
	Datacenter string   `yaml:"datacenter"`
}

type StaticEndpoint struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	Weight  int    `yaml:"weight"` // default 1
	Zone    string `yaml:"zone"`
}

// Load-balancing policies.
const (
	LBRoundRobin   = "ROUND_ROBIN"
	LBLeastRequest = "LEAST_REQUEST"
	LBRandom       = "RANDOM"
	LBRingHash     = "RING_HASH"
	LBMaglev       = "MAGLEV"
)

type LoadBalancer struct {
	Policy string  `yaml:"policy"`
	HashOn *HashOn `yaml:"hashOn"` // RING_HASH / MAGLEV only
}

// HashOn has exactly one of Header, Cookie or SourceIP.
type HashOn struct {
	Header   string `yaml:"header"`
	Cookie   string `yaml:"cookie"`
	SourceIP bool   `yaml:"sourceIP"`
}

type UpstreamTLS struct {
	SNI    string `yaml:"sni"`
	CAFile string `yaml:"caFile"`
	// Filled by Load from CAFile.
	CAPEM []byte `yaml:"-"`
}

type CircuitBreaker struct {
	MaxConnections     int `yaml:"maxConnections"`
	MaxPendingRequests int `yaml:"maxPendingRequests"`
	MaxRequests        int `yaml:"maxRequests"`
	MaxRetries         int `yaml:"maxRetries"`
	// RetryBudget bounds retries in flight as a share of the requests in
	// flight (timeouts.go); Envoy then ignores maxRetries.
	RetryBudget *RetryBudget `yaml:"retryBudget"`
}

type OutlierDetection struct {
	Consecutive5xx     int      `yaml:"consecutive5xx"`
	Interval           Duration `yaml:"interval"`
	BaseEjectionTime   Duration `yaml:"baseEjectionTime"`
	MaxEjectionPercent int      `yaml:"maxEjectionPercent"`
}

// HealthCheck has exactly one of HTTP, GRPC or TCP.
type HealthCheck struct {
	HTTP               *HTTPHealthCheck `yaml:"http"`
	GRPC               *GRPCHealthCheck `yaml:"grpc"`
	TCP                *struct{}        `yaml:"tcp"`
	Interval           Duration         `yaml:"interval"`
	Timeout            Duration         `yaml:"timeout"`
	UnhealthyThreshold int              `yaml:"unhealthyThreshold"`
	HealthyThreshold   int              `yaml:"healthyThreshold"`
}

type HTTPHealthCheck struct {
	Path string `yaml:"path"`
	Host string `yaml:"host"`
}

type GRPCHealthCheck struct {
	ServiceName string `yaml:"serviceName"`
}

// ---- Route ----

type Route struct {
	Meta `yaml:",inline"`
	Spec RouteSpec `yaml:"spec"`
	// upgrades is the list that applies, set by Load (resolveUpgrades)
	// from the Route and its Gateways' defaults.
	upgrades []string
	resolved bool
}

type RouteSpec struct {
	Gateways []string   `yaml:"gateways"`
	Hosts    []string   `yaml:"hosts"` // default ["*"]
	Match    RouteMatch `yaml:"match"`
	Backends []Backend  `yaml:"backends"`
	// Redirect or DirectResponse answer instead of Backends (redirect.go).
	Redirect       *Redirect       `yaml:"redirect"`
	DirectResponse *DirectResponse `yaml:"directResponse"`
	Timeout        Duration        `yaml:"timeout"`
	// IdleTimeout, StreamTimeout and GRPCTimeout: see timeouts.go.
	IdleTimeout    Duration      `yaml:"idleTimeout"`
	StreamTimeout  Duration      `yaml:"streamTimeout"`
	GRPCTimeout    *GRPCTimeout  `yaml:"grpcTimeout"`
	Retries        *Retries      `yaml:"retries"`
	Rewrite        *Rewrite      `yaml:"rewrite"`
	Headers        *RouteHeaders `yaml:"headers"`
	Authentication *[]string     `yaml:"authentication"` // Authentication names, any one of which suffices; nil: Gateway default; []: off
	Authorization  string        `yaml:"authorization"`  // Authorization name; "": none
	// Require: scopes and claims the caller's token must carry (a JWT or
	// an introspected token); checked by the ext_authz service.
	Require   *RouteRequire `yaml:"require"`
	RateLimit string        `yaml:"rateLimit"` // RateLimit name; "": Gateway default; RateLimitNone: off
	Firewall  string        `yaml:"firewall"`  // Firewall name; "": Gateway default; FirewallNone: off
	// Transformation names the Transformation reshaping this Route's
	// requests and responses; "": the Gateway default; none: off.
	Transformation string `yaml:"transformation"`
	// Cache stores the Route's responses in Envoy's HTTP cache
	// (types_cache.go); nil: the Gateway default.
	Cache *Cache `yaml:"cache"`
	// CDN sets Cache-Control and Surrogate-Control for a cache in front;
	// Compression turns response compression on or off (types_cdn.go);
	// nil: the Gateway default.
	CDN         *CDN         `yaml:"cdn"`
	Compression *Compression `yaml:"compression"`
	// Validation checks requests against an OpenAPI document
	// (validation.go); nil: its backends' Services' validation, if any
	// (Route.EffectiveValidation); {mode: off}: none.
	Validation *Validation `yaml:"validation"`
	// Transcoding serves the Route's GRPC backends to REST clients
	// through Envoy's gRPC-JSON transcoder (transcoding.go); nil: none.
	Transcoding *Transcoding `yaml:"transcoding"`
	// Streaming marks a Route whose calls are long-lived streams (server-
	// sent events, streaming gRPC, long polls): Envoy gives it no request
	// timeout (see StreamingRoute). Routes whose every backend is a GRPC
	// Service are streaming without saying so.
	Streaming bool `yaml:"streaming"`
	// WebSocket says whether the HTTP/1.1 Upgrade: websocket handshake is
	// accepted on this Route (Route.WebSocketAllowed): unset, it is on for
	// Routes that can be HTTP/1.1 (not every backend a GRPC Service);
	// false turns it off; true also makes the Route streaming (no route
	// timeout), for sockets that stay open longer than it.
	WebSocket *bool `yaml:"websocket"`
	// Upgrades lists the protocol upgrades this Route accepts (upgrades.go):
	// websocket, CONNECT (a TCP tunnel to the Route's Service, on a Route of
	// its own) or another HTTP/1.1 Upgrade token. nil: the Gateway's
	// default, else websocket; []: none. Not with websocket.
	Upgrades *[]string `yaml:"upgrades"`
	// Proxyless overrides the Gateway's proxyless block for this Route.
	Proxyless *Proxyless `yaml:"proxyless"`
	// CORS replaces the Gateway's default CORS for this Route (cors.go).
	CORS *CORS `yaml:"cors"`
	// Mirror copies requests to other Services, answers discarded; Fault
	// injects delays and aborts for testing (traffic.go).
	Mirror []Mirror `yaml:"mirror"`
	Fault  *Fault   `yaml:"fault"`
	// Version: which API version the Route serves and its deprecation
	// (version.go).
	Version *RouteVersion `yaml:"version"`
}

// RouteRequire lists what a Route's bearer token must carry: every scope
// (exact, case-sensitive: RFC 6749 3.3) and every claim (a string claim
// equal to the value, or a list claim containing it).
type RouteRequire struct {
	Scopes []string          `yaml:"scopes"`
	Claims map[string]string `yaml:"claims"`
}

// RateLimitNone as a Route's rateLimit turns the Gateway default off. It is
// therefore not a valid RateLimit name.
const RateLimitNone = "none"

// EffectiveAuthentication is the list of Authentication names that applies
// to r on Gateway g: the Route's own list if it has one, else g's default.
// Empty means no credential is required.
func (r *Route) EffectiveAuthentication(g *Gateway) []string {
	if r.Spec.Authentication != nil {
		return *r.Spec.Authentication
	}
	if g != nil && g.Spec.Defaults != nil && g.Spec.Defaults.Authentication != nil {
		return *g.Spec.Defaults.Authentication
	}
	return nil
}

// EffectiveRateLimit is the RateLimit name that applies to r on Gateway g,
// or "" for none.
func (r *Route) EffectiveRateLimit(g *Gateway) string {
	rl := r.Spec.RateLimit
	if rl == "" && g != nil && g.Spec.Defaults != nil {
		rl = g.Spec.Defaults.RateLimit
	}
	if rl == RateLimitNone {
		return ""
	}
	return rl
}

type RouteMatch struct {
	Path    PathMatch     `yaml:"path"`
	Methods []string      `yaml:"methods"`
	Headers []HeaderMatch `yaml:"headers"`
	Query   []QueryMatch  `yaml:"query"`
}

// PathMatch has exactly one of Prefix, Exact or Regex. Omitted: prefix "/".
// Segments makes Prefix match whole path segments only: /public matches
// /public, /public/ and /public/x, never /publicadmin.
type PathMatch struct {
	Prefix   string `yaml:"prefix"`
	Exact    string `yaml:"exact"`
	Regex    string `yaml:"regex"`
	Segments bool   `yaml:"segments"`
	// CaseInsensitive makes Prefix or Exact ignore ASCII case (a regex
	// says so itself, with (?i)).
	CaseInsensitive bool `yaml:"caseInsensitive"`
}

// HeaderMatch has exactly one of Exact, Prefix, Regex or Present.
type HeaderMatch struct {
	Name    string `yaml:"name"`
	Exact   string `yaml:"exact"`
	Prefix  string `yaml:"prefix"`
	Regex   string `yaml:"regex"`
	Present bool   `yaml:"present"`
}

// QueryMatch has exactly one of Exact, Prefix, Regex or Present.
type QueryMatch = HeaderMatch

type Backend struct {
	Service string `yaml:"service"`
	Weight  *int   `yaml:"weight"` // default 1; 0 is allowed (drained) if another weight is positive
}

// W returns the effective weight.
func (b Backend) W() int {
	if b.Weight == nil {
		return 1
	}
	return *b.Weight
}

type Retries struct {
	Attempts      int      `yaml:"attempts"`
	On            []string `yaml:"on"` // 5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable
	PerTryTimeout Duration `yaml:"perTryTimeout"`
	// StatusCodes, PerTryIdleTimeout, Backoff and HedgeOnPerTryTimeout:
	// see timeouts.go.
	StatusCodes          []int         `yaml:"statusCodes"`
	PerTryIdleTimeout    Duration      `yaml:"perTryIdleTimeout"`
	Backoff              *RetryBackoff `yaml:"backoff"`
	HedgeOnPerTryTimeout bool          `yaml:"hedgeOnPerTryTimeout"`
}

// Rewrite: at most one of Prefix or Regex, plus optionally Host.
type Rewrite struct {
	Prefix string        `yaml:"prefix"`
	Regex  *RegexRewrite `yaml:"regex"`
	Host   string        `yaml:"host"`
}

type RegexRewrite struct {
	Pattern      string `yaml:"pattern"`
	Substitution string `yaml:"substitution"`
}

type RouteHeaders struct {
	Request  *HeaderChanges `yaml:"request"`
	Response *HeaderChanges `yaml:"response"`
}

type HeaderChanges struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// ---- Snapshot ----

// Snapshot is a validated, reference-resolved set of objects: everything the
// translator may use. Objects that failed validation are absent here and
// listed in Rejected. Maps are keyed by object name.
type Snapshot struct {
	Gateways        map[string]*Gateway
	Services        map[string]*Service
	Routes          map[string]*Route
	Authentications map[string]*Authentication
	Authorizations  map[string]*Authorization
	Consumers       map[string]*Consumer
	Plans           map[string]*Plan
	RateLimits      map[string]*RateLimit
	Firewalls       map[string]*Firewall
	Transformations map[string]*Transformation
	Rejected        []Rejected
	// Held lists Gateways whose configuration must not be rebuilt from this
	// Snapshot, with why: a Route naming the Gateway is defined but cannot
	// be served (a reference does not resolve) and has no last good
	// version, so another Route (a catch-all) would serve its paths. A
	// builder keeps serving such a Gateway's last good configuration, or
	// none on a fresh start. Keyed by Gateway name; nil when none.
	Held map[string][]string
	// ExternalFiles are the files policies name outside the policy
	// directory (slash paths relative to it, such as "../policies/x.rego"),
	// read or tried by this load: a watcher should watch them too.
	ExternalFiles []string
}

// Rejected is an object that failed validation and why. If CarriedOver is
// set, the object's last good version (from the previous Snapshot) is still
// in this Snapshot and still served; otherwise the object is absent.
type Rejected struct {
	Ref         string   `json:"ref"`  // Kind/name, or "file.yaml" when the object could not be named
	File        string   `json:"file"` // relative to the policy directory
	Line        int      `json:"line"`
	Errors      []string `json:"errors"` // each fully formatted: "file:line: Kind/name: field.path: message"
	CarriedOver bool     `json:"carried_over"`
}
