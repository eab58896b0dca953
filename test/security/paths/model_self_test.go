package security_paths

import (
	"testing"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// TestModelAgainstEnvoyVectors holds the model to expectations written in
// Envoy's own tests (test/common/http/path_utility_test.cc,
// conn_manager_utility_test.cc), so a change to the model that departs
// from Envoy shows here.
func TestModelAgainstEnvoyVectors(t *testing.T) {
	on := pathSettings{normalize: true, mergeSlashes: true, escapedSlashes: hcmv3.HttpConnectionManager_UNESCAPE_AND_REDIRECT, stripDotParams: true}
	old := on
	old.stripDotParams = false
	normalizeOnly := pathSettings{normalize: true, escapedSlashes: hcmv3.HttpConnectionManager_KEEP_UNCHANGED}
	for _, tc := range []struct {
		s        pathSettings
		in, want string
		redirect bool
		reject   bool
	}{
		{normalizeOnly, "/xyz/../abc", "/abc", false, false},
		{normalizeOnly, "/xyz/./abc", "/xyz/abc", false, false},
		{normalizeOnly, "/xyz/abc/..", "/xyz/", false, false},
		{normalizeOnly, "/../abc", "/abc", false, false},
		{normalizeOnly, "/xyz/%2e%2e/abc", "/abc", false, false},
		{normalizeOnly, "/xyz/abc?/../x", "/xyz/abc?/../x", false, false},
		{normalizeOnly, "/xyz/.%00../abc", "", false, true},
		{normalizeOnly, "/a%2Fb", "/a%2Fb", false, false},
		{on, "/xyz/..;foo=bar/abc", "/abc", false, false},
		{old, "/xyz/..;foo=bar/abc", "/xyz/..;foo=bar/abc", false, false},
		{on, "/a%2Fb", "/a/b", true, false},
		{on, "/a/%2f%2F/c", "/a/c", true, false},
		{on, "//a//b//", "/a/b/", false, false},
		{pathSettings{escapedSlashes: hcmv3.HttpConnectionManager_REJECT_REQUEST}, "/a%2fb", "", false, true},
	} {
		got := normalizePath(tc.in, tc.s)
		if got.reject != tc.reject || got.redirect != tc.redirect || (!tc.reject && got.path != tc.want) {
			t.Errorf("%+v %q: got %+v, want %q redirect %v reject %v", tc.s, tc.in, got, tc.want, tc.redirect, tc.reject)
		}
	}
}
