package waf

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// crsKnownFailures are the tests of the suite gatehouse's service fails,
// each with the reason. The test fails if one of them starts passing (the
// list must shrink) or another test fails.
var crsKnownFailures = map[string]string{}

// TestCRSRegression drives the Core Rule Set's own regression tests through
// the ext_proc service. By default a deterministic subset runs (every
// 10th test, plus every response test); GATEHOUSE_CRS_FULL=1 runs all of
// them (make crs-full) and GATEHOUSE_CRS_REPORT=FILE writes the per-family
// table quoted in docs/security/waf.md.
func TestCRSRegression(t *testing.T) {
	full := os.Getenv("GATEHOUSE_CRS_FULL") == "1"
	cases, err := loadFTW()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 4000 {
		t.Fatalf("loaded %d tests from the coraza-coreruleset module, want the whole suite (> 4000)", len(cases))
	}
	svc, err := New(map[string]Policy{"ftw": ftwPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	client := startService(t, svc)
	var run []int
	for i, c := range cases {
		if full || i%10 == 0 || strings.HasPrefix(c.Family, "RESPONSE-") {
			run = append(run, i)
		}
	}
	results := make([]string, len(cases)) // "" pass, "skip: …", "fail: …"
	var wg sync.WaitGroup
	work := make(chan int)
	start := time.Now()
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := cases[i]
				if c.Skip != "" {
					results[i] = "skip: " + c.Skip
					continue
				}
				st, rh, rb := reflectResponse(c)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				ids, _, err := envoyExchange(ctx, client, "ftw", c.Protocol, c.Headers, c.Body, st, rh, rb, 8<<10)
				cancel()
				if err != nil {
					results[i] = "fail: " + err.Error()
					continue
				}
				if p := judge(c, ids); p != "" {
					results[i] = "fail: " + p
				}
			}
		}()
	}
	for _, i := range run {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)

	type fam struct{ pass, fail, skip int }
	fams := map[string]*fam{}
	var total fam
	skips := map[string][]string{}
	for _, i := range run {
		c, r := cases[i], results[i]
		f := fams[c.Family]
		if f == nil {
			f = &fam{}
			fams[c.Family] = f
		}
		reason, known := crsKnownFailures[c.Name]
		switch {
		case strings.HasPrefix(r, "skip: "):
			f.skip++
			total.skip++
			skips[strings.TrimPrefix(r, "skip: ")] = append(skips[strings.TrimPrefix(r, "skip: ")], c.Name)
		case r == "":
			f.pass++
			total.pass++
			if known {
				t.Errorf("%s %s passes now: remove it from crsKnownFailures (%s)", c.Family, c.Name, reason)
			}
		default:
			f.fail++
			total.fail++
			if !known {
				t.Errorf("%s %s: %s", c.Family, c.Name, strings.TrimPrefix(r, "fail: "))
			}
		}
	}
	rate := 100 * float64(total.pass) / float64(total.pass+total.fail)
	t.Logf("CRS regression: %d tests in %v: %d pass, %d fail, %d excluded: %.2f%% of applicable", len(run), elapsed.Round(time.Millisecond), total.pass, total.fail, total.skip, rate)
	if rate < 99 {
		t.Errorf("pass rate %.2f%% < 99%%", rate)
	}
	if out := os.Getenv("GATEHOUSE_CRS_REPORT"); out != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "| Family | Pass | Fail | Excluded | Pass rate |\n|---|---|---|---|---|\n")
		names := make([]string, 0, len(fams))
		for n := range fams {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := fams[n]
			r := "n/a"
			if f.pass+f.fail > 0 {
				r = fmt.Sprintf("%.2f%%", 100*float64(f.pass)/float64(f.pass+f.fail))
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %s |\n", n, f.pass, f.fail, f.skip, r)
		}
		fmt.Fprintf(&b, "| **all** | %d | %d | %d | %.2f%% |\n\nExcluded:\n", total.pass, total.fail, total.skip, rate)
		reasons := make([]string, 0, len(skips))
		for r := range skips {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			fmt.Fprintf(&b, "- %s: %s\n", r, strings.Join(skips[r], ", "))
		}
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
