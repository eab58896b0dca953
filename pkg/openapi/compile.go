// Package openapi is gatehouse's request validator: an external processing
// (ext_proc) processor, behind the pkg/extproc dispatcher, that checks each
// request against the OpenAPI 3 document its route names (path, query,
// header and cookie parameters, content type, JSON body against the
// schema, body size and nesting depth) and refuses what does not match
// with a 400 problem document before it reaches the upstream.
//
// Validation itself is kin-openapi's openapi3filter
// (github.com/getkin/kin-openapi): it covers OpenAPI 3.0 and 3.1
// parameter serialisation styles and JSON Schema, and is the validator
// most Go API gateways and frameworks use; writing another would be a
// second, less tested interpretation of the same specification.
package openapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Mode says what happens to a request that does not match the document.
type Mode string

const (
	// Enforce refuses it (400, or 413 past the body limit).
	Enforce Mode = "enforce"
	// LogOnly forwards it and records the failure in dynamic metadata.
	LogOnly Mode = "logOnly"
	// Off (responses only) does not validate.
	Off Mode = "off"
)

// Default limits. The body limit must not exceed the Envoy buffer limit
// the filter runs with (BUFFERED mode: past it Envoy answers 413 itself).
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxDepth     = 32
)

// Policy is one validation: a document and what to do with failures.
type Policy struct {
	// Document is the OpenAPI 3 document (YAML or JSON). External
	// references are not followed: a document is one file.
	Document []byte
	// Mode is Enforce or LogOnly for requests.
	Mode Mode
	// Responses is LogOnly or Off ("" is Off): a response is never refused,
	// as the upstream has already acted on the request.
	Responses Mode
	// MaxBodyBytes and MaxDepth bound a request body (0: the defaults).
	MaxBodyBytes int
	MaxDepth     int
}

// Validate reports contradictory or unknown settings.
func (p Policy) Validate() error {
	switch p.Mode {
	case Enforce, LogOnly:
	default:
		return fmt.Errorf("mode %q: want %s or %s", p.Mode, Enforce, LogOnly)
	}
	switch p.Responses {
	case "", Off, LogOnly:
	case Enforce:
		return fmt.Errorf("responses %q: responses can only be validated in %s mode (the upstream has already acted on the request)", p.Responses, LogOnly)
	default:
		return fmt.Errorf("responses %q: want %s or %s", p.Responses, LogOnly, Off)
	}
	if p.MaxBodyBytes < 0 || p.MaxDepth < 0 {
		return errors.New("limits must not be negative")
	}
	return nil
}

// compiled is a document loaded, validated and routed once per policy
// version, shared by every stream that runs it.
type compiled struct {
	name string
	// orig is the policy as given (before defaults), policy with them.
	orig      Policy
	policy    Policy
	router    routers.Router
	basePaths []string
}

// Check loads and checks a document the way the processor uses it; the
// policy package calls it to reject bad documents at load time.
func Check(p Policy) error {
	_, err := compile(p)
	return err
}

func compile(p Policy) (*compiled, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	orig := p
	if p.MaxBodyBytes == 0 {
		p.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if p.MaxDepth == 0 {
		p.MaxDepth = DefaultMaxDepth
	}
	loader := openapi3.NewLoader()
	// A document must not make gatehouse read files or fetch URLs.
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(p.Document)
	if err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid document: %w", err)
	}
	bases, err := basePaths(doc.Servers)
	if err != nil {
		return nil, err
	}
	// Requests reach the gateway under its own host name, not the
	// servers' ones: only the servers' paths are matched (basePaths), so
	// the router sees no servers.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route document: %w", err)
	}
	return &compiled{orig: orig, policy: p, router: r, basePaths: bases}, nil
}

// same says whether q is p (same document bytes, modes and limits).
func (p Policy) same(q Policy) bool {
	return bytes.Equal(p.Document, q.Document) && p.Mode == q.Mode && p.Responses == q.Responses &&
		p.MaxBodyBytes == q.MaxBodyBytes && p.MaxDepth == q.MaxDepth
}

// basePaths are the path parts of the servers' URLs ("" for a server at
// the root). A server variable in the path is refused: the base path
// would have to be guessed.
func basePaths(servers openapi3.Servers) ([]string, error) {
	var out []string
	for _, s := range servers {
		u, err := url.Parse(s.URL)
		if err != nil {
			return nil, fmt.Errorf("server %q: %w", s.URL, err)
		}
		p := strings.TrimSuffix(u.Path, "/")
		if strings.ContainsAny(p, "{}") {
			return nil, fmt.Errorf("server %q: a variable in the server's path is not supported", s.URL)
		}
		out = append(out, p)
	}
	return out, nil
}

// stripBase removes the longest matching server base path; ok is false
// when the document has servers and none matches.
func (c *compiled) stripBase(path string) (string, bool) {
	if len(c.basePaths) == 0 {
		return path, true
	}
	best, found := "", false
	for _, b := range c.basePaths {
		if (path == b || strings.HasPrefix(path, b+"/")) && len(b) >= len(best) {
			best, found = b, true
		}
	}
	if !found {
		return "", false
	}
	rest := path[len(best):]
	if rest == "" {
		rest = "/"
	}
	return rest, true
}
