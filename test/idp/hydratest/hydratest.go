// Package hydratest starts a real ORY Hydra (OAuth2 and OpenID Connect
// provider) on loopback ports for tests, registers clients, mints tokens
// with the client-credentials grant, revokes them, and stops the server by
// pid. The tests of the OAuth2 features talk to a real identity provider,
// never to a hand-written token endpoint.
//
// The binary comes from `make hydra` (cached under
// ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/hydra-v2.3.0/hydra) or from
// $GATEHOUSE_HYDRA. When it is missing a test fails with a message saying
// how to build it (or is skipped with GATEHOUSE_SKIP_MISSING=1).
package hydratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Version is the Hydra release the tests run.
const Version = "v2.3.0"

// Binary returns the path of the Hydra binary ($GATEHOUSE_HYDRA, or where
// `make hydra` caches it), or fails t (skips it with GATEHOUSE_SKIP_MISSING=1).
func Binary(t testing.TB) string {
	t.Helper()
	return gatehouseproc.CachedTool(t, "GATEHOUSE_HYDRA", "hydra-"+Version, "hydra", "hydra")
}

// Server is a running (or stopped) Hydra with an in-memory store.
type Server struct {
	t      testing.TB
	bin    string
	Public string // public API base URL (token, revoke, discovery, JWKS), no trailing slash
	Admin  string // admin API base URL (clients, introspection), no trailing slash
	Issuer string // the issuer Hydra writes in tokens and discovery (Public + "/")
	secret string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *gatehouseproc.LockedBuffer
}

// Start starts Hydra on free loopback ports (`hydra serve all --dev`, which
// allows plain HTTP on loopback; DSN=memory runs the migrations itself),
// waits until both APIs answer, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	p := testenv.FreePorts(t, 2) // below the ephemeral range: Restart reuses them
	s := &Server{
		t: t, bin: Binary(t), log: &gatehouseproc.LockedBuffer{},
		Public: fmt.Sprintf("http://127.0.0.1:%d", p[0]),
		Admin:  fmt.Sprintf("http://127.0.0.1:%d", p[1]),
		secret: randomHex(t, 24),
	}
	s.Issuer = s.Public + "/"
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("hydra log (last 4 KiB):\n%s", gatehouseproc.Tail(s.log.String(), 4096))
		}
	})
	s.Restart()
	return s
}

func (s *Server) ports() (string, string) {
	pub, _ := url.Parse(s.Public)
	adm, _ := url.Parse(s.Admin)
	return pub.Port(), adm.Port()
}

// Restart starts Hydra again on the same ports (after Kill). The store is
// in memory: clients and tokens are gone.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		s.t.Fatal("hydratest: Restart while Hydra runs")
	}
	pub, adm := s.ports()
	cmd := exec.Command(s.bin, "serve", "all", "--dev")
	// Only these variables: nothing from the environment of whoever runs
	// the tests reaches Hydra's configuration.
	cmd.Env = []string{
		"DSN=memory",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT=" + pub,
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT=" + adm,
		"URLS_SELF_ISSUER=" + s.Issuer,
		"SECRETS_SYSTEM=" + s.secret,
		"LOG_LEVEL=warn",
		"SQA_OPT_OUT=true", // no telemetry
	}
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("starting hydra: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	s.waitUp(30 * time.Second)
}

// Kill stops Hydra with SIGKILL (by pid) and waits for it to exit.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("hydra pid %d did not exit within 10s of SIGKILL", cmd.Process.Pid)
	}
}

func (s *Server) waitUp(bound time.Duration) {
	s.t.Helper()
	start := time.Now()
	for _, u := range []string{s.Public + "/health/ready", s.Admin + "/health/ready"} {
		for {
			if status, err := getStatus(http.DefaultClient, u); err == nil && status == http.StatusOK {
				break
			}
			s.mu.Lock()
			done := s.done
			s.mu.Unlock()
			select {
			case <-done:
				s.t.Fatalf("hydra exited before %s answered:\n%s", u, gatehouseproc.Tail(s.log.String(), 4096))
			default:
			}
			if time.Since(start) > bound {
				s.t.Fatalf("hydra: %s not ready within %v:\n%s", u, bound, gatehouseproc.Tail(s.log.String(), 4096))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Warm up: Hydra generates its signing keys on the first discovery or
	// JWKS request, which takes seconds on a loaded machine. Gatehouse's
	// discovery client gives up after 5 s by design, so the tests would
	// measure Hydra's key generation, not gatehouse: pay it here, bounded.
	// Under load Hydra's own server can close the connection while the
	// keys are being made (seen as EOF at load 7 to 15): ask again until
	// the bound, the keys are kept once made.
	warm := &http.Client{Timeout: bound}
	for _, u := range []string{s.Public + "/.well-known/openid-configuration", s.Public + "/.well-known/jwks.json"} {
		for attempt := 1; ; attempt++ {
			status, err := getStatus(warm, u)
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Since(start) > bound {
				s.t.Fatalf("hydra: warming up %s: status %d, error %v (attempt %d, %v since start):\n%s",
					u, status, err, attempt, time.Since(start).Round(time.Millisecond), gatehouseproc.Tail(s.log.String(), 4096))
			}
			s.t.Logf("hydra: warming up %s: status %d, error %v; asking again", u, status, err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.t.Logf("hydra ready after %v", time.Since(start).Round(time.Millisecond))
}

// Client is an OAuth2 client registered in Hydra.
type Client struct {
	ID, Secret string
}

// ClientOptions shape a client.
type ClientOptions struct {
	Scopes   []string // scopes the client may request
	JWT      bool     // access tokens are JWTs (signed with Hydra's JWKS) instead of opaque tokens
	Lifespan time.Duration
}

// CreateClient registers a client-credentials client with a random secret.
func (s *Server) CreateClient(o ClientOptions) Client {
	s.t.Helper()
	c := Client{ID: "client-" + randomHex(s.t, 6), Secret: randomHex(s.t, 24)}
	body := map[string]any{
		"client_id": c.ID, "client_secret": c.Secret,
		"grant_types":                []string{"client_credentials"},
		"scope":                      strings.Join(o.Scopes, " "),
		"token_endpoint_auth_method": "client_secret_basic",
		"access_token_strategy":      "opaque",
	}
	if o.JWT {
		body["access_token_strategy"] = "jwt"
	}
	if o.Lifespan > 0 {
		body["client_credentials_grant_access_token_lifespan"] = o.Lifespan.String()
	}
	b, _ := json.Marshal(body)
	resp, err := http.Post(s.Admin+"/admin/clients", "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatalf("hydra: creating client: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		out, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("hydra: creating client: %s: %s", resp.Status, out)
	}
	return c
}

// Token mints an access token for c with the client-credentials grant.
func (s *Server) Token(c Client, scopes ...string) string {
	s.t.Helper()
	tok, err := s.TryToken(c, scopes...)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// TryToken is Token returning the error (for example a scope the client may
// not request).
func (s *Server) TryToken(c Client, scopes ...string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.Public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret)) // RFC 6749 2.3.1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("hydra: token: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hydra: token: %s: %s", resp.Status, out)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(out, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("hydra: token: no access_token in %s", out)
	}
	return tr.AccessToken, nil
}

// Revoke revokes an access token of c (RFC 7009).
func (s *Server) Revoke(c Client, token string) {
	s.t.Helper()
	form := url.Values{"token": {token}}
	req, _ := http.NewRequest(http.MethodPost, s.Public+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("hydra: revoke: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("hydra: revoke: %s: %s", resp.Status, out)
	}
}

// IntrospectionURL is Hydra's RFC 7662 endpoint (admin API; Hydra's admin
// API takes no client authentication, callers may still send some).
func (s *Server) IntrospectionURL() string { return s.Admin + "/admin/oauth2/introspect" }

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// AccessTokenKeySet is the JSON Web Key Set Hydra signs JWT access tokens
// with; IDTokenKeySet the one of ID tokens. Both are published at the
// discovery document's jwks_uri.
const (
	AccessTokenKeySet = "hydra.jwt.access-token"
	IDTokenKeySet     = "hydra.openid.id-token"
)

// RotateKey creates a new RS256 signing key in a key set through Hydra's
// admin API (POST /admin/keys/{set}) and returns its kid: Hydra signs with
// the newest key of a set and publishes the public key at once.
func (s *Server) RotateKey(set string) string {
	s.t.Helper()
	kid := "rotated-" + randomHex(s.t, 6)
	b, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": kid, "use": "sig"})
	resp, err := http.Post(s.Admin+"/admin/keys/"+url.PathEscape(set), "application/json", bytes.NewReader(b))
	if err != nil {
		s.t.Fatalf("hydra: creating key: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		out, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("hydra: creating key in %s: %s: %s", set, resp.Status, out)
	}
	return kid
}

// getStatus GETs u and returns the status, the body read and dropped.
func getStatus(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}
