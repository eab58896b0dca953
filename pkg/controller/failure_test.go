package controller

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The seams of the one loop, failing on demand: the services callback and
// the Publisher (a real one underneath, so versions are real). The Builder
// fails on real input (endpoints Envoy would reject).

// fakeServices records every ServiceRules handed over and keeps the last
// one accepted, as the real services do (an Update that fails changes
// nothing).
type fakeServices struct {
	mu      sync.Mutex
	failIf  func(ServiceRules) error
	calls   []ServiceRules
	current *ServiceRules
}

func (s *fakeServices) update(_ context.Context, r ServiceRules) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, r)
	if s.failIf != nil {
		if err := s.failIf(r); err != nil {
			return err
		}
	}
	s.current = &r
	return nil
}

func (s *fakeServices) state() (current *ServiceRules, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, len(s.calls)
}

func (s *fakeServices) setFail(f func(ServiceRules) error) {
	s.mu.Lock()
	s.failIf = f
	s.mu.Unlock()
}

// flakyPublisher is a real Publisher that fails on demand: before setting
// anything, or after "setting" one group (partial). during, if set, runs at
// the start of every Publish: what the services hold while proxies are
// being given their configuration.
type flakyPublisher struct {
	*server.Publisher
	mu      sync.Mutex
	fail    error
	partial bool
	during  func()
	calls   int
}

func (p *flakyPublisher) Publish(ctx context.Context, groups map[translate.GroupKey]*translate.Group, clas map[string]*endpointv3.ClusterLoadAssignment, claHashes map[types.Resource]uint64) (server.PublishStats, error) {
	p.mu.Lock()
	p.calls++
	fail, partial, during := p.fail, p.partial, p.during
	p.mu.Unlock()
	if during != nil {
		during()
	}
	if fail != nil {
		stats := server.PublishStats{Changed: map[translate.GroupKey][]string{}}
		if partial {
			stats.Changed[translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy}] = []string{"routes"}
		}
		return stats, fail
	}
	return p.Publisher.Publish(ctx, groups, clas, claHashes)
}

func (p *flakyPublisher) set(fail error, partial bool, during func()) {
	p.mu.Lock()
	p.fail, p.partial, p.during = fail, partial, during
	p.mu.Unlock()
}

func (p *flakyPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

type failFixture struct {
	*fixture
	svc   *fakeServices
	flaky *flakyPublisher
}

func startFailing(t *testing.T, files map[string]string) *failFixture {
	t.Helper()
	return startFailingWith(t, files, nil)
}

// startFailingWith uses services instead of the fake's update, if not nil.
func startFailingWith(t *testing.T, files map[string]string, services func(context.Context, ServiceRules) error) *failFixture {
	t.Helper()
	f := runFailing(t, files, services, nil)
	f.waitFor(t, "first build", func() bool { return f.ctrl.Ready() })
	return f
}

// runFailing starts the loop without waiting for the first build, whose
// Publish fails with publishErr if that is not nil.
func runFailing(t *testing.T, files map[string]string, services func(context.Context, ServiceRules) error, publishErr error) *failFixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub, err := server.NewPublisher(server.PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := &failFixture{fixture: &fixture{pub: pub, reg: reg, dir: &memFS{}}, svc: &fakeServices{}, flaky: &flakyPublisher{Publisher: pub, fail: publishErr}}
	f.dir.set(files)
	if services == nil {
		services = f.svc.update
	}
	f.ctrl = New(Config{Load: f.dir.load, Publisher: f.flaky, Services: services, Debounce: 5 * time.Millisecond,
		MaxDelay: 50 * time.Millisecond, Metrics: NewMetrics(reg)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.ctrl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// edit replaces the policy and waits until the loop has finished a build
// attempt for it (published or failed): the build histogram counts both.
func (f *failFixture) edit(t *testing.T, files map[string]string) {
	t.Helper()
	before := buildCount(t, f.reg)
	f.dir.set(files)
	f.ctrl.PolicyChanged()
	f.waitFor(t, "a build attempt", func() bool { return buildCount(t, f.reg) > before })
}

func (f *failFixture) failures(stage string) float64 {
	return testutil.ToFloat64(f.ctrl.cfg.Metrics.failures.WithLabelValues(stage))
}

// rulesOf are the services' rules for a policy directory's content.
func rulesOf(t *testing.T, files map[string]string) ServiceRules {
	t.Helper()
	dir := &memFS{}
	dir.set(files)
	snap := dir.load(nil)
	if len(snap.Rejected) > 0 {
		t.Fatalf("test policy rejected: %+v", snap.Rejected)
	}
	r, err := Rules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const consumerV1 = `---
kind: Consumer
name: alice
spec:
  apiKeys: [{id: k1, sha256: 0c28d6922e5b43cf27398eb37d4a94d6664956b895ad43bc1e0574966620e566}]
  groups: [ops]
`

// v1: Route admin names Authorization z and RateLimit rl (10/minute);
// alice is in ops. v2: admin names z2 (z is gone), rl allows 5/minute, a
// new RateLimit rl2 limits Route app, alice moved to dev. Every kind of
// change: a name added, a name removed, a name whose meaning changed, and
// state no proxy names.
var (
	policyV1 = map[string]string{"all.yaml": protectedPolicy, "p.yaml": protectingPolicies + consumerV1}
	policyV2 = map[string]string{
		"all.yaml": strings.NewReplacer("authorization: z\n", "authorization: z2\n",
			"name: app\nspec:\n  gateways: [public]\n", "name: app\nspec:\n  gateways: [public]\n  rateLimit: rl2\n").
			Replace(protectedPolicy),
		"p.yaml": strings.NewReplacer("name: z\n", "name: z2\n", "requests: 10,", "requests: 5,").Replace(protectingPolicies) +
			strings.Replace(consumerV1, "groups: [ops]", "groups: [dev]", 1) +
			"---\nkind: RateLimit\nname: rl2\nspec:\n  limits: [{key: [remote_address], requests: 7, per: second}]\n",
	}
)

// While the proxies are given v2, the services answer every name of v1
// and of v2, and every name v1 had keeps v1's meaning; once v2 is
// published they hold exactly v2's rules.
func TestServicesMakeBeforeBreak(t *testing.T) {
	f := startFailing(t, policyV1)
	v1, v2 := rulesOf(t, policyV1), rulesOf(t, policyV2)
	if cur, _ := f.svc.state(); cur == nil || !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services after the first build:\n%s", diff(v1, derefRules(cur)))
	}
	var during *ServiceRules
	f.flaky.set(nil, false, func() { during, _ = f.svc.state() })
	_, callsBefore := f.svc.state()
	f.edit(t, policyV2)
	if st := f.ctrl.Status(); st.LastError != "" || len(st.Rejected) != 0 {
		t.Fatalf("v2 not published cleanly: %+v", st)
	}
	if !strings.Contains(f.publishedRoute(t, "admin"), `"gatehouse.authorization":"z2"`) {
		t.Fatalf("v2 not published: admin route %s", f.publishedRoute(t, "admin"))
	}
	if during == nil {
		t.Fatal("no Publish call recorded")
	}
	a, rl := during.Authz, during.RateLimit
	if !reflect.DeepEqual(a.Policies["z"], v1.Authz.Policies["z"]) || !reflect.DeepEqual(a.Policies["z2"], v2.Authz.Policies["z2"]) {
		t.Errorf("while publishing, authorizations = %v, want z (v1's, for proxies not yet moved) and z2 (v2's)", keys(a.Policies))
	}
	if !reflect.DeepEqual(a.Consumers, v1.Authz.Consumers) {
		t.Errorf("while publishing, consumers changed before the proxies moved:\n%s", diff(v1.Authz.Consumers, a.Consumers))
	}
	if got := rl.Limits["rl#0"].Requests; got != 10 {
		t.Errorf("while publishing, rl#0 allows %d, want v1's 10", got)
	}
	if _, ok := rl.Limits["rl2#0"]; !ok {
		t.Errorf("while publishing, rl2#0 (new in v2) unknown: %v", keys(rl.Limits))
	}
	if d := rl.Domains["gatehouse/public"]; d == nil || !reflect.DeepEqual(d.RateLimits, []string{"rl", "rl2"}) {
		t.Errorf("while publishing, domain gatehouse/public = %+v, want rl and rl2", d)
	}
	cur, calls := f.svc.state()
	if !reflect.DeepEqual(*cur, v2) {
		t.Errorf("services after publishing v2:\n%s", diff(v2, *cur))
	}
	if calls-callsBefore != 2 {
		t.Errorf("services updated %d times for one edit, want 2 (add, then drop)", calls-callsBefore)
	}
}

// A Publish that sets nothing: the proxies keep v1, so the services end on
// v1's rules again; the error reaches status and metrics; the next edit
// after the cause is gone publishes.
func TestPublishFailureRollsServicesBack(t *testing.T) {
	f := startFailing(t, policyV1)
	v1, v2 := rulesOf(t, policyV1), rulesOf(t, policyV2)
	before := f.versions(t)
	f.flaky.set(errors.New("injected publish failure"), false, nil)
	f.edit(t, policyV2)

	st := f.ctrl.Status()
	if !st.Ready || st.LastError != "publishing: injected publish failure" || st.LastErrorAt.IsZero() {
		t.Fatalf("status after a failed publish: %+v", st)
	}
	if after := f.versions(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("served versions changed: %v -> %v", before, after)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services not back on the proxies' version:\n%s", diff(v1, *cur))
	}
	if got := f.failures(stagePublish); got != 1 {
		t.Fatalf("gatehouse_build_failures_total{stage=publish} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.ctrl.cfg.Metrics.buildErrors); got != 0 {
		t.Fatalf("gatehouse_translate_errors_total = %v after a publish failure, want 0", got)
	}

	f.flaky.set(nil, false, nil)
	f.edit(t, policyV2)
	if st := f.ctrl.Status(); st.LastError != "" {
		t.Fatalf("LastError not cleared by a good build: %q", st.LastError)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, v2) {
		t.Fatalf("services after the retry:\n%s", diff(v2, *cur))
	}
}

// A Publish that set some groups before failing leaves proxies on both
// versions: the services keep the rules that answer both.
func TestPartialPublishKeepsBothVersions(t *testing.T) {
	f := startFailing(t, policyV1)
	v1, v2 := rulesOf(t, policyV1), rulesOf(t, policyV2)
	f.flaky.set(errors.New("injected failure after one group"), true, nil)
	f.edit(t, policyV2)
	if st := f.ctrl.Status(); !strings.Contains(st.LastError, "some proxies got the new one") {
		t.Fatalf("LastError %q", st.LastError)
	}
	cur, _ := f.svc.state()
	if !reflect.DeepEqual(cur.Authz.Policies["z"], v1.Authz.Policies["z"]) || !reflect.DeepEqual(cur.Authz.Policies["z2"], v2.Authz.Policies["z2"]) {
		t.Fatalf("authorizations after a partial publish: %v, want v1's z and v2's z2", keys(cur.Authz.Policies))
	}
}

// Services that refuse the new rules: nothing is published, the last good
// version keeps serving, and the services are on v1's rules.
func TestServicesFailureKeepsLastGood(t *testing.T) {
	f := startFailing(t, policyV1)
	v1 := rulesOf(t, policyV1)
	before, published := f.versions(t), f.flaky.count()
	f.svc.setFail(func(r ServiceRules) error {
		if _, ok := r.Authz.Policies["z2"]; ok {
			return errors.New("injected: authz config: authorization \"z2\": bad")
		}
		return nil
	})
	f.edit(t, policyV2)
	st := f.ctrl.Status()
	if st.LastError != `updating the authz and rate-limit services: injected: authz config: authorization "z2": bad` {
		t.Fatalf("LastError %q", st.LastError)
	}
	if n := f.flaky.count(); n != published {
		t.Fatalf("Publish called %d times after the services refused the rules", n-published)
	}
	if after := f.versions(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("served versions changed: %v -> %v", before, after)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services left off v1:\n%s", diff(v1, *cur))
	}
	if got := f.failures(stageServices); got != 1 {
		t.Fatalf("gatehouse_build_failures_total{stage=services} = %v", got)
	}
}

// A build that fails (endpoints Envoy would reject: port 70000) keeps the
// last good endpoints, reports the Service, and counts the failure; the
// Builder is left at the last good state, so the next good update works.
func TestBuildFailureKeepsLastGood(t *testing.T) {
	f := startFailing(t, policyV1)
	good := registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}}
	f.ctrl.SetEndpoints("consul", good)
	f.waitFor(t, "endpoints published", func() bool { return buildCount(t, f.reg) >= 2 && f.ctrl.Status().LastError == "" })
	before, calls := f.versions(t), 0
	_, calls = f.svc.state()

	n := buildCount(t, f.reg)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.2", Port: 70000, Weight: 1}}})
	f.waitFor(t, "the failed build", func() bool { return buildCount(t, f.reg) > n })
	st := f.ctrl.Status()
	if !st.Ready || !strings.Contains(st.LastError, `endpoints of Service "users"`) {
		t.Fatalf("status after a failed build: %+v", st)
	}
	if after := f.versions(t); !reflect.DeepEqual(after, before) {
		t.Fatalf("served versions changed: %v -> %v", before, after)
	}
	if got := f.failures(stageBuild); got != 1 {
		t.Fatalf("gatehouse_build_failures_total{stage=build} = %v", got)
	}
	if got := testutil.ToFloat64(f.ctrl.cfg.Metrics.buildErrors); got != 1 {
		t.Fatalf("gatehouse_translate_errors_total = %v", got)
	}
	if got := failedBuilds(t, f.reg); got != 1 {
		t.Fatalf("gatehouse_snapshot_build_seconds{result=failed} count = %v", got)
	}
	if _, c := f.svc.state(); c != calls {
		t.Fatalf("services updated by an endpoint-only build")
	}

	// The same policy edit fails too while the endpoints are bad.
	f.edit(t, policyV2)
	if got := f.failures(stageBuild); got != 2 {
		t.Fatalf("a policy build with bad endpoints: failures = %v", got)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, rulesOf(t, policyV1)) {
		t.Fatal("services changed by a build that failed")
	}

	n = buildCount(t, f.reg)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.3", Port: 81, Weight: 1}}})
	f.waitFor(t, "recovery", func() bool { return buildCount(t, f.reg) > n })
	if st := f.ctrl.Status(); st.LastError != "" {
		t.Fatalf("not recovered: %+v", st)
	}
	if after := f.versions(t); after["endpoints"] == before["endpoints"] || after["routes"] == before["routes"] {
		t.Fatalf("recovery did not publish the new endpoints and v2: %v -> %v", before, after)
	}
}

// A held-back Gateway keeps its old configuration, so the services keep
// the names it uses (z) next to the new ones, until it is released.
func TestHeldGatewayKeepsItsServiceRules(t *testing.T) {
	f := startFailing(t, policyV1)
	dangling := "---\nkind: Route\nname: secret\nspec:\n  gateways: [public]\n  match: {path: {prefix: /secret}}\n  backends: [{service: app}]\n  authorization: nope\n"
	held := map[string]string{"all.yaml": policyV2["all.yaml"] + dangling, "p.yaml": policyV2["p.yaml"]}
	f.edit(t, held)
	if h := f.ctrl.Status().Held["public"]; len(h) != 1 {
		t.Fatalf("gateway public not held: %+v", f.ctrl.Status())
	}
	if !strings.Contains(f.publishedRoute(t, "admin"), `"gatehouse.authorization":"z"`) {
		t.Fatalf("held gateway's admin route changed: %s", f.publishedRoute(t, "admin"))
	}
	cur, _ := f.svc.state()
	if _, ok := cur.Authz.Policies["z"]; !ok {
		t.Fatalf("services dropped z, which the held gateway's proxies still send: %v", keys(cur.Authz.Policies))
	}
	if _, ok := cur.Authz.Policies["z2"]; !ok {
		t.Fatalf("services lack z2: %v", keys(cur.Authz.Policies))
	}

	f.edit(t, policyV2) // released
	if h := f.ctrl.Status().Held; len(h) != 0 {
		t.Fatalf("still held: %v", h)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, rulesOf(t, policyV2)) {
		t.Fatalf("services after the release:\n%s", diff(rulesOf(t, policyV2), *cur))
	}
}

func failedBuilds(t *testing.T, reg *prometheus.Registry) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_snapshot_build_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "failed" {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

func derefRules(r *ServiceRules) ServiceRules {
	if r == nil {
		return ServiceRules{}
	}
	return *r
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

// diff shows want and got in full: these values are small.
func diff(want, got any) string {
	return fmt.Sprintf("want %s\n got %s", dump(want), dump(got))
}

func dump(v any) string {
	if r, ok := v.(ServiceRules); ok && r.Authz != nil && r.RateLimit != nil {
		return fmt.Sprintf("{Authz:%+v RateLimit:%+v}", *r.Authz, *r.RateLimit)
	}
	return fmt.Sprintf("%+v", v)
}

// A policy that keeps failing (here: the services refuse it) does not stop
// endpoint updates: they go out on the last good policy, and the status
// keeps saying why the newest policy is not served. Once the cause is
// gone, the next trigger publishes that policy without another edit.
func TestFailingPolicyLetsEndpointsThrough(t *testing.T) {
	f := startFailing(t, policyV1)
	f.svc.setFail(func(r ServiceRules) error {
		if _, ok := r.Authz.Policies["z2"]; ok {
			return errors.New("injected: z2 refused")
		}
		return nil
	})
	f.edit(t, policyV2)
	before := f.versions(t)

	n := buildCount(t, f.reg)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	// Two attempts: the policy again (fails), then the endpoints alone.
	f.waitFor(t, "two build attempts", func() bool { return buildCount(t, f.reg)-n >= 2 })
	if after := f.versions(t); after["endpoints"] == before["endpoints"] || after["routes"] != before["routes"] {
		t.Fatalf("want new endpoints on v1's routes: %v -> %v", before, after)
	}
	if got := f.failures(stageServices); got != 2 {
		t.Errorf("gatehouse_build_failures_total{stage=services} = %v, want 2 (the edit and its retry)", got)
	}
	if st := f.ctrl.Status(); !strings.Contains(st.LastError, "injected: z2 refused") {
		t.Fatalf("the policy's error was cleared by an endpoint-only build: %+v", st)
	}

	f.svc.setFail(nil)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.2", Port: 80, Weight: 1}}})
	f.waitFor(t, "v2 published on the next trigger", func() bool {
		return strings.Contains(f.publishedRoute(t, "admin"), `"gatehouse.authorization":"z2"`)
	})
	// The loop updates its status after the publish a proxy sees: wait
	// for that build to finish rather than read the status in between.
	f.waitFor(t, "the status of the build that published v2", func() bool { return f.ctrl.Status().LastError == "" })
}
