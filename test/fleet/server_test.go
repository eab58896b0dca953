package fleet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	stockserver "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"

	"github.com/gatehouse-dev/gatehouse/test/testutil/cpumeter"
	xdsserver "github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// The server under test runs in a child process (this test binary, started
// with serverEnv set), so that its CPU time and memory are its own and not
// the simulated fleet's. It talks to the benchmark over stdin/stdout, one
// line per command:
//
//	change K  -> applies change number K, answers "ok" once published
//	stats     -> answers "cpu_ns rss_bytes heap_inuse_bytes rss_peak_bytes
//	             read_syscalls write_syscalls"
//	live      -> answers the Go heap after two GCs (and writes the heap
//	             profile, when asked for)
//	pending   -> answers whether a storm's memory is still to be returned
//	             ("yes", "no"; stock: "none", it has no such step; the
//	             floor returns it when first asked, then answers "no")
//
// and first prints "addr HOST:PORT" once serving.
const serverEnv = "GATEHOUSE_FLEET_SERVER"

// Server kinds (kindFloor: floor_test.go).
const (
	kindGatehouse = "gatehouse"
	kindStock     = "stock"
)

// profileEnv, if set in the benchmark's environment, names a file where
// the gatehouse server writes a CPU profile of the changes (not of the
// initial sync).
const profileEnv = "FLEET_CPUPROFILE"

// profileChanges starts a CPU profile into path on the first change
// command; stop ends it, as does the first "live" command: the profile
// covers the changes only, not the two forced GCs of the live heap
// measurement nor the fleet disconnecting, which earlier profiles
// included (a quarter of a 5,000-Envoy profile was those GCs).
func profileChanges(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	started, stopped := false, false
	startProfile = func() {
		if !started {
			started = true
			_ = pprof.StartCPUProfile(f)
		}
	}
	stop = func() {
		if !stopped {
			stopped = true
			pprof.StopCPUProfile()
			f.Close()
		}
	}
	stopProfile = stop
	return stop, nil
}

// syncProfileEnv, if set in the benchmark's environment, names a file
// where the gatehouse server writes a CPU profile of the initial sync (the
// reconnect storm): from its start to the first change. It cannot be
// combined with FLEET_CPUPROFILE (one CPU profile at a time).
const syncProfileEnv = "FLEET_SYNCPROFILE"

// profileSync starts the initial sync's profile; the returned stop ends
// it (idempotent).
func profileSync(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// stopProfile is called before the live heap is measured.
var stopProfile = func() {}

// heapProfileEnv, if set in the benchmark's environment, names a file where
// each server writes a heap profile (allocations since start, initial sync
// included, and what is live) when asked for its live heap.
const heapProfileEnv = "FLEET_HEAPPROFILE"

// startProfile is called before each change.
var startProfile = func() {}

// configEnv carries "services endpoints" to the child.
const configEnv = "GATEHOUSE_FLEET_CONFIG"

// backend is what a server kind must do: publish the initial
// configuration, then apply endpoint changes.
type backend interface {
	register(g *grpc.Server)
	change(svc int, next *endpointv3.ClusterLoadAssignment) error
}

func runServer(kind string) error {
	var services, endpoints int
	if _, err := fmt.Sscan(os.Getenv(configEnv), &services, &endpoints); err != nil {
		return fmt.Errorf("%s: %w", configEnv, err)
	}
	cfg := newFleetConfig(services, endpoints)
	ctx := context.Background()
	var be backend
	var err error
	switch kind {
	case kindGatehouse:
		be, err = newGatehouseBackend(ctx, cfg)
	case kindStock:
		be, err = newStockBackend(ctx, cfg)
	case kindFloor:
		be, err = newFloorBackend(cfg)
	default:
		err = fmt.Errorf("unknown server kind %q", kind)
	}
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g := grpc.NewServer(xdsserver.GRPCServerOptions()...)
	be.register(g)
	go g.Serve(lis) //nolint:errcheck // ends with the process
	fmt.Printf("addr %s\n", lis.Addr())
	stopSync := func() {}
	if path := os.Getenv(syncProfileEnv); path != "" {
		if os.Getenv(profileEnv) != "" {
			return fmt.Errorf("%s and %s cannot be set together", syncProfileEnv, profileEnv)
		}
		stop, err := profileSync(path)
		if err != nil {
			return err
		}
		defer stop()
		stopSync = stop
	}
	if path := os.Getenv(profileEnv); path != "" {
		stop, err := profileChanges(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 2 && f[0] == "change":
			k, err := strconv.Atoi(f[1])
			if err != nil {
				return err
			}
			stopSync()
			startProfile()
			svc, port := changeFor(services, endpoints, k)
			if err := be.change(svc, cla(edsName(svc), port, endpoints)); err != nil {
				return err
			}
			fmt.Println("ok")
		case len(f) == 1 && f[0] == "live":
			stopProfile()
			// Heap in use counts garbage not yet collected, which depends
			// on when the last GC ran; this is what the server retains.
			// Two GCs: sync.Pool (gRPC's buffer pools) keeps what it held
			// through one, so after one the peak's send buffers still count.
			runtime.GC()
			runtime.GC()
			if path := os.Getenv(heapProfileEnv); path != "" {
				// In use: what is live now; allocated: since start.
				if err := writeHeapProfile(path); err != nil {
					return err
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Println(ms.HeapAlloc)
		case len(f) == 1 && f[0] == "pending":
			answer := "none"
			switch be := be.(type) {
			case *gatehouseBackend:
				answer = "no"
				if be.srv.StormPending() {
					answer = "yes"
				}
			case *floorBackend:
				// gatehouse returns a reconnect storm's memory to the OS
				// once it settled (xds/server/settle.go); without that the
				// runtime's background scavenger returns it during the
				// first change (about a fifth of that change's CPU at
				// 5,000 Envoys). The floor does the same, once, so that
				// its changes are compared with gatehouse's on equal terms.
				be.settleOnce.Do(debug.FreeOSMemory)
				answer = "no"
			}
			fmt.Println(answer)
		case len(f) == 1 && f[0] == "stats":
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			r, w := syscallCounts()
			fmt.Println(int64(cpumeter.ProcessCPU()), rssBytes(), ms.HeapInuse, rssPeakBytes(), r, w)
		default:
			return fmt.Errorf("unknown command %q", in.Text())
		}
	}
	return in.Err()
}

// syscallCounts returns the read and write system calls the process made
// so far, all threads (Linux /proc/self/io syscr and syscw); 0, 0 where
// that is missing. Unlike CPU time they do not depend on the machine's
// load, so a change's cost in them is comparable across runs.
func syscallCounts() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// rssBytes is the process's resident set size now (Linux), or its peak
// where /proc is missing.
func rssBytes() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		var size, resident int64
		if _, err := fmt.Sscan(string(b), &size, &resident); err == nil {
			return resident * int64(os.Getpagesize())
		}
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// gatehouseBackend is gatehouse's Publisher and ADS server, as `gatehouse
// serve` wires them.
type gatehouseBackend struct {
	pub    *xdsserver.Publisher
	srv    *xdsserver.Server
	groups map[translate.GroupKey]*translate.Group
	clas   map[string]*endpointv3.ClusterLoadAssignment
}

func newGatehouseBackend(ctx context.Context, cfg *fleetConfig) (*gatehouseBackend, error) {
	pub, err := xdsserver.NewPublisher(xdsserver.PublisherOptions{})
	if err != nil {
		return nil, err
	}
	srv, err := xdsserver.NewServer(ctx, pub, xdsserver.Options{})
	if err != nil {
		return nil, err
	}
	key := translate.GroupKey{Gateway: fleetGateway, Client: translate.ClientEnvoy}
	g := &translate.Group{Listeners: cfg.listeners, Routes: cfg.routes, Clusters: cfg.clusters, EDS: map[string]string{}, Key: key}
	b := &gatehouseBackend{pub: pub, srv: srv, groups: map[translate.GroupKey]*translate.Group{key: g}, clas: map[string]*endpointv3.ClusterLoadAssignment{}}
	for i, c := range cfg.clas {
		g.EDS[edsName(i)] = clusterName(i)
		b.clas[edsName(i)] = c
	}
	if _, err := pub.Publish(ctx, b.groups, b.clas, nil); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *gatehouseBackend) register(g *grpc.Server) { b.srv.Register(g) }

func (b *gatehouseBackend) change(svc int, next *endpointv3.ClusterLoadAssignment) error {
	b.clas[edsName(svc)] = next
	_, err := b.pub.Publish(context.Background(), b.groups, b.clas, nil)
	return err
}

// stockBackend is go-control-plane's ADS SnapshotCache and server used as
// its documentation shows, with two choices that favour it: one snapshot
// for the whole gateway (keyed by node.cluster, not one per node id), and
// per-type versions, so that an endpoint change re-sends EDS only.
type stockBackend struct {
	cache cache.SnapshotCache
	srv   stockserver.Server
	cfg   *fleetConfig
	eds   []types.Resource
	gen   int
}

type clusterHash struct{}

func (clusterHash) ID(n *corev3.Node) string { return n.GetCluster() }

func newStockBackend(ctx context.Context, cfg *fleetConfig) (*stockBackend, error) {
	b := &stockBackend{cache: cache.NewSnapshotCache(true, clusterHash{}, nil), cfg: cfg}
	b.srv = stockserver.NewServer(ctx, b.cache, nil)
	for _, c := range cfg.clas {
		b.eds = append(b.eds, c)
	}
	return b, b.set()
}

func (b *stockBackend) set() error {
	b.gen++
	snap := &cache.Snapshot{}
	snap.Resources[types.Listener] = cache.NewResources("1", b.cfg.listeners)
	snap.Resources[types.Route] = cache.NewResources("1", b.cfg.routes)
	snap.Resources[types.Cluster] = cache.NewResources("1", b.cfg.clusters)
	snap.Resources[types.Endpoint] = cache.NewResources(strconv.Itoa(b.gen), b.eds)
	return b.cache.SetSnapshot(context.Background(), fleetGateway, snap)
}

func (b *stockBackend) register(g *grpc.Server) {
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(g, b.srv)
}

func (b *stockBackend) change(svc int, next *endpointv3.ClusterLoadAssignment) error {
	eds := append([]types.Resource(nil), b.eds...)
	eds[svc] = next
	b.eds = eds
	return b.set()
}

// rssPeakBytes is the process's peak resident set size.
func rssPeakBytes() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024 // kilobytes on Linux
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
