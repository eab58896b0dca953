package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/usage"
)

// deprecatedRoute is a Route whose version is deprecated, with the traffic
// the usage analytics saw on it (Envoy names the route in its access log,
// and the translator names Envoy routes after Route objects).
type deprecatedRoute struct {
	Route      string    `json:"route"`
	Version    string    `json:"version"`
	Deprecated time.Time `json:"deprecated"`
	Sunset     time.Time `json:"sunset,omitzero"`
	Successor  string    `json:"successor,omitempty"`
	Requests   uint64    `json:"requests"`
	Gateways   []string  `json:"gateways"`
}

// versionDoc is the part of a stored Route document that says its version.
type versionDoc struct {
	Spec struct {
		Version *struct {
			Name        string `json:"name"`
			Deprecation any    `json:"deprecation"`
			Sunset      any    `json:"sunset"`
			Successor   string `json:"successor"`
		} `json:"version"`
	} `json:"spec"`
}

// versionTime reads a deprecation or sunset as the store renders it: a
// string, or a YAML timestamp rendered by JSON as RFC 3339.
func versionTime(v any) time.Time {
	s, ok := v.(string)
	if !ok {
		return time.Time{}
	}
	t, err := policy.ParseVersionTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// deprecatedInUse lists the Routes deprecated at now that received
// requests in rows (all of them when withoutTraffic), most requests first.
// Routes that fail to parse are
// skipped: status reports invalid objects elsewhere.
func deprecatedInUse(objs []api.Object, rows []usage.Row, now time.Time, withoutTraffic bool) []deprecatedRoute {
	byRoute := map[string]*deprecatedRoute{}
	for _, o := range objs {
		if !strings.EqualFold(o.Kind, policy.KindRoute) {
			continue
		}
		var d versionDoc
		if json.Unmarshal(o.Object, &d) != nil || d.Spec.Version == nil {
			continue
		}
		v := d.Spec.Version
		dep := versionTime(v.Deprecation)
		if dep.IsZero() || now.Before(dep) {
			continue
		}
		byRoute[o.Name] = &deprecatedRoute{Route: o.Name, Version: v.Name, Deprecated: dep, Sunset: versionTime(v.Sunset), Successor: v.Successor}
	}
	for _, r := range rows {
		d := byRoute[r.Route]
		if d == nil || r.Requests == 0 {
			continue
		}
		d.Requests += r.Requests
		if len(d.Gateways) == 0 || d.Gateways[len(d.Gateways)-1] != r.Gateway {
			d.Gateways = append(d.Gateways, r.Gateway)
		}
	}
	var out []deprecatedRoute
	for _, d := range byRoute {
		if d.Requests == 0 && !withoutTraffic {
			continue
		}
		sort.Strings(d.Gateways)
		d.Gateways = compactStrings(d.Gateways)
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Requests != out[j].Requests {
			return out[i].Requests > out[j].Requests
		}
		return out[i].Route < out[j].Route
	})
	return out
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// printDeprecated prints the deprecated Routes still receiving traffic
// over the usage report's span, or why that cannot be known.
func printDeprecated(w io.Writer, list []deprecatedRoute, rep usage.Report, usageErr error, now time.Time) {
	if usageErr != nil {
		names := make([]string, len(list))
		for i, d := range list {
			names[i] = d.Route
		}
		fmt.Fprintf(w, "\nDeprecated routes: %s; whether they still receive traffic is unknown: usage analytics unavailable (%v); Envoy's envoy_vhost_upstream_rq_xx{route=...} counts their requests\n", strings.Join(names, ", "), usageErr)
		return
	}
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(w, "\nDeprecated routes still receiving traffic (since %s):\n", rep.From.UTC().Format(time.RFC3339))
	var rows [][]string
	for _, d := range list {
		sunset := "-"
		if !d.Sunset.IsZero() {
			sunset = d.Sunset.Format("2006-01-02")
			if !now.Before(d.Sunset) {
				sunset += " (passed)"
			}
		}
		rows = append(rows, []string{d.Route, d.Version, d.Deprecated.Format("2006-01-02"), sunset, fmt.Sprint(d.Requests), strings.Join(d.Gateways, ","), orNone(d.Successor)})
	}
	printTable(w, []string{"ROUTE", "VERSION", "DEPRECATED", "SUNSET", "REQUESTS", "GATEWAYS", "SUCCESSOR"}, rows)
}

// deprecatedStatus reads the stored Routes and, when some are deprecated,
// the usage report. A nil list means no Route is deprecated (or the store
// cannot say: status reports that with the objects); an error means the
// traffic on the deprecated ones is unknown, and the list names them all.
func deprecatedStatus(ctx context.Context, c *client.Client, now time.Time) ([]deprecatedRoute, usage.Report, error) {
	var rep usage.Report
	routes, err := c.List(ctx, client.ListOptions{Kind: policy.KindRoute})
	if err != nil {
		return nil, rep, nil
	}
	all := deprecatedInUse(routes.Items, nil, now, true)
	if len(all) == 0 {
		return nil, rep, nil
	}
	if err := c.Usage(ctx, "", 0, &rep); err != nil {
		return all, rep, err
	}
	return deprecatedInUse(routes.Items, rep.Rows, now, false), rep, nil
}
