package server

import (
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
)

// Node identity under mTLS: a proxy's client certificate names one Gateway
// (peerauth), and it gets that Gateway's configuration only. A stream whose
// peer names none is refused when it opens; a request whose node names
// another Gateway ends the stream with PermissionDenied, whichever request
// of the stream it is, so a stream cannot move to another Gateway's group
// (node changes within the Gateway, e.g. to the proxyless group, are
// allowed as before). Without mTLS nothing here applies.

// mtls reports whether streams must carry a Gateway identity.
func (t *tracker) mtls() bool { return t.auth != nil && t.auth.MTLS() }

// admitStream refuses a stream whose peer did not authenticate as a
// Gateway when mTLS is on (the port's stream interceptor refuses it first;
// this keeps the xDS server fail-closed on its own).
func (t *tracker) admitStream(p *proxy) error {
	if !t.mtls() || p.identity != "" {
		return nil
	}
	return t.auth.RefuseCall(p.peer, peerauth.ServiceXDS, peerauth.ReasonUnauthenticated,
		"xDS requires a client certificate naming the proxy's Gateway (mTLS)")
}

// admitRequest checks a request's node against the stream's identity. n is
// the node as the request carries it: state of the world fills in the
// stream's first node when a later request has none; delta does not, so a
// nil node there stands for the node already checked, and a stream whose
// first request names none is refused (it would be served as no Gateway at
// all). p is nil for a stream the tracker never saw open.
func (t *tracker) admitRequest(p *proxy, n *corev3.Node) error {
	if !t.mtls() {
		return nil
	}
	if p == nil {
		return t.auth.RefuseCall(nil, peerauth.ServiceXDS, peerauth.ReasonUnauthenticated, "xDS request on a stream that was never opened")
	}
	if n == nil {
		if p.hasNode {
			return nil
		}
		return t.auth.RefuseCall(p.peer, peerauth.ServiceXDS, peerauth.ReasonNoNode,
			"the first xDS request must carry the node (node.cluster names the Gateway)")
	}
	if gw := n.GetCluster(); gw != p.identity {
		return t.auth.RefuseCall(p.peer, peerauth.ServiceXDS, peerauth.ReasonNodeMismatch,
			"the client certificate names Gateway "+p.identity+", but node "+strconv.Quote(short(n.GetId()))+
				" names node.cluster "+strconv.Quote(short(gw))+": a proxy gets only its own Gateway's configuration")
	}
	return nil
}

// short bounds a client-chosen string quoted in a log line or error.
func short(s string) string {
	const max = 128
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
