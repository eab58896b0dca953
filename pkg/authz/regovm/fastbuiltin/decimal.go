package fastbuiltin

// Exact comparison of decimal number texts, without math/big.

// shortDec is a number with at most 19 significant digits: the value is
// (-1)^neg * m * 10^e, m having nd digits (m == 0: zero).
type shortDec struct {
	neg bool
	m   uint64
	nd  int
	e   int
}

// parseShortDec parses what parseDec parses when the number has at most
// 19 significant digits, in one pass and without the digit-by-digit
// comparison parseDec's results need.
func parseShortDec(s string) (shortDec, bool) {
	var d shortDec
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for ; i < len(s) && isDigit(s[i]); i++ {
		if !d.addDigit(s[i]) {
			return shortDec{}, false
		}
	}
	if n := i - start; n == 0 || (n > 1 && s[start] == '0') {
		return shortDec{}, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for ; i < len(s) && isDigit(s[i]); i++ {
			if !d.addDigit(s[i]) {
				return shortDec{}, false
			}
			d.e--
		}
		if i == start {
			return shortDec{}, false
		}
	}
	e, i, ok := parseExp(s, i)
	if !ok {
		return shortDec{}, false
	}
	d.e += e
	return d, i == len(s)
}

// parseExp parses the exponent part ([eE][+-]?[0-9]{1,maxExpDigits}) at
// s[i:], if there is one: its value and the index after it.
func parseExp(s string, i int) (e, next int, ok bool) {
	if i >= len(s) || (s[i] != 'e' && s[i] != 'E') {
		return 0, i, true
	}
	i++
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for ; i < len(s) && isDigit(s[i]); i++ {
		e = e*10 + int(s[i]-'0')
	}
	if i == start || i-start > maxExpDigits {
		return 0, i, false
	}
	if neg {
		e = -e
	}
	return e, i, true
}

// addDigit appends a digit to m, reporting false past 19 significant
// digits (leading zeros are not significant).
func (d *shortDec) addDigit(c byte) bool {
	if d.m == 0 && c == '0' {
		return true
	}
	if d.nd == 19 {
		return false
	}
	d.m = d.m*10 + uint64(c-'0')
	d.nd++
	return true
}

var pow10s = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// cmp compares two short decimals exactly: by sign, then by the position
// of the leading digit (nd+e), then by the mantissas scaled to the same
// number of digits (at most 19, so no overflow).
func (d shortDec) cmp(o shortDec) int {
	switch {
	case d.m == 0 && o.m == 0:
		return 0
	case d.m == 0:
		return signOf(!o.neg)
	case o.m == 0:
		return signOf(d.neg)
	case d.neg != o.neg:
		return signOf(d.neg)
	}
	var c int
	if dp, op := d.nd+d.e, o.nd+o.e; dp != op {
		c = signOf(dp < op)
	} else {
		dm, om := d.m, o.m
		if d.nd < o.nd {
			dm *= pow10s[o.nd-d.nd]
		} else {
			om *= pow10s[d.nd-o.nd]
		}
		switch {
		case dm < om:
			c = -1
		case dm > om:
			c = 1
		}
	}
	if d.neg {
		return -c
	}
	return c
}

// dec is a parsed JSON number: the value is
// (-1)^neg * 0.D * 10^(len(intp)+exp) where D = intp ++ frac.
type dec struct {
	neg  bool
	intp string
	frac string
	exp  int
}

// maxExpDigits and maxDecLen bound the numbers compared here, to those on
// which ast.NumberCompare cannot panic: for some others it parses the text
// with big.Rat.SetString, which rejects (and OPA then panics on) decimal
// exponents beyond 1e6 once the fraction digits are counted in.
const (
	maxExpDigits = 5
	maxDecLen    = 4096
)

// parseDec parses s in JSON's number grammar, except that a leading zero
// must stand alone: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,5})?,
// at most maxDecLen bytes.
func parseDec(s string) (dec, bool) {
	var d dec
	if len(s) > maxDecLen {
		return dec{}, false
	}
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	d.intp = s[start:i]
	if len(d.intp) == 0 || (len(d.intp) > 1 && d.intp[0] == '0') {
		return dec{}, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		d.frac = s[start:i]
		if len(d.frac) == 0 {
			return dec{}, false
		}
	}
	e, i, ok := parseExp(s, i)
	if !ok {
		return dec{}, false
	}
	d.exp = e
	if i != len(s) {
		return dec{}, false
	}
	return d, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digit returns the i-th digit of D = intp ++ frac, '0' past its end.
func (d *dec) digit(i int) byte {
	if i < len(d.intp) {
		return d.intp[i]
	}
	i -= len(d.intp)
	if i < len(d.frac) {
		return d.frac[i]
	}
	return '0'
}

// lead returns the index in D of the first nonzero digit, or -1 for zero.
func (d *dec) lead() int {
	n := len(d.intp) + len(d.frac)
	for i := 0; i < n; i++ {
		if d.digit(i) != '0' {
			return i
		}
	}
	return -1
}

// cmp compares two parsed numbers exactly.
func (d dec) cmp(o dec) int {
	dl, ol := d.lead(), o.lead()
	switch {
	case dl < 0 && ol < 0:
		return 0 // -0 == 0, as in OPA
	case dl < 0:
		return signOf(!o.neg)
	case ol < 0:
		return signOf(d.neg)
	case d.neg != o.neg:
		return signOf(d.neg)
	}
	m := d.cmpMagnitude(o, dl, ol)
	if d.neg {
		return -m
	}
	return m
}

// signOf returns -1 if neg, else 1.
func signOf(neg bool) int {
	if neg {
		return -1
	}
	return 1
}

// cmpMagnitude compares |d| and |o|, both nonzero, whose first nonzero
// digits are at dl and ol.
func (d *dec) cmpMagnitude(o dec, dl, ol int) int {
	// Position of the leading digit: |d| = 0.d_dl... * 10^dp.
	dp := len(d.intp) - dl + d.exp
	op := len(o.intp) - ol + o.exp
	switch {
	case dp < op:
		return -1
	case dp > op:
		return 1
	}
	dn := len(d.intp) + len(d.frac) - dl
	on := len(o.intp) + len(o.frac) - ol
	for i := 0; i < dn || i < on; i++ {
		a, b := d.digit(dl+i), o.digit(ol+i)
		if a != b {
			if a < b {
				return -1
			}
			return 1
		}
	}
	return 0
}
