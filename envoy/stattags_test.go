package envoy

import (
	"regexp"
	"sort"
	"testing"
)

// extractTags applies stats_config regex tags the way Envoy does
// (source/common/stats/tag_producer_impl.cc, produceTags: every extractor
// matches the full name; the union of their first capture groups is
// removed; the second capture group is the value). Envoy runs these with
// std::regex; the patterns use only syntax RE2 and ECMAScript share.
func extractTags(t *testing.T, name string, specs map[string]string) (string, map[string]string) {
	t.Helper()
	remove := make([]bool, len(name))
	tags := map[string]string{}
	for tag, re := range specs {
		m := regexp.MustCompile(re).FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		if len(m) < 6 {
			t.Fatalf("tag %s: regex %q needs two capture groups", tag, re)
		}
		tags[tag] = name[m[4]:m[5]]
		for i := m[2]; i < m[3]; i++ {
			remove[i] = true
		}
	}
	var out []byte
	for i := range name {
		if !remove[i] {
			out = append(out, name[i])
		}
	}
	return string(out), tags
}

// TestRouteStatTags: the bootstrap's route and virtual_host tags turn the
// per-route stats the translator asks for (Route.stat_prefix = the Route
// name) into one metric name whatever the host, with the Route and host as
// labels: hosts with dots, "*", a host containing ".route.", and every
// leaf Envoy emits for route stats (the virtual cluster stats of
// router_filter.rst). Other stats are untouched.
func TestRouteStatTags(t *testing.T) {
	b := parseEnvoy(t, mustBootstrap(t, DefaultOptions("public")))
	specs := map[string]string{}
	for _, tag := range b.GetStatsConfig().GetStatsTags() {
		if re := tag.GetRegex(); re != "" {
			specs[tag.GetTagName()] = re
		}
	}
	if len(specs) != 2 {
		t.Fatalf("regex tags %v, want route and virtual_host", specs)
	}
	for _, tc := range []struct{ name, rest, route, host string }{
		{"vhost.api.example.com.route.orders-v1.upstream_rq_200", "vhost.upstream_rq_200", "orders-v1", "api.example.com"},
		{"vhost.*.route.catch-all.upstream_rq_completed", "vhost.upstream_rq_completed", "catch-all", "*"},
		{"vhost.a.route.example.com.route.route.upstream_rq_time", "vhost.upstream_rq_time", "route", "a.route.example.com"},
		{"vhost.*.example.com.route.x1.upstream_rq_retry_overflow", "vhost.upstream_rq_retry_overflow", "x1", "*.example.com"},
		{"vhost.api.example.com.route.orders.upstream_rq_5xx", "vhost.upstream_rq_5xx", "orders", "api.example.com"},
	} {
		rest, tags := extractTags(t, tc.name, specs)
		if rest != tc.rest || tags["route"] != tc.route || tags["virtual_host"] != tc.host {
			t.Errorf("%s: name %q tags %v, want %q route=%s virtual_host=%s", tc.name, rest, tags, tc.rest, tc.route, tc.host)
		}
	}
	for _, name := range []string{"cluster.svc/api.upstream_rq_200", "http.public-http.downstream_rq_2xx", "vhost.api.example.com.vcluster.other.upstream_rq_200"} {
		if rest, tags := extractTags(t, name, specs); rest != name || len(tags) != 0 {
			keys := make([]string, 0, len(tags))
			for k := range tags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("%s: tagged %v as %q", name, keys, rest)
		}
	}
}

func mustBootstrap(t *testing.T, o Options) []byte {
	t.Helper()
	out, err := EnvoyBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
