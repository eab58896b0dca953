package server

import (
	"net"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// withheldSecret is the name a secrets request is rewritten to when its
// stream may not receive private keys. No snapshot holds it, so the ADS
// cache sends nothing (it parks requests naming unknown resources): the
// proxy's HTTPS listeners keep warming instead of serving, which fails
// closed, and status says why.
const withheldSecret = "gatehouse/secrets-withheld"

// secretsWithheldNote is shown in the proxy's status.
const secretsWithheldNote = "TLS secrets withheld: this proxy is not on loopback and the xDS connection is not TLS"

// secretsAllowed reports whether private keys may be sent to a stream's
// peer (ENVOY-MAPPING.md: never to a peer off loopback unless the xDS
// connection uses TLS). Unix-socket peers are local.
func secretsAllowed(p *peer.Peer) bool {
	if p == nil {
		return false
	}
	if _, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return true
	}
	switch a := p.Addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}

// withholdSecrets rewrites a secrets request of a stream that may not have
// them; it reports whether it did.
func withholdSecrets(req *discoveryv3.DiscoveryRequest) bool {
	if req.GetTypeUrl() != resource.SecretType || len(req.ResourceNames) == 0 {
		return false
	}
	req.ResourceNames = []string{withheldSecret}
	return true
}
