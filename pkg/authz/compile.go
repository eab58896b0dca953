package authz

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm"
	"github.com/gatehouse-dev/gatehouse/policies"
)

// state is an immutable, compiled Config; Check reads it through an
// atomic pointer, so an Update never blocks a Check.
type state struct {
	apiKeyAuth map[string]APIKeyAuth
	jwtAuth    map[string]JWTAuth
	intro      map[string]*introAuth
	consumers  map[string]Consumer
	keys       map[[32]byte]string // key digest -> consumer
	subjects   map[JWTSubject]string
	certAuth   map[string]bool
	certs      map[string]string // certificate identity -> consumer
	policies   map[string]*compiledPolicy
	maxBody    int
}

type compiledPolicy struct {
	allow    *Allow
	pq       *rego.PreparedEvalQuery
	prog     *regovm.Program // nil: topdown evaluates pq
	engine   string          // EngineIR, or EngineTopdown and why
	need     *inputNeed      // the input the policy can read; the rest is not built
	query    string
	failOpen bool
	hash     [32]byte // of query and modules: same hash, same prepared query
}

// library is parsed once per process; it never changes.
var library = policies.Library()

func buildState(ctx context.Context, cfg *Config, prev *state) (*state, error) {
	st := &state{
		apiKeyAuth: map[string]APIKeyAuth{},
		jwtAuth:    map[string]JWTAuth{},
		intro:      map[string]*introAuth{},
		consumers:  map[string]Consumer{},
		keys:       map[[32]byte]string{},
		subjects:   map[JWTSubject]string{},
		certAuth:   map[string]bool{},
		certs:      map[string]string{},
		policies:   map[string]*compiledPolicy{},
	}
	if cfg == nil {
		return st, nil
	}
	st.maxBody = cfg.MaxBodyBytes
	var errs []error
	for name, a := range cfg.APIKeyAuth {
		if (a.Header == "") == (a.Query == "") {
			errs = append(errs, fmt.Errorf("authentication %q: want exactly one of header or query", name))
			continue
		}
		a.Header = strings.ToLower(a.Header)
		st.apiKeyAuth[name] = a
	}
	for name, j := range cfg.JWTAuth {
		st.jwtAuth[name] = j
	}
	for name, on := range cfg.CertAuth {
		if on {
			st.certAuth[name] = true
		}
	}
	for _, name := range sortedKeys(cfg.IntrospectAuth) {
		var old *introAuth
		if prev != nil {
			old = prev.intro[name]
		}
		a, err := buildIntroAuth(cfg.IntrospectAuth[name], old)
		if err != nil {
			errs = append(errs, fmt.Errorf("authentication %q: %w", name, err))
			continue
		}
		st.intro[name] = a
	}
	for _, name := range sortedKeys(cfg.Consumers) {
		c := cfg.Consumers[name]
		c.Groups = slices.Clone(c.Groups)
		st.consumers[name] = c
		for _, k := range c.APIKeys {
			if other, dup := st.keys[k.SHA256]; dup {
				errs = append(errs, fmt.Errorf("consumer %q: key %q has the same hash as a key of consumer %q", name, k.ID, other))
				continue
			}
			st.keys[k.SHA256] = name
		}
		for _, s := range c.JWTSubjects {
			if other, dup := st.subjects[s]; dup && other != name {
				errs = append(errs, fmt.Errorf("consumer %q: jwt subject (%s, %s) already belongs to consumer %q", name, s.Issuer, s.Subject, other))
				continue
			}
			st.subjects[s] = name
		}
		for _, id := range c.Certificates {
			if other, dup := st.certs[id]; dup && other != name {
				errs = append(errs, fmt.Errorf("consumer %q: certificate identity %q already belongs to consumer %q", name, id, other))
				continue
			}
			st.certs[id] = name
		}
	}
	// Prepared queries are shared by content hash, with the previous
	// version and between policies of this one.
	reuse := map[[32]byte]*compiledPolicy{}
	if prev != nil {
		for _, p := range prev.policies {
			if p.pq != nil {
				reuse[p.hash] = p
			}
		}
	}
	for _, name := range sortedKeys(cfg.Policies) {
		p, err := compilePolicy(ctx, name, cfg.Policies[name], reuse)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st.policies[name] = p
		if p.pq != nil {
			reuse[p.hash] = p
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return st, nil
}

func compilePolicy(ctx context.Context, name string, p Policy, reuse map[[32]byte]*compiledPolicy) (*compiledPolicy, error) {
	if p.Allow != nil {
		if len(p.Modules) > 0 {
			return nil, fmt.Errorf("authorization %q: has both allow and rego", name)
		}
		a := &Allow{Groups: slices.Clone(p.Allow.Groups)}
		return &compiledPolicy{allow: a, failOpen: p.FailOpen}, nil
	}
	if len(p.Modules) == 0 {
		return nil, fmt.Errorf("authorization %q: needs allow or rego", name)
	}
	query := p.Query
	if query == "" {
		query = DefaultQuery
	}
	h := policyHash(query, p.Modules)
	if old, ok := reuse[h]; ok {
		// Same Rego and query: keep the prepared query, only failOpen may differ.
		cp := *old
		cp.failOpen = p.FailOpen
		return &cp, nil
	}
	opts := []func(*rego.Rego){rego.Query(query)}
	for _, file := range sortedKeys(p.Modules) {
		m, err := parseModule(file, p.Modules[file])
		if err != nil {
			return nil, fmt.Errorf("authorization %q: %w", name, err)
		}
		opts = append(opts, rego.ParsedModule(m))
	}
	for _, file := range sortedKeys(library) {
		if _, shadowed := p.Modules[file]; shadowed {
			continue
		}
		m, err := parseModule(file, library[file])
		if err != nil {
			return nil, fmt.Errorf("gatehouse library: %w", err)
		}
		opts = append(opts, rego.ParsedModule(m))
	}
	var compiler *ast.Compiler
	opts = append(opts, rego.CompilerHook(func(c *ast.Compiler) { compiler = c }))
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("authorization %q: %w", name, err)
	}
	need := needAll
	if q, err := ast.ParseBody(query); err == nil && compiler != nil {
		need = inputNeedOf(compiler, q)
	}
	cp := &compiledPolicy{pq: &pq, need: need, query: query, failOpen: p.FailOpen, hash: h, engine: EngineIR}
	if prog, why := compileIR(ctx, query, opts); prog != nil {
		cp.prog = prog
	} else {
		cp.engine = EngineTopdown + ": " + why
	}
	return cp, nil
}

// parseModule accepts Rego v1 and, for policies written for older
// opa-envoy-plugin releases, Rego v0 syntax. The v1 error is the one
// reported when neither parses: v1 is what new policies are written in.
func parseModule(file, src string) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err == nil {
		return m, nil
	}
	if m0, err0 := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV0}); err0 == nil {
		return m0, nil
	}
	return nil, err
}

func policyHash(query string, modules map[string]string) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s", len(query), query)
	for _, k := range sortedKeys(modules) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(modules[k]), modules[k])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
