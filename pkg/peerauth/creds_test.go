package peerauth

import (
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
)

const td = "example.org"

func mtlsServer(t *testing.T) (*testServer, *peerauthtest.CA) {
	t.Helper()
	ca := peerauthtest.NewCA(t, "gatehouse test CA")
	f := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	return startServer(t, Config{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA, TrustDomain: td}), ca
}

// Every kind of unacceptable client certificate is refused during the
// handshake, with a log line naming the reason and a metric; good ones are
// admitted and the call sees the Gateway the certificate names.
func TestMTLSHandshakes(t *testing.T) {
	s, ca := mtlsServer(t)
	other := peerauthtest.NewCA(t, "another CA")
	spiffe := []string{SPIFFEID(td, "edge")}
	cases := []struct {
		name   string
		leaf   *peerauthtest.Leaf // nil: no client certificate
		by     *peerauthtest.CA
		reason string // "" admitted as edge
	}{
		{"spiffe identity", &peerauthtest.Leaf{URIs: spiffe}, ca, ""},
		{"dns identity", &peerauthtest.Leaf{DNSNames: []string{DNSName(td, "edge")}}, ca, ""},
		{"no client certificate", nil, ca, reasonNoClientCert},
		{"expired", &peerauthtest.Leaf{URIs: spiffe, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}, ca, reasonExpired},
		{"not yet valid", &peerauthtest.Leaf{URIs: spiffe, NotBefore: time.Now().Add(time.Hour)}, ca, reasonNotYetValid},
		{"wrong CA", &peerauthtest.Leaf{URIs: spiffe}, other, reasonUnknownCA},
		{"server-only usage", &peerauthtest.Leaf{URIs: spiffe, NoUsage: true}, ca, reasonWrongUsage},
		{"no identity", &peerauthtest.Leaf{CommonName: "edge"}, ca, reasonNoIdentity},
		{"other trust domain", &peerauthtest.Leaf{URIs: []string{SPIFFEID("evil.org", "edge")}}, ca, reasonNoIdentity},
		{"two identities", &peerauthtest.Leaf{URIs: []string{SPIFFEID(td, "edge"), SPIFFEID(td, "other")}}, ca, reasonAmbiguousIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			creds := clientTLS(ca.Pool())
			if c.leaf != nil {
				creds = clientTLS(ca.Pool(), c.by.Issue(t, *c.leaf).TLS)
			}
			before := s.handshakesRefused(c.reason)
			gw, err := s.call(t, creds, "gatehouse/edge")
			if c.reason == "" {
				if err != nil || gw != "edge" {
					t.Fatalf("call = %q, %v; want admitted as edge", gw, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("call admitted as %q; want refused (%s)", gw, c.reason)
			}
			s.waitLog(t, "refused a gRPC client's TLS handshake", "reason="+c.reason)
			if got := s.handshakesRefused(c.reason) - before; got != 1 {
				t.Fatalf("gatehouse_peer_handshakes_refused_total{reason=%q} grew by %v, want 1", c.reason, got)
			}
		})
	}
	if l := s.log.String(); strings.Contains(l, "PRIVATE KEY") {
		t.Fatalf("log holds key material:\n%s", l)
	}
}

// Plaintext is refused when TLS is on.
func TestPlaintextRefused(t *testing.T) {
	s, _ := mtlsServer(t)
	if _, err := s.call(t, plaintext, "gatehouse/edge"); err == nil {
		t.Fatal("plaintext call admitted")
	}
	s.waitLog(t, "reason="+reasonNotTLS)
	if got := s.handshakesRefused(reasonNotTLS); got < 1 {
		t.Fatalf("not_tls refusals = %v, want >= 1", got)
	}
}

// TLS without --client-ca admits clients without a certificate, but they
// authenticate as no Gateway, and no call check applies.
func TestTLSWithoutClientCA(t *testing.T) {
	ca := peerauthtest.NewCA(t, "ca")
	f := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	s := startServer(t, Config{CertFile: f.Cert, KeyFile: f.Key})
	gw, err := s.call(t, clientTLS(ca.Pool()), "gatehouse/any")
	if err != nil || gw != "(none)" {
		t.Fatalf("call = %q, %v; want admitted with no Gateway", gw, err)
	}
	// A certificate is not even asked for, so one presented names nothing.
	gw, err = s.call(t, clientTLS(ca.Pool(), ca.Issue(t, peerauthtest.Leaf{URIs: []string{SPIFFEID(DefaultTrustDomain, "edge")}}).TLS), "gatehouse/edge")
	if err != nil || gw != "(none)" {
		t.Fatalf("call with a certificate = %q, %v; want admitted with no Gateway", gw, err)
	}
	if _, err := s.call(t, plaintext, "x"); err == nil {
		t.Fatal("plaintext call admitted")
	}
}

// A rate-limit call counts only against the caller's own Gateway's domain;
// a forwarded-client-cert header naming another Gateway changes nothing.
func TestRateLimitDomainOfCaller(t *testing.T) {
	s, ca := mtlsServer(t)
	edge := clientTLS(ca.Pool(), ca.Issue(t, peerauthtest.Leaf{URIs: []string{SPIFFEID(td, "edge")}}).TLS)
	if gw, err := s.call(t, edge, "gatehouse/edge"); err != nil || gw != "edge" {
		t.Fatalf("own domain: %q, %v", gw, err)
	}
	for _, domain := range []string{"gatehouse/other", "", "gatehouse/edge ", "gatehouse/edgex", "gatehouse/", strings.Repeat("x", 1<<16)} {
		_, err := s.call(t, edge, domain)
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("domain %.40q: %v, want PermissionDenied", domain, err)
		}
	}
	if got := s.callsRefused(ServiceRateLimit, ReasonDomainMismatch); got != 6 {
		t.Fatalf("domain_mismatch refusals = %v, want 6", got)
	}
	s.waitLog(t, "refused a gRPC call", "reason="+ReasonDomainMismatch, "certificate_gateway=edge")
}

// The key pair and the client CA are read again when they change on disk:
// a new connection sees the new server certificate and is checked against
// the new CA; a half-written renewal keeps the old files in use.
func TestReloadFromDisk(t *testing.T) {
	ca1 := peerauthtest.NewCA(t, "ca1")
	dir := t.TempDir()
	f := ca1.WriteFiles(t, dir, ca1.Server(t))
	s := startServer(t, Config{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA, TrustDomain: td})
	leaf := peerauthtest.Leaf{URIs: []string{SPIFFEID(td, "edge")}}
	old := clientTLS(ca1.Pool(), ca1.Issue(t, leaf).TLS)
	if _, err := s.call(t, old, "gatehouse/edge"); err != nil {
		t.Fatal(err)
	}

	// Half written: a new certificate whose key is not there yet.
	ca2 := peerauthtest.NewCA(t, "ca2")
	p2 := ca2.Server(t)
	if err := os.WriteFile(f.Cert, p2.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.call(t, old, "gatehouse/edge"); err != nil {
		t.Fatalf("a half-written renewal broke new connections: %v", err)
	}
	s.waitLog(t, "do not load; still using the previous ones")

	// Completed, CA included, by renaming over the files.
	next := ca2.WriteFiles(t, t.TempDir(), p2)
	for from, to := range map[string]string{next.Cert: f.Cert, next.Key: f.Key, next.CA: f.CA} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	fresh := clientTLS(ca2.Pool(), ca2.Issue(t, leaf).TLS)
	if gw, err := s.call(t, fresh, "gatehouse/edge"); err != nil || gw != "edge" {
		t.Fatalf("after renewal, a client of the new CA: %q, %v", gw, err)
	}
	if _, err := s.call(t, old, "gatehouse/edge"); err == nil {
		t.Fatal("after renewal, a client trusting only the old CA still connected")
	}
	// A client certificate of the old CA, trusting the new server.
	oldCert := clientTLS(ca2.Pool(), ca1.Issue(t, leaf).TLS)
	if _, err := s.call(t, oldCert, "gatehouse/edge"); err == nil {
		t.Fatal("after renewal, a client certificate of the old CA was admitted")
	}
	s.waitLog(t, "certificates reloaded", "reason="+reasonUnknownCA)
}

// Unusable files are refused at start with the flag to fix.
func TestNewRefusesBadFiles(t *testing.T) {
	ca := peerauthtest.NewCA(t, "ca")
	f := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	expired := ca.WriteFiles(t, t.TempDir(), ca.Issue(t, peerauthtest.Leaf{Server: true, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}))
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"key only", Config{KeyFile: f.Key}, "--tls-cert and --tls-key"},
		{"missing cert", Config{CertFile: f.Dir + "/nope.pem", KeyFile: f.Key}, "nope.pem"},
		{"key mismatch", Config{CertFile: f.Cert, KeyFile: expired.Key}, "--tls-cert"},
		{"expired", Config{CertFile: expired.Cert, KeyFile: expired.Key}, "expired"},
		{"CA not PEM", Config{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.Key}, "no PEM certificate"},
		{"bad trust domain", Config{CertFile: f.Cert, KeyFile: f.Key, TrustDomain: "Evil/Domain"}, "--trust-domain"},
	}
	for _, c := range cases {
		_, err := New(c.cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
}
