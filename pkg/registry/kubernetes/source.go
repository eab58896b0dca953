package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// target is what one policy Service reads.
type target struct {
	namespace, service, port string
}

// byServiceIndex indexes slices by "namespace/service".
const byServiceIndex = "service"

func sliceKey(obj any) ([]string, error) {
	sl, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	svc := sl.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return nil, nil
	}
	return []string{sl.Namespace + "/" + svc}, nil
}

// nsInformer is one running informer: one namespace, or all ("").
type nsInformer struct {
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer
	stop     chan struct{}
}

// Source watches the EndpointSlices of the Kubernetes Services referenced by
// the policy. Create it with New, tell it what to watch with SetPolicy or
// SetServices, run it with Run.
type Source struct {
	cfg Config

	mu        sync.Mutex
	running   bool // Run started and not ended
	client    kubernetes.Interface
	origin    string // where the config came from, for status
	host      string // API server URL
	clientErr error
	byPolicy  map[string]target
	informers map[string]*nsInformer // namespace ("" = all) -> informer
	emitted   registry.Snapshot
	counts    map[string]counts // policy Service -> last computed counts
	probeOK   bool
	lastOK    time.Time
	lastErr   string
	lastErrAt time.Time

	emit    *registry.Emitter
	probeCh chan struct{} // probe now (the policy started referencing Kubernetes)
}

// New returns a Source. It does not contact the API server, nor read the
// kubeconfig: that happens once a policy Service uses Kubernetes, and a
// failure shows in Status.
func New(cfg Config) *Source {
	cfg.defaults()
	return &Source{
		cfg: cfg, byPolicy: map[string]target{}, informers: map[string]*nsInformer{},
		emitted: registry.Snapshot{}, counts: map[string]counts{},
		emit: registry.NewEmitter(), probeCh: make(chan struct{}, 1),
	}
}

// Name is the source's label in gatehouse_registry_up and logs.
func (s *Source) Name() string { return "kubernetes" }

// ServicesOf returns the policy Services of snap that use Kubernetes.
func ServicesOf(snap *policy.Snapshot) map[string]policy.KubernetesDiscovery {
	out := map[string]policy.KubernetesDiscovery{}
	if snap == nil {
		return out
	}
	for name, svc := range snap.Services {
		if k := svc.Spec.Discovery.Kubernetes; k != nil {
			out[name] = *k
		}
	}
	return out
}

// SetPolicy watches what snap references (see SetServices).
func (s *Source) SetPolicy(snap *policy.Snapshot) { s.SetServices(ServicesOf(snap)) }

// SetServices replaces the watched Services: policy Service name -> its
// Kubernetes Service. Informers start for new namespaces and stop for
// namespaces no longer referenced.
func (s *Source) SetServices(services map[string]policy.KubernetesDiscovery) {
	s.mu.Lock()
	s.byPolicy = make(map[string]target, len(services))
	for name, d := range services {
		s.byPolicy[name] = target{namespace: d.NamespaceOrDefault(), service: d.Service, port: d.Port}
	}
	stopped := s.reconcileLocked()
	s.mu.Unlock()
	s.emit.Kick()
	select {
	case s.probeCh <- struct{}{}:
	default:
	}
	// Stopped in the background: a policy change must not wait on an
	// informer's goroutines.
	go wait(stopped)
}

// namespacesLocked is the set of informers the policy needs.
func (s *Source) namespacesLocked() map[string]bool {
	want := map[string]bool{}
	for _, t := range s.byPolicy {
		if s.cfg.AllNamespaces {
			want[""] = true
			break
		}
		want[t.namespace] = true
	}
	return want
}

// reconcileLocked starts and stops informers to match the policy (only
// while running). It returns the stopped informers, for the caller to wait
// for once s.mu is released (their watch error handler takes s.mu).
func (s *Source) reconcileLocked() (stopped []*nsInformer) {
	want := s.namespacesLocked()
	for ns, inf := range s.informers {
		if !want[ns] || !s.running {
			close(inf.stop)
			stopped = append(stopped, inf)
			delete(s.informers, ns)
		}
	}
	if !s.running || len(want) == 0 {
		return stopped
	}
	if s.client == nil && !s.connectLocked() {
		return stopped
	}
	for ns := range want {
		if _, ok := s.informers[ns]; !ok {
			s.informers[ns] = s.startInformerLocked(ns)
		}
	}
	return stopped
}

// wait waits for stopped informers' goroutines to end.
func wait(stopped []*nsInformer) {
	for _, inf := range stopped {
		inf.factory.Shutdown()
	}
}

// connectLocked builds the client; false (and the error in status) when the
// configuration cannot be found or read.
func (s *Source) connectLocked() bool {
	rc, origin, err := s.cfg.restConfig()
	s.origin = origin
	if err != nil {
		s.clientErr = err
		s.noteErrLocked(err)
		return false
	}
	rc.UserAgent = "gatehouse"
	cl, err := kubernetes.NewForConfig(rc)
	if err != nil {
		s.clientErr = fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
		s.noteErrLocked(s.clientErr)
		return false
	}
	s.client, s.host, s.clientErr = cl, rc.Host, nil
	return true
}

func (s *Source) startInformerLocked(ns string) *nsInformer {
	f := informers.NewSharedInformerFactoryWithOptions(s.client, 0,
		informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			// Only slices that belong to a Service.
			o.LabelSelector = discoveryv1.LabelServiceName
		}))
	inf := f.Discovery().V1().EndpointSlices().Informer()
	_ = inf.AddIndexers(cache.Indexers{byServiceIndex: sliceKey})
	_ = inf.SetTransform(func(obj any) (any, error) {
		// Managed fields are most of a slice's size and never read here.
		if sl, ok := obj.(*discoveryv1.EndpointSlice); ok {
			sl.ManagedFields = nil
		}
		return obj, nil
	})
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		s.mu.Lock()
		s.noteErrLocked(fmt.Errorf("watching EndpointSlices in %s: %w", nsLabel(ns), err))
		s.mu.Unlock()
	})
	h := func(any) { s.emit.Kick() }
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: h, DeleteFunc: h, UpdateFunc: func(_, n any) { s.emit.Kick() },
	})
	stop := make(chan struct{})
	f.Start(stop)
	go func() {
		// A sync completes without an event when the namespace is empty.
		if cache.WaitForCacheSync(stop, inf.HasSynced) {
			// A completed list is an answer from the API server.
			s.mu.Lock()
			s.probeOK, s.lastOK = true, time.Now()
			s.mu.Unlock()
			s.emit.Kick()
		}
	}()
	return &nsInformer{factory: f, informer: inf, stop: stop}
}

func nsLabel(ns string) string {
	if ns == "" {
		return "all namespaces"
	}
	return "namespace " + ns
}

func (s *Source) noteErrLocked(err error) {
	s.probeOK = false
	s.lastErr, s.lastErrAt = err.Error(), time.Now()
}

// Synced reports whether every informer the policy needs has listed once.
func (s *Source) Synced() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ns := range s.namespacesLocked() {
		inf := s.informers[ns]
		if inf == nil || !inf.informer.HasSynced() {
			return false
		}
	}
	return true
}

// Watching is the number of running informers.
func (s *Source) Watching() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byPolicy) > 0 && len(s.informers) == 0 {
		return 1 // referenced but not connected: still in use (and down)
	}
	return len(s.informers)
}

// Run starts the informers and watches until ctx ends.
func (s *Source) Run(ctx context.Context) {
	s.mu.Lock()
	s.running = true
	stopped := s.reconcileLocked()
	s.mu.Unlock()
	wait(stopped)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.emit.Run(ctx, s.nextSnapshot, s.cfg.OnUpdate) }()
	t := time.NewTicker(s.cfg.ProbeInterval)
	defer t.Stop()
	s.probe(ctx)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-t.C:
			s.probe(ctx)
		case <-s.probeCh:
			s.probe(ctx)
		}
	}
	s.mu.Lock()
	s.running = false
	stopped = s.reconcileLocked() // every informer
	s.mu.Unlock()
	wait(stopped)
	wg.Wait()
}

// probe asks the API server's /readyz (readable by any authenticated
// client: system:public-info-viewer), and retries a client that could not
// be built (a kubeconfig that appears later).
func (s *Source) probe(ctx context.Context) {
	s.mu.Lock()
	if len(s.byPolicy) == 0 {
		s.mu.Unlock()
		return
	}
	var stopped []*nsInformer
	if s.client == nil && s.running {
		stopped = s.reconcileLocked()
	}
	cl := s.client
	s.mu.Unlock()
	wait(stopped)
	if cl == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
	defer cancel()
	_, err := cl.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(pctx)
	if ctx.Err() != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.noteErrLocked(fmt.Errorf("API server %s: %w", s.host, err))
		return
	}
	s.probeOK, s.lastOK = true, time.Now()
}

// Up reports whether the API server answered the last probe and no watch
// failed since.
func (s *Source) Up() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upLocked()
}

func (s *Source) upLocked() bool {
	return s.client != nil && s.probeOK && !s.lastErrAt.After(s.lastOK)
}

// nextSnapshot builds the snapshot to report and whether it differs from the
// last one reported. A policy Service whose informer has not synced keeps
// what it had (last known good across a namespace change).
func (s *Source) nextSnapshot() (registry.Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(registry.Snapshot, len(s.byPolicy))
	s.counts = make(map[string]counts, len(s.byPolicy))
	for name, t := range s.byPolicy {
		ns := t.namespace
		if s.cfg.AllNamespaces {
			ns = ""
		}
		inf := s.informers[ns]
		if inf == nil || !inf.informer.HasSynced() {
			if prev, ok := s.emitted[name]; ok {
				out[name] = prev
			}
			continue
		}
		objs, _ := inf.informer.GetIndexer().ByIndex(byServiceIndex, t.namespace+"/"+t.service)
		slices := make([]*discoveryv1.EndpointSlice, 0, len(objs))
		for _, o := range objs {
			if sl, ok := o.(*discoveryv1.EndpointSlice); ok {
				slices = append(slices, sl)
			}
		}
		eps, c := endpointsOf(slices, t.port)
		s.counts[name] = c
		if prev, ok := s.emitted[name]; ok && registry.Equal(prev, eps) {
			eps = prev // unchanged: keep the old slice (cheap Equal downstream)
		}
		out[name] = eps
	}
	if out.Equal(s.emitted) {
		return nil, false
	}
	s.emitted = out
	return maps.Clone(out), true
}
