// Package monitoring holds the Grafana dashboards and Prometheus alert
// rules shipped with gatehouse, and the tests that keep them true: every
// PromQL expression parses with the Prometheus parser and names only series
// a live gatehouse exports or that Envoy documents, the rules pass their
// promtool unit tests, and a real Prometheus scrapes gatehouse and
// evaluates the rules. TestUsageEndToEnd runs usage analytics across the
// process boundary (access logs in, gatehouse usage and /api/v1/usage out).
package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

var bin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &bin) }

// promqlCheckVersion is the Prometheus module `make promql-check` builds
// the parser from (test/tools/promql).
const promqlCheckVersion = "v0.316.0"

// envoyStats are the Envoy stats the dashboards and rules use, with the
// Envoy documentation that defines each (Prometheus names: Envoy's admin
// /stats/prometheus replaces dots by underscores and prefixes envoy_; the
// envoy.cluster_name and envoy.response_code_class tags become labels:
// Envoy: source/common/config/well_known_names.h).
var envoyStats = map[string]string{
	"envoy_cluster_membership_healthy": "docs/root/configuration/upstream/cluster_manager/cluster_stats.rst (cluster.<name>.membership_healthy)",
	"envoy_http_downstream_rq_xx":      "docs/root/configuration/http/http_conn_man/stats.rst (http.<prefix>.downstream_rq_<N>xx)",
	// Route stats (Route.stat_prefix, set by the translator), whose host
	// and Route the bootstrap's stats_config turns into the labels
	// virtual_host and route (envoy/bootstrap.yaml.tmpl).
	"envoy_vhost_upstream_rq_xx":          "docs/root/configuration/http/http_filters/router_filter.rst (vhost.<host>.route.<prefix>.upstream_rq_<N>xx, as virtual cluster stats)",
	"envoy_vhost_upstream_rq_time_bucket": "docs/root/configuration/http/http_filters/router_filter.rst (vhost.<host>.route.<prefix>.upstream_rq_time, as virtual cluster stats)",
}

// expr is one PromQL expression and where it is.
type expr struct {
	Where string `json:"where"`
	Expr  string `json:"expr"`
}

// grafanaVars are the dashboard variables, replaced by sample values
// before parsing ($__rate_interval is Grafana's, the others the dashboards').
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$gateway", ".*")

// labelValues is Grafana's variable query label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\(([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// expressions are every PromQL expression of the dashboards and rules.
func expressions(t *testing.T) []expr {
	t.Helper()
	var out []expr
	dashboards, _ := filepath.Glob("grafana/*.json")
	if len(dashboards) < 2 {
		t.Fatalf("dashboards: %v, want the gateway and control-plane ones", dashboards)
	}
	for _, f := range dashboards {
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					RefID string `json:"refId"`
					Expr  string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, expr{fmt.Sprintf("%s: panel %q %s", f, p.Title, tg.RefID), grafanaVars.Replace(tg.Expr)})
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(map[string]any)["query"].(string)
			m := labelValues.FindStringSubmatch(q)
			if m == nil {
				t.Errorf("%s: variable %s: query %q is not label_values(metric, label)", f, v.Name, q)
				continue
			}
			out = append(out, expr{fmt.Sprintf("%s: variable %s", f, v.Name), m[1]})
		}
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, expr{"prometheus/alerts.yml: " + r.Alert, r.Expr})
		}
	}
	return out
}

// checked is promql-check's answer for one expression.
type checked struct {
	Where   string   `json:"where"`
	Error   string   `json:"error"`
	Metrics []string `json:"metrics"`
}

// check runs the Prometheus parser (promql-check, built by `make
// promql-check`) on exprs.
func check(t *testing.T, exprs []expr) []checked {
	t.Helper()
	tool := gatehouseproc.CachedTool(t, "GATEHOUSE_PROMQL_CHECK", "promql-check-"+promqlCheckVersion, "promql-check", "promql-check")
	in, _ := json.Marshal(exprs)
	cmd := exec.Command(tool)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("promql-check: %v: %s", err, stderr.String())
	}
	var res []checked
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(exprs) {
		t.Fatalf("promql-check answered %d results for %d expressions (%v)", len(res), len(exprs), err)
	}
	return res
}

// parse returns, for each metric the expressions use, where; it fails t
// for every expression that does not parse.
func parse(t *testing.T, exprs []expr) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	for _, r := range check(t, exprs) {
		if r.Error != "" {
			t.Errorf("%s: %s", r.Where, r.Error)
		}
		for _, m := range r.Metrics {
			used[m] = append(used[m], r.Where)
		}
	}
	return used
}

// TestExpressionsParse needs no running process: a broken expression is
// reported even where gatehouse cannot start.
func TestExpressionsParse(t *testing.T) {
	exprs := expressions(t)
	used := parse(t, exprs)
	t.Logf("%d expressions use %d metrics: %s", len(exprs), len(used), strings.Join(sortedKeys(used), " "))
	// The checker is built from the Prometheus its module pins.
	mod, err := os.ReadFile("../test/tools/promql/go.mod")
	if err != nil || !strings.Contains(string(mod), "github.com/prometheus/prometheus "+promqlCheckVersion+"\n") {
		t.Errorf("test/tools/promql/go.mod does not pin github.com/prometheus/prometheus %s (keep it, the Makefile's PROMQL_CHECK_VERSION and promqlCheckVersion equal): %v", promqlCheckVersion, err)
	}
	// The checker catches a broken expression and a selector without a name.
	for _, bad := range []string{"sum(rate(gatehouse_usage_requests_total[5m]", `{route="x"}`} {
		if r := check(t, []expr{{"bad", bad}}); r[0].Error == "" {
			t.Errorf("promql-check accepted %q", bad)
		}
	}
}

// TestAlertRules runs promtool on the rules and their unit tests.
func TestAlertRules(t *testing.T) {
	promtool := lookPath(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "prometheus/alerts.yml"}, {"test", "rules", "prometheus/alerts_test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// lookPath finds a tool of Debian's prometheus package (make prometheus).
func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, "%s is not installed: run `make prometheus` (Debian's prometheus package)", name)
	}
	return p
}

// exported returns the metric families of a /metrics body, with a
// histogram's _bucket, _sum and _count series.
func exported(body string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		out[f[2]] = true
		if f[3] == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[f[2]+s] = true
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
