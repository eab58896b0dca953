package admin

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/xds/server"
)

func tokensFor(t *testing.T, lines ...string) *Tokens {
	t.Helper()
	tk, err := ParseTokens(strings.NewReader(strings.Join(lines, "\n")), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// authServer is the admin handler plus a write endpoint behind
// Authenticate; it returns the admin and reader tokens and the log.
func authServer(t *testing.T, metricsPublic bool) (http.Handler, string, string, *bytes.Buffer) {
	t.Helper()
	adminTok, adminLine, err := NewToken(RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	readerTok, readerLine, err := NewToken(RoleReader, "dash")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", Handler(Config{Gatherer: prometheus.NewRegistry(), Ready: func() bool { return true },
		Proxies: func() []server.ProxyStatus { return nil }, Status: func() any { return map[string]string{} }}))
	for _, p := range []string{"/api/v1/objects", "/api/v1/explain"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			c, _ := CallerOf(r.Context())
			w.Write([]byte("done by " + c.Name))
		})
	}
	var log bytes.Buffer
	h := Authenticate(mux, AuthConfig{Tokens: tokensFor(t, adminLine, readerLine), MetricsPublic: metricsPublic,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	return h, adminTok, readerTok, &log
}

func do(h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Every shape of a missing or wrong credential is 401 with a
// WWW-Authenticate challenge; the probes stay open; tokens never reach
// the log.
func TestAdminAuthRefusesBadCredentials(t *testing.T) {
	h, adminTok, readerTok, log := authServer(t, false)
	for _, p := range []string{"/healthz", "/readyz"} {
		if w := do(h, "GET", p); w.Code != 200 {
			t.Errorf("%s without a token: %d, want 200", p, w.Code)
		}
	}
	cases := map[string][]string{
		"missing":                 nil,
		"empty":                   {"Authorization", ""},
		"scheme only":             {"Authorization", "Bearer"},
		"scheme and space":        {"Authorization", "Bearer "},
		"garbage":                 {"Authorization", "garbage"},
		"unknown token":           {"Authorization", "Bearer gh_notatoken"},
		"basic":                   {"Authorization", "Basic " + adminTok},
		"token trailing space":    {"Authorization", "Bearer " + adminTok + " "},
		"token leading space":     {"Authorization", "Bearer  " + adminTok},
		"token truncated":         {"Authorization", "Bearer " + adminTok[:len(adminTok)-1]},
		"the stored hash":         {"Authorization", "Bearer sha256:" + strings.Repeat("0", 64)},
		"very long":               {"Authorization", "Bearer " + adminTok + strings.Repeat("A", 1<<16)},
		"two headers":             {"Authorization", "Bearer " + adminTok, "Authorization", "Bearer " + readerTok},
		"token in another header": {"X-Api-Key", adminTok},
	}
	for name, hdr := range cases {
		for _, path := range []string{"/api/v1/status", "/api/v1/objects", "/metrics"} {
			w := do(h, "GET", path, hdr...)
			if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s on %s: %d (WWW-Authenticate %q), want 401 with a Bearer challenge", name, path, w.Code, w.Header().Get("WWW-Authenticate"))
			}
		}
	}
	// Why, in the answer: an empty or over-long value is malformed (not
	// even hashed), anything else of the right shape unknown.
	for _, c := range []struct{ value, why string }{
		{"Bearer ", "malformed token"},
		{"Bearer " + strings.Repeat("A", maxTokenLen), "unknown token"},
		{"Bearer " + strings.Repeat("A", maxTokenLen+1), "malformed token"},
		{"Basic x", "not a bearer token"},
	} {
		if w := do(h, "GET", "/api/v1/status", "Authorization", c.value); !strings.Contains(w.Body.String(), c.why) {
			t.Errorf("%.20q: %q, want %q", c.value, w.Body.String(), c.why)
		}
	}
	// RFC 9110: the scheme is case-insensitive, the token is not.
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		if w := do(h, "GET", "/api/v1/objects", "Authorization", scheme+" "+adminTok); w.Code != 200 || w.Body.String() != "done by ops" {
			t.Errorf("scheme %q: %d %q", scheme, w.Code, w.Body.String())
		}
	}
	if w := do(h, "GET", "/api/v1/objects", "Authorization", "Bearer "+strings.ToUpper(adminTok)); w.Code != 401 {
		t.Errorf("upper-cased token: %d, want 401", w.Code)
	}
	if strings.Contains(log.String(), adminTok) || strings.Contains(log.String(), readerTok[3:12]) {
		t.Fatalf("a token reached the log:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "reason=\"unknown token\"") {
		t.Fatalf("refusals not logged:\n%s", log.String())
	}
}

// A reader may read and nothing else, whatever the method; an admin may
// write; /metrics needs a reader unless public.
func TestAdminAuthRoles(t *testing.T) {
	h, adminTok, readerTok, log := authServer(t, false)
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "post"} {
		w := do(h, m, "/api/v1/objects", "Authorization", "Bearer "+readerTok)
		if w.Code != http.StatusForbidden {
			t.Errorf("reader %s: %d, want 403", m, w.Code)
		}
		if w := do(h, m, "/api/v1/objects", "Authorization", "Bearer "+adminTok); w.Code != 200 {
			t.Errorf("admin %s: %d, want 200", m, w.Code)
		}
	}
	for _, m := range []string{"GET", "HEAD"} {
		if w := do(h, m, "/api/v1/objects", "Authorization", "Bearer "+readerTok); w.Code != 200 {
			t.Errorf("reader %s: %d, want 200", m, w.Code)
		}
	}
	// explain is a POST that only reads; no other path passes for it.
	if w := do(h, "POST", "/api/v1/explain", "Authorization", "Bearer "+readerTok); w.Code != 200 {
		t.Errorf("reader POST /api/v1/explain: %d, want 200", w.Code)
	}
	for _, p := range []string{"/api/v1/explain/", "/api/v1/explain/../apply", "//api/v1/explain", "/api/v1/Explain", "/api/v1/%65xplain", "/api/v1/apply?x=/api/v1/explain"} {
		if w := do(h, "POST", p, "Authorization", "Bearer "+readerTok); w.Code != http.StatusForbidden {
			t.Errorf("reader POST %s: %d, want 403", p, w.Code)
		}
	}
	if w := do(h, "GET", "/metrics", "Authorization", "Bearer "+readerTok); w.Code != 200 {
		t.Errorf("reader /metrics: %d", w.Code)
	}
	if !strings.Contains(log.String(), "caller=dash") {
		t.Errorf("403 not logged with the caller's name:\n%s", log.String())
	}
	pub, _, _, _ := authServer(t, true)
	if w := do(pub, "GET", "/metrics"); w.Code != 200 {
		t.Errorf("--metrics-public: /metrics without a token: %d", w.Code)
	}
	if w := do(pub, "GET", "/api/v1/status"); w.Code != 401 {
		t.Errorf("--metrics-public opened /api/v1/status: %d", w.Code)
	}
}

// A tokens file with a plaintext token, a bad role, a bad name or a
// repeated token is refused with the line number of each problem.
func TestParseTokensRefusesBadLines(t *testing.T) {
	_, good, err := NewToken(RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Fields(good)[0]
	file := strings.Join([]string{
		"# gatehouse admin tokens",   // 1
		"",                           // 2
		good,                         // 3
		"gh_abcdefplaintext admin x", // 4
		"s3cret",                     // 5
		hash + " root bob",           // 6
		hash + " reader",             // 7
		"sha256:ABC reader y",        // 8
		hash + " reader again",       // 9
		strings.Replace(hash, "sha256:", "sha256:", 1)[:len(hash)-1] + "f reader has space", // 10
		"sha256:" + strings.Repeat("1", 64) + " reader b@d!",                                // 11
	}, "\n")
	_, err = ParseTokens(strings.NewReader(file), "tokens.txt")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"tokens.txt:4: the first field looks like a plaintext token",
		"tokens.txt:5: not a stored token",
		`tokens.txt:6: role "root": want reader or admin`,
		"tokens.txt:7: want 3 fields",
		"tokens.txt:8: the hash must be sha256: followed by 64 lowercase hex digits",
		"tokens.txt:9: the same token as line 3",
		"tokens.txt:10: want 3 fields",
		`tokens.txt:11: name "b@d!"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := ParseTokens(strings.NewReader("# nothing\n"), "empty.txt"); err == nil || !strings.Contains(err.Error(), "empty.txt: no token") {
		t.Errorf("empty file: %v", err)
	}
	if tk, err := ParseTokens(strings.NewReader(good+"\n"), "ok.txt"); err != nil || len(tk.list) != 1 || tk.list[0].Name != "ops" {
		t.Errorf("good file: %v", err)
	}
}
