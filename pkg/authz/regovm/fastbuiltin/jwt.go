package fastbuiltin

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// io.jwt.decode_verify is OPA's built-in behind a cache of its verified
// results. OPA's result for a token and a constraints object depends on
// the time only through the payload's exp and nbf claims: signature, alg,
// iss and aud checks are functions of the token and the constraints. So
// a verified result ([true, header, payload]) computed once is the result
// at any other time at which exp and nbf still pass, and those two checks
// are redone here exactly as OPA does them. Everything else (cache misses,
// results that are not verified, failing time checks, constraint objects
// with unexpected members or values, nested JWTs) is OPA's built-in.
func init() {
	register(ast.JWTDecodeVerify.Name, 2, jwtDecodeVerify)
}

var opaJWTDecodeVerify = opaBuiltin(ast.JWTDecodeVerify.Name)

// maxJWTCache bounds the verified results kept; when full the cache is
// dropped and refilled by the tokens in use.
const maxJWTCache = 4096

// maxJWTCacheKey bounds the keys (token and constraints) of the results
// cached, so that the cache is bounded in bytes too: a policy may take a
// constraint from the request. Results of longer ones are not cached.
const maxJWTCacheKey = 16 << 10

// jwtEntry is a verified result and the claims its validity depends on.
type jwtEntry struct {
	result   *ast.Term  // [true, header, payload], shared: never mutated
	exp, nbf ast.Number // "" when the payload has no such claim
	// expF, nbfF are exp and nbf as float64s when they are integers of
	// magnitude at most 2^53 (so exactly representable); see timeValid.
	expF, nbfF       float64
	expFast, nbfFast bool
}

var jwts = newBoundedCache[*jwtEntry](maxJWTCache)

func jwtDecodeVerify(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
	token, ok := a[0].Value.(ast.String)
	if !ok {
		return opaJWTDecodeVerify(bctx, a)
	}
	var buf [512]byte
	key, timeText, ok := jwtCacheKey(buf[:0], string(token), a[1].Value)
	if !ok {
		return opaJWTDecodeVerify(bctx, a)
	}
	return jwtVerifyKeyed(bctx, a, string(token), key, timeText)
}

// jwtVerifyKeyed is jwtDecodeVerify once the cache key of its arguments
// and the text of their time constraint are known.
func jwtVerifyKeyed(bctx *topdown.BuiltinContext, a []*ast.Term, token string, key []byte, timeText string) (*ast.Term, error) {
	if e, _ := jwts.get(key); e != nil {
		if now, ok := constraintTime(bctx, timeText); ok && e.timeValid(now) {
			return e.result, nil
		}
		return opaJWTDecodeVerify(bctx, a)
	}
	out, err := opaJWTDecodeVerify(bctx, a)
	if err == nil && len(key) <= maxJWTCacheKey {
		if e := newJWTEntry(token, out); e != nil {
			jwts.put(key, e)
		}
	}
	return out, err
}

// jwtConstraintNames are the constraints OPA knows, all strings but time.
var jwtConstraintNames = map[string]bool{"secret": true, "cert": true, "alg": true, "iss": true, "aud": true}

// jwtCacheKey appends to key an unambiguous encoding of the token and
// every member of the constraints object (so that no entry is ever used
// for another secret, certificate or constraint). It reports false for a
// constraints value OPA would reject or that is not modelled here. The
// time constraint's text, if any, is returned.
func jwtCacheKey(key []byte, token string, constraints ast.Value) ([]byte, string, bool) {
	o, ok := constraints.(ast.Object)
	if !ok {
		return nil, "", false
	}
	key = appendLenString(key, token)
	timeText := ""
	// Keys in sorted order (KeysIterator, unlike Foreach, takes no closure,
	// which would move key to the heap).
	for it := o.KeysIterator(); ; {
		k, more := it.Next()
		if !more {
			break
		}
		name, ok := k.Value.(ast.String)
		if !ok {
			return nil, "", false
		}
		switch val := o.Get(k).Value.(type) {
		case ast.String:
			if !jwtConstraintNames[string(name)] {
				return nil, "", false
			}
			key = append(key, 's')
			key = appendLenString(key, string(name))
			key = appendLenString(key, string(val))
		case ast.Number:
			if name != "time" {
				return nil, "", false
			}
			timeText = string(val)
			key = append(key, 'n')
			key = appendLenString(key, string(name))
			key = appendLenString(key, string(val))
		default:
			return nil, "", false
		}
	}
	return key, timeText, true
}

func appendLenString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// constraintTime is OPA's constraints.time: the time constraint, else the
// evaluation's time.now_ns, in nanoseconds as a float64; false where OPA
// errors.
func constraintTime(bctx *topdown.BuiltinContext, timeText string) (float64, bool) {
	if timeText == "" {
		if bctx == nil || bctx.Time == nil {
			return 0, false
		}
		n, ok := bctx.Time.Value.(ast.Number)
		if !ok {
			return 0, false
		}
		timeText = string(n)
	}
	// json.Number.Float64 is strconv.ParseFloat, correctly rounded; so is
	// the conversion of an int64, which is cheaper.
	if i, ok := plainInt(ast.Number(timeText)); ok {
		if i < 0 {
			return 0, false
		}
		return float64(i), true
	}
	t, err := strconv.ParseFloat(timeText, 64)
	if err != nil || t < 0 {
		return 0, false
	}
	return t, true
}

// timeValid redoes OPA's exp and nbf checks: both compare the time in
// seconds, formatted as strconv.FormatFloat(t/1e9, 'g', -1, 64), to the
// claim; the token is valid while that is below exp and not below nbf.
//
// The formatting is skipped for integer claims c with |c| <= 2^53 when
// |t/1e9| < 2^52: the shortest decimal D of the float f = t/1e9 lies in
// f's rounding interval, which holds no other float, and c is a float; so
// D < c iff f < c, D > c iff f > c, and when f == c, D is c itself (ulp(c)
// < 1, so no other decimal with as few digits as the integer c rounds to
// it). Comparing f with c is then OPA's comparison.
func (e *jwtEntry) timeValid(now float64) bool {
	f := now / 1000000000
	if f < 1<<52 && (e.exp == "" || e.expFast) && (e.nbf == "" || e.nbfFast) {
		return (e.exp == "" || f < e.expF) && (e.nbf == "" || f >= e.nbfF)
	}
	var buf [32]byte
	ct := ast.Number(strconv.AppendFloat(buf[:0], now/1000000000, 'g', -1, 64))
	if e.exp != "" && NumberCompare(ct, e.exp) >= 0 {
		return false
	}
	if e.nbf != "" && NumberCompare(ct, e.nbf) < 0 {
		return false
	}
	return true
}

// newJWTEntry returns the cache entry for OPA's result out, or nil when
// out is not a verified result or the token is nested (its outer header
// may name a content type).
func newJWTEntry(token string, out *ast.Term) *jwtEntry {
	if out == nil {
		return nil
	}
	arr, ok := out.Value.(*ast.Array)
	if !ok || arr.Len() != 3 || !arr.Elem(0).Equal(ast.InternedTerm(true)) {
		return nil
	}
	payload, ok := arr.Elem(2).Value.(ast.Object)
	if !ok || mayBeNested(token) {
		return nil
	}
	e := &jwtEntry{result: out}
	for _, c := range []struct {
		name string
		dst  *ast.Number
		f    *float64
		fast *bool
	}{{"exp", &e.exp, &e.expF, &e.expFast}, {"nbf", &e.nbf, &e.nbfF, &e.nbfFast}} {
		if v := payload.Get(ast.InternedTerm(c.name)); v != nil {
			n, ok := v.Value.(ast.Number)
			if !ok {
				return nil // OPA errors on these; it never verified them
			}
			*c.dst = n
			if i, ok := plainInt(n); ok && -1<<53 <= i && i <= 1<<53 {
				*c.f, *c.fast = float64(i), true
			}
		}
	}
	return e
}

// mayBeNested reports whether the token's header might carry a "cty"
// (content type) member, which OPA follows into a nested JWT; any escape
// sequence counts, since it could spell "cty".
func mayBeNested(token string) bool {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return true
	}
	dec, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	if err != nil {
		return true
	}
	return bytes.Contains(dec, []byte("cty")) || bytes.IndexByte(dec, '\\') >= 0
}
