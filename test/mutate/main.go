// Command mutate is gatehouse's mutation testing (docs/testing.md).
//
//	go run ./test/mutate report -reports DIR
//	    summarizes the gremlins JSON reports of `make mutate` (one per
//	    package, written by test/mutate/run.sh): the score per package.
//	go run ./test/mutate security [-workers N]
//	    `make mutate-security`: mutates every function that security.txt
//	    lists (a comparison or logical operator, a negation, a boolean
//	    constant, an arithmetic operator), runs the package's tests on each
//	    mutant and fails if one survives that equivalent.txt does not list
//	    with a reason.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	root := fs.String("root", ".", "module root")
	var ok bool
	var err error
	switch os.Args[1] {
	case "report":
		dir := fs.String("reports", "", "directory of gremlins JSON reports (*.json) and times.tsv")
		_ = fs.Parse(os.Args[2:])
		if *dir == "" {
			usage()
		}
		var rs []*report
		if rs, err = readReports(*dir); err == nil {
			printSummary(os.Stdout, rs)
			ok = true
		}
	case "security":
		targets := fs.String("targets", "test/mutate/security.txt", "functions of the security decisions")
		equiv := fs.String("equivalent", "test/mutate/equivalent.txt", "surviving mutants that change no behaviour, with a reason each")
		workers := fs.Int("workers", 2, "mutants tested at once")
		limit := fs.Duration("timeout", 3*time.Minute, "limit of one mutant's test run (past it the mutant counts as killed)")
		list := fs.Bool("list", false, "list the mutants; test none")
		match := fs.String("match", "", "only the mutants whose description (as -list prints it) matches this regexp")
		_ = fs.Parse(os.Args[2:])
		var re *regexp.Regexp
		if re, err = regexp.Compile(*match); err == nil {
			ok, err = runSecurity(os.Stdout, *root, *targets, *equiv, *workers, *limit, *list, re)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mutate report -reports DIR | mutate security [-workers N] [-timeout D] [-list] [-match REGEXP]")
	os.Exit(2)
}
