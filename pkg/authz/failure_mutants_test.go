package authz

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// The header and path limit counts every form a header can come in and
// holds at exactly maxHeaderBytes. Killed mutants (make mutate, gremlins,
// all lived): the `+` of each count turned into `-` (a huge header then
// counts as negative and passes), `||` into `&&` (a huge path alone then
// passes) and both `>` moved to `>=`.
func TestCheckHeaderSizeLimit(t *testing.T) {
	big := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name   string
		h      *authv3.AttributeContext_HttpRequest
		refuse bool
	}{
		{"headers at the limit", &authv3.AttributeContext_HttpRequest{Headers: map[string]string{"k": big(maxHeaderBytes - 1)}}, false},
		{"headers past the limit", &authv3.AttributeContext_HttpRequest{Headers: map[string]string{"k": big(maxHeaderBytes)}}, true},
		{"header_map value past the limit", &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "k", Value: big(maxHeaderBytes)}}}}, true},
		{"header_map raw value past the limit", &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "k", RawValue: []byte(big(maxHeaderBytes))}}}}, true},
		{"header_map at the limit", &authv3.AttributeContext_HttpRequest{HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "k", RawValue: []byte(big(maxHeaderBytes - 1))}}}}, false},
		{"path at the limit", &authv3.AttributeContext_HttpRequest{Path: "/" + big(maxHeaderBytes-1)}, false},
		{"path past the limit", &authv3.AttributeContext_HttpRequest{Path: "/" + big(maxHeaderBytes)}, true},
	}
	for _, c := range cases {
		err := checkHeaderSize(c.h)
		if !c.refuse {
			if err != nil {
				t.Errorf("%s: %v, want accepted", c.name, err)
			}
			continue
		}
		var re *requestError
		if !errors.As(err, &re) || re.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %v, want a 431 requestError", c.name, err)
		}
	}
}
