package authz

import (
	"strings"
	"testing"
)

// TestHeaderNameIsAToken holds isToken to RFC 9110's tchar at every edge
// of its ranges: the first and last letter and digit are tokens, the
// characters next to each range are not (except where tchar lists them).
func TestHeaderNameIsAToken(t *testing.T) {
	for _, ok := range []string{"a", "z", "A", "Z", "0", "9", "x-api-key", "!#$%&'*+-.^_`|~", "X-Tenant-9"} {
		if !isToken(ok) {
			t.Errorf("isToken(%q) = false, want true", ok)
		}
	}
	// '@' before 'A', '[' after 'Z', '{' after 'z', '/' before '0', ':'
	// after '9' (':' also starts a pseudo-header), and the separators.
	for _, bad := range []string{"", "@", "[", "{", "/", ":", ":path", "x y", "x\r\n", "x\x00", "\"", "(", ")", ",", ";", "<", "=", ">", "?", "\\", "]", "}", "é", "\x7f"} {
		if isToken(bad) {
			t.Errorf("isToken(%q) = true, want false", bad)
		}
	}
	if err := checkHeaderName("headers", "Host"); err == nil || !strings.Contains(err.Error(), "used for routing") {
		t.Errorf(`checkHeaderName("headers", "Host") = %v`, err)
	}
	if err := checkHeaderName("response_headers_to_add", "host"); err != nil {
		t.Errorf(`checkHeaderName("response_headers_to_add", "host") = %v, want nil (only upstream headers route)`, err)
	}
	if err := checkHeaderName("headers", "x-host"); err != nil {
		t.Errorf(`checkHeaderName("headers", "x-host") = %v`, err)
	}
}

// TestQueryTextEdges holds isQueryText to RFC 3986's query characters and
// percent escapes at every edge: an escape cut short at the end of the
// string, each end of the hex digits, and the characters next to each
// range.
func TestQueryTextEdges(t *testing.T) {
	for _, ok := range []string{"", "a", "z", "A", "Z", "0", "9", "%41", "%af", "%AF", "%09", "x%2Fy", "-._~!$'()*+,;=:@/?"} {
		if !isQueryText(ok, "&") {
			t.Errorf("isQueryText(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"%", "%4", "a%", "a%4", "%g0", "%0g", "%G0", "%/0", "%:0", "%`0", "%@0", "%4:", "%4/",
		" ", "#", "[", "]", "{", "}", "`", "^", "|", "\\", "\"", "<", ">", "é", "\x00", "\x7f", "&", "a&b"} {
		if isQueryText(bad, "&") {
			t.Errorf("isQueryText(%q) = true, want false", bad)
		}
	}
	if !isQueryText("a=b", "&") || isQueryText("a=b", "=&") {
		t.Error(`"=" is refused only where the caller excepts it`)
	}
	if err := checkQueryKey("query_parameters_to_remove", "a"); err != nil {
		t.Errorf("checkQueryKey(a) = %v", err)
	}
	if err := checkQueryValue("a", ""); err != nil {
		t.Errorf("checkQueryValue(a, \"\") = %v, want nil: an empty value is a parameter", err)
	}
	for c := 0; c < 256; c++ {
		want := strings.IndexByte("0123456789abcdefABCDEF", byte(c)) >= 0
		if isHex(byte(c)) != want {
			t.Errorf("isHex(%q) = %v", rune(c), !want)
		}
	}
}
