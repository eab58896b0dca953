package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// report is the part of a gremlins JSON report (-o) this command reads
// (gremlins: internal/report/internal/output.go).
type report struct {
	pkg     string // from the report's file name
	seconds string // wall time of the run, from times.tsv
	Files   []struct {
		Name      string     `json:"file_name"`
		Mutations []mutation `json:"mutations"`
	} `json:"files"`
	Efficacy float64 `json:"test_efficacy"`
	Coverage float64 `json:"mutations_coverage"`
	Total    int     `json:"mutants_total"`
	Killed   int     `json:"mutants_killed"`
	Lived    int     `json:"mutants_lived"`
	Viable   int     `json:"mutants_not_viable"`
	Missed   int     `json:"mutants_not_covered"`
}

type mutation struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// Statuses gremlins writes (internal/mutator/mutator.go).
const (
	statusLived      = "LIVED"
	statusNotCovered = "NOT COVERED"
	statusTimedOut   = "TIMED OUT"
)

// readReports reads every DIR/*.json, named after its package with "/"
// written "_" (pkg_authz.json), and DIR/times.tsv (package, seconds).
func readReports(dir string) ([]*report, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no gremlins report (*.json) in %s", dir)
	}
	times := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(dir, "times.tsv")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if p, s, ok := strings.Cut(l, "\t"); ok {
				times[p] = s
			}
		}
	}
	sort.Strings(names)
	var out []*report
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		r := &report{}
		if err := json.Unmarshal(b, r); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		r.pkg = strings.ReplaceAll(strings.TrimSuffix(filepath.Base(n), ".json"), "_", "/")
		r.seconds = times[r.pkg]
		out = append(out, r)
	}
	return out, nil
}

// printSummary prints one row per package: the score gremlins calls
// efficacy is killed / (killed + lived), over the covered mutants;
// timed-out mutants count as killed (the test run did not pass).
func printSummary(w io.Writer, rs []*report) {
	fmt.Fprintf(w, "%-16s %7s %7s %6s %8s %9s %8s %9s %8s\n",
		"package", "mutants", "killed", "lived", "timedout", "uncovered", "notbuilt", "efficacy", "seconds")
	for _, r := range rs {
		timedOut := 0
		for _, f := range r.Files {
			for _, m := range f.Mutations {
				if m.Status == statusTimedOut {
					timedOut++
				}
			}
		}
		fmt.Fprintf(w, "%-16s %7d %7d %6d %8d %9d %8d %8.1f%% %8s\n",
			r.pkg, r.Total, r.Killed, r.Lived, timedOut, r.Missed, r.Viable, r.Efficacy, r.seconds)
	}
}

// fileOf is a report's file name relative to the module root: gremlins
// names files relative to the directory it ran on.
func fileOf(r *report, name string) string {
	return filepath.ToSlash(filepath.Join(r.pkg, name))
}

func reportsCover(rs []*report, file string) bool {
	for _, r := range rs {
		for _, f := range r.Files {
			if fileOf(r, f.Name) == file {
				return true
			}
		}
	}
	return false
}

func countInScope(rs []*report, scope scopeSet) int {
	n := 0
	for _, r := range rs {
		for _, f := range r.Files {
			if !scope.covers(fileOf(r, f.Name)) {
				continue
			}
			for _, m := range f.Mutations {
				if m.Status != statusNotCovered {
					n++
				}
			}
		}
	}
	return n
}
