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
		Mutations []mutation `json:"mutations"`
	} `json:"files"`
	Efficacy float64 `json:"test_efficacy"`
	Total    int     `json:"mutants_total"`
	Killed   int     `json:"mutants_killed"`
	Lived    int     `json:"mutants_lived"`
	Viable   int     `json:"mutants_not_viable"`
	Missed   int     `json:"mutants_not_covered"`
}

type mutation struct {
	Status string `json:"status"`
}

// statusTimedOut is how gremlins writes a mutant whose tests ran past its
// limit (internal/mutator/mutator.go).
const statusTimedOut = "TIMED OUT"

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
