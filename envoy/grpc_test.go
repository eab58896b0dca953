package envoy

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/grpc/xds"
)

func TestGRPCBootstrap(t *testing.T) {
	o := DefaultOptions("public")
	o.XDSAddr = "127.0.0.1:18123"
	out, err := GRPCBootstrap(o)
	if err != nil {
		t.Fatal(err)
	}

	// grpc-go's own parser (reached through the public testing hook, since
	// the parser itself is internal) must accept it.
	if _, err := xds.NewXDSResolverWithConfigForTesting(out); err != nil {
		t.Fatalf("grpc-go rejects the bootstrap: %v\n%s", err, out)
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
	if s.ServerURI != "127.0.0.1:18123" || len(s.ChannelCreds) != 1 || s.ChannelCreds[0].Type != "insecure" ||
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
