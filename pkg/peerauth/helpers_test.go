package peerauth

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// syncBuffer is a log sink the server's goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// echoRL is a rate-limit service that answers OK and names, in a
// response header, the Gateway the caller authenticated as.
type echoRL struct {
	rlsv3.UnimplementedRateLimitServiceServer
}

func (echoRL) ShouldRateLimit(ctx context.Context, _ *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	gw, ok := CallerGateway(ctx)
	if !ok {
		gw = "(none)"
	}
	return &rlsv3.RateLimitResponse{
		OverallCode:          rlsv3.RateLimitResponse_OK,
		ResponseHeadersToAdd: []*corev3.HeaderValue{{Key: "gateway", Value: gw}},
	}, nil
}

type testServer struct {
	addr string
	auth *Auth
	reg  *prometheus.Registry
	log  *syncBuffer
}

// startServer serves echoRL with cfg's TLS on a loopback port.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	s := &testServer{reg: prometheus.NewRegistry(), log: &syncBuffer{}}
	a, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(s.log, nil)), Registerer: s.reg})
	if err != nil {
		t.Fatal(err)
	}
	s.auth = a
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(a.Credentials()), grpc.UnaryInterceptor(a.UnaryInterceptor()), grpc.StreamInterceptor(a.StreamInterceptor()))
	rlsv3.RegisterRateLimitServiceServer(g, echoRL{})
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	s.addr = lis.Addr().String()
	return s
}

// call makes one rate-limit call for domain over a new connection made with
// creds, and returns the Gateway the server saw.
func (s *testServer) call(t *testing.T, creds credentials.TransportCredentials, domain string) (string, error) {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := rlsv3.NewRateLimitServiceClient(conn).ShouldRateLimit(ctx, &rlsv3.RateLimitRequest{Domain: domain})
	if err != nil {
		return "", err
	}
	return resp.GetResponseHeadersToAdd()[0].GetValue(), nil
}

func (s *testServer) handshakesRefused(reason string) float64 {
	return testutil.ToFloat64(s.auth.metrics.handshakes.WithLabelValues(reason))
}

func (s *testServer) callsRefused(service, reason string) float64 {
	return testutil.ToFloat64(s.auth.metrics.calls.WithLabelValues(service, reason))
}

// waitLog waits, within a generous bound, for the server's log to hold
// every part (a refused handshake is logged on the server's side of a
// connection the client may have already given up on).
func (s *testServer) waitLog(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l := s.log.String()
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log never held %q; log:\n%s", parts, l)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clientTLS trusts roots and presents certs (none if empty).
func clientTLS(roots *x509.CertPool, certs ...tls.Certificate) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs, ServerName: "localhost"})
}

var plaintext = insecure.NewCredentials()
