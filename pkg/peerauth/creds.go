package peerauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// DefaultTrustDomain is the trust domain of client certificates when
// Config.TrustDomain is empty.
const DefaultTrustDomain = "gatehouse"

// Config says where the gRPC port's certificates are.
type Config struct {
	// CertFile and KeyFile are the server's certificate chain and key (PEM).
	CertFile, KeyFile string
	// ClientCAFile is the CA bundle (PEM) that signs proxies' client
	// certificates; empty means TLS without client certificates.
	ClientCAFile string
	// TrustDomain is the trust domain of Gateway identities; empty means
	// DefaultTrustDomain.
	TrustDomain string
}

// Options are Auth's collaborators.
type Options struct {
	// Logger receives one line per refused peer; nil discards them.
	Logger *slog.Logger
	// Registerer receives the gatehouse_peer_* metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock certificates are checked against; time.Now if nil.
	Now func() time.Time
}

// Auth is the gRPC port's TLS: its credentials, who each peer is, and which
// calls a peer may make.
type Auth struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	mu      sync.Mutex
	cur     *loaded
	badSeen []stamp // the stamps of files last found unusable (logged once)
}

// New reads the files once (an unusable file is an error now, not at the
// first connection) and returns the port's Auth.
func New(cfg Config, opts Options) (*Auth, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key must be given together")
	}
	if cfg.TrustDomain == "" {
		cfg.TrustDomain = DefaultTrustDomain
	}
	if err := CheckTrustDomain(cfg.TrustDomain); err != nil {
		return nil, fmt.Errorf("--trust-domain: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	a := &Auth{cfg: cfg, log: opts.Logger, metrics: m, now: opts.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.cur, err = cfg.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// MTLS reports whether peers must present a client certificate.
func (a *Auth) MTLS() bool { return a.cfg.ClientCAFile != "" }

// TrustDomain is the trust domain of Gateway identities.
func (a *Auth) TrustDomain() string { return a.cfg.TrustDomain }

// current returns the files as they are now on disk, reading them again
// when they changed. A change that does not load (a renewal caught half
// written, a key that does not match) keeps the last good files in use,
// logged once per version of the files.
func (a *Auth) current() *loaded {
	a.mu.Lock()
	defer a.mu.Unlock()
	stamps, err := statAll(a.cfg.paths()...)
	if err == nil && sameStamps(stamps, a.cur.stamps) {
		return a.cur
	}
	if err == nil && sameStamps(stamps, a.badSeen) {
		return a.cur
	}
	next, lerr := a.cfg.load()
	if lerr == nil {
		a.cur, a.badSeen = next, nil
		a.log.Info("gRPC port certificates reloaded", "cert", a.cfg.CertFile, "client_ca", a.cfg.ClientCAFile)
		return a.cur
	}
	a.badSeen = stamps
	a.log.Warn("gRPC port certificates changed on disk but do not load; still using the previous ones", "err", lerr)
	return a.cur
}

// Credentials are the gRPC server's transport credentials.
func (a *Auth) Credentials() credentials.TransportCredentials {
	return serverCreds{TransportCredentials: credentials.NewTLS(&tls.Config{GetConfigForClient: a.configFor}), a: a}
}

// configFor builds one connection's TLS configuration from the files as
// they are now, so a new connection sees a renewed certificate or CA.
func (a *Auth) configFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cur := a.current()
	remote := "unknown"
	if hello.Conn != nil {
		remote = hello.Conn.RemoteAddr().String()
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"}, // gRPC is HTTP/2 only
		Certificates: []tls.Certificate{*cur.cert},
		// Resumed sessions would skip nothing (VerifyConnection runs on
		// them too) but need ticket keys shared across configurations;
		// proxies hold one long-lived connection, so full handshakes cost
		// little.
		SessionTicketsDisabled: true,
	}
	if cur.ca != nil {
		// Requested, not required, and verified below rather than by
		// crypto/tls, so that a missing, expired or foreign certificate is
		// refused with a reason that is logged and counted.
		c.ClientAuth = tls.RequestClientCert
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if _, r := a.verify(cs, cur.ca); r != nil {
				a.refusedHandshake(r, remote, cs.PeerCertificates)
				return r
			}
			return nil
		}
	}
	return c, nil
}

// verify checks a client's certificate chain against ca and returns the
// Gateway it names.
func (a *Auth) verify(cs tls.ConnectionState, ca *x509.CertPool) (string, *refusal) {
	if len(cs.PeerCertificates) == 0 {
		return "", refuse(reasonNoClientCert, "no client certificate: this port requires one signed by the client CA (mTLS)")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	now := a.now()
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         ca,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", classify(err, now)
	}
	return gatewayOf(leaf, a.cfg.TrustDomain)
}

func classify(err error, now time.Time) *refusal {
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil && now.Before(inv.Cert.NotBefore):
		return refuse(reasonNotYetValid, "the client certificate is not valid before %s", inv.Cert.NotBefore.UTC().Format(time.RFC3339))
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		at := ""
		if inv.Cert != nil {
			at = " at " + inv.Cert.NotAfter.UTC().Format(time.RFC3339)
		}
		return refuse(reasonExpired, "the client certificate expired%s: renew it", at)
	case errors.As(err, &unknown):
		return refuse(reasonUnknownCA, "the client certificate is not signed by the client CA (--client-ca)")
	case errors.As(err, &inv) && inv.Reason == x509.IncompatibleUsage:
		return refuse(reasonWrongUsage, "the client certificate does not allow client authentication (extended key usage clientAuth)")
	}
	return refuse(reasonInvalidCert, "the client certificate does not verify: %v", err)
}

// refusedHandshake logs and counts a refused client certificate. The log
// names the certificate (subject, issuer, serial, validity), never more.
func (a *Auth) refusedHandshake(r *refusal, remote string, chain []*x509.Certificate) {
	a.metrics.handshakes.WithLabelValues(r.reason).Inc()
	attrs := []any{"reason", r.reason, "remote", remote, "detail", r.msg}
	if len(chain) > 0 {
		c := chain[0]
		attrs = append(attrs, "subject", c.Subject.String(), "issuer", c.Issuer.String(),
			"serial", c.SerialNumber.String(), "not_after", c.NotAfter.UTC().Format(time.RFC3339))
	}
	a.log.Warn("refused a gRPC client's TLS handshake", attrs...)
}

// AuthInfo is a TLS peer as gatehouse authenticated it: Gateway is the
// Gateway its client certificate names (empty without mTLS).
type AuthInfo struct {
	credentials.TLSInfo
	Gateway string
}

// serverCreds attach the authenticated Gateway to each connection and
// count handshakes that fail before a certificate is looked at (a
// plaintext client, a protocol mismatch).
type serverCreds struct {
	credentials.TransportCredentials
	a *Auth
}

func (c serverCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		var r *refusal
		if !errors.As(err, &r) {
			reason := reasonHandshake
			var rec tls.RecordHeaderError
			if errors.As(err, &rec) {
				reason = reasonNotTLS
			}
			c.a.metrics.handshakes.WithLabelValues(reason).Inc()
			c.a.log.Info("refused a gRPC connection: TLS handshake failed (plaintext is refused when TLS is on)",
				"reason", reason, "remote", raw.RemoteAddr().String(), "err", err)
		}
		return nil, nil, err
	}
	ti, ok := info.(credentials.TLSInfo)
	if !ok {
		conn.Close()
		return nil, nil, fmt.Errorf("peerauth: unexpected auth info %T", info)
	}
	out := AuthInfo{TLSInfo: ti}
	if c.a.MTLS() {
		// The handshake verified the chain (VerifyConnection); this only
		// reads the identity it checked.
		if len(ti.State.PeerCertificates) == 0 {
			conn.Close()
			return nil, nil, errors.New("peerauth: mTLS handshake without a client certificate")
		}
		gw, r := gatewayOf(ti.State.PeerCertificates[0], c.a.cfg.TrustDomain)
		if r != nil {
			conn.Close()
			return nil, nil, r
		}
		out.Gateway = gw
	}
	return conn, out, nil
}

func (c serverCreds) Clone() credentials.TransportCredentials {
	return serverCreds{TransportCredentials: c.TransportCredentials.Clone(), a: c.a}
}

// GatewayOf returns the Gateway a peer authenticated as with its client
// certificate; ok is false for any other peer (plaintext, TLS without a
// client certificate, no peer).
func GatewayOf(p *peer.Peer) (gateway string, ok bool) {
	if p == nil {
		return "", false
	}
	ai, isOurs := p.AuthInfo.(AuthInfo)
	if !isOurs || ai.Gateway == "" {
		return "", false
	}
	return ai.Gateway, true
}

// CallerGateway is GatewayOf the peer of a call's context.
func CallerGateway(ctx context.Context) (string, bool) {
	p, _ := peer.FromContext(ctx)
	return GatewayOf(p)
}
