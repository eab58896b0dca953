package translate

import (
	"fmt"
	"strings"
	"testing"
)

// The memoised results are the computed ones, errors included, for good
// and bad regexes, the first time and from the memo.
func TestRegexMemoMatchesTheComputation(t *testing.T) {
	for _, re := range []string{"^(GET|POST)$", "^POST$", "^GET$", "(", "a{2,1000}", "^" + strings.Repeat("x", memoKeyMax+1)} {
		wantN, wantErr := re2ProgramSize(re)
		for range 2 {
			n, err := re2ProgramSizeMemo(re)
			if n != wantN || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("%.40q: memo %d %v, computed %d %v", re, n, err, wantN, wantErr)
			}
		}
	}
	for re, want := range map[string]bool{"^(GET|POST)$": true, "^GET$": false, "(": false, "P.ST": true} {
		for range 2 {
			if got := matchesPost(re); got != want {
				t.Fatalf("matchesPost(%q) = %v, want %v", re, got, want)
			}
		}
	}
}

// A policy author choosing regexes cannot grow the memo without bound:
// past memoMax entries it starts again, and long regexes are not kept.
func TestRegexMemoIsBounded(t *testing.T) {
	var m memo[int]
	for i := range 3 * memoMax {
		m.get(fmt.Sprintf("r%d", i), func(string) int { return i })
	}
	m.get(strings.Repeat("y", memoKeyMax+1), func(string) int { return 0 })
	if n := len(m.m); n > memoMax {
		t.Fatalf("memo holds %d entries, bound %d", n, memoMax)
	}
	if _, ok := m.m[strings.Repeat("y", memoKeyMax+1)]; ok {
		t.Fatal("a regex over memoKeyMax was kept")
	}
}
