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

// TestVersionSelectorEdges: each rule of the path prefix, the successor
// link and the selector's match conditions, held at both sides: what is
// refused, and what is accepted next to it (a rule that refused too much
// or too little would pass a one-sided table).
func TestVersionSelectorEdges(t *testing.T) {
	const r = route + "  gateways: [gw]\n  backends: [{service: a}]\n"
	runBadCases(t, []badCase{
		{"path prefix without a leading slash", r + "  version: {name: v1, pathPrefix: v1}\n",
			6, "Route/r", "spec.version.pathPrefix", `"v1" must start with / and name at least one segment`},
		{"path prefix of the root", r + "  version: {name: v1, pathPrefix: /}\n",
			6, "Route/r", "spec.version.pathPrefix", `"/" must start with / and name at least one segment`},
		{"path prefix beside a prefix that is not segment-wise", r + "  match: {path: {prefix: /v1}}\n  version: {name: v1, pathPrefix: /v1}\n",
			7, "Route/r", "spec.version.pathPrefix", `the Route already matches a path`},
		{"path prefix beside another segment-wise prefix", r + "  match: {path: {prefix: /api, segments: true}}\n  version: {name: v1, pathPrefix: /v1}\n",
			7, "Route/r", "spec.version.pathPrefix", `the Route already matches a path`},
		{"path prefix beside an exact path", r + "  match: {path: {exact: /v1}}\n  version: {name: v1, pathPrefix: /v1}\n",
			7, "Route/r", "spec.version.pathPrefix", `the Route already matches a path`},
		{"path prefix beside a path regex", r + "  match: {path: {regex: /v1/.*}}\n  version: {name: v1, pathPrefix: /v1}\n",
			7, "Route/r", "spec.version.pathPrefix", `the Route already matches a path`},
		{"successor of another scheme with a host", r + "  version: {name: v1, header: x-v, successor: \"ftp://example.com/v2\"}\n",
			6, "Route/r", "spec.version.successor", `must be an absolute http(s) URL or a path starting with /`},
		{"successor without a host", r + "  version: {name: v1, header: x-v, successor: \"https:///v2\"}\n",
			6, "Route/r", "spec.version.successor", `must be an absolute http(s) URL or a path starting with /`},
		{"successor as a relative path", r + "  version: {name: v1, header: x-v, successor: v2}\n",
			6, "Route/r", "spec.version.successor", `must be an absolute http(s) URL or a path starting with /`},
	})
	runCleanCases(t, []cleanCase{
		// The user's own segment-wise prefix is the one the version sets.
		{"path prefix repeated as a segment-wise match", r + "  match: {path: {prefix: /v1, segments: true}}\n  version: {name: v1, pathPrefix: /v1}\n",
			func(t *testing.T, s *Snapshot) {
				if p := s.Routes["r"].Spec.Match.Path; p.Prefix != "/v1" || !p.Segments {
					t.Errorf("path match %+v, want segment-wise /v1", p)
				}
			}, nil},
		{"http successor", r + "  version: {name: v1, header: x-v, successor: \"http://example.com/v2\"}\n", nil, nil},
		{"https successor", r + "  version: {name: v1, header: x-v, successor: \"https://example.com/v2\"}\n", nil, nil},
		{"path successor", r + "  version: {name: v1, header: x-v, successor: /v2/docs}\n", nil, nil},
		// The header the version matches is added once, beside the
		// Route's other header matches: one equal to it is not repeated,
		// one differing in any field is kept.
		{"header match repeated", r + "  match: {headers: [{name: x-v, exact: v1}]}\n  version: {name: v1, header: X-V}\n",
			func(t *testing.T, s *Snapshot) {
				if h := s.Routes["r"].Spec.Match.Headers; len(h) != 1 || h[0].Name != "x-v" || h[0].Exact != "v1" {
					t.Errorf("header matches %+v, want the one x-v: v1", h)
				}
			}, nil},
		{"header match on another header", r + "  match: {headers: [{name: x-other, exact: v1}]}\n  version: {name: v1, header: X-V}\n",
			func(t *testing.T, s *Snapshot) {
				h := s.Routes["r"].Spec.Match.Headers
				if len(h) != 2 || h[1].Name != "x-v" || h[1].Exact != "v1" {
					t.Errorf("header matches %+v, want x-other and then x-v: v1", h)
				}
			}, nil},
	})
}
