package main

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// tlsOptions secure the gRPC port (xDS, ext_authz, rate limit).
type tlsOptions struct {
	cert, key, clientCA, trustDomain string
	// Files on the proxies' hosts for Envoy's calls to ext_authz and rate
	// limit (the xDS connection's are in the proxy's bootstrap).
	proxyCert, proxyKey, proxyCA string
}

func (o *tlsOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.cert, "tls-cert", "", "certificate chain (PEM) of the gRPC port; with --tls-key the port speaks TLS only (files are re-read when they change)")
	f.StringVar(&o.key, "tls-key", "", "private key (PEM) of --tls-cert")
	f.StringVar(&o.clientCA, "client-ca", "", "CA bundle (PEM) that signs proxies' client certificates: the gRPC port then requires one (mTLS) naming the proxy's Gateway")
	f.StringVar(&o.trustDomain, "trust-domain", peerauth.DefaultTrustDomain, "trust domain of Gateway identities in client certificates: URI SAN spiffe://<trust-domain>/gateway/<name> or DNS SAN <name>.gateway.<trust-domain>")
	f.StringVar(&o.proxyCA, "proxy-tls-ca", wire.ProxyTLSCAFile, "with --tls-cert: CA file, on the Envoy host, with which Envoy verifies gatehouse when calling ext_authz and rate limit")
	f.StringVar(&o.proxyCert, "proxy-tls-cert", wire.ProxyTLSCertFile, "with --client-ca: the proxy's client certificate file, on the Envoy host, for its ext_authz and rate-limit calls")
	f.StringVar(&o.proxyKey, "proxy-tls-key", wire.ProxyTLSKeyFile, "with --client-ca: the key file of --proxy-tls-cert, on the Envoy host")
}

func (o *tlsOptions) enabled() bool { return o.cert != "" || o.key != "" || o.clientCA != "" }

// auth builds the port's TLS, or nil for plaintext.
func (o *tlsOptions) auth(reg prometheus.Registerer, log *slog.Logger) (*peerauth.Auth, error) {
	if !o.enabled() {
		return nil, nil
	}
	if o.cert == "" || o.key == "" {
		return nil, errors.New("--tls-cert and --tls-key must be given together (and --client-ca needs both)")
	}
	return peerauth.New(peerauth.Config{CertFile: o.cert, KeyFile: o.key, ClientCAFile: o.clientCA, TrustDomain: o.trustDomain},
		peerauth.Options{Logger: log, Registerer: reg})
}

// serviceTLS is how Envoy reaches ext_authz and rate limit: over TLS when
// the port speaks it, with the proxy's certificate when it requires mTLS.
func (o *tlsOptions) serviceTLS() *translate.ServiceTLS {
	if !o.enabled() {
		return nil
	}
	st := &translate.ServiceTLS{CAFile: o.proxyCA}
	if o.clientCA != "" {
		st.CertFile, st.KeyFile = o.proxyCert, o.proxyKey
	}
	return st
}

// grpcAuthOptions are the gRPC server options of the port's TLS.
func grpcAuthOptions(a *peerauth.Auth) []grpc.ServerOption {
	if a == nil {
		return nil
	}
	return []grpc.ServerOption{
		grpc.Creds(a.Credentials()),
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamInterceptor()),
	}
}

// tlsMode names the port's security for the start-up log line.
func tlsMode(a *peerauth.Auth) string {
	switch {
	case a == nil:
		return "plaintext"
	case a.MTLS():
		return "mTLS, trust domain " + a.TrustDomain()
	}
	return "TLS"
}
