package policy

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatehouse-dev/gatehouse/policies"
)

// regoResult is what compiling one module yielded.
type regoResult struct {
	errs    []regoErr
	version ast.RegoVersion
	pkg     ast.Ref             // the module's package path (data.x.y)
	rules   map[string]struct{} // first term of every rule head
}

type regoErr struct {
	row int
	msg string
}

// maxRegoErrors bounds the errors reported per module; OPA itself stops
// after a few, and more would bury the first.
const maxRegoErrors = 5

// regoCache memoizes compile results by file name and source: a reload
// that did not change a module does not compile it again (compiling is by
// far the most expensive part of validating an Authorization).
var regoCache = struct {
	sync.Mutex
	m map[string]*regoResult
}{m: map[string]*regoResult{}}

const regoCacheMax = 512

// compileRego parses and compiles one module. It parses with Rego v1 (OPA
// 1.x's syntax) and, if that fails, with v0, so policies written for
// opa-envoy-plugin before OPA 1.0 (allow { ... } without if) work
// unchanged; if both fail, the errors of the parse that got further are
// reported.
func compileRego(file, src string) *regoResult {
	key := file + "\x00" + src
	regoCache.Lock()
	if r, ok := regoCache.m[key]; ok {
		regoCache.Unlock()
		return r
	}
	regoCache.Unlock()
	r := compileRegoUncached(file, src)
	regoCache.Lock()
	if len(regoCache.m) >= regoCacheMax {
		clear(regoCache.m)
	}
	regoCache.m[key] = r
	regoCache.Unlock()
	return r
}

func compileRegoUncached(file, src string) (res *regoResult) {
	res = &regoResult{}
	// OPA is third-party code fed with user input: a panic in it must
	// become an error for this object, not take the control plane down.
	defer func() {
		if p := recover(); p != nil {
			res.errs = []regoErr{{msg: fmt.Sprintf("the Rego compiler failed: %v", p)}}
		}
	}()
	mod, version, err := parseRego(file, src)
	if err != nil {
		res.errs = regoErrors(err)
		return res
	}
	if mod == nil {
		res.errs = []regoErr{{row: 1, msg: "empty module: a Rego module starts with a package declaration"}}
		return res
	}
	res.version, res.pkg = version, mod.Package.Path.Copy()
	res.rules = map[string]struct{}{}
	for _, r := range mod.Rules {
		if ref := r.Head.Ref(); len(ref) > 0 {
			res.rules[termName(ref[0])] = struct{}{}
		}
	}
	mods, err := withLibrary(file, mod)
	if err != nil {
		res.errs = []regoErr{{msg: err.Error()}}
		return res
	}
	c := ast.NewCompiler().WithDefaultRegoVersion(version)
	c.Compile(mods)
	if c.Failed() {
		res.errs = regoErrors(c.Errors)
	}
	return res
}

func parseRego(file, src string) (*ast.Module, ast.RegoVersion, error) {
	mod, err := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err == nil {
		return mod, ast.RegoV1, nil
	}
	mod0, err0 := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV0})
	if err0 == nil {
		return mod0, ast.RegoV0, nil
	}
	if firstRow(err0) > firstRow(err) {
		err = err0
	}
	return nil, 0, err
}

func firstRow(err error) int {
	if errs := regoErrors(err); len(errs) > 0 {
		return errs[0].row
	}
	return 0
}

func regoErrors(err error) []regoErr {
	var errs ast.Errors
	var one *ast.Error
	switch {
	case errors.As(err, &errs):
	case errors.As(err, &one):
		errs = ast.Errors{one}
	default:
		return []regoErr{{row: 1, msg: err.Error()}}
	}
	var out []regoErr
	for _, e := range errs {
		if len(out) == maxRegoErrors {
			out = append(out, regoErr{row: out[len(out)-1].row, msg: fmt.Sprintf("%d more Rego errors not shown", len(errs)-maxRegoErrors)})
			break
		}
		row := 1
		if e.Location != nil && e.Location.Row > 0 {
			row = e.Location.Row
		}
		out = append(out, regoErr{row: row, msg: e.Code + ": " + e.Message})
	}
	return out
}

func termName(t *ast.Term) string {
	switch v := t.Value.(type) {
	case ast.Var:
		return string(v)
	case ast.String:
		return string(v)
	}
	return t.String()
}

// checkQuery checks that q (default data.envoy.authz.allow) is a plain
// reference into data: data followed by names, as opa-envoy-plugin's
// path setting is.
func checkQuery(o *objErrs, q string) (ast.Ref, bool) {
	if q == "" {
		q = DefaultRegoQuery
	}
	bad := func() (ast.Ref, bool) {
		o.add("spec.query", "%q is not a reference into data such as %s", q, DefaultRegoQuery)
		return nil, false
	}
	if strings.TrimSpace(q) != q {
		return bad()
	}
	ref, err := ast.ParseRef(q)
	if err != nil || len(ref) < 2 || !ref[0].Equal(ast.DefaultRootDocument) {
		return bad()
	}
	for _, t := range ref[1:] {
		if _, ok := t.Value.(ast.String); !ok {
			return bad()
		}
	}
	return ref, true
}

// checkQueryTarget rejects a query that the module can never define: one
// outside its package, or naming a rule the package does not have (a typo
// there would deny every request).
func checkQueryTarget(o *objErrs, q ast.Ref, res *regoResult) {
	pkg := res.pkg
	switch {
	case q.HasPrefix(pkg):
		if len(q) == len(pkg) {
			return
		}
		if _, ok := res.rules[termName(q[len(pkg)])]; !ok {
			o.add("spec.query", "%s names no rule of package %s (it has %s); the decision would always be undefined", q, pkg, strings.Join(sortedKeys(res.rules), ", "))
		}
	case pkg.HasPrefix(q):
	default:
		o.add("spec.query", "%s is outside the module's package %s; the decision would always be undefined", q, pkg)
	}
}

// library is gatehouse's shipped Rego library (package gatehouse.lib),
// parsed once: the authz service always loads it beside a policy, so a
// policy that imports data.gatehouse.lib must compile with it here too.
var library = sync.OnceValues(func() (map[string]*ast.Module, error) {
	out := map[string]*ast.Module{}
	for name, src := range policies.Library() {
		m, err := ast.ParseModuleWithOpts("gatehouse-library/"+name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("the shipped Rego library does not parse: %w", err)
		}
		out["gatehouse-library/"+name] = m
	}
	return out, nil
})

// withLibrary returns the modules to compile: mod plus the library, unless
// mod itself is (a version of) the library's package.
func withLibrary(file string, mod *ast.Module) (map[string]*ast.Module, error) {
	lib, err := library()
	if err != nil {
		return nil, err
	}
	mods := map[string]*ast.Module{file: mod}
	for name, m := range lib {
		if m.Package.Path.Equal(mod.Package.Path) {
			return map[string]*ast.Module{file: mod}, nil
		}
		mods[name] = m
	}
	return mods, nil
}
