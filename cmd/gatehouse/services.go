package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/extproc"
	"github.com/gatehouse-dev/gatehouse/pkg/openapi"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/pkg/transform"
	"github.com/gatehouse-dev/gatehouse/pkg/usage"
	"github.com/gatehouse-dev/gatehouse/pkg/waf"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Components a gatehouse process can run (--components).
const (
	componentXDS       = "xds"
	componentAuthz     = "authz"
	componentRateLimit = "ratelimit"
	componentUsage     = "usage"
)

var allComponents = []string{componentXDS, componentAuthz, componentRateLimit, componentUsage}

// serviceOptions configure gatehouse's own gRPC services and how Envoy
// reaches them.
type serviceOptions struct {
	components         []string
	redisAddr          string
	redisURL           string
	redis              *ratelimit.RedisOptions // from redisAddr or redisURL by validate; nil: in-memory counters
	redisTimeout       time.Duration
	authzAdvertise     string
	ratelimitAdvertise string
	usageAdvertise     string
	authzTimeout       time.Duration
	ratelimitTimeout   time.Duration
	maxAuthzBody       int
	systemCAFile       string
	decisionLog        bool
	zone               string
	usageWindow        time.Duration
	usageMaxConsumers  int
	// tracer gets the decision spans (--otlp-endpoint); nil: none.
	tracer trace.TracerProvider
}

func (o *serviceOptions) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.components, "components", allComponents,
		"parts to run in this process: xds, authz, ratelimit, usage (the access-log service for usage analytics) (run them as separate replicas when one machine is not enough; they share the policy directory)")
	f.StringVar(&o.redisAddr, "redis-addr", "", "Redis host:port for rate-limit counters shared by several replicas (default: in-memory counters, one replica)")
	f.StringVar(&o.redisURL, "redis-url", "", "Redis for rate-limit counters, one of "+ratelimit.RedisURLForms+" (instead of --redis-addr; Redis Cluster or Sentinel for counters that survive a Redis failure)")
	f.DurationVar(&o.redisTimeout, "redis-timeout", ratelimit.DefaultTimeout, "bound on one rate-limit decision's Redis round trip; past it Envoy applies the RateLimit's failureMode")
	f.StringVar(&o.authzAdvertise, "authz-advertise-addr", "", "host:port at which Envoy reaches the ext_authz service (default: --xds-addr; required when --xds-addr listens on all addresses)")
	f.StringVar(&o.ratelimitAdvertise, "ratelimit-advertise-addr", "", "host:port at which Envoy reaches the rate-limit service (default: --xds-addr; required when --xds-addr listens on all addresses)")
	f.StringVar(&o.usageAdvertise, "usage-advertise-addr", "", "host:port at which Envoy reaches the access-log service, for Gateways with accessLog.usage (default: --xds-addr, or --authz-advertise-addr when --xds-addr listens on every address)")
	f.DurationVar(&o.authzTimeout, "authz-timeout", translate.DefaultAuthzTimeout, "Envoy's timeout for one ext_authz call")
	f.DurationVar(&o.ratelimitTimeout, "ratelimit-timeout", translate.DefaultRateLimitTimeout, "Envoy's timeout for one rate-limit call")
	f.IntVar(&o.maxAuthzBody, "authz-max-body", translate.DefaultMaxAuthzBodyBytes, "request body bytes Envoy sends to ext_authz, and Rego sees as input.parsed_body")
	f.StringVar(&o.systemCAFile, "system-ca-file", translate.DefaultSystemCAFile, "CA bundle file, on the Envoy host, that Envoy checks remote JWKS servers and Services with tls but no caFile against")
	f.StringVar(&o.zone, "zone", "", "zone of the proxies of every Gateway without spec.zone: their endpoints in this zone get priority 0, the others priority 1, so traffic fails over zone by zone (default: none, every endpoint priority 0)")
	f.BoolVar(&o.decisionLog, "decision-log", true, "log every authorization decision (decision id, route, consumer, result; never credentials)")
	f.DurationVar(&o.usageWindow, "usage-window", usage.DefaultWindow, "how far back /api/v1/usage and `gatehouse usage` answer (older usage is in Prometheus)")
	f.IntVar(&o.usageMaxConsumers, "usage-max-consumers", usage.DefaultMaxConsumers, "consumers per gateway with their own usage series; later ones count as _other")
}

// validate checks the flags; xdsAddr is --xds-addr, which the ext_authz
// and rate-limit clusters default to.
func (o *serviceOptions) validate(xdsAddr string) error {
	if len(o.components) == 0 {
		return errors.New("--components: name at least one of xds, authz, ratelimit, usage")
	}
	for _, c := range o.components {
		if !slices.Contains(allComponents, c) {
			return fmt.Errorf("--components: unknown component %q (want xds, authz, ratelimit or usage)", c)
		}
	}
	if o.usageWindow < 0 || o.usageWindow > 0 && o.usageWindow < usage.DefaultBucket {
		return fmt.Errorf("--usage-window %v: must be at least %v (one bucket)", o.usageWindow, usage.DefaultBucket)
	}
	if o.usageMaxConsumers < 0 {
		return errors.New("--usage-max-consumers must not be negative")
	}
	if o.maxAuthzBody < 0 {
		return errors.New("--authz-max-body must not be negative")
	}
	if o.systemCAFile == "" {
		return errors.New("--system-ca-file must name the CA bundle on the Envoy host (Envoy has no other source of system CAs)")
	}
	if err := o.parseRedis(); err != nil {
		return err
	}
	if o.zone != "" {
		if err := policy.CheckZone(o.zone); err != nil {
			return fmt.Errorf("--zone: %w", err)
		}
	}
	return o.checkAdvertise(xdsAddr)
}

// parseRedis reads --redis-addr or --redis-url into o.redis.
func (o *serviceOptions) parseRedis() error {
	switch {
	case o.redisAddr != "" && o.redisURL != "":
		return errors.New("--redis-addr and --redis-url both name a Redis: give one (--redis-addr host:port is --redis-url redis://host:port)")
	case o.redisAddr != "":
		o.redis = &ratelimit.RedisOptions{Addr: o.redisAddr}
	case o.redisURL != "":
		ro, err := ratelimit.ParseRedisURL(o.redisURL)
		if err != nil {
			return fmt.Errorf("--redis-url: %w", err)
		}
		o.redis = &ro
	}
	return nil
}

// checkAdvertise refuses to tell Envoy to reach gatehouse's services at an
// address that only means "every local address" to a listener: Envoy would
// dial 0.0.0.0 or [::], i.e. itself. Only an xDS server publishes these
// addresses, so a replica without the xds component needs none.
func (o *serviceOptions) checkAdvertise(xdsAddr string) error {
	if !o.runs(componentXDS) {
		return nil
	}
	var missing []string
	for _, a := range []struct{ flag, addr string }{
		{"--authz-advertise-addr", o.authzAdvertise},
		{"--ratelimit-advertise-addr", o.ratelimitAdvertise},
	} {
		switch {
		case a.addr == "" && unspecifiedHost(xdsAddr):
			missing = append(missing, a.flag)
		case a.addr != "" && unspecifiedHost(a.addr):
			return fmt.Errorf("%s %s: an unspecified address cannot be dialled; give the host:port at which Envoy reaches the service", a.flag, a.addr)
		}
	}
	if o.usageAdvertise != "" && unspecifiedHost(o.usageAdvertise) {
		return fmt.Errorf("--usage-advertise-addr %s: an unspecified address cannot be dialled; give the host:port at which Envoy reaches the service", o.usageAdvertise)
	}
	if len(missing) > 0 {
		return fmt.Errorf("--xds-addr %s listens on every address, which Envoy cannot dial: set %s to the host:port at which Envoy reaches gatehouse (e.g. gatehouse:18000)", xdsAddr, strings.Join(missing, " and "))
	}
	return nil
}

// unspecifiedHost reports whether addr's host is empty, 0.0.0.0 or ::
// (in any spelling). Anything unparsable is left to the checks that use it.
func unspecifiedHost(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsUnspecified()
}

func (o *serviceOptions) runs(c string) bool { return slices.Contains(o.components, c) }

// translateOptions are the translator's options: where Envoy finds the
// services, by default on the xDS address the services share. An
// unspecified xDS address is never advertised (validate refuses it where
// an xDS server publishes the result; elsewhere the translator's default
// stands in, unpublished).
func (o *serviceOptions) translateOptions(xdsAddr string) translate.Options {
	or := func(a, b string) string {
		if a != "" || unspecifiedHost(b) {
			return a
		}
		return b
	}
	return translate.Options{
		AuthzAddr:     or(o.authzAdvertise, xdsAddr),
		RateLimitAddr: or(o.ratelimitAdvertise, xdsAddr),
		UsageAddr:     o.usageAddr(xdsAddr),
		// The WAF and transformations run with the authz component, on its port.
		ExtProcAddr:       or(o.authzAdvertise, xdsAddr),
		AuthzTimeout:      o.authzTimeout,
		RateLimitTimeout:  o.ratelimitTimeout,
		MaxAuthzBodyBytes: uint32(o.maxAuthzBody),
		SystemCAFile:      o.systemCAFile,
		Zone:              o.zone,
	}
}

// usageAddr is where Envoy reaches the access-log service: the advertised
// address, else the xDS address, else (the xDS server listening on every
// address) the authz service's, which shares its port by default.
func (o *serviceOptions) usageAddr(xdsAddr string) string {
	switch {
	case o.usageAdvertise != "":
		return o.usageAdvertise
	case !unspecifiedHost(xdsAddr):
		return xdsAddr
	}
	return o.authzAdvertise
}

// services are the ext_authz, rate-limit and access-log services this
// process runs.
type services struct {
	opts      *serviceOptions
	authz     *authz.Service
	ratelimit *ratelimit.Service
	usage     *usage.Service
	// waf runs with the authz component, behind the external processing
	// dispatcher (one ExternalProcessor per gRPC server).
	waf       *waf.Service
	transform *transform.Service
	extproc   *extproc.Dispatcher
	close     func() error
	log       *slog.Logger
	openapi   *openapi.Service
}

func newServices(o *serviceOptions, reg prometheus.Registerer, log *slog.Logger) (*services, error) {
	s := &services{opts: o, close: func() error { return nil }, log: log}
	if o.runs(componentAuthz) {
		var logger authz.DecisionLogger
		if o.decisionLog {
			logger = func(d authz.Decision) { log.Info("authz decision", "decision", d) }
		}
		a, err := authz.New(authz.Options{DecisionLogger: logger, Registerer: reg, TracerProvider: o.tracer})
		if err != nil {
			return nil, err
		}
		s.authz = a
		w, err := waf.New(nil)
		if err != nil {
			return nil, err
		}
		s.waf, s.extproc = w, extproc.New()
		s.extproc.Handle(wire.ProcessorWAF, w)
		// Transformations run with the WAF, behind the same dispatcher.
		x, err := transform.New(nil)
		if err != nil {
			return nil, err
		}
		s.transform = x
		s.extproc.Handle(wire.ProcessorTransform, x)
		v, err := openapi.New(nil)
		if err != nil {
			return nil, err
		}
		s.openapi = v
		s.extproc.Handle(wire.ProcessorOpenAPI, v)
	}
	if o.runs(componentRateLimit) {
		var store ratelimit.Store
		if o.redis != nil {
			// go-redis logs dial errors through a process-wide logger to
			// stderr; send them to the structured log instead.
			redis.SetLogger(redisLogger{log})
			ro := *o.redis
			ro.Timeout = o.redisTimeout
			rs, err := ratelimit.NewRedisStore(ro)
			if err != nil {
				return nil, fmt.Errorf("--redis-addr/--redis-url: %w", err)
			}
			store, s.close = rs, rs.Close
		} else {
			store = ratelimit.NewMemoryStore(ratelimit.MemoryOptions{})
		}
		rl, err := ratelimit.New(ratelimit.Options{Store: store, Timeout: o.redisTimeout, Registerer: reg, TracerProvider: o.tracer})
		if err != nil {
			return nil, err
		}
		s.ratelimit = rl
	}
	if o.runs(componentUsage) {
		u, err := usage.New(usage.Options{Registerer: reg, Window: o.usageWindow, MaxConsumers: o.usageMaxConsumers})
		if err != nil {
			return nil, err
		}
		s.usage = u
	}
	return s, nil
}

// serverOptions are extra gRPC server options the services need, after
// server.GRPCServerOptions. ext_authz's lenient codec replaces the ADS
// port's, so it goes in wrapped by server.RequestCodec as the ADS port's
// went in over the stock one.
func (s *services) serverOptions() []grpc.ServerOption {
	if s.authz != nil {
		return []grpc.ServerOption{grpc.ForceServerCodecV2(server.RequestCodec(authz.Codec()))}
	}
	return nil
}

func (s *services) register(g *grpc.Server) {
	if s.authz != nil {
		s.authz.Register(g)
	}
	if s.extproc != nil {
		s.extproc.Register(g)
	}
	if s.ratelimit != nil {
		s.ratelimit.Register(g)
	}
	if s.usage != nil {
		s.usage.Register(g)
	}
}

// usageHandler serves /api/v1/usage, nil when the usage service does not run here.
func (s *services) usageHandler() http.Handler {
	if s.usage == nil {
		return nil
	}
	return s.usage.Handler()
}

// update gives the services their rules (the controller calls it before
// and after publishing the proxies' configuration: make-before-break).
func (s *services) update(ctx context.Context, rules controller.ServiceRules) error {
	var errs []error
	if s.authz != nil {
		err := s.authz.Update(ctx, rules.Authz)
		if err == nil {
			s.logEngines()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("authz: %w", err))
		}
	}
	if s.waf != nil && rules.WAF != nil {
		if err := s.waf.Update(rules.WAF); err != nil {
			errs = append(errs, fmt.Errorf("waf: %w", err))
		}
	}
	if s.transform != nil && rules.Transform != nil {
		if err := s.transform.Update(rules.Transform); err != nil {
			errs = append(errs, fmt.Errorf("transform: %w", err))
		}
	}
	if s.openapi != nil && rules.OpenAPI != nil {
		if err := s.openapi.Update(rules.OpenAPI); err != nil {
			errs = append(errs, fmt.Errorf("openapi: %w", err))
		}
	}
	if s.ratelimit != nil {
		if err := s.ratelimit.Update(rules.RateLimit); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: %w", err))
		}
	}
	if s.usage != nil && rules.RateLimit != nil {
		s.usage.Update(rules.RateLimit.ConsumerPlan)
	}
	return errors.Join(errs...)
}

// logEngines names the policies that OPA's topdown evaluates: they work,
// but each decision costs several times what the IR engine's does.
func (s *services) logEngines() {
	engines := s.authz.Engines()
	for _, name := range slices.Sorted(maps.Keys(engines)) {
		if e := engines[name]; e != authz.EngineIR {
			s.log.Info("authorization evaluated by OPA topdown, slower than the IR engine", "authorization", name, "engine", e)
		}
	}
}

func (s *services) describe() string {
	var parts []string
	if s.authz != nil {
		parts = append(parts, "ext_authz (envoy.service.auth.v3)")
	}
	if s.ratelimit != nil {
		store := "in-memory counters"
		if r := s.opts.redis; r != nil {
			store = redisDescription(r)
		}
		parts = append(parts, "rate limit (envoy.service.ratelimit.v3, "+store+")")
	}
	if s.usage != nil {
		parts = append(parts, "access log for usage analytics (envoy.service.accesslog.v3)")
	}
	return strings.Join(parts, ", ")
}

// redisDescription names the Redis topology for the startup log, without
// credentials.
func redisDescription(r *ratelimit.RedisOptions) string {
	switch r.Mode {
	case ratelimit.RedisCluster:
		return "Redis Cluster " + strings.Join(r.Addrs, ",")
	case ratelimit.RedisSentinel:
		return "Redis master " + r.MasterName + " via sentinels " + strings.Join(r.Addrs, ",")
	default:
		return "Redis " + r.Addr
	}
}

// redisLogger adapts go-redis's logger to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
