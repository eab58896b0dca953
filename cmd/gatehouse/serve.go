package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/gatehouse-dev/gatehouse/pkg/admin"
	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/pkg/oidc"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/kubernetes"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/open"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func init() { addVerb(newServeCmd) }

type serveOptions struct {
	policyDir string
	store     string // --store URL; --policy-dir P is dir://P
	xdsAddr   string
	adminAddr string
	debounce  time.Duration
	maxDelay  time.Duration
	resync    time.Duration
	// Consul discovery (issue 3): contacted only when a Service uses it.
	consulAddr      string
	consulTokenFile string
	// Kubernetes discovery (issue 17): read only when a Service uses it.
	kubeconfig        string
	kubeAllNamespaces bool
	kubeSADir         string
	// DNS discovery for proxyless clients (issue 17): the servers asked.
	dnsServers []string
	// Eureka discovery (issue 17): contacted only when a Service uses it.
	eureka eurekaOptions
	// gatehouse's own ext_authz and rate-limit services.
	services serviceOptions
	// TLS and mTLS of the gRPC port.
	tls tlsOptions
	// Tokens and TLS of the admin API.
	adminAuth adminAuthOptions
	// Initial-sync admission of ADS streams.
	syncs syncOptions
	// gatehouse's own tracing (--otlp-endpoint).
	tracing tracingOptions
}

func newServeCmd() *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --policy-dir DIR | --store dir://DIR|consul://ADDR/PREFIX",
		Short: "Run the control plane: watch a policy store and serve it over xDS",
		Long: `Run the Gatehouse control plane.

gatehouse serve loads every *.yaml/*.yml file under --policy-dir, validates it,
translates it into Envoy listeners, routes, clusters, endpoints and secrets, and
serves them over ADS (gRPC, state of the world) on --xds-addr to Envoy proxies and
proxyless gRPC clients. A proxy gets the configuration of the Gateway named by its
node.cluster.

The same gRPC port also serves the two services Envoy calls per request: ext_authz
(envoy.service.auth.v3: API keys, JWT consumers, Rego and group rules) and the
global rate-limit service (envoy.service.ratelimit.v3: in-memory counters, or Redis
with --redis-addr or --redis-url, also Redis Cluster and Sentinel, so that several
replicas enforce one limit). --components runs
only some of the three parts; point Envoy at separate replicas with
--authz-advertise-addr and --ratelimit-advertise-addr. Those two are required
when --xds-addr listens on every address (0.0.0.0, [::] or no host): Envoy
cannot dial such an address.

Policy can also live in Consul KV, for several replicas sharing one policy:
--store consul://ADDR/PREFIX reads the files under PREFIX/files/ and watches
them with blocking queries (ACL token: --consul-token-file or CONSUL_HTTP_TOKEN).
--store dir://DIR is the same as --policy-dir DIR; a writable directory keeps
its revision history (last 100) in DIR/.gatehouse/. If the store cannot be read
the last good policy keeps being served; /api/v1/status, "gatehouse status" and
the gatehouse_store_up metric show it.

The directory is watched: an edit is live within a second. An object that fails
validation is rejected on its own (the rest still updates) and, if it was valid
before, its last good version keeps being served. An object deleted while others
still name it keeps its last good version until the references are removed; a
Gateway with a Route that cannot be served and never was is held back (its last
good configuration stays, none after a restart). Nothing is published unless the
whole result passes Envoy's validation and every reference resolves.

The admin API on --admin-addr serves:
  /healthz          the process is up
  /readyz           200 once the first complete configuration was built
  /metrics          Prometheus metrics (gatehouse_*)
  /api/v1/proxies   every connected proxy, the versions sent and acknowledged, NACKs
  /api/v1/status    rejected objects, held-back Gateways, the last build error
                    and the policy store's state
  /api/v1/usage     requests, errors and latency per gateway, route, consumer and
                    plan over --usage-window, from Envoy's gRPC access log
  /api/v1/...       the policy objects: apply (all or nothing), get, delete, object
                    status, history, rollback, config dump (docs/openapi.yaml)
"gatehouse status" prints the proxies, the status and the object status, "gatehouse
usage" the usage; apply, get, delete, diff, history, rollback and config-dump use
the rest. --admin-tokens makes every path but /healthz and /readyz (and /metrics
with --metrics-public) need a bearer token (roles reader and admin; see
"gatehouse token create"); without it the admin API must stay on loopback.

Both listen on loopback by default. Without --tls-cert the gRPC port is plain
gRPC: expose it beyond loopback only on a trusted network; TLS private keys (SDS
secrets) then go only to proxies connecting from loopback, and others see their
HTTPS listeners wait, with the reason in "gatehouse status".

--tls-cert and --tls-key make the gRPC port speak TLS only (plaintext is refused).
--client-ca also requires a client certificate (mTLS) signed by that CA and naming
one Gateway of --trust-domain (URI SAN spiffe://<trust-domain>/gateway/<name> or
DNS SAN <name>.gateway.<trust-domain>): a proxy then gets only that Gateway's
configuration (any other node.cluster is PermissionDenied), secrets included from
off loopback, and ext_authz and rate limit admit only such proxies (a rate-limit
call only for the caller's own Gateway). Refusals are logged and counted in
gatehouse_peer_*_refused_total. The files are re-read when they change on disk.
"gatehouse bootstrap --tls" prints the matching proxy bootstraps; see
docs/operations.md for a worked example.

--otlp-endpoint sends gatehouse's own spans to an OpenTelemetry collector
(OTLP/gRPC): each ext_authz and rate-limit decision as a child of the trace
Envoy propagates (never a credential), and each control-plane change (store,
build, publish, the proxies' ACKs) as a trace. --trace-sample-percent samples
the traces gatehouse starts; see docs/tracing.md.`,
		Example: `  gatehouse serve --policy-dir examples/quickstart
  gatehouse serve --policy-dir /etc/gatehouse --xds-addr 0.0.0.0:18000 --authz-advertise-addr gatehouse:18000 --ratelimit-advertise-addr gatehouse:18000 --log-format json
  gatehouse serve --store consul://127.0.0.1:8500/gatehouse --consul-token-file /etc/gatehouse/consul.token
  gatehouse serve --policy-dir /etc/gatehouse --components ratelimit --redis-addr redis:6379 --xds-addr 0.0.0.0:18001
  gatehouse serve --policy-dir /etc/gatehouse --xds-addr 0.0.0.0:18000 --authz-advertise-addr gatehouse:18000 --ratelimit-advertise-addr gatehouse:18000 --tls-cert tls/gatehouse.pem --tls-key tls/gatehouse-key.pem --client-ca tls/ca.pem --trust-domain example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.policyDir, "policy-dir", "", "directory of policy YAML files to serve (short for --store dir://DIR)")
	f.StringVar(&o.store, "store", "", "policy store: dir://DIR or consul://ADDR/PREFIX (give it or --policy-dir)")
	f.StringVar(&o.xdsAddr, "xds-addr", "127.0.0.1:18000", "address of the gRPC server: xDS (ADS), ext_authz and rate limit, as --components says")
	f.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:18080", "address of the admin HTTP API (health, metrics, status)")
	f.DurationVar(&o.debounce, "debounce", 50*time.Millisecond, "quiet time after a change before a build starts")
	f.DurationVar(&o.maxDelay, "max-delay", 500*time.Millisecond, "longest a build waits under a constant stream of changes")
	f.DurationVar(&o.resync, "resync", 30*time.Second, "reload the policy directory at least this often (0: only on file events)")
	f.StringVar(&o.consulAddr, "consul-addr", "", "Consul agent for discovery.consul Services (default $CONSUL_HTTP_ADDR, else 127.0.0.1:8500; contacted only when a Service uses Consul)")
	f.StringVar(&o.consulTokenFile, "consul-token-file", "", "file holding the Consul ACL token, for discovery and a consul:// store (default $CONSUL_HTTP_TOKEN)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for discovery.kubernetes Services (default $KUBECONFIG, else the in-cluster service account; read only when a Service uses Kubernetes)")
	f.StringSliceVar(&o.dnsServers, "dns-server", nil, "DNS server (host or host:port) gatehouse asks for discovery.dns names on behalf of proxyless gRPC clients; repeat for fallbacks (default: the nameservers of /etc/resolv.conf; Envoy resolves with its own resolver)")
	f.StringVar(&o.kubeSADir, "kubernetes-service-account-dir", kubernetes.DefaultServiceAccountDir, "in-cluster credentials (token, ca.crt) used when neither --kubeconfig nor KUBECONFIG is given; the API server is $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT")
	f.BoolVar(&o.kubeAllNamespaces, "kubernetes-all-namespaces", false, "watch EndpointSlices cluster-wide with one informer instead of one per referenced namespace")
	o.eureka.addFlags(f)
	o.services.addFlags(f)
	o.tls.addFlags(f)
	o.adminAuth.addFlags(f)
	o.syncs.addFlags(f)
	o.tracing.addFlags(f)
	return cmd
}

func serve(ctx context.Context, o serveOptions, out io.Writer) error {
	log := slog.Default()
	storeURL, err := o.storeURL()
	if err != nil {
		return err
	}
	if err := o.syncs.validate(); err != nil {
		return err
	}
	externalDirs := make(chan []string, 1)
	token, err := consulToken(o.consulTokenFile)
	if err != nil {
		return err
	}
	st, err := open.Open(storeURL, open.Options{Resync: o.resync, ExtraDirs: externalDirs, ConsulToken: token})
	if err != nil {
		return err
	}
	health := store.NewHealth(st.Name)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := o.services.validate(o.xdsAddr); err != nil {
		return err
	}
	auth, err := o.tls.auth(reg, log)
	if err != nil {
		return err
	}
	if err := o.adminAuth.load(o.adminAddr); err != nil {
		return err
	}
	tr, err := o.tracing.start()
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: a collector that is down must not hold up the exit.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tr.Shutdown(ctx)
	}()
	o.services.tracer = tr.Provider()
	svc, err := newServices(&o.services, reg, log)
	if err != nil {
		return err
	}
	defer svc.close()

	xdsLis, err := net.Listen("tcp", o.xdsAddr)
	if err != nil {
		return fmt.Errorf("gRPC listener (--xds-addr): %w", err)
	}
	adminLis, err := net.Listen("tcp", o.adminAddr)
	if err != nil {
		xdsLis.Close()
		return fmt.Errorf("admin listener (--admin-addr): %w", err)
	}
	grpcOpts := append(server.GRPCServerOptions(), svc.serverOptions()...)
	grpcServer := grpc.NewServer(append(grpcOpts, grpcAuthOptions(auth)...)...)
	svc.register(grpcServer)

	var (
		pub  *server.Publisher
		xds  *server.Server
		acks *server.AckTracer
	)
	if o.services.runs(componentXDS) {
		if pub, err = server.NewPublisher(server.PublisherOptions{Registerer: reg}); err != nil {
			return err
		}
		acks = server.NewAckTracer(tr.Provider(), pub)
		xopts := server.Options{
			Registerer: reg,
			Auth:       auth,
			Acks:       acks,
			OnUnknownGateway: func(node, gateway, reason string) {
				log.Warn("proxy connected for an unknown gateway; it gets no configuration until a Gateway of that name exists",
					"node", node, "gateway", gateway, "reason", reason)
			},
			OnBridgeHoldExpired: func(gateway string, silent, rejected []string) {
				log.Warn("cluster removal sent before every proxy of the gateway acknowledged the routes that stop naming the clusters (bridge hold expired); those proxies may answer 503 for the removed clusters until they take the new routes",
					"gateway", gateway, "silent", silent, "rejected", rejected)
			},
		}
		o.syncs.apply(&xopts)
		xds, err = server.NewServer(ctx, pub, xopts)
		if err != nil {
			return err
		}
		xds.Register(grpcServer)
	}
	proxies := func() []server.ProxyStatus {
		if xds == nil {
			return []server.ProxyStatus{}
		}
		return xds.Proxies()
	}

	var snapshots func(translate.GroupKey) (*cache.Snapshot, bool) // config dumps; nil without xDS
	var bridges func(translate.GroupKey) (*cache.Snapshot, bool)   // bridges held, in config dumps
	if pub != nil {
		snapshots = pub.Snapshot
		bridges = pub.Bridge
	}

	var ctrl *controller.Controller
	consulSrc, err := newConsulSource(o.consulAddr, o.consulTokenFile, &ctrl)
	if err != nil {
		return err
	}
	kubeSrc := newKubeSource(o.kubeconfig, o.kubeSADir, o.kubeAllNamespaces, &ctrl)
	dnsSrc, err := newDNSSource(o.dnsServers, &ctrl)
	if err != nil {
		return err
	}
	eurekaSrc, err := newEurekaSource(o.eureka, &ctrl)
	if err != nil {
		return err
	}
	staticSrc := &static.Source{}
	reg.MustRegister(newRegistryUp(staticSrc, consulSrc, kubeSrc, dnsSrc, eurekaSrc), newStoreCollector(health))
	var publisher controller.Publisher // a nil *server.Publisher must stay a nil interface
	if pub != nil {
		publisher = pub
	}
	topts := o.translateOptions(xdsLis.Addr().String())
	// OpenID Connect discovery for JWT Authentications that name only
	// their issuer: a new or changed jwks_uri rebuilds the configuration.
	disc := oidc.New(oidc.Config{OnChange: func() { ctrl.PolicyChanged() }, Logger: log, Registerer: reg})
	topts.DiscoveredJWKS = func(j *policy.JWTAuth) string { return disc.JWKSURI(oidc.TargetOf(j)) }
	// And for browser logins that name their issuer: the authorization,
	// token and end-session endpoints.
	topts.DiscoveredLogin = func(l *policy.OAuth2LoginAuth) translate.LoginEndpoints {
		d := disc.Endpoints(oidc.TargetOfLogin(l))
		return translate.LoginEndpoints{Authorization: d.AuthorizationEndpoint, Token: d.TokenEndpoint, EndSession: d.EndSessionEndpoint}
	}
	ctrl = controller.New(controller.Config{
		Load:         st.Loader(ctx, health, log),
		Publisher:    publisher,
		Translate:    topts,
		Services:     svc.update,
		MaxAuthzBody: o.services.maxAuthzBody,
		Debounce:     o.debounce,
		MaxDelay:     o.maxDelay,
		Logger:       log,
		Metrics:      controller.NewMetrics(reg),
		OnPolicy: func(snap *policy.Snapshot) {
			disc.Set(oidc.Targets(snap))
			consulSrc.SetPolicy(snap)
			kubeSrc.SetPolicy(snap)
			dnsSrc.SetPolicy(snap)
			staticSrc.SetPolicy(snap)
			eurekaSrc.SetPolicy(snap)
			if st.Root != "" {
				sendLatest(externalDirs, dirsOf(st.Root, snap.ExternalFiles))
			}
		},
		Synced:      func() bool { return consulSrc.Synced() && kubeSrc.Synced() && dnsSrc.Synced() && eurekaSrc.Synced() },
		Tracer:      tr.Provider(),
		OnPublished: acks.Published,
	})

	adminServer := &http.Server{
		Handler: o.adminAuth.wrap(admin.Handler(admin.Config{
			Gatherer: reg,
			Ready:    ctrl.Ready,
			Proxies:  proxies,
			Store:    st,
			Policy:   st.PolicyOptions(),
			Build:    ctrl.Status,
			Served:   func() string { return health.Status().Revision },
			Snapshot: snapshots,
			Bridge:   bridges,
			Status: func() any {
				hs := health.Status()
				return serverStatus{Status: ctrl.Status(), Store: &hs, Consul: consulStatus(consulSrc), Kube: kubeStatus(kubeSrc), DNS: dnsStatus(dnsSrc), Eureka: eurekaStatus(eurekaSrc), Registries: registriesHealth(staticSrc, consulSrc, kubeSrc, dnsSrc, eurekaSrc), OIDC: disc.Status()}
			},
			Usage: svc.usageHandler(),
			Explain: func(req explain.Request) (*explain.Result, error) {
				s := ctrl.Served()
				if s.Policy == nil {
					return nil, errors.New("no configuration is built yet: see gatehouse status")
				}
				return explain.Explain(explain.Inputs{Policy: s.Policy, Groups: s.Groups, Endpoints: s.Endpoints}, req)
			},
			EnvoyDiff: func(before, after *store.Tree) (json.RawMessage, error) {
				cs, err := explain.PolicyDiff(before.FS(), after.FS(), st.PolicyOptions(), topts)
				if err != nil {
					return nil, err
				}
				return json.Marshal(cs)
			},
		}), log),
		ReadHeaderTimeout: 5 * time.Second,
	}

	errs := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Add(12)
	go func() { defer wg.Done(); ctrl.Run(ctx) }()
	go func() { defer wg.Done(); disc.Run(ctx) }()
	go func() { defer wg.Done(); consulSrc.Run(ctx) }()
	go func() { defer wg.Done(); logConsul(ctx, consulSrc, log) }()
	go func() { defer wg.Done(); kubeSrc.Run(ctx) }()
	go func() { defer wg.Done(); logKube(ctx, kubeSrc, log) }()
	go func() { defer wg.Done(); dnsSrc.Run(ctx) }()
	go func() { defer wg.Done(); logDNS(ctx, dnsSrc, log) }()
	go func() { defer wg.Done(); eurekaSrc.Run(ctx) }()
	go func() { defer wg.Done(); logEureka(ctx, eurekaSrc, log) }()
	go func() {
		defer wg.Done()
		if err := st.Watch(ctx, ctrl.PolicyChanged, nil); err != nil {
			errs <- fmt.Errorf("policy watcher: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		grpcServer.GracefulStop()
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		adminServer.Shutdown(shutdown)
	}()
	go func() {
		if err := grpcServer.Serve(xdsLis); err != nil {
			errs <- fmt.Errorf("xDS server: %w", err)
		}
	}()
	go func() {
		if err := o.adminAuth.serve(adminServer, adminLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("admin server: %w", err)
		}
	}()

	log.Info("gatehouse serving", "store", st.Name, "grpc", xdsLis.Addr().String(), "admin", adminLis.Addr().String(),
		"components", strings.Join(o.services.components, ","), "services", svc.describe(), "grpc_tls", tlsMode(auth))
	go printWelcome(ctx, out, o, st.Name, ctrl, xdsLis.Addr().String(), adminLis.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
		log.Error("shutting down", "err", runErr)
	}
	cancel()
	wg.Wait()
	return runErr
}

// translateOptions are the services' options with how Envoy reaches them
// over TLS.
func (o serveOptions) translateOptions(xdsAddr string) translate.Options {
	t := o.services.translateOptions(xdsAddr)
	t.ServiceTLS = o.tls.serviceTLS()
	return t
}

// storeURL is --store, or dir://--policy-dir: exactly one of them.
func (o serveOptions) storeURL() (string, error) {
	switch {
	case o.store != "" && o.policyDir != "":
		return "", fmt.Errorf("give either --policy-dir or --store, not both (--policy-dir DIR is --store dir://DIR)")
	case o.store != "":
		return o.store, nil
	case o.policyDir != "":
		if st, err := os.Stat(o.policyDir); err != nil || !st.IsDir() {
			return "", fmt.Errorf("--policy-dir %q is not a readable directory", o.policyDir)
		}
		return "dir://" + o.policyDir, nil
	}
	return "", fmt.Errorf("say where policy lives: --policy-dir DIR or --store dir://DIR|consul://ADDR/PREFIX")
}

// printWelcome tells a newcomer where gatehouse listens and what to try
// next, once the first build says which Gateways exist.
func printWelcome(ctx context.Context, out io.Writer, o serveOptions, storeName string, ctrl *controller.Controller, xdsAddr, adminAddr string) {
	gateway := "NAME"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if ctrl.Ready() {
			if gws := ctrl.Status().Gateways; len(gws) > 0 {
				gateway = gws[0]
			}
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	tlsFlag := ""
	if o.tls.enabled() {
		tlsFlag = " --tls"
	}
	fmt.Fprintf(out, `gatehouse is serving %s
  gRPC (xDS, ext_authz, rate limit, access log)  %s
  admin API        %s  (/healthz /readyz /metrics /api/v1/proxies /api/v1/status /api/v1/usage)
  gateways         %s

Next, in another terminal:
  gatehouse status --server %s
  gatehouse bootstrap --gateway %s --xds-addr %s%s > envoy.yaml   # then: envoy -c envoy.yaml
  gatehouse bootstrap --gateway %s --xds-addr %s%s --format grpc  # proxyless gRPC clients
`, storeName, xdsAddr, o.adminAuth.url(adminAddr), strings.Join(ctrl.Status().Gateways, ", "), adminAddr, gateway, xdsAddr, tlsFlag, gateway, xdsAddr, tlsFlag)
}

// dirsOf returns the directories of files (slash paths relative to
// policyDir) that policies name outside it.
func dirsOf(policyDir string, files []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		d := filepath.Dir(filepath.Join(policyDir, filepath.FromSlash(f)))
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// sendLatest replaces whatever ch holds with v (ch has room for one): the
// watcher only needs the newest list.
func sendLatest(ch chan []string, v []string) {
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- v:
	default:
	}
}
