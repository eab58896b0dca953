package main

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// --tls with default files names the paths gatehouse serve gives Envoy for
// ext_authz and rate limit; the --tls-* flags need --tls; a client
// certificate can be left out only explicitly.
func TestBootstrapTLSFlags(t *testing.T) {
	code, out, errOut := gatehouse(t, "bootstrap", "--gateway", "public", "--tls")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, f := range []string{wire.ProxyTLSCAFile, wire.ProxyTLSCertFile, wire.ProxyTLSKeyFile} {
		if !strings.Contains(out, f) {
			t.Errorf("--tls output lacks %s", f)
		}
	}
	code, out, errOut = gatehouse(t, "bootstrap", "--gateway", "public", "--tls", "--tls-no-client-cert", "--format", "grpc")
	if code != 0 || strings.Contains(out, `"certificate_file"`) || !strings.Contains(out, `"ca_certificate_file"`) {
		t.Fatalf("--tls-no-client-cert: exit %d\n%s%s", code, out, errOut)
	}
	for _, argv := range [][]string{
		{"--tls-cert", "x.pem"},
		{"--tls-no-client-cert"},
		{"--tls", "--tls-no-client-cert", "--tls-key", "k.pem"},
	} {
		code, _, errOut := gatehouse(t, append([]string{"bootstrap", "--gateway", "public"}, argv...)...)
		if code == 0 || !strings.Contains(errOut, "--tls") {
			t.Errorf("%v: exit %d, stderr %q; want a refusal naming the flag", argv, code, errOut)
		}
	}
}
