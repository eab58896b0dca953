package peerauth

import "fmt"

// Reasons a handshake or a call is refused, as the metrics' reason label
// shows them.
const (
	reasonNoClientCert      = "no_client_cert"
	reasonExpired           = "expired"
	reasonNotYetValid       = "not_yet_valid"
	reasonUnknownCA         = "unknown_ca"
	reasonWrongUsage        = "wrong_key_usage"
	reasonInvalidCert       = "invalid_cert"
	reasonNoIdentity        = "no_gateway_identity"
	reasonAmbiguousIdentity = "ambiguous_identity"
	reasonNotTLS            = "not_tls"
	reasonHandshake         = "handshake_failed"

	ReasonUnauthenticated = "unauthenticated"
	ReasonNodeMismatch    = "node_mismatch"
	ReasonNoNode          = "no_node"
	ReasonDomainMismatch  = "domain_mismatch"
)

// refusal is why a peer was refused: a metric label and a message saying
// what is wrong and what to do.
type refusal struct {
	reason string
	msg    string
}

func refuse(reason, format string, args ...any) *refusal {
	return &refusal{reason: reason, msg: fmt.Sprintf(format, args...)}
}

func (r *refusal) Error() string { return "gatehouse refused the client: " + r.msg }
