package server

import (
	"net"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/peer"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
)

// withheldSecret is the name a secrets request is rewritten to when its
// stream may not receive private keys. No snapshot holds it, so the ADS
// cache sends nothing (it parks requests naming unknown resources): the
// proxy's HTTPS listeners keep warming instead of serving, which fails
// closed, and status says why.
const withheldSecret = "gatehouse/secrets-withheld"

// secretsWithheldNote is shown in the status of a proxy connecting from
// addr whose secrets are withheld: why, and what to do.
func secretsWithheldNote(addr string) string {
	if addr == "" {
		addr = "an unknown address"
	}
	return "TLS secrets withheld: this proxy connects from " + addr + ", not loopback, without a client certificate naming its Gateway, " +
		"so its HTTPS listeners get no certificate and keep warming; connect it to gatehouse's xDS port over loopback (same host or pod), " +
		"or serve xDS with mTLS (--tls-cert, --tls-key, --client-ca) and give it a client certificate of its Gateway (docs/operations.md)"
}

// secretsAllowed reports whether private keys may be sent to a stream's
// peer: one on loopback or a Unix socket (local), or one that authenticated
// with a client certificate naming a Gateway (mTLS; the tracker then
// refuses every request whose node names another Gateway, so the keys go
// to the owning Gateway's proxies only). TLS alone is not enough: anyone
// can open a TLS connection.
func secretsAllowed(p *peer.Peer) bool {
	if p == nil {
		return false
	}
	if _, ok := peerauth.GatewayOf(p); ok {
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

// withholdSecrets rewrites every secrets request of a stream that may not
// have them, whatever it names: an empty list (legacy wildcard), "*"
// (explicit wildcard), names, or a mix would otherwise each reach secrets.
// The stream builds its subscription from the names after this callback
// returns (sotwads.go, as go-control-plane's pkg/server/sotw/v3/ads.go),
// so the rewritten
// request subscribes to withheldSecret only. It reports whether it
// rewrote.
func withholdSecrets(req *discoveryv3.DiscoveryRequest) bool {
	if req.GetTypeUrl() != resource.SecretType {
		return false
	}
	req.ResourceNames = []string{withheldSecret}
	return true
}
