// Package controller is Gatehouse's single build loop: it waits for policy
// and registry changes, debounces them, loads and validates the policy,
// translates it, builds endpoints and publishes clean results. It keeps the
// last good result whenever a build fails, so bad input never reaches a proxy.
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Config configures a Controller.
type Config struct {
	// Load loads the policy store, given the last good snapshot for
	// carry-over (policy.LoadDir for a directory); called on every change.
	Load      func(prev *policy.Snapshot) *policy.Snapshot
	Publisher Publisher // nil: this replica serves no xDS (--components)
	Translate translate.Options
	// Debounce is how long the loop waits for quiet after a change; MaxDelay
	// bounds the wait under a constant stream of changes.
	Debounce time.Duration
	MaxDelay time.Duration
	Logger   *slog.Logger
	Metrics  *Metrics // optional

	// OnPolicy, if set, is called with every policy snapshot loaded (before
	// it is built), so registry sources can start and stop their watches.
	OnPolicy func(*policy.Snapshot)
	// Synced, if set, must report true before the FIRST snapshot is
	// published: a registry source that has not read every referenced
	// service yet would otherwise push empty clusters after a restart.
	// While it is false the controller re-checks on every trigger and at
	// least every SyncRecheck (default 250ms).
	Synced      func() bool
	SyncRecheck time.Duration
	// Services, if set, gives gatehouse's own gRPC services (ext_authz,
	// rate limit) their rules, make-before-break with the proxies (see
	// publish): first the served rules plus the names the new proxy
	// configuration introduces, then, once it is published, the new rules.
	// An error before publishing fails the build: the last good
	// configuration stays.
	Services func(context.Context, ServiceRules) error
	// MaxAuthzBody caps input.parsed_body in the authz rules.
	MaxAuthzBody int
	// Tracer, if set, makes every build a trace (pkg/tracing): a root span
	// with children for loading the store, building and publishing.
	Tracer trace.TracerProvider
	// OnPublished, if set, is called after every successful publish with
	// the context of the publish span, so that the proxies' ACKs can join
	// the trace.
	OnPublished func(ctx context.Context, stats server.PublishStats)
}

// Publisher is where the controller sends the proxies' configuration
// (*server.Publisher).
type Publisher interface {
	// SetHeld names the Gateways whose configuration is held back.
	SetHeld(gateways []string)
	// Publish sets the snapshot of every group (claHashes is
	// Result.CLAHashes); on error, Changed in the stats lists the groups
	// set before it failed.
	Publish(ctx context.Context, groups map[translate.GroupKey]*translate.Group, clas map[string]*endpointv3.ClusterLoadAssignment, claHashes map[types.Resource]uint64) (server.PublishStats, error)
	// Remove stops serving groups that are gone.
	Remove(keys ...translate.GroupKey)
}

// Served is what the last successful build published: the policy, the
// translated groups and the endpoints. All of it is read-only.
type Served struct {
	Policy    *policy.Snapshot
	Groups    map[translate.GroupKey]*translate.Group
	Endpoints registry.Snapshot
}

// Served returns what the last successful build published (zero before
// the first), for explaining requests against what proxies have.
func (c *Controller) Served() Served {
	c.publishedMu.Lock()
	defer c.publishedMu.Unlock()
	return c.published
}

// Controller runs the build loop. Create it with New, feed it with
// PolicyChanged and SetEndpoints, run it with Run.
type Controller struct {
	cfg     Config
	trigger chan struct{}

	publishedMu sync.Mutex
	published   Served

	mu            sync.Mutex // guards the pending flags and external endpoints
	policyDirty   bool
	registryDirty bool
	external      map[string]registry.Snapshot // source name -> endpoints

	statusMu sync.RWMutex
	status   Status

	// Owned by the loop goroutine.
	good    *policy.Snapshot
	pending *policy.Snapshot // loaded, not published: waiting for Synced
	builder Builder
	// staticOf is the policy snapshot staticEps were read from: a registry
	// change rebuilds only what changed, and re-reading every static
	// Service's endpoints from the same snapshot (1.2 ms at 1,000 Services
	// of 10) would cost more than the rest of an endpoint-only build.
	staticOf  *policy.Snapshot
	staticEps registry.Snapshot
	tracer    trace.Tracer // nil: no traces
	// policyFailed: the newest policy's build failed; the last good one
	// is served.
	policyFailed bool
	// served are the rules the services hold for the published
	// configuration; nil until the first policy reached them.
	served *ServiceRules
}

// New returns a Controller that will do a first build as soon as it runs.
func New(cfg Config) *Controller {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.MaxDelay < cfg.Debounce {
		cfg.MaxDelay = 10 * cfg.Debounce
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{
		cfg:         cfg,
		trigger:     make(chan struct{}, 1),
		policyDirty: true,
		external:    map[string]registry.Snapshot{},
		builder:     Builder{Options: cfg.Translate},
		tracer:      tracing.Tracer(cfg.Tracer, TracerName),
	}
	c.kick()
	return c
}

// PolicyChanged tells the loop that the policy store may have changed.
func (c *Controller) PolicyChanged() {
	c.mu.Lock()
	c.policyDirty = true
	c.mu.Unlock()
	c.kick()
}

// SetEndpoints replaces the endpoints a registry source (by name) knows.
// Services from different sources are merged; a Service present in several
// takes the first source in name order.
func (c *Controller) SetEndpoints(source string, snap registry.Snapshot) {
	c.mu.Lock()
	c.external[source] = snap
	c.registryDirty = true
	c.mu.Unlock()
	c.kick()
}

func (c *Controller) kick() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Run is the loop. It returns when ctx ends.
func (c *Controller) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		}
		if !c.debounce(ctx) {
			return
		}
		c.mu.Lock()
		policyDirty, registryDirty := c.policyDirty, c.registryDirty
		c.policyDirty, c.registryDirty = false, false
		external := make(map[string]registry.Snapshot, len(c.external))
		for k, v := range c.external {
			external[k] = v
		}
		c.mu.Unlock()
		// A policy whose build failed is tried again on every trigger: an
		// endpoint update may have removed the cause. If the policy fails,
		// new endpoints go out on the last good policy all the same.
		withPolicy := policyDirty || c.policyFailed
		if !c.build(ctx, withPolicy, registryDirty, external) && withPolicy && registryDirty && c.good != nil {
			c.build(ctx, false, true, external)
		}
	}
}

// debounce waits until no trigger arrived for Debounce, or MaxDelay passed
// since the first one. It reports false if ctx ended.
func (c *Controller) debounce(ctx context.Context) bool {
	deadline := time.Now().Add(c.cfg.MaxDelay)
	quiet := time.NewTimer(c.cfg.Debounce)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-quiet.C:
			return true
		case <-c.trigger:
			wait := min(c.cfg.Debounce, time.Until(deadline))
			if wait <= 0 {
				return true
			}
			if !quiet.Stop() {
				<-quiet.C
			}
			quiet.Reset(wait)
		}
	}
}

// build does one pass and reports whether it published. A policy change
// reloads and retranslates everything (content-hash versions keep
// unchanged resources from being re-sent); an endpoint-only change
// rebuilds only the affected ClusterLoadAssignments.
func (c *Controller) build(ctx context.Context, policyDirty, registryDirty bool, external map[string]registry.Snapshot) (published bool) {
	start := time.Now()
	ctx, span := c.span(ctx, SpanChange, attribute.Bool(AttrPolicy, policyDirty), attribute.Bool(AttrRegistry, registryDirty))
	defer func() { endSpan(span, published) }()
	snap := c.good
	if snap == nil && c.pending != nil {
		snap = c.pending // loaded before the registry was synced
	}
	if policyDirty {
		_, load := c.span(ctx, SpanLoad)
		snap = c.cfg.Load(c.good)
		if snap != nil { // nil: nothing loaded (see below), nothing rejected
			c.reportRejected(snap)
			load.SetAttributes(attribute.Int(AttrRejected, len(snap.Rejected)))
		}
		endSpan(load, snap != nil)
	}
	if snap == nil {
		return false // nothing loaded yet (only registry updates so far)
	}
	if policyDirty && c.cfg.OnPolicy != nil {
		c.cfg.OnPolicy(snap)
	}
	if !c.Ready() && c.cfg.Synced != nil && !c.cfg.Synced() {
		c.waitForSync(snap)
		return false
	}
	_, bspan := c.span(ctx, SpanBuild)
	if policyDirty {
		// A policy build allocates mostly what it publishes (gcdefer.go).
		release := DeferGC()
		defer release()
	}
	if c.staticOf != snap {
		c.staticOf, c.staticEps = snap, static.Endpoints(snap)
	}
	eps := mergeEndpoints(c.staticEps, external)
	res, err := c.builder.Build(snap, eps, policyDirty)
	if err != nil {
		failSpan(bspan, stageBuild)
		c.fail(start, stageBuild, policyDirty, err)
		return false
	}
	var rules *ServiceRules
	if policyDirty && c.cfg.Services != nil {
		r, err := Rules(snap, c.cfg.MaxAuthzBody)
		if err != nil {
			failSpan(bspan, stageServices)
			c.fail(start, stageServices, policyDirty, fmt.Errorf("building the authz and rate-limit rules: %w", err))
			return false
		}
		rules = &r
	}
	bspan.SetAttributes(attribute.Int(AttrGroups, len(res.Groups)))
	endSpan(bspan, true)
	pctx, pspan := c.span(ctx, SpanPublish)
	stats, dropErr, failed := c.publish(pctx, snap, res, rules)
	if failed != nil {
		failSpan(pspan, failed.stage)
		c.fail(start, failed.stage, policyDirty, failed)
		return false
	}
	pspan.SetAttributes(attribute.Int(AttrChanged, len(stats.Changed)))
	if c.cfg.OnPublished != nil {
		c.cfg.OnPublished(pctx, stats)
	}
	endSpan(pspan, true)
	if len(stats.Absent) > 0 {
		// Gateways that are gone: stop answering their proxies, which keep
		// their last configuration (Envoy does not drop config on silence).
		c.cfg.Publisher.Remove(stats.Absent...)
		c.cfg.Logger.Info("gateways removed", "groups", fmt.Sprint(stats.Absent))
	}
	c.builder.Commit(res, eps)
	c.good, c.pending = snap, nil
	c.publishedMu.Lock()
	c.published = Served{Policy: snap, Groups: res.Groups, Endpoints: eps}
	c.publishedMu.Unlock()
	var proxyless []string
	if policyDirty {
		proxyless = snap.ProxylessNotes()
	}
	took := time.Since(start)
	if dropErr != nil {
		c.cfg.Logger.Error("published, but the services still hold the previous rules as well", "err", dropErr)
	}
	c.statusMu.Lock()
	c.status.Ready = true
	c.status.LastBuild = start
	c.status.LastBuildDuration = took
	if policyDirty {
		c.policyFailed = false
	}
	if !c.policyFailed { // else the newest policy's error still stands
		c.status.LastError = ""
	}
	if dropErr != nil {
		c.status.LastError = dropErr.Error()
		c.status.LastErrorAt = start
	}
	c.status.WaitingFor = ""
	c.status.Gateways = sortedKeys(snap.Gateways)
	if policyDirty {
		c.status.Proxyless = proxyless
	}
	c.statusMu.Unlock()
	c.cfg.Metrics.setObjects(snap)
	if dropErr != nil {
		c.cfg.Metrics.failed(stageServices)
	}
	c.cfg.Metrics.observeBuild(took, true)
	c.cfg.Logger.Info("published", "took", took.Round(time.Microsecond), "policy", policyDirty,
		"registry", registryDirty, "endpoints_changed", res.EndpointsChanged, "changed", changedTypes(stats),
		"rejected", len(snap.Rejected))
	return true
}

// waitForSync holds back the first publish until the registry sources have
// read every referenced service. The loaded policy is kept as pending, so a
// registry update alone (the source's first read) can complete the build.
func (c *Controller) waitForSync(snap *policy.Snapshot) {
	c.pending = snap
	c.statusMu.Lock()
	c.status.WaitingFor = "the first read of every service in the service registry"
	c.statusMu.Unlock()
	recheck := c.cfg.SyncRecheck
	if recheck <= 0 {
		recheck = 250 * time.Millisecond
	}
	time.AfterFunc(recheck, c.kick)
}

func mergeEndpoints(base registry.Snapshot, external map[string]registry.Snapshot) registry.Snapshot {
	if len(external) == 0 {
		return base
	}
	names := make([]string, 0, len(external))
	for n := range external {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(registry.Snapshot, len(base))
	for k, v := range base {
		out[k] = v
	}
	for _, n := range names {
		for svc, eps := range external[n] {
			if _, ok := out[svc]; !ok {
				out[svc] = eps
			}
		}
	}
	return out
}

// fail records a failed build; a failed policy build is retried on the
// next trigger (Run). Metrics come last: a reader that sees the count sees
// the status.
func (c *Controller) fail(start time.Time, stage string, policyDirty bool, err error) {
	if policyDirty {
		c.policyFailed = true
	}
	c.cfg.Logger.Error("build failed; still serving the last good configuration", "stage", stage, "err", err)
	c.statusMu.Lock()
	c.status.LastError = err.Error()
	c.status.LastErrorAt = start
	c.statusMu.Unlock()
	c.cfg.Metrics.failed(stage)
	c.cfg.Metrics.observeBuild(time.Since(start), false)
}

func (c *Controller) reportRejected(snap *policy.Snapshot) {
	for _, r := range snap.Rejected {
		for _, e := range r.Errors {
			c.cfg.Logger.Warn("policy object rejected", "object", r.Ref, "carried_over", r.CarriedOver, "err", e)
		}
	}
	for _, gw := range sortedKeys(snap.Held) {
		c.cfg.Logger.Error("gateway held back: it keeps its last good configuration (none after a restart) until this is fixed",
			"gateway", gw, "reasons", strings.Join(snap.Held[gw], "; "))
	}
	c.cfg.Metrics.setRejected(len(snap.Rejected))
	c.statusMu.Lock()
	c.status.Rejected = snap.Rejected
	c.status.Held = snap.Held
	c.statusMu.Unlock()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// changedTypes summarises which groups got which new versions, for the log.
func changedTypes(s server.PublishStats) string {
	if len(s.Changed) == 0 {
		return "nothing"
	}
	keys := make([]string, 0, len(s.Changed))
	for k, types := range s.Changed {
		keys = append(keys, k.String()+":"+strings.Join(types, ","))
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}
