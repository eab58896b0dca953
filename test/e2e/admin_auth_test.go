package e2e

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth/peerauthtest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// newToken runs `gatehouse token create` and returns the token and the
// tokens-file line.
func newToken(t *testing.T, role, name string) (token, line string) {
	t.Helper()
	out, err := run(t, "token", "create", "--role", role, "--name", name)
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("token create printed %q", out)
	}
	return strings.TrimSpace(lines[1]), strings.TrimSpace(lines[3])
}

// gatehouse serve --admin-tokens: the probes are open, the API needs a
// token (401), a reader cannot write (403), /metrics needs a reader; over
// --admin-tls-cert the API is HTTPS; the tokens never reach the log.
func TestServeAdminTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"gateway.yaml": gatewayYAML})
	adminTok, adminLine := newToken(t, "admin", "ops")
	readerTok, readerLine := newToken(t, "reader", "dash")
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# admin API\n"+adminLine+"\n"+readerLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := peerauthtest.NewCA(t, "admin CA")
	f := ca.WriteFiles(t, t.TempDir(), ca.Server(t))
	g := gatehouseproc.Start(t, gatehouseBin, "--policy-dir", dir, "--admin-tokens", tokens, "--admin-tls-cert", f.Cert, "--admin-tls-key", f.Key)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	// Ready, probed over HTTPS without a token.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get("https://" + g.AdminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("not ready over HTTPS after 20s: %v", err)
		}
	}
	get := func(method, path, token string) int {
		t.Helper()
		req, err := http.NewRequest(method, "https://"+g.AdminAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/api/v1/status", "", 401},
		{"GET", "/api/v1/status", "nope", 401},
		{"GET", "/metrics", "", 401},
		{"GET", "/api/v1/status", readerTok, 200},
		{"GET", "/metrics", readerTok, 200},
		{"POST", "/api/v1/status", readerTok, 403},
		{"DELETE", "/api/v1/status", readerTok, 403},
		{"GET", "/api/v1/status", adminTok, 200},
	} {
		if got := get(c.method, c.path, c.token); got != c.want {
			t.Errorf("%s %s (token %v): %d, want %d", c.method, c.path, c.token != "", got, c.want)
		}
	}
	// Plain HTTP to the HTTPS admin port gets nothing useful.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + g.AdminAddr + "/api/v1/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200")
		}
	}
	if l := g.Log(); strings.Contains(l, adminTok) || strings.Contains(l, readerTok) {
		t.Fatal("a token reached gatehouse's log")
	}
}

// Without tokens the admin API listens on loopback only; a tokens file
// with a plaintext token or a bad role is refused at start, naming the
// line.
func TestServeRefusesUnsafeAdminSetups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writePolicy(t, dir, map[string]string{"gateway.yaml": gatewayYAML})
	bad := filepath.Join(t.TempDir(), "tokens")
	_, good := newToken(t, "admin", "ops")
	if err := os.WriteFile(bad, []byte(good+"\ngh_plaintexttoken admin eve\n"+strings.Replace(good, " admin ops", " root bob", 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--admin-addr", "0.0.0.0:0"}, []string{"--admin-addr 0.0.0.0:0 is not a loopback address", "--admin-tokens"}},
		{[]string{"--admin-addr", ":0"}, []string{"is not a loopback address"}},
		{[]string{"--admin-tokens", bad}, []string{bad + ":2: the first field looks like a plaintext token", bad + `:3: role "root"`}},
		{[]string{"--metrics-public"}, []string{"--metrics-public needs --admin-tokens"}},
	} {
		out, err := run(t, append([]string{"serve", "--policy-dir", dir, "--xds-addr", "127.0.0.1:0"}, c.args...)...)
		if err == nil {
			t.Errorf("%v: serve started", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}
