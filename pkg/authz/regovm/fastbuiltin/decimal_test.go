package fastbuiltin

import (
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestParseShortDec: parseShortDec takes every JSON number text with at
// most 19 significant digits (leading zeros not counted, trailing ones
// counted) and an exponent of 1 to maxExpDigits digits, and gives its
// exact value; it refuses everything else. A refusal would only send the
// comparison to parseDec, also exact, so no comparison test notices a
// parser that refused too much: this one does. The claim is decided here
// with a regexp and math/big, not with the package's own parsers.
func TestParseShortDec(t *testing.T) {
	grammar := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.([0-9]+))?([eE][+-]?([0-9]+))?$`)
	texts := append(append([]string{}, numberTexts...), oddTexts...)
	texts = append(texts, "-5", "-0.5", "0.001", "-1e-3", "1e+00005", "1e123456", "1E-5", "9999999999999999999",
		"99999999999999999999", "0.0000000000000000000000001", "1234567890.123456789", "1234567890.1234567891",
		"10000000000000000000", "1000000000000000000.0", "-", "-.5", "1.", "1e", "1e+", "1.5e-", "01", "-01", "1x", "1e5x")
	r := rand.New(rand.NewPCG(9, 10))
	for range 3000 {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.FormatUint(r.Uint64()>>r.IntN(64), 10))
		if r.IntN(2) == 0 {
			b.WriteByte('.')
			b.WriteString(strings.Repeat("0", r.IntN(4)))
			b.WriteString(strconv.FormatUint(r.Uint64()>>r.IntN(64), 10))
		}
		if r.IntN(2) == 0 {
			b.WriteString([]string{"e", "E", "e+", "e-", "E-"}[r.IntN(5)])
			b.WriteString(strconv.Itoa(r.IntN(400)))
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		m := grammar.FindStringSubmatch(s)
		want := m != nil
		if want {
			digits := strings.TrimLeft(m[1]+m[3], "0")
			want = len(digits) <= 19 && len(m[5]) <= maxExpDigits
		}
		d, ok := parseShortDec(s)
		if ok != want {
			t.Errorf("parseShortDec(%q) ok = %v, want %v", s, ok, want)
			continue
		}
		if !ok {
			continue
		}
		exact, _ := new(big.Rat).SetString(s)
		got := new(big.Rat).SetInt(new(big.Int).SetUint64(d.m))
		scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(int64(d.e)))), nil))
		if d.e < 0 {
			got.Quo(got, scale)
		} else {
			got.Mul(got, scale)
		}
		if d.neg {
			got.Neg(got)
		}
		if got.Cmp(exact) != 0 || d.neg != strings.HasPrefix(s, "-") || (d.m != 0) != (len(strconv.FormatUint(d.m, 10)) == d.nd) {
			t.Errorf("parseShortDec(%q) = %+v (%s), want %s", s, d, got.RatString(), exact.RatString())
		}
	}
}
