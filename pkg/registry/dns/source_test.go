package dns

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// zoneServer is a real DNS server (github.com/miekg/dns's) on a loopback
// UDP port answering from a record list the test changes. The process
// tests (test/dns) run CoreDNS; these unit tests need answers CoreDNS's
// file plugin will not give (records of other owners, SERVFAIL).
type zoneServer struct {
	addr    string
	mu      sync.Mutex
	records []string // zone-file lines, e.g. "api.test. 5 IN A 10.0.0.1"
	rcode   int
	queries int
	srv     *mdns.Server
}

func startZone(t *testing.T, records ...string) *zoneServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z := &zoneServer{addr: pc.LocalAddr().String(), records: records}
	z.srv = &mdns.Server{PacketConn: pc, Handler: z}
	started := make(chan struct{})
	z.srv.NotifyStartedFunc = func() { close(started) }
	go z.srv.ActivateAndServe()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("DNS server did not start")
	}
	t.Cleanup(func() { z.srv.Shutdown() })
	return z
}

func (z *zoneServer) set(rcode int, records ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.rcode, z.records = rcode, records
}

func (z *zoneServer) ServeDNS(w mdns.ResponseWriter, q *mdns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.queries++
	m := new(mdns.Msg)
	m.SetRcode(q, z.rcode)
	qn := q.Question[0]
	for _, line := range z.records {
		rr, err := mdns.NewRR(line)
		if err != nil {
			panic(err)
		}
		// Every record whose type was asked, or a CNAME: the chain and
		// the owner filter are the resolver's to apply.
		if rr.Header().Rrtype == qn.Qtype || rr.Header().Rrtype == mdns.TypeCNAME {
			m.Answer = append(m.Answer, rr)
		}
	}
	w.WriteMsg(m)
}

// recorder keeps the source's last update.
type recorder struct {
	mu   sync.Mutex
	last registry.Snapshot
	n    int
}

func (r *recorder) update(s registry.Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last, r.n = s, r.n+1
}

func (r *recorder) addrs(svc string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	eps, ok := r.last[svc]
	if !ok {
		return "<absent>"
	}
	var out []string
	for _, e := range eps {
		out = append(out, net.JoinHostPort(e.Address, strconv.Itoa(e.Port)))
	}
	return strings.Join(out, ",")
}

func run(t *testing.T, z *zoneServer, cfg Config, svcs map[string]policy.DNSDiscovery) (*Source, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg.Servers = []string{z.addr}
	cfg.OnUpdate = rec.update
	if cfg.Timeout == 0 {
		cfg.Timeout = 300 * time.Millisecond
	}
	s := New(cfg)
	s.SetServices(svcs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, rec
}

// eventually polls cond (bounded) and reports how long it took.
func eventually(t *testing.T, what string, bound time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < bound {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, bound)
	return 0
}

func TestLookupFamilies(t *testing.T) {
	z := startZone(t,
		"v4only.test. 60 IN A 10.0.0.1",
		"both.test. 60 IN A 10.0.0.2", "both.test. 60 IN AAAA fd00::2")
	svcs := map[string]policy.DNSDiscovery{
		"auto-v4": {Name: "v4only.test", Port: 80},                                  // no AAAA: A
		"auto":    {Name: "both.test", Port: 80},                                    // AAAA preferred
		"all":     {Name: "both.test", Port: 80, LookupFamily: policy.DNSFamilyAll}, // both
		"v4":      {Name: "both.test", Port: 80, LookupFamily: policy.DNSFamilyV4},
		"v6":      {Name: "v4only.test", Port: 80, LookupFamily: policy.DNSFamilyV6}, // none
	}
	s, rec := run(t, z, Config{}, svcs)
	eventually(t, "synced", 5*time.Second, s.Synced)
	eventually(t, "all five in an update", 5*time.Second, func() bool { return rec.addrs("v6") != "<absent>" && rec.addrs("auto-v4") != "<absent>" })
	want := map[string]string{"auto-v4": "10.0.0.1:80", "auto": "[fd00::2]:80", "all": "10.0.0.2:80,[fd00::2]:80", "v4": "10.0.0.2:80", "v6": ""}
	for svc, w := range want {
		if got := rec.addrs(svc); got != w {
			t.Errorf("%s: %q, want %q", svc, got, w)
		}
	}
	if !s.Up() || s.Watching() != 5 {
		t.Errorf("up %v, watching %d", s.Up(), s.Watching())
	}
}

// TestForeignRecordsIgnored: records of other owners in the answer (a
// misbehaving or hostile server) do not become endpoints; a CNAME chain
// from the name does, with the chain's shortest TTL.
func TestForeignRecordsIgnored(t *testing.T) {
	z := startZone(t,
		"api.test. 30 IN CNAME real.test.",
		"real.test. 20 IN A 10.0.0.1",
		"evil.test. 60 IN A 6.6.6.6",
		"other.test. 5 IN CNAME evil.test.")
	s, rec := run(t, z, Config{}, map[string]policy.DNSDiscovery{"api": {Name: "api.test", Port: 80, LookupFamily: policy.DNSFamilyV4}})
	eventually(t, "synced", 5*time.Second, s.Synced)
	eventually(t, "update", 5*time.Second, func() bool { return rec.addrs("api") != "<absent>" })
	if got := rec.addrs("api"); got != "10.0.0.1:80" {
		t.Errorf("endpoints %q, want only 10.0.0.1:80 (the CNAME target's address)", got)
	}
	if st := s.Status(); st.Services[0].TTL != "20s" {
		t.Errorf("TTL %q, want 20s (the chain's shortest)", st.Services[0].TTL)
	}
}

// TestMinTTLAndNoTTL: a TTL below MinTTL counts as MinTTL (no query loop on
// TTL 0 or 1), and an answer without TTL uses the refresh rate.
func TestMinTTLAndNoTTL(t *testing.T) {
	z := startZone(t, "api.test. 1 IN A 10.0.0.1")
	s, _ := run(t, z, Config{MinTTL: 2 * time.Second}, map[string]policy.DNSDiscovery{"api": {Name: "api.test", Port: 80, LookupFamily: policy.DNSFamilyV4}})
	eventually(t, "synced", 5*time.Second, s.Synced)
	time.Sleep(3 * time.Second)
	z.mu.Lock()
	n := z.queries
	z.mu.Unlock()
	// Start + 3s at one query per 2s: at most 3 queries.
	if n > 3 {
		t.Errorf("%d queries in ~3s with TTL 1s and MinTTL 2s; want at most 3", n)
	}
	z.set(mdns.RcodeSuccess, "api.test. 0 IN A 10.0.0.1")
	eventually(t, "zero TTL seen", 5*time.Second, func() bool { return s.Status().Services[0].TTL == "" })
	next := s.Status().Services[0].Next
	if d := time.Until(next); d < 4*time.Second {
		t.Errorf("next resolution in %v after a zero TTL; want the 5s refresh rate", d)
	}
}

// TestStrictEmptiesLogicalKeeps: an empty answer empties a strict Service
// (Envoy's STRICT_DNS does the same) and leaves a logical one on its last
// address (LOGICAL_DNS too); logical serves the first address only.
func TestStrictEmptiesLogicalKeeps(t *testing.T) {
	z := startZone(t, "api.test. 1 IN A 10.0.0.2", "api.test. 1 IN A 10.0.0.1")
	s, rec := run(t, z, Config{}, map[string]policy.DNSDiscovery{
		"strict":  {Name: "api.test", Port: 80, LookupFamily: policy.DNSFamilyV4},
		"logical": {Name: "api.test", Port: 80, LookupFamily: policy.DNSFamilyV4, Type: policy.DNSLogical},
	})
	eventually(t, "both resolved", 5*time.Second, func() bool {
		return rec.addrs("strict") == "10.0.0.1:80,10.0.0.2:80" && rec.addrs("logical") != "<absent>"
	})
	if got := rec.addrs("logical"); got != "10.0.0.2:80" {
		t.Errorf("logical: %q, want the first address of the answer only", got)
	}
	z.set(mdns.RcodeNameError)
	eventually(t, "strict emptied", 5*time.Second, func() bool { return rec.addrs("strict") == "" })
	if got := rec.addrs("logical"); got != "10.0.0.2:80" {
		t.Errorf("logical after NXDOMAIN: %q, want its last address kept", got)
	}
	if !s.Up() {
		t.Error("an NXDOMAIN is an answer: the source should be up")
	}
}

// TestFailureKeepsLastKnownGood: SERVFAIL keeps the addresses, marks the
// source down and is retried; the next good answer brings it back.
func TestFailureKeepsLastKnownGood(t *testing.T) {
	z := startZone(t, "api.test. 1 IN A 10.0.0.1")
	s, rec := run(t, z, Config{}, map[string]policy.DNSDiscovery{"api": {Name: "api.test", Port: 80, LookupFamily: policy.DNSFamilyV4}})
	eventually(t, "resolved", 5*time.Second, func() bool { return rec.addrs("api") == "10.0.0.1:80" })
	z.set(mdns.RcodeServerFailure)
	took := eventually(t, "down", 5*time.Second, func() bool { return !s.Up() })
	t.Logf("SERVFAIL noticed in %v", took)
	if got := rec.addrs("api"); got != "10.0.0.1:80" {
		t.Errorf("after SERVFAIL: %q, want the last known 10.0.0.1:80", got)
	}
	st := s.Status()
	if st.Reachable || !strings.Contains(st.LastError, "SERVFAIL") || !strings.HasPrefix(st.Services[0].State, "failing") {
		t.Errorf("status %+v", st)
	}
	z.set(mdns.RcodeSuccess, "api.test. 1 IN A 10.0.0.9")
	took = eventually(t, "recovered", 10*time.Second, func() bool { return s.Up() && rec.addrs("api") == "10.0.0.9:80" })
	t.Logf("recovered in %v (backoff 1s doubling)", took)
}

// TestPolicyChange: a removed Service leaves the snapshot, an unchanged one
// keeps its schedule, a changed one is resolved anew.
func TestPolicyChange(t *testing.T) {
	z := startZone(t, "a.test. 60 IN A 10.0.0.1", "b.test. 60 IN A 10.0.0.2")
	s, rec := run(t, z, Config{}, map[string]policy.DNSDiscovery{
		"a": {Name: "a.test", Port: 80, LookupFamily: policy.DNSFamilyV4},
		"b": {Name: "b.test", Port: 80, LookupFamily: policy.DNSFamilyV4},
	})
	eventually(t, "both", 5*time.Second, func() bool { return rec.addrs("a") != "<absent>" && rec.addrs("b") != "<absent>" })
	next := s.Status().Services[0].Next
	s.SetServices(map[string]policy.DNSDiscovery{
		"a": {Name: "a.test", Port: 80, LookupFamily: policy.DNSFamilyV4},
		"c": {Name: "b.test", Port: 81, LookupFamily: policy.DNSFamilyV4},
	})
	eventually(t, "b gone, c there", 5*time.Second, func() bool { return rec.addrs("b") == "<absent>" && rec.addrs("c") == "10.0.0.2:81" })
	if got := s.Status().Services[0].Next; !got.Equal(next) {
		t.Errorf("unchanged Service a rescheduled: %v -> %v", next, got)
	}
}

func TestNoServer(t *testing.T) {
	s := New(Config{ResolvConf: "/nonexistent/resolv.conf"})
	s.SetServices(map[string]policy.DNSDiscovery{"a": {Name: "a.test", Port: 80}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	eventually(t, "error shown", 5*time.Second, func() bool { return strings.Contains(s.Status().LastError, "resolv.conf") })
	if s.Synced() || s.Up() {
		t.Errorf("synced %v up %v without a server", s.Synced(), s.Up())
	}
}
