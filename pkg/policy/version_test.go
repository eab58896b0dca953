package policy

import (
	"testing"
	"time"
)

// TestBadVersions: dates, ordering, selectors and successor links are
// checked with file, line and field.
func TestBadVersions(t *testing.T) {
	const r = route + "  gateways: [gw]\n  backends: [{service: a}]\n  version:\n    name: v1\n" // version fields from line 8
	runBadCases(t, []badCase{
		{"sunset before deprecation", r + "    pathPrefix: /v1\n    deprecation: 2026-06-01\n    sunset: 2026-05-31T23:59:59Z\n",
			10, "Route/r", "spec.version.sunset", `2026-05-31T23:59:59Z is before the deprecation 2026-06-01`},
		{"bad deprecation date", r + "    pathPrefix: /v1\n    deprecation: 2026-13-01\n",
			9, "Route/r", "spec.version.deprecation", `"2026-13-01" is not a time; use RFC 3339`},
		{"HTTP-date as sunset", r + "    pathPrefix: /v1\n    sunset: \"Wed, 01 Jul 2026 00:00:00 GMT\"\n",
			9, "Route/r", "spec.version.sunset", `is not a time; use RFC 3339 (2026-07-01T00:00:00Z) or a date`},
		{"no selector", r + "    deprecation: 2026-06-01\n",
			6, "Route/r", "spec.version", `set exactly one of pathPrefix, header, mediaType`},
		{"two selectors", r + "    pathPrefix: /v1\n    header: x-api-version\n",
			6, "Route/r", "spec.version", `set exactly one of pathPrefix, header, mediaType`},
		{"path prefix with trailing slash", r + "    pathPrefix: /v1/\n",
			8, "Route/r", "spec.version.pathPrefix", `"/v1/" must start with / and name at least one segment`},
		{"path prefix and match path", route + "  gateways: [gw]\n  backends: [{service: a}]\n  match: {path: {prefix: /api}}\n  version: {name: v1, pathPrefix: /v1}\n",
			7, "Route/r", "spec.version.pathPrefix", `the Route already matches a path`},
		{"bad header name", r + "    header: \"x api\"\n",
			8, "Route/r", "spec.version.header", `"x api" is not a valid HTTP header name`},
		{"media type with parameters", r + "    mediaType: \"application/json; version=1\"\n",
			8, "Route/r", "spec.version.mediaType", `is not a media type`},
		{"bad version name", route + "  gateways: [gw]\n  backends: [{service: a}]\n  version: {name: \"v 1\", header: x-v}\n",
			6, "Route/r", "spec.version.name", `"v 1" is not a version name`},
		{"successor with angle bracket", r + "    header: x-v\n    deprecation: 2026-01-01\n    successor: \"/v2>; rel=evil\"\n",
			10, "Route/r", "spec.version.successor", `must be a URL without spaces, quotes or angle brackets`},
		{"successor with another scheme", r + "    header: x-v\n    deprecation: 2026-01-01\n    successor: javascript:alert(1)\n",
			10, "Route/r", "spec.version.successor", `must be an absolute http(s) URL or a path starting with /`},
		{"successor protocol-relative", r + "    header: x-v\n    deprecation: 2026-01-01\n    successor: //evil.example/v2\n",
			10, "Route/r", "spec.version.successor", `must be an absolute http(s) URL or a path`},
		{"response header set twice", route + "  gateways: [gw]\n  backends: [{service: a}]\n  headers:\n    response:\n      set: {Sunset: never}\n  version: {name: v1, header: x-v, sunset: 2027-01-01}\n",
			8, "Route/r", "spec.headers.response.set.Sunset", `set by spec.version; remove it here`},
	})
}

// TestVersionLoads: the selector becomes match conditions, times are
// parsed in UTC, and Deprecated follows the deprecation time.
func TestVersionLoads(t *testing.T) {
	s := Load(testFS(t, map[string]string{"ok.yaml": `kind: Route
name: v1
spec:
  gateways: [gw]
  backends: [{service: a}]
  version: {name: v1, pathPrefix: /v1, deprecation: "2026-03-01T12:00:00+01:00", sunset: 2026-12-31, successor: /v2}
---
kind: Route
name: v2
spec:
  gateways: [gw]
  backends: [{service: a}]
  version: {name: v2, header: X-Api-Version}
`}), nil)
	if errs := s.Errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	r1, r2 := s.Routes["v1"], s.Routes["v2"]
	if p := r1.Spec.Match.Path; p.Prefix != "/v1" || !p.Segments {
		t.Errorf("v1 path match %+v, want segment-wise /v1", p)
	}
	if h := r2.Spec.Match.Headers; len(h) != 1 || h[0].Name != "x-api-version" || h[0].Exact != "v2" {
		t.Errorf("v2 header match %+v", h)
	}
	if got := r1.Spec.Version.DeprecatedAt; !got.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("deprecation %v", got)
	}
	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	if r1.Deprecated(at.Add(-time.Second)) || !r1.Deprecated(at) || r2.Deprecated(at) {
		t.Error("Deprecated does not follow the deprecation time")
	}
}

// TestVersionDatesAlone: a deprecation without a sunset, and a sunset
// without a deprecation, load (the order rule needs both).
func TestVersionDatesAlone(t *testing.T) {
	const r = "kind: Route\nname: r\nspec:\n  gateways: [gw]\n  backends: [{service: a}]\n"
	runCleanCases(t, []cleanCase{
		{"deprecation alone", r + "  version: {name: v1, pathPrefix: /v1, deprecation: 2026-03-01}\n", nil, nil},
		{"sunset alone", r + "  version: {name: v1, pathPrefix: /v1, sunset: 2026-03-01}\n", nil, nil},
		{"sunset at the deprecation", r + "  version: {name: v1, pathPrefix: /v1, deprecation: 2026-03-01, sunset: 2026-03-01}\n", nil, nil},
	})
}
