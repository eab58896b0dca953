// Command mutate summarizes the JSON reports of a gremlins run (one per
// package, written by test/mutate/run.sh) and fails when a mutant in the
// security decisions survived.
//
// A mutant is in the security decisions when its file is listed in
// security.txt. It fails the run when it LIVED or was NOT COVERED (no test
// runs its line, so nothing could kill it), unless equivalent.txt lists it
// with a reason: a mutant that changes no behaviour cannot be killed.
//
//	go run ./test/mutate -reports DIR [-scope F] [-equivalent F] [-strict]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	reports := flag.String("reports", "", "directory of gremlins JSON reports (*.json) and times.tsv")
	scope := flag.String("scope", "test/mutate/security.txt", "files of the security decisions")
	equiv := flag.String("equivalent", "test/mutate/equivalent.txt", "mutants known to be equivalent, with a reason each")
	strict := flag.Bool("strict", false, "fail on a survivor in the security decisions")
	root := flag.String("root", ".", "module root the reports' file names are relative to")
	flag.Parse()
	if *reports == "" {
		fmt.Fprintln(os.Stderr, "mutate: -reports is required")
		os.Exit(2)
	}
	ok, err := run(os.Stdout, *reports, *scope, *equiv, *root, *strict)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(w io.Writer, reportDir, scopeFile, equivFile, root string, strict bool) (bool, error) {
	scope, err := readScope(scopeFile)
	if err != nil {
		return false, err
	}
	equiv, err := readEquivalents(equivFile)
	if err != nil {
		return false, err
	}
	rs, err := readReports(reportDir)
	if err != nil {
		return false, err
	}
	printSummary(w, rs)
	survivors, used, err := securitySurvivors(rs, scope, equiv, root)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\nsecurity decisions (%s): %d mutants tested, %d equivalent listed, %d surviving\n",
		scopeFile, countInScope(rs, scope), len(used), len(survivors))
	for _, s := range survivors {
		fmt.Fprintf(w, "  SURVIVED %s\n", s)
	}
	for _, e := range equiv {
		if !used[e.key()] && scope.covers(e.file) && reportsCover(rs, e.file) {
			fmt.Fprintf(w, "  stale equivalent.txt entry (no such surviving mutant): %s\n", e)
		}
	}
	return !strict || len(survivors) == 0, nil
}
