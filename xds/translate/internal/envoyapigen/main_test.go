package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedTableIsFresh regenerates the table from the modules go.mod
// pins and compares it with the committed one: a go-control-plane upgrade
// without `go generate ./xds/translate` fails here.
func TestGeneratedTableIsFresh(t *testing.T) {
	want, err := generateFromModules("translate")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("../../envoyapi_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("xds/translate/envoyapi_gen.go is stale: run go generate ./xds/translate")
	}
}

// TestScanFindsKnownEntries pins a few entries Envoy's API marks, one per
// kind, so a scan that silently finds nothing fails.
func TestScanFindsKnownEntries(t *testing.T) {
	src, err := os.ReadFile("../../envoyapi_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext.system_root_certs":`, // field
		`"envoy.extensions.transport_sockets.tls.v3.CertificateProviderPluginInstance":`,              // message
		`"envoy.config.core.v3.ApiConfigSource.AGGREGATED_GRPC":`,                                     // enum value
		`"envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.GRPC":`,                            // nested enum value
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("table lacks %s", want)
		}
	}
}

func TestGoCamelCase(t *testing.T) {
	for in, want := range map[string]string{"A2a": "A2A", "foo_bar": "FooBar", "HTTP2": "HTTP2", "x509_v3": "X509V3", "_x": "XX"} {
		if got := goCamelCase(in); got != want {
			t.Errorf("goCamelCase(%q) = %q, want %q", in, got, want)
		}
	}
}
