package authz

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Decision is one Check outcome, for the decision log. It deliberately holds
// no header values, no query string and no body: credentials (Authorization,
// API keys, cookies) travel in those, so they never reach a log.
type Decision struct {
	ID       string    `json:"decision_id"`
	Time     time.Time `json:"time"`
	Gateway  string    `json:"gateway,omitempty"`
	Route    string    `json:"route,omitempty"`
	Policy   string    `json:"policy,omitempty"`
	Method   string    `json:"method,omitempty"`
	Path     string    `json:"path,omitempty"` // without the query string; valid UTF-8
	Consumer string    `json:"consumer"`
	// AuthenticatedBy names the Authentication that identified the caller
	// ("" when none did).
	AuthenticatedBy string `json:"authenticated_by,omitempty"`
	Allowed         bool   `json:"allowed"`
	// Status is the HTTP status sent on denial (401, 403, ...); 200 when allowed.
	Status int `json:"status"`
	// FailedOpen is set when the request was allowed only because the policy
	// says failOpen and its evaluation failed (an error or the time limit).
	FailedOpen bool `json:"failed_open,omitempty"`
	// Engine is what evaluated the Rego: EngineIR or EngineTopdown ("" when
	// no Rego ran).
	Engine   string        `json:"engine,omitempty"`
	Reasons  []string      `json:"reasons,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// newDecisionID returns 128 random bits in hex.
func newDecisionID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error (Go 1.24+); it panics if the
	// system's source fails, which no fallback could fix.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logPath strips the query (API keys may travel there) and makes the path
// printable, whatever bytes the client sent.
func logPath(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	const max = 1024
	if len(p) > max {
		p = p[:max] + "..."
	}
	return strings.ToValidUTF8(p, "\uFFFD")
}
