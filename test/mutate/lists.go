package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

// scopeSet is the files of the security decisions, relative to the module
// root (pkg/authz/service.go).
type scopeSet map[string]bool

func (s scopeSet) covers(file string) bool { return s[file] }

// readScope reads security.txt: "PACKAGE FILE..." per line, # comments.
func readScope(name string) (scopeSet, error) {
	s := scopeSet{}
	err := eachLine(name, func(n int, l string) error {
		fs := strings.Fields(l)
		if len(fs) < 2 {
			return fmt.Errorf("%s:%d: want a package directory and its files", name, n)
		}
		for _, f := range fs[1:] {
			s[path.Join(fs[0], f)] = true
		}
		return nil
	})
	return s, err
}

// equivalent is a mutant that cannot be killed because it changes no
// behaviour. It is named by file, mutator type and the text of its line
// (not the line number, which moves with every edit above it), so an entry
// whose line changed stops matching and the mutant is reported again.
type equivalent struct {
	file, typ, code, reason string
}

func (e equivalent) key() string { return e.file + "|" + e.typ + "|" + e.code }

func (e equivalent) String() string {
	return fmt.Sprintf("%s %s `%s` (%s)", e.file, e.typ, e.code, e.reason)
}

// readEquivalents reads equivalent.txt: "FILE | TYPE | CODE | REASON" per
// line, CODE being the mutated line without its indentation.
func readEquivalents(name string) ([]equivalent, error) {
	var out []equivalent
	err := eachLine(name, func(n int, l string) error {
		fs := strings.Split(l, " | ")
		if len(fs) != 4 {
			return fmt.Errorf("%s:%d: want FILE | TYPE | CODE | REASON", name, n)
		}
		for i := range fs {
			fs[i] = strings.TrimSpace(fs[i])
		}
		if fs[3] == "" {
			return fmt.Errorf("%s:%d: an equivalent mutant needs a reason", name, n)
		}
		out = append(out, equivalent{file: fs[0], typ: fs[1], code: fs[2], reason: fs[3]})
		return nil
	})
	return out, err
}

func eachLine(name string, fn func(n int, line string) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := fn(n, l); err != nil {
			return err
		}
	}
	return sc.Err()
}

// securitySurvivors lists the mutants in scope that lived or that no test
// reaches, less the listed equivalents; used holds the keys of the
// equivalents that matched.
func securitySurvivors(rs []*report, scope scopeSet, equiv []equivalent, root string) ([]string, map[string]bool, error) {
	known := map[string]equivalent{}
	for _, e := range equiv {
		known[e.key()] = e
	}
	used := map[string]bool{}
	var out []string
	for _, r := range rs {
		for _, f := range r.Files {
			file := fileOf(r, f.Name)
			if !scope.covers(file) {
				continue
			}
			var lines []string
			for _, m := range f.Mutations {
				if m.Status != statusLived && m.Status != statusNotCovered {
					continue
				}
				if lines == nil {
					b, err := os.ReadFile(path.Join(root, file))
					if err != nil {
						return nil, nil, err
					}
					lines = strings.Split(string(b), "\n")
				}
				code := ""
				if m.Line >= 1 && m.Line <= len(lines) {
					code = strings.TrimSpace(lines[m.Line-1])
				}
				k := equivalent{file: file, typ: m.Type, code: code}.key()
				if _, ok := known[k]; ok {
					used[k] = true
					continue
				}
				out = append(out, fmt.Sprintf("%s:%d:%d %s %s: %s", file, m.Line, m.Column, m.Type, m.Status, code))
			}
		}
	}
	sort.Strings(out)
	return out, used, nil
}
