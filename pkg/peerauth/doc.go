// Package peerauth authenticates the proxies that call gatehouse's gRPC
// port (xDS, ext_authz, rate limit) and is the one place that decides who a
// caller is.
//
// With a server certificate the port speaks TLS only; with a client CA it
// also requires a client certificate (mTLS) that the CA signs, that is
// valid now, that allows client authentication and that names exactly one
// Gateway of the trust domain:
//
//	URI SAN  spiffe://<trust-domain>/gateway/<name>
//	DNS SAN  <name>.gateway.<trust-domain>
//
// Every refused handshake is logged (never a key, never a whole
// certificate) and counted in gatehouse_peer_handshakes_refused_total by
// reason. The certificate, key and CA files are read again when they
// change on disk, so a renewal needs no restart.
package peerauth
