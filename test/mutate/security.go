package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// target is one line of security.txt: the functions of a file whose
// mutants must all be killed, and the tests of its package that run on
// each mutant.
type target struct {
	file  string
	funcs []string
	run   string // go test -run pattern ("" runs every test of the package)
}

func (t target) pkg() string { return "./" + filepath.Dir(t.file) }

// readTargets reads security.txt: "FILE FUNC... [-run PATTERN]" per line.
func readTargets(name string) ([]target, error) {
	var out []target
	err := eachLine(name, func(n int, l string) error {
		fs := strings.Fields(l)
		t := target{}
		for i := 0; i < len(fs); i++ {
			switch {
			case fs[i] == "-run" && i+1 < len(fs):
				t.run = fs[i+1]
				i++
			case t.file == "":
				t.file = fs[i]
			default:
				t.funcs = append(t.funcs, fs[i])
			}
		}
		if t.file == "" || len(t.funcs) == 0 {
			return fmt.Errorf("%s:%d: want FILE FUNC... [-run PATTERN]", name, n)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

type outcome int

const (
	killed   outcome = iota // a test failed
	lived                   // every test passed
	timedOut                // the tests ran past the limit (counted as killed)
	unbuilt                 // the mutant does not compile (not counted)
)

// job is one mutant to test: n numbers its files and its result.
type job struct {
	t target
	m mutant
	n int
}

type result struct {
	m   mutant
	out outcome
}

// runSecurity mutates every function of the targets, one mutant at a time,
// through go's -overlay (the tree is never written), and runs the
// package's tests on each. It returns whether no mutant survived but the
// listed equivalents.
func runSecurity(w io.Writer, root, targetsFile, equivFile string, workers int, limit time.Duration, list bool, match *regexp.Regexp) (bool, error) {
	targets, err := readTargets(targetsFile)
	if err != nil {
		return false, err
	}
	equiv, err := readEquivalents(equivFile)
	if err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "gatehouse-mutate-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)

	var jobs []job
	for _, t := range targets {
		ms, err := findMutants(root, t.file, t.funcs)
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			if match.MatchString(m.String()) {
				jobs = append(jobs, job{t, m, len(jobs)})
			}
		}
	}
	if list {
		for _, j := range jobs {
			fmt.Fprintln(w, j.m)
		}
		fmt.Fprintf(w, "%d mutants in %d files\n", len(jobs), len(targets))
		return true, nil
	}
	fmt.Fprintf(w, "%d mutants in %d files, %d workers\n", len(jobs), len(targets), workers)

	// Trimming every few mutants per worker bounds the cache's growth to
	// a few hundred megabytes; a trim waits for the running mutants.
	guard := newCacheGuard(w, 4*workers)
	start := time.Now()
	results := make([]result, len(jobs))
	ch := make(chan job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				o, err := guardedTest(guard, root, tmp, j, limit)
				if terr := guard.done(); terr != nil && err == nil {
					err = terr
				}
				mu.Lock()
				if err != nil {
					fmt.Fprintf(w, "  error %s: %v\n", j.m, err)
					o = lived // an error proves nothing: reported as a survivor
				}
				results[j.n] = result{j.m, o}
				if o == lived && !isEquivalent(equiv, j.m) {
					fmt.Fprintf(w, "  lived %s\n", j.m)
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := guard.trim(); err != nil {
		fmt.Fprintf(w, "mutate: %v\n", err)
	}
	if guard.dir != "" {
		fmt.Fprintf(w, "build cache: %d MB of mutants' builds removed; %d MB free\n", guard.freed>>20, freeBytes(guard.dir)>>20)
	}
	// Only a run of every mutant can tell that an entry matches none.
	return summarizeSecurity(w, results, equiv, time.Since(start), match.String() == ""), nil
}

// guardedTest tests one mutant while no trim runs. A run that failed
// for a reason other than the tests (a full disk, say) is tried once more
// after a trim; if it fails again the error is returned, and the caller
// counts the mutant as a survivor.
func guardedTest(g *cacheGuard, root, tmp string, j job, limit time.Duration) (outcome, error) {
	release := g.testing()
	o, err := testMutant(root, tmp, j.t, j.m, j.n, limit)
	release()
	if err == nil {
		return o, nil
	}
	if terr := g.trim(); terr != nil {
		return 0, fmt.Errorf("%v (and then %v)", err, terr)
	}
	release = g.testing()
	defer release()
	o, err2 := testMutant(root, tmp, j.t, j.m, j.n, limit)
	if err2 != nil {
		return 0, fmt.Errorf("%v (again after trimming the build cache, %d MB free)", err2, freeBytes(tmp)>>20)
	}
	return o, nil
}

// testMutant runs the package's tests with the mutant in place of its
// file. A mutant that does not compile is not a test result.
func testMutant(root, tmp string, t target, m mutant, n int, limit time.Duration) (outcome, error) {
	abs, err := filepath.Abs(filepath.Join(root, m.file))
	if err != nil {
		return 0, err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return 0, err
	}
	mutFile := filepath.Join(tmp, fmt.Sprintf("m%d.go", n))
	if err := os.WriteFile(mutFile, m.apply(src), 0o600); err != nil {
		return 0, err
	}
	ov, err := json.Marshal(map[string]any{"Replace": map[string]string{abs: mutFile}})
	if err != nil {
		return 0, err
	}
	ovFile := filepath.Join(tmp, fmt.Sprintf("m%d.json", n))
	if err := os.WriteFile(ovFile, ov, 0o600); err != nil {
		return 0, err
	}
	defer os.Remove(mutFile)
	defer os.Remove(ovFile)

	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	args := []string{"test", "-overlay", ovFile, "-count=1", "-failfast", "-vet=off", "-timeout", limit.String()}
	if t.run != "" {
		args = append(args, "-run", t.run)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.pkg())...)
	cmd.Dir = root
	// The go command's work directory (the linked test binary) is in a
	// directory of the mutant's own, removed after it: a go command killed
	// at the time limit leaves its work directory behind.
	work := filepath.Join(tmp, fmt.Sprintf("w%d", n))
	if err := os.Mkdir(work, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	cmd.Env = append(os.Environ(), "GOTMPDIR="+work)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return timedOut, nil
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return lived, nil
	case !errors.As(err, &exit):
		return 0, fmt.Errorf("go test: %v", err)
	case strings.Contains(string(out), "[build failed]"), strings.Contains(string(out), "[setup failed]"):
		if strings.Contains(string(out), filepath.Base(m.file)+":") {
			return unbuilt, nil
		}
		return 0, fmt.Errorf("go test: %v\n%s", err, out)
	}
	// A failing test, a panic, or a binary that exited non-zero by itself:
	// the tests refused the mutant.
	return killed, nil
}

func isEquivalent(equiv []equivalent, m mutant) bool {
	k := equivalent{file: m.file, typ: m.kind(), code: m.code}.key()
	for _, e := range equiv {
		if e.key() == k {
			return true
		}
	}
	return false
}

func summarizeSecurity(w io.Writer, results []result, equiv []equivalent, took time.Duration, reportStale bool) bool {
	known := map[string]equivalent{}
	for _, e := range equiv {
		known[e.key()] = e
	}
	used := map[string]bool{}
	counts := map[outcome]int{}
	perFile := map[string][3]int{} // killed (incl. timed out), equivalent, lived
	var survivors []string
	for _, r := range results {
		counts[r.out]++
		pf := perFile[r.m.file]
		switch r.out {
		case killed, timedOut:
			pf[0]++
		case lived:
			k := equivalent{file: r.m.file, typ: r.m.kind(), code: r.m.code}.key()
			if _, ok := known[k]; ok {
				used[k] = true
				pf[1]++
				break
			}
			pf[2]++
			survivors = append(survivors, r.m.String())
		}
		perFile[r.m.file] = pf
	}
	files := make([]string, 0, len(perFile))
	for f := range perFile {
		files = append(files, f)
	}
	sort.Strings(files)
	fmt.Fprintf(w, "\n%-36s %7s %10s %6s\n", "file", "killed", "equivalent", "lived")
	for _, f := range files {
		fmt.Fprintf(w, "%-36s %7d %10d %6d\n", f, perFile[f][0], perFile[f][1], perFile[f][2])
	}
	fmt.Fprintf(w, "\n%d mutants: %d killed, %d timed out, %d not built, %d equivalent (equivalent.txt), %d survived; %s\n",
		len(results), counts[killed], counts[timedOut], counts[unbuilt], len(used), len(survivors), took.Round(time.Second))
	for _, e := range equiv {
		if reportStale && !used[e.key()] {
			fmt.Fprintf(w, "stale equivalent.txt entry (no such surviving mutant): %s\n", e)
		}
	}
	for _, s := range survivors {
		fmt.Fprintf(w, "SURVIVED %s\n", s)
	}
	return len(survivors) == 0
}
