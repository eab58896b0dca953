package authz

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// RegoTestResult is the outcome of one Rego test rule (test_*).
type RegoTestResult struct {
	File     string
	Line     int
	Package  string
	Name     string
	Pass     bool
	Skip     bool
	Err      string // evaluation error, if any
	Duration time.Duration
}

// RunRegoTests runs every test_ rule of the .rego files under fsys, as
// `opa test` does, with gatehouse's library (data.gatehouse.lib) loaded
// unless the directory defines that package itself. A Rego file that does
// not compile is an error naming the file and line.
func RunRegoTests(ctx context.Context, fsys fs.FS, timeout time.Duration) ([]RegoTestResult, error) {
	modules := map[string]*ast.Module{}
	hasLib := false
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || path.Ext(p) != ".rego" {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		m, err := parseModule(p, string(b))
		if err != nil {
			return err
		}
		if m.Package.Path.String() == "data.gatehouse.lib" {
			hasLib = true
		}
		modules[p] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rego tests: %w", err)
	}
	if !hasLib {
		for name, src := range library {
			m, err := parseModule(name, src)
			if err != nil {
				return nil, fmt.Errorf("gatehouse library: %w", err)
			}
			modules[name] = m
		}
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ch, err := tester.NewRunner().SetTimeout(timeout).Run(ctx, modules)
	if err != nil {
		return nil, fmt.Errorf("rego tests: %w", err)
	}
	var out []RegoTestResult
	for r := range ch {
		tr := RegoTestResult{
			Package:  strings.TrimPrefix(r.Package, "data."),
			Name:     r.Name,
			Pass:     r.Pass(),
			Skip:     r.Skip,
			Duration: r.Duration,
		}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		if r.Error != nil {
			tr.Err = r.Error.Error()
		}
		out = append(out, tr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}
