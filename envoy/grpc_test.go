package envoy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/xds"
)

// nopClientConn is the least a resolver needs to be built.
type nopClientConn struct{}

func (nopClientConn) UpdateState(resolver.State) error { return nil }
func (nopClientConn) ReportError(error)                {}
func (nopClientConn) NewAddress([]resolver.Address)    {}
func (nopClientConn) ParseServiceConfig(string) *serviceconfig.ParseResult {
	return &serviceconfig.ParseResult{}
}

// grpcParse makes grpc-go parse a bootstrap with its own (internal) parser:
// the xDS resolver parses it when it is built, and fails the build if grpc-go
// rejects it.
func grpcParse(t *testing.T, bootstrap []byte) error {
	t.Helper()
	b, err := xds.NewXDSResolverWithConfigForTesting(bootstrap)
	if err != nil {
		return err
	}
	u, err := url.Parse("xds:///quickstart.local")
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Build(resolver.Target{URL: *u}, nopClientConn{}, resolver.BuildOptions{})
	if r != nil {
		r.Close() // stops the xDS client before it gets anywhere
	}
	return err
}

func TestGRPCBootstrap(t *testing.T) {
	o := DefaultOptions("public")
	// Port 1 on loopback: the resolver's xDS client may try to connect
	// before it is closed, and must find nothing there.
	o.XDSAddrs = []string{"127.0.0.1:1"}
	out, err := GRPCBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}

	if err := grpcParse(t, out); err != nil {
		t.Fatalf("grpc-go rejects the bootstrap: %v\n%s", err, out)
	}
	// The check above can fail: grpc-go does reject a bad bootstrap.
	if err := grpcParse(t, []byte(`{"xds_servers":[{"server_uri":"127.0.0.1:1","channel_creds":[{"type":"bogus"}]}]}`)); err == nil {
		t.Error("grpc-go accepted a bootstrap with unknown channel creds; the parse check proves nothing")
	}

	// grpc-go ignores unknown keys, so check the keys against its documented
	// format strictly: a misspelt key would otherwise go unnoticed.
	var got grpcBootstrap
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("unexpected keys in grpc bootstrap: %v\n%s", err, out)
	}
	if got.Node.Cluster != "public" || got.Node.ID != "public-grpc" {
		t.Errorf("node = %+v, want cluster public, id public-grpc", got.Node)
	}
	if len(got.XDSServers) != 1 {
		t.Fatalf("xds_servers = %+v", got.XDSServers)
	}
	s := got.XDSServers[0]
	if s.ServerURI != "127.0.0.1:1" || len(s.ChannelCreds) != 1 || s.ChannelCreds[0].Type != "insecure" ||
		len(s.ServerFeatures) != 1 || s.ServerFeatures[0] != "xds_v3" {
		t.Errorf("xds server = %+v", s)
	}

	// The raw keys, in case the struct tags above drift from grpc-go's.
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	node := raw["node"].(map[string]any)
	if node["cluster"] != "public" {
		t.Errorf(`raw node["cluster"] = %v`, node["cluster"])
	}
	server := raw["xds_servers"].([]any)[0].(map[string]any)
	for _, k := range []string{"server_uri", "channel_creds", "server_features"} {
		if _, ok := server[k]; !ok {
			t.Errorf("xds_servers[0] lacks %q", k)
		}
	}
}

// Services with upstream TLS name the wire.GRPCUpstreamCAProvider
// certificate provider; --upstream-ca-file defines it, and grpc-go accepts
// the definition.
func TestGRPCBootstrapUpstreamCA(t *testing.T) {
	o := DefaultOptions("public")
	o.XDSAddrs = []string{"127.0.0.1:1"}
	o.UpstreamCAFile = "/etc/gatehouse/upstream-ca.pem"
	out, err := GRPCBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := grpcParse(t, out); err != nil {
		t.Fatalf("grpc-go rejects the bootstrap: %v\n%s", err, out)
	}
	var got grpcBootstrap
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	p, ok := got.CertificateProviders["gatehouse-upstream-ca"]
	if !ok || p.PluginName != "file_watcher" || p.Config["ca_certificate_file"] != o.UpstreamCAFile {
		t.Fatalf("certificate_providers = %+v\n%s", got.CertificateProviders, out)
	}
	// A bad plugin config is rejected by the same parse, so the check above means something.
	bad := []byte(`{"xds_servers":[{"server_uri":"127.0.0.1:1","channel_creds":[{"type":"insecure"}]}],"node":{"id":"x"},` +
		`"certificate_providers":{"x":{"plugin_name":"file_watcher","config":{"refresh_interval":"bogus"}}}}`)
	if err := grpcParse(t, bad); err == nil {
		t.Error("grpc-go accepted a bad certificate provider; the parse check proves nothing")
	}
	// Without the flag, no provider is defined.
	o.UpstreamCAFile = ""
	out, _ = GRPCBootstrap(o)
	if bytes.Contains(out, []byte("certificate_providers")) {
		t.Fatalf("provider defined without --upstream-ca-file:\n%s", out)
	}
}

// Every replica becomes an xds_server, the first one first (grpc-go's
// primary; the others are its fallbacks).
func TestGRPCBootstrapReplicas(t *testing.T) {
	o := DefaultOptions("public")
	o.XDSAddrs = []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	out, err := GRPCBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := grpcParse(t, out); err != nil {
		t.Fatalf("grpc-go rejects the bootstrap: %v\n%s", err, out)
	}
	var got grpcBootstrap
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, s := range got.XDSServers {
		uris = append(uris, s.ServerURI)
	}
	if strings.Join(uris, ",") != strings.Join(o.XDSAddrs, ",") {
		t.Fatalf("xds_servers %v, want %v in that order", uris, o.XDSAddrs)
	}
}
