package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// consulPolicy is a Service discovered in Consul, for a gatehouse whose
// Consul does not answer: it exports gatehouse_registry_up 0. Its JWT
// Authentication discovers its keys from an issuer nothing listens at:
// gatehouse_oidc_discovery_up 0 and failures.
const consulPolicy = `kind: Gateway
name: edge
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: inventory
spec:
  discovery:
    consul: {service: inventory}
---
kind: Authentication
name: unreachable-idp
spec:
  jwt:
    issuer: https://127.0.0.1:1/
    audiences: [inventory]
---
kind: Route
name: inventory
spec:
  gateways: [edge]
  backends: [{service: inventory}]
`

// TestDashboardsAndRulesAgainstLiveGatehouse checks every metric the
// dashboards and rules name against the /metrics of running gatehouse
// processes fed like production ones (api-management with traffic; one
// whose Consul is unreachable), then has a real Prometheus scrape them and
// evaluate the rules.
func TestDashboardsAndRulesAgainstLiveGatehouse(t *testing.T) {
	used := parse(t, expressions(t))
	prom := lookPath(t, "prometheus")

	// examples/api-management, copied with its Rego beside it.
	dir := t.TempDir()
	for _, sub := range []string{"gatehouse", "policies"} {
		copyDir(t, filepath.Join("..", "examples", "api-management", sub), filepath.Join(dir, sub))
	}
	a := gatehouseproc.Start(t, bin, "--policy-dir", filepath.Join(dir, "gatehouse"))
	consulDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(consulDir, "policy.yaml"), []byte(consulPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	deadConsul := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	b := gatehouseproc.Start(t, bin, "--policy-dir", consulDir, "--consul-addr", deadConsul)
	t.Logf("gatehouse ready in %v", a.WaitReady(60*time.Second))
	b.WaitHealthy(60 * time.Second)
	feed(t, a)
	// The discovery error of b's issuer is in its status.
	var st struct {
		OIDC []struct {
			Issuer    string `json:"issuer"`
			LastError string `json:"last_error"`
		} `json:"oidc"`
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		b.GetJSON("/api/v1/status", &st)
		if len(st.OIDC) == 1 && st.OIDC[0].LastError != "" || time.Since(start) > 10*time.Second {
			break
		}
	}
	if len(st.OIDC) != 1 || st.OIDC[0].Issuer != "https://127.0.0.1:1/" || !strings.Contains(st.OIDC[0].LastError, "connection refused") {
		t.Errorf("status oidc = %+v, want the unreachable issuer's error within 10s", st.OIDC)
	}

	// Every metric is exported by one of them, or documented by Envoy.
	live := map[string]bool{}
	start := time.Now()
	for {
		for _, p := range []*gatehouseproc.Proc{a, b} {
			_, body := p.Get("/metrics")
			for k := range exported(body) {
				live[k] = true
			}
		}
		if missing(used, live) == nil || time.Since(start) > 30*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range missing(used, live) {
		t.Errorf("%s (used by %s) is neither in a live gatehouse's /metrics nor a documented Envoy stat", m, strings.Join(used[m], "; "))
	}

	// A real Prometheus scrapes both and evaluates the rules.
	promAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
	rules, err := filepath.Abs("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: gatehouse
    static_configs: [{targets: [%q, %q]}]
`, rules, a.AdminAddr, b.AdminAddr)
	promDir := t.TempDir()
	cfgFile := filepath.Join(promDir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr)
	var log gatehouseproc.LockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log (tail):\n%s", gatehouseproc.Tail(log.String(), 8<<10))
		}
	})

	query := func(q string) []json.RawMessage {
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(body, &r) != nil || r.Status != "success" {
			return nil
		}
		return r.Data.Result
	}
	waitFor := func(what, q string, bound time.Duration) {
		t.Helper()
		start := time.Now()
		for time.Since(start) < bound {
			if res := query(q); len(res) > 0 {
				t.Logf("%s after %v: %s", what, time.Since(start).Round(time.Millisecond), res[0])
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("%s: query %s returned nothing within %v", what, q, bound)
	}
	waitFor("Prometheus has gatehouse's usage series", `gatehouse_usage_requests_total{gateway="public", route="orders-read", code_class="5xx"} == 1`, 90*time.Second)
	waitFor("Prometheus has the unreachable registry", `gatehouse_registry_up{source="consul"} == 0`, 30*time.Second)

	// The rules load and evaluate; one fires on live input: a client
	// sending an access log without identifier after the first scrape.
	var rs struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	resp, err := http.Get("http://" + promAddr + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&rs)
	resp.Body.Close()
	n := 0
	for _, g := range rs.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health == "err" {
				t.Errorf("rule %s: %s", r.Name, r.LastError)
			}
		}
	}
	if n != 9 {
		t.Errorf("Prometheus loaded %d rules, want 9", n)
	}
	cc, err := grpc.NewClient(a.XDSAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := sendAccessLog(sctx, cc, false); err == nil {
		t.Fatal("an access log without identifier was accepted")
	}
	// The NACK was sent before Prometheus started: its counter appears at 1.
	waitFor("GatehouseXDSNack fires on a first NACK", `ALERTS{alertname="GatehouseXDSNack", alertstate="firing", type="listeners"}`, 60*time.Second)
	waitFor("GatehouseAccessLogMalformed fires", `ALERTS{alertname="GatehouseAccessLogMalformed", alertstate="firing", reason="no_identifier"}`, 60*time.Second)
}

// missing are the metrics of used that are neither live nor Envoy's.
func missing(used map[string][]string, live map[string]bool) []string {
	var out []string
	for _, m := range sortedKeys(used) {
		if _, envoy := envoyStats[m]; !live[m] && !envoy {
			out = append(out, m)
		}
	}
	return out
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
