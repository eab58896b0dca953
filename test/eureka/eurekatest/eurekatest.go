// Package eurekatest is a Eureka-protocol server for tests, written from
// Eureka's documented REST API (the "Eureka REST operations" page of
// Netflix/eureka's wiki) and the JSON that Eureka's Jackson codec writes.
// No real (Java) Eureka server runs in these tests: it cannot be built
// here. What it implements, under /eureka:
//
//	POST   /apps/APP                     register ({"instance": {...}}), 204
//	PUT    /apps/APP/ID                  heartbeat, 200 (404 if unknown: the client registers again)
//	DELETE /apps/APP/ID                  cancel, 200
//	PUT    /apps/APP/ID/status?value=S   status override (OUT_OF_SERVICE...), 200
//	DELETE /apps/APP/ID/status[?value=S] remove the override (status S, else UNKNOWN), 200
//	GET    /apps                         the whole registry
//	GET    /apps/delta                   the recently-changed queue (retention 3 min, as Eureka's default)
//	GET    /apps/APP                     one application
//
// with apps__hashcode computed as Eureka's Applications.getReconcileHashCode
// ("STATUS_COUNT_" per status, sorted), and HTTP basic auth when set. The
// instance a client registers is kept as the client sent it (so a real
// client's payload is what the reader gets back), with status,
// overriddenStatus, actionType and timestamps set by the server, as Eureka
// does. It listens on loopback; Stop and Restart simulate an outage.
package eurekatest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Server is a running Eureka-protocol server.
type Server struct {
	URL  string // the service URL a client is given: http://127.0.0.1:PORT/eureka
	Addr string // 127.0.0.1:PORT

	t         testing.TB
	user      string
	pass      string
	retention time.Duration

	mu       sync.Mutex
	apps     map[string]map[string]*instance // APP -> id -> instance
	recent   []change
	version  int
	requests map[string]int // "GET /apps" -> count
	dropDel  bool           // the delta endpoint forgets its queue (to force a hash mismatch)
	srv      *http.Server
	lis      net.Listener
}

type instance struct {
	fields   map[string]any // as the client registered it
	status   string         // the status the client reports
	override string         // set by PUT .../status; "" when none
	action   string
	updated  time.Time
}

type change struct {
	at   time.Time
	app  string
	id   string
	inst map[string]any // the instance as it was at the change
}

// Option configures Start.
type Option func(*Server)

// BasicAuth makes the server require these credentials.
func BasicAuth(user, pass string) Option { return func(s *Server) { s.user, s.pass = user, pass } }

// Start runs a server on a reserved loopback port until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	port := testenv.FreePort(t)
	s := &Server{
		t: t, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), retention: 3 * time.Minute,
		apps: map[string]map[string]*instance{}, requests: map[string]int{},
	}
	s.URL = "http://" + s.Addr + "/eureka"
	for _, o := range opts {
		o(s)
	}
	if err := s.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) listen() error {
	lis, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("eurekatest: listening on %s: %w", s.Addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv, s.lis = srv, lis
	s.mu.Unlock()
	go func() { _ = srv.Serve(lis) }()
	return nil
}

// Stop closes the listener and every connection (an outage); the registry
// is kept.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart listens again on the same address, with the same registry.
func (s *Server) Restart() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.listen()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DropDelta makes GET /apps/delta answer with no changes (but the true hash
// code), as a server whose queue lost entries would: a reader that trusts
// the delta misses the changes, one that checks the hash code fetches
// everything.
func (s *Server) DropDelta(drop bool) {
	s.mu.Lock()
	s.dropDel = drop
	s.mu.Unlock()
}

// Requests is how many times "METHOD /path" (after /eureka) was asked.
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

// Register adds or replaces an instance as a Eureka client would (the map
// is Eureka's instance JSON).
func (s *Server) Register(inst map[string]any) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.registerLocked(inst); err != nil {
		s.t.Fatal(err)
	}
}

// SetStatus overrides an instance's status (PUT .../status?value=S).
func (s *Server) SetStatus(app, id, status string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.overrideLocked(strings.ToUpper(app), id, status, true) {
		s.t.Fatalf("eurekatest: no instance %s/%s", app, id)
	}
}

// Cancel removes an instance (DELETE /apps/APP/ID).
func (s *Server) Cancel(app, id string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.cancelLocked(strings.ToUpper(app), id) {
		s.t.Fatalf("eurekatest: no instance %s/%s", app, id)
	}
}

// Instances lists "APP/ID STATUS" of every instance, sorted.
func (s *Server) Instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for app, insts := range s.apps {
		for id, in := range insts {
			out = append(out, app+"/"+id+" "+in.effective())
		}
	}
	sort.Strings(out)
	return out
}

func (in *instance) effective() string {
	if in.override != "" {
		return in.override
	}
	if in.status == "" {
		return "UP"
	}
	return in.status
}

// view is the instance as the server returns it.
func (in *instance) view() map[string]any {
	out := make(map[string]any, len(in.fields)+4)
	for k, v := range in.fields {
		out[k] = v
	}
	out["status"] = in.effective()
	ov := in.override
	if ov == "" {
		ov = "UNKNOWN"
	}
	out["overriddenStatus"] = ov
	out["actionType"] = in.action
	ms := in.updated.UnixMilli()
	out["lastUpdatedTimestamp"] = strconv.FormatInt(ms, 10)
	out["lastDirtyTimestamp"] = strconv.FormatInt(ms, 10)
	return out
}

func idOf(f map[string]any) string {
	if id, _ := f["instanceId"].(string); id != "" {
		return id
	}
	h, _ := f["hostName"].(string)
	return h
}

func (s *Server) registerLocked(f map[string]any) error {
	app, _ := f["app"].(string)
	app = strings.ToUpper(app)
	id := idOf(f)
	if app == "" || id == "" {
		return errors.New("eurekatest: an instance needs app and instanceId or hostName")
	}
	f["app"] = app
	st, _ := f["status"].(string)
	insts := s.apps[app]
	if insts == nil {
		insts = map[string]*instance{}
		s.apps[app] = insts
	}
	in := &instance{fields: f, status: strings.ToUpper(st), action: "ADDED", updated: time.Now()}
	if old := insts[id]; old != nil {
		in.override = old.override // an override outlives re-registration, as in Eureka
		in.action = "MODIFIED"
	}
	insts[id] = in
	s.changedLocked(app, id, in)
	return nil
}

func (s *Server) overrideLocked(app, id, status string, set bool) bool {
	in := s.apps[app][id]
	if in == nil {
		return false
	}
	if set {
		in.override = strings.ToUpper(status)
	} else {
		in.override = ""
		in.status = strings.ToUpper(status)
		if in.status == "" {
			in.status = "UNKNOWN"
		}
	}
	in.action, in.updated = "MODIFIED", time.Now()
	s.changedLocked(app, id, in)
	return true
}

func (s *Server) cancelLocked(app, id string) bool {
	in := s.apps[app][id]
	if in == nil {
		return false
	}
	delete(s.apps[app], id)
	if len(s.apps[app]) == 0 {
		delete(s.apps, app)
	}
	in.action, in.updated = "DELETED", time.Now()
	s.changedLocked(app, id, in)
	return true
}

func (s *Server) changedLocked(app, id string, in *instance) {
	s.version++
	s.recent = append(s.recent, change{at: time.Now(), app: app, id: id, inst: in.view()})
}

// hashLocked is Eureka's reconcile hash code of the registry.
func (s *Server) hashLocked() string {
	counts := map[string]int{}
	for _, insts := range s.apps {
		for _, in := range insts {
			counts[in.effective()]++
		}
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s_%d_", n, counts[n])
	}
	return b.String()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="eureka"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/eureka/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	key := r.Method + " /" + strings.Join(parts, "/")
	if len(parts) >= 2 && parts[0] == "apps" && parts[1] != "delta" {
		key = r.Method + " /apps/APP" + strings.Repeat("/X", len(parts)-2)
	}
	s.requests[key]++
	if parts[0] != "apps" {
		http.NotFound(w, r)
		return
	}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		s.writeApps(w, s.all(""))
	case len(parts) == 2 && parts[1] == "delta" && r.Method == http.MethodGet:
		s.writeApps(w, s.delta())
	case len(parts) == 2 && r.Method == http.MethodGet:
		app := strings.ToUpper(parts[1])
		if s.apps[app] == nil {
			http.NotFound(w, r)
			return
		}
		writeJSON(w, map[string]any{"application": s.all(app)[0]})
	case len(parts) == 2 && r.Method == http.MethodPost:
		var body struct {
			Instance map[string]any `json:"instance"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil || body.Instance == nil {
			http.Error(w, "want {\"instance\": {...}}", http.StatusBadRequest)
			return
		}
		if a, _ := body.Instance["app"].(string); a == "" {
			body.Instance["app"] = parts[1]
		}
		if err := s.registerLocked(body.Instance); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 3 && r.Method == http.MethodPut:
		in := s.apps[strings.ToUpper(parts[1])][parts[2]]
		if in == nil {
			http.NotFound(w, r) // the client registers again
			return
		}
		in.updated = time.Now() // lease renewed; no registry change
		w.WriteHeader(http.StatusOK)
	case len(parts) == 3 && r.Method == http.MethodDelete:
		if !s.cancelLocked(strings.ToUpper(parts[1]), parts[2]) {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	case len(parts) == 4 && parts[3] == "status" && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		v := r.URL.Query().Get("value")
		if r.Method == http.MethodPut && v == "" {
			http.Error(w, "value required", http.StatusBadRequest)
			return
		}
		if !s.overrideLocked(strings.ToUpper(parts[1]), parts[2], v, r.Method == http.MethodPut) {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "not implemented by eurekatest", http.StatusNotImplemented)
	}
}

// all is every application (or just app), as Eureka's JSON.
func (s *Server) all(app string) []map[string]any {
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		if app == "" || n == app {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]map[string]any, 0, len(names))
	for _, n := range names {
		ids := make([]string, 0, len(s.apps[n]))
		for id := range s.apps[n] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		insts := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			insts = append(insts, s.apps[n][id].view())
		}
		out = append(out, map[string]any{"name": n, "instance": insts})
	}
	return out
}

// delta is the recently-changed queue within the retention, the last
// change of each instance, grouped by application (as Eureka's
// AbstractInstanceRegistry.getApplicationDeltas).
func (s *Server) delta() []map[string]any {
	cut := time.Now().Add(-s.retention)
	kept := s.recent[:0]
	for _, c := range s.recent {
		if c.at.After(cut) {
			kept = append(kept, c)
		}
	}
	s.recent = kept
	if s.dropDel {
		return []map[string]any{}
	}
	last := map[string]map[string]map[string]any{}
	for _, c := range s.recent {
		if last[c.app] == nil {
			last[c.app] = map[string]map[string]any{}
		}
		last[c.app][c.id] = c.inst
	}
	var out []map[string]any
	for app, byID := range last {
		insts := make([]map[string]any, 0, len(byID))
		for _, v := range byID {
			insts = append(insts, v)
		}
		out = append(out, map[string]any{"name": app, "instance": insts})
	}
	return out
}

func (s *Server) writeApps(w http.ResponseWriter, apps []map[string]any) {
	writeJSON(w, map[string]any{"applications": map[string]any{
		"versions__delta": strconv.Itoa(s.version),
		"apps__hashcode":  s.hashLocked(),
		"application":     apps,
	}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Instance is a Eureka instance JSON like Eureka's Java client registers:
// app, instanceId, hostName, ipAddr, the plain port enabled, the secure port
// disabled, status UP, vipAddress and secureVipAddress the lower-cased app,
// and metadata.zone when zone is set.
func Instance(app, id, ip string, port int, zone string) map[string]any {
	md := map[string]any{"@class": "java.util.Collections$EmptyMap"}
	if zone != "" {
		md = map[string]any{"zone": zone}
	}
	return map[string]any{
		"instanceId": id, "hostName": id, "app": strings.ToUpper(app), "ipAddr": ip, "status": "UP",
		"port":       map[string]any{"$": port, "@enabled": "true"},
		"securePort": map[string]any{"$": 443, "@enabled": "false"},
		"countryId":  1,
		"dataCenterInfo": map[string]any{
			"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn",
		},
		"metadata": md, "vipAddress": strings.ToLower(app), "secureVipAddress": strings.ToLower(app),
	}
}
