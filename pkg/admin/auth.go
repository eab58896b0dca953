package admin

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// AuthConfig says who may use the admin API.
type AuthConfig struct {
	// Tokens are the accepted bearer tokens (LoadTokens).
	Tokens *Tokens
	// MetricsPublic leaves /metrics open; otherwise it needs a reader.
	MetricsPublic bool
	// Logger hears of refused requests (never a token); nil discards.
	Logger *slog.Logger
}

// openPaths answer without a token: probes of orchestrators and load
// balancers carry none.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true}

type callerKey struct{}

// Caller is the holder of the token a request was admitted with.
type Caller struct {
	Name string
	Role Role
}

// CallerOf returns the caller Authenticate admitted r's context with.
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Authenticate admits requests to next by bearer token: /healthz and
// /readyz are open, /metrics too with MetricsPublic; anything else needs
// "Authorization: Bearer <token>" of a token in cfg.Tokens (401 without
// one), and a reader may only read: GET, HEAD and explain (403 otherwise).
func Authenticate(next http.Handler, cfg AuthConfig) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] || (cfg.MetricsPublic && r.URL.Path == "/metrics") {
			next.ServeHTTP(w, r)
			return
		}
		tok, why := cfg.authenticate(r)
		if why != "" {
			log.Info("admin API request refused", "status", http.StatusUnauthorized, "reason", why,
				"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
			http.Error(w, "unauthorized: "+why+"; send Authorization: Bearer <token> (gatehouse token create; GATEHOUSE_TOKEN for the CLI)", http.StatusUnauthorized)
			return
		}
		if tok.Role != RoleAdmin && !readOnly(r) {
			log.Info("admin API request refused", "status", http.StatusForbidden, "reason", "reader token on a write",
				"caller", tok.Name, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "forbidden: token "+tok.Name+" has role reader, which may only read (GET); this needs an admin token", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, Caller{Name: tok.Name, Role: tok.Role})))
	})
}

// readOnly reports whether a request only reads: GET and HEAD, and the
// one POST that changes nothing, explain (its request is a JSON body). The
// path is compared exactly as sent, so no spelling of another path (a
// trailing slash, "..", a doubled slash) passes for it.
func readOnly(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return r.URL.Path == "/api/v1/explain" && r.URL.RawPath == ""
	}
	return false
}

// authenticate returns the request's token, or why there is none. The
// scheme is case-insensitive (RFC 9110, 11.1); the token is taken exactly
// as sent, so surrounding spaces make it a different token.
func (c AuthConfig) authenticate(r *http.Request) (Token, string) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return Token{}, "no token"
	case len(vals) > 1:
		return Token{}, "more than one Authorization header"
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Token{}, "not a bearer token"
	}
	if token == "" || len(token) > maxTokenLen {
		return Token{}, "malformed token"
	}
	tok, found := c.Tokens.lookup(token)
	if !found {
		return Token{}, "unknown token"
	}
	return tok, ""
}

func subtleEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
