package server

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// clientKind says which snapshot group kind a node belongs to: Envoy sets
// user_agent_name "envoy" (older builds leave it empty); anything else,
// such as grpc-go's "gRPC Go", is a proxyless client.
func clientKind(n *corev3.Node) translate.ClientKind {
	switch n.GetUserAgentName() {
	case "", "envoy":
		return translate.ClientEnvoy
	default:
		return translate.ClientGRPC
	}
}

// nodeKey is the group a node is served from: node.cluster names the Gateway.
func nodeKey(n *corev3.Node) translate.GroupKey {
	return translate.GroupKey{Gateway: n.GetCluster(), Client: clientKind(n)}
}

// nodeHash is the snapshot caches' node hash: GroupKey.String().
type nodeHash struct{}

func (nodeHash) ID(n *corev3.Node) string { return nodeKey(n).String() }
