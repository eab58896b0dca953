package envoy

import (
	"encoding/json"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// The shape of grpc-go's xDS bootstrap (GRPC_XDS_BOOTSTRAP or
// GRPC_XDS_BOOTSTRAP_CONFIG), as parsed by grpc-go v1.85's
// internal/xds/bootstrap. grpc-go sets node.user_agent_name itself.
type grpcBootstrap struct {
	XDSServers           []grpcServer            `json:"xds_servers"`
	Node                 grpcNode                `json:"node"`
	CertificateProviders map[string]grpcCertProv `json:"certificate_providers,omitempty"`
}

// grpcCertProv is a certificate-provider plugin instance; gatehouse uses
// grpc-go's file_watcher for the upstream CA.
type grpcCertProv struct {
	PluginName string         `json:"plugin_name"`
	Config     map[string]any `json:"config"`
}

type grpcServer struct {
	ServerURI      string            `json:"server_uri"`
	ChannelCreds   []grpcChannelCred `json:"channel_creds"`
	ServerFeatures []string          `json:"server_features"`
}

type grpcChannelCred struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config,omitempty"`
}

type grpcNode struct {
	ID      string `json:"id"`
	Cluster string `json:"cluster"`
}

// GRPCBootstrap renders grpc-go's xDS bootstrap JSON for a proxyless client of
// the Gateway. The Envoy-only options (admin port, heap and connection limits)
// are ignored. The channel to gatehouse is plaintext unless o.TLS is set.
//
// Several addresses become several xds_servers, which grpc-go uses as gRFC
// A71 says (grpc-go internal/xds/clients/xdsclient/authority.go): the first
// while it answers; the next ones only while it does not AND a resource the
// client watches is not cached. A client that has its configuration keeps
// it and its calls working when its replica goes away, and gets changes
// again when that replica is back; a client that starts meanwhile is served
// by the next replica.
func GRPCBootstrap(o Options) ([]byte, error) {
	v, err := o.resolve("-grpc")
	if err != nil {
		return nil, err
	}
	creds := grpcChannelCred{Type: "insecure"}
	if t := o.TLS; t != nil {
		// grpc-go's "tls" channel credentials (gRFC A65) watch these files
		// with its file_watcher certificate provider (pemfile), so renewed
		// certificates are picked up; they verify gatehouse's certificate
		// against the server_uri host (grpc-go v1.85:
		// internal/xds/bootstrap/tlscreds/bundle.go).
		cfg := map[string]any{"ca_certificate_file": t.CAFile, "refresh_interval": "600s"}
		if t.CertFile != "" {
			cfg["certificate_file"], cfg["private_key_file"] = t.CertFile, t.KeyFile
		}
		creds = grpcChannelCred{Type: "tls", Config: cfg}
	}
	b := grpcBootstrap{
		Node: grpcNode{ID: v.NodeID, Cluster: v.Gateway},
	}
	for _, a := range v.XDSAddrs {
		b.XDSServers = append(b.XDSServers, grpcServer{
			ServerURI:      a,
			ChannelCreds:   []grpcChannelCred{creds},
			ServerFeatures: []string{"xds_v3"},
		})
	}
	if o.UpstreamCAFile != "" {
		b.CertificateProviders = map[string]grpcCertProv{wire.GRPCUpstreamCAProvider: {
			PluginName: "file_watcher",
			Config:     map[string]any{"ca_certificate_file": o.UpstreamCAFile, "refresh_interval": "600s"},
		}}
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render grpc bootstrap: %w", err)
	}
	return append(out, '\n'), nil
}
