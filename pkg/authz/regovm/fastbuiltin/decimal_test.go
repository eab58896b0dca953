package fastbuiltin

import (
	"github.com/open-policy-agent/opa/v1/ast"
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

// TestParseDec: parseDec takes every JSON number text (a leading zero
// standing alone) of at most maxDecLen bytes with an exponent of 1 to
// maxExpDigits digits, whatever its number of digits, and keeps its
// parts; it refuses everything else (NumberCompare then asks OPA, which
// would give the same answer slowly, or panic where OPA panics).
func TestParseDec(t *testing.T) {
	grammar := regexp.MustCompile(`^(-?)(0|[1-9][0-9]*)(\.([0-9]+))?([eE]([+-]?[0-9]+))?$`)
	long := "1" + strings.Repeat("2", 40)
	texts := append(append([]string{}, numberTexts...), oddTexts...)
	texts = append(texts, long, "-"+long, "0."+long, "-0.000"+long+"e-12", long+"e+99999", long+"e100000", "0"+long,
		strings.Repeat("9", maxDecLen), strings.Repeat("9", maxDecLen+1), "-"+strings.Repeat("9", maxDecLen-1), "1.", "-", "1e", long+"x")
	for _, s := range texts {
		m := grammar.FindStringSubmatch(s)
		want := m != nil && len(s) <= maxDecLen && len(strings.TrimLeft(m[6], "+-")) <= maxExpDigits
		d, ok := parseDec(s)
		if ok != want {
			t.Errorf("parseDec(%q) ok = %v, want %v", s, ok, want)
			continue
		}
		if !ok {
			continue
		}
		exp := 0
		if m[6] != "" {
			exp, _ = strconv.Atoi(m[6])
		}
		if d.neg != (m[1] == "-") || d.intp != m[2] || d.frac != m[4] || d.exp != exp {
			t.Errorf("parseDec(%q) = %+v, want neg %v, %q . %q e %d", s, d, m[1] == "-", m[2], m[4], exp)
		}
	}
}

// TestCompareLongDecimals: numbers past 19 significant digits (the
// parseDec path), with leading zeros before their first significant digit
// and exponents on either side, compare as OPA compares them.
func TestCompareLongDecimals(t *testing.T) {
	jsonNumber := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	r := rand.New(rand.NewPCG(11, 12))
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		b[0] = byte('1' + r.IntN(9))
		return string(b)
	}
	gen := func() string {
		s := ""
		if r.IntN(2) == 0 {
			s = "-"
		}
		switch r.IntN(3) {
		case 0: // 0.000ddd...
			s += "0." + strings.Repeat("0", r.IntN(6)) + digits(20+r.IntN(10))
		case 1: // ddd.ddd
			s += digits(1+r.IntN(12)) + "." + digits(20)
		default:
			s += digits(20 + r.IntN(10))
		}
		if r.IntN(2) == 0 {
			s += "e" + strconv.Itoa(r.IntN(30)-15)
		}
		return s
	}
	for range 20000 {
		x, y := gen(), gen()
		if p := x[:len(x)-1]; r.IntN(4) == 0 && jsonNumber.MatchString(p) {
			y = p // a prefix: most digits shared
		}
		a, b := ast.Number(x), ast.Number(y)
		if got, want := sign(Compare(a, b)), sign(ast.Compare(a, b)); got != want {
			t.Fatalf("Compare(%s, %s) = %d, ast.Compare = %d", x, y, got, want)
		}
	}
}
