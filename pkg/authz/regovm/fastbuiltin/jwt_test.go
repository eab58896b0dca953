package fastbuiltin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// hs256 makes an HS256 JWT with the given header and payload JSON.
func hs256(header, payload, secret string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

const stdHeader = `{"alg":"HS256","typ":"JWT"}`

func secretConstraints(secret string, extra ...*ast.Term) *ast.Term {
	items := [][2]*ast.Term{ast.Item(ast.StringTerm("secret"), ast.StringTerm(secret))}
	for i := 0; i+1 < len(extra); i += 2 {
		items = append(items, ast.Item(extra[i], extra[i+1]))
	}
	return ast.ObjectTerm(items...)
}

// jwtDifferential checks the native built-in against OPA's at time now,
// and returns the native result.
func jwtDifferential(t *testing.T, now time.Time, token, constraints *ast.Term) *ast.Term {
	t.Helper()
	bctx := testBctx(now)
	args := []*ast.Term{token, constraints}
	got, gotErr := Lookup("io.jwt.decode_verify")(bctx, args)
	want, wantErr := CallOPA("io.jwt.decode_verify", bctx, args)
	sameResult(t, "io.jwt.decode_verify", args, got, gotErr, want, wantErr)
	return got
}

func isCached(token, constraints *ast.Term) bool {
	key, _, ok := jwtCacheKey(nil, string(token.Value.(ast.String)), constraints.Value)
	e, _ := jwts.get(key)
	return ok && e != nil
}

func TestJWTTimeChecksOnCacheHits(t *testing.T) {
	nbf, exp := fixedNow.Unix(), fixedNow.Unix()+3600
	token := ast.StringTerm(hs256(stdHeader, fmt.Sprintf(`{"role":"guest","nbf":%d,"exp":%d}`, nbf, exp), "secret"))
	c := secretConstraints("secret")
	// The first call (a miss) at a valid time fills the cache.
	if got := jwtDifferential(t, fixedNow.Add(time.Minute), token, c); got.String()[:5] != "[true" {
		t.Fatalf("valid token: %v", got)
	}
	if !isCached(token, c) {
		t.Fatal("verified result not cached")
	}
	// Hits at every interesting time, including both boundaries.
	for _, now := range []time.Time{
		time.Unix(nbf, 0).Add(-time.Nanosecond), time.Unix(nbf, 0), time.Unix(nbf, 1),
		time.Unix(exp, -1), time.Unix(exp, 0), time.Unix(exp, 1), time.Unix(exp+100000, 0),
		time.Unix(nbf-100000, 0), time.Unix(0, 0), fixedNow.Add(30 * time.Minute),
	} {
		jwtDifferential(t, now, token, c)
	}
	// An explicit time constraint overrides the clock.
	for _, ts := range []string{"0", strconv.FormatInt(exp*1e9, 10), strconv.FormatInt(nbf*1e9+5, 10), "1.5e18", "-1", "1e400"} {
		jwtDifferential(t, fixedNow, token, secretConstraints("secret", ast.StringTerm("time"), num(ts)))
		jwtDifferential(t, fixedNow, token, secretConstraints("secret", ast.StringTerm("time"), num(ts)))
	}
	// A clock 2 ns after the epoch, whose value read as seconds (2e9)
	// would fall inside a token valid from 2001 to 2065: a hit must
	// scale the clock's nanoseconds to seconds, not compare them raw.
	long := ast.StringTerm(hs256(stdHeader, `{"nbf":1000000000,"exp":3000000000}`, "secret"))
	if got := jwtDifferential(t, fixedNow, long, c); got.String()[:5] != "[true" || !isCached(long, c) {
		t.Fatalf("valid token not verified and cached: %v", got)
	}
	jwtDifferential(t, time.Unix(0, 2), long, c)
}

func TestJWTNeverReusedForAnotherKey(t *testing.T) {
	token := ast.StringTerm(hs256(stdHeader, `{"role":"admin"}`, "secret"))
	jwtDifferential(t, fixedNow, token, secretConstraints("secret"))
	if !isCached(token, secretConstraints("secret")) {
		t.Fatal("verified result not cached")
	}
	for _, c := range []*ast.Term{
		secretConstraints("Secret"), secretConstraints("secret2"), secretConstraints(""),
		secretConstraints("secret", ast.StringTerm("alg"), ast.StringTerm("HS512")),
		secretConstraints("secret", ast.StringTerm("alg"), ast.StringTerm("HS256")),
		secretConstraints("secret", ast.StringTerm("iss"), ast.StringTerm("me")),
		secretConstraints("secret", ast.StringTerm("aud"), ast.StringTerm("you")),
		secretConstraints("secret", ast.StringTerm("cert"), ast.StringTerm("x")),
		secretConstraints("secret", ast.StringTerm("bogus"), ast.StringTerm("x")),
		secretConstraints("secret", ast.StringTerm("time"), ast.StringTerm("1")),
		ast.ObjectTerm(ast.Item(ast.StringTerm("secret"), ast.IntNumberTerm(1))),
		ast.ObjectTerm(ast.Item(ast.StringTerm("alg"), ast.StringTerm("HS256"))),
		ast.ObjectTerm(), ast.ArrayTerm(), ast.NullTerm(),
	} {
		jwtDifferential(t, fixedNow, token, c)
		jwtDifferential(t, fixedNow, token, c)
	}
}

func TestJWTClaimsAndShapes(t *testing.T) {
	now := fixedNow
	n := now.Unix()
	payloads := []string{
		`{"role":"guest"}`,
		fmt.Sprintf(`{"exp":%d}`, n-1), fmt.Sprintf(`{"exp":%d}`, n+10), fmt.Sprintf(`{"exp":"%d"}`, n+10),
		fmt.Sprintf(`{"nbf":%d}`, n+10), fmt.Sprintf(`{"nbf":"%d","exp":%d}`, n, n+10), fmt.Sprintf(`{"nbf":"%d","exp":%d}`, n, n-10),
		fmt.Sprintf(`{"nbf":%d.5,"exp":%d.25e0}`, n-1, n+1), `{"exp":1e400}`, `{"exp":null}`, `{"iss":"me","aud":"you"}`,
		`{"aud":["you","them"]}`, `[1]`, `not json`, `{"exp":1764118923.4567890120}`, `{"nbf":1764118923.456789012}`,
	}
	headers := []string{stdHeader, `{"alg":"HS512"}`, `{"alg":"none"}`, `{"alg":"HS256","cty":"text"}`, `{"alg":"HS256","enc":"x"}`, `{}`, `x`}
	constraints := []*ast.Term{
		secretConstraints("secret"), secretConstraints("other"),
		secretConstraints("secret", ast.StringTerm("iss"), ast.StringTerm("me")),
		secretConstraints("secret", ast.StringTerm("aud"), ast.StringTerm("you")),
	}
	for _, h := range headers {
		for _, p := range payloads {
			for _, c := range constraints {
				token := ast.StringTerm(hs256(h, p, "secret"))
				jwtDifferential(t, now, token, c)
				jwtDifferential(t, now, token, c) // possibly a hit
				jwtDifferential(t, now.Add(2*time.Hour), token, c)
			}
		}
	}
	for _, bad := range []*ast.Term{
		ast.StringTerm(""), ast.StringTerm("a.b"), ast.StringTerm("a.b.c.d"), ast.StringTerm("e30.e30.!!"),
		ast.IntNumberTerm(1), ast.StringTerm(hs256(stdHeader, `{}`, "secret") + "x"),
	} {
		jwtDifferential(t, now, bad, secretConstraints("secret"))
	}
}

func TestJWTNestedNotCached(t *testing.T) {
	inner := hs256(stdHeader, `{"role":"admin"}`, "secret")
	enc := base64.RawURLEncoding
	outerHeader := `{"alg":"HS256","cty":"JWT"}`
	signing := enc.EncodeToString([]byte(outerHeader)) + "." + enc.EncodeToString([]byte(inner))
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(signing))
	token := ast.StringTerm(signing + "." + enc.EncodeToString(mac.Sum(nil)))
	got := jwtDifferential(t, fixedNow, token, secretConstraints("secret"))
	if got.String()[:5] != "[true" {
		t.Fatalf("nested token: %v", got)
	}
	if isCached(token, secretConstraints("secret")) {
		t.Fatal("nested JWT cached")
	}
}

func TestJWTCacheBoundedAndConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bctx := testBctx(fixedNow)
			for i := 0; i < maxJWTCache/2+10; i++ {
				exp := fixedNow.Unix() + int64(i%3) - 1 // some expired
				token := ast.StringTerm(hs256(stdHeader, fmt.Sprintf(`{"w":%d,"i":%d,"exp":%d}`, w, i, exp), "secret"))
				args := []*ast.Term{token, secretConstraints("secret")}
				got, err := Lookup("io.jwt.decode_verify")(bctx, args)
				want, wantErr := CallOPA("io.jwt.decode_verify", bctx, args)
				if err != nil || wantErr != nil || !got.Equal(want) {
					errs <- fmt.Errorf("token %d/%d: native %v %v, OPA %v %v", w, i, got, err, want, wantErr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	jwts.mu.RLock()
	n := len(jwts.m)
	jwts.mu.RUnlock()
	if n > maxJWTCache {
		t.Fatalf("JWT cache holds %d entries, bound %d", n, maxJWTCache)
	}
}

func BenchmarkJWTDecodeVerify(b *testing.B) {
	exp := fixedNow.Unix() + 3600
	token := ast.StringTerm(hs256(stdHeader, fmt.Sprintf(`{"role":"guest","sub":"YWxpY2U=","nbf":%d,"exp":%d}`, fixedNow.Unix()-10, exp), "secret"))
	bctx := testBctx(fixedNow)
	args := []*ast.Term{token, secretConstraints("secret")}
	f := Lookup("io.jwt.decode_verify")
	if _, err := f(bctx, args); err != nil {
		b.Fatal(err)
	}
	b.Run("native/hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f(bctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opa/inter-query-cache-hit", func(b *testing.B) {
		b.ReportAllocs()
		obctx := *bctx
		obctx.InterQueryBuiltinValueCache = jwtEnabledCache()
		obctx.Metrics = metrics.New()
		if out, err := CallOPA("io.jwt.decode_verify", &obctx, args); err != nil || !isCachedByOPA(&obctx, args) {
			b.Fatalf("OPA did not cache the token: %v %v", out, err)
		}
		for b.Loop() {
			if _, err := CallOPA("io.jwt.decode_verify", &obctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("opa/no-cache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CallOPA("io.jwt.decode_verify", bctx, args); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The float comparison of timeValid's fast path must agree with OPA's
// comparison of the formatted time, at nanosecond distances from the
// claims and far from them.
func TestJWTFastTimeCheckMatchesFormatted(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for i := 0; i < 200000; i++ {
		claim := r.Int64N(1 << 33)
		if r.IntN(8) == 0 {
			claim = r.Int64N(1<<53) - r.Int64N(1<<20)
		}
		var ns int64
		switch r.IntN(3) {
		case 0:
			ns = claim*1e9 + r.Int64N(2001) - 1000
		case 1:
			ns = claim*1e9 + r.Int64N(2e9) - 1e9
		default:
			ns = r.Int64N(1 << 62)
		}
		if ns < 0 {
			ns = -ns
		}
		c := ast.Number(strconv.FormatInt(claim, 10))
		fast := newTestEntry(c, c, true)
		slow := newTestEntry(c, c, false)
		for _, e := range []*jwtEntry{fast, slow} {
			e.nbf = "" // exp only
			e.nbfFast = false
		}
		now := float64(ns)
		if fast.timeValid(now) != slow.timeValid(now) {
			t.Fatalf("exp %s, time %d: fast %v, formatted %v", c, ns, fast.timeValid(now), slow.timeValid(now))
		}
		fast, slow = newTestEntry(c, c, true), newTestEntry(c, c, false)
		for _, e := range []*jwtEntry{fast, slow} {
			e.exp = ""
			e.expFast = false
		}
		if fast.timeValid(now) != slow.timeValid(now) {
			t.Fatalf("nbf %s, time %d: fast %v, formatted %v", c, ns, fast.timeValid(now), slow.timeValid(now))
		}
	}
}

func newTestEntry(exp, nbf ast.Number, fast bool) *jwtEntry {
	e := &jwtEntry{exp: exp, nbf: nbf}
	if fast {
		x, _ := plainInt(exp)
		n, _ := plainInt(nbf)
		e.expF, e.expFast, e.nbfF, e.nbfFast = float64(x), true, float64(n), true
	}
	return e
}

// isCachedByOPA reports whether OPA's io_jwt inter-query cache holds the
// token (keyed as OPA keys it: [token, {secret, cert} members]).
func isCachedByOPA(bctx *topdown.BuiltinContext, args []*ast.Term) bool {
	c := bctx.InterQueryBuiltinValueCache.GetCache("io_jwt")
	if c == nil {
		return false
	}
	k, _ := args[1].Value.(ast.Object).Filter(ast.NewObject(ast.Item(ast.StringTerm("secret"), ast.ObjectTerm())))
	_, ok := c.Get(ast.NewArray(args[0], ast.NewTerm(k)))
	return ok
}

// TestJWTCacheKeepsNoLongKeys: the cache is bounded in entries, so each
// must be small. A token or a secret as long as a request body (a policy
// may take the key from input) is verified by OPA every time.
func TestJWTCacheKeepsNoLongKeys(t *testing.T) {
	bctx := testBctx(fixedNow)
	f := Lookup("io.jwt.decode_verify")
	long := strings.Repeat("k", 64<<10)
	claims := fmt.Sprintf(`{"big":%q,"exp":%d}`, strings.Repeat("c", 32<<10), fixedNow.Unix()+60)
	for _, c := range []struct{ token, secret string }{
		{hs256(stdHeader, `{"small":1}`, long), long},
		{hs256(stdHeader, claims, "secret"), "secret"},
	} {
		args := []*ast.Term{ast.StringTerm(c.token), secretConstraints(c.secret)}
		for range 2 {
			got, err := f(bctx, args)
			want, wantErr := CallOPA("io.jwt.decode_verify", bctx, args)
			if err != nil || wantErr != nil || !got.Equal(want) || !got.Value.(*ast.Array).Elem(0).Equal(ast.BooleanTerm(true)) {
				t.Fatalf("native %v %v, OPA %v %v", got, err, want, wantErr)
			}
		}
	}
	jwts.mu.RLock()
	defer jwts.mu.RUnlock()
	for k := range jwts.m {
		if len(k) > maxJWTCacheKey {
			t.Fatalf("the JWT cache holds a key of %d bytes", len(k))
		}
	}
}

// TestConstraintTimeFloat: a time constraint that is not a plain integer
// (an exponent, a fraction) is parsed as a float; a negative one, or
// text that is no number, is refused as OPA refuses it (OPA:
// v1/topdown/tokens.go, timeFromValue; 0 is allowed).
func TestConstraintTimeFloat(t *testing.T) {
	for text, want := range map[string]float64{"1.5e18": 1.5e18, "2.5": 2.5, "0.0": 0, "0": 0, "1": 1, "1700000000000000000": 1.7e18} {
		if got, ok := constraintTime(nil, text); !ok || got != want {
			t.Errorf("%s: %v, %v; want %v", text, got, ok, want)
		}
	}
	for _, text := range []string{"-1.5e3", "-2", "-1", "abc"} {
		if got, ok := constraintTime(nil, text); ok {
			t.Errorf("%s: %v, want refused", text, got)
		}
	}
	// Without a constraint, the evaluation's time.now_ns; without that
	// (no context, or a context without a time), no time: OPA errors.
	now := ast.NumberTerm("1700000000000000000")
	if got, ok := constraintTime(&topdown.BuiltinContext{Time: now}, ""); !ok || got != 1.7e18 {
		t.Errorf("the context's time: %v, %v", got, ok)
	}
	if got, ok := constraintTime(&topdown.BuiltinContext{Time: now}, "5"); !ok || got != 5 {
		t.Errorf("a constraint beside the context's time: %v, %v; want the constraint", got, ok)
	}
	for name, bctx := range map[string]*topdown.BuiltinContext{"no context": nil, "no time": {}, "a time that is no number": {Time: ast.StringTerm("now")}} {
		if got, ok := constraintTime(bctx, ""); ok {
			t.Errorf("%s: %v, want no time", name, got)
		}
	}
}

// TestJWTCacheKeyBound: a key of exactly maxJWTCacheKey bytes is cached,
// one byte more is not (the secret's length sets the key's).
func TestJWTCacheKeyBound(t *testing.T) {
	keyLen := func(secret string) int {
		token := hs256(stdHeader, `{"edge":1}`, secret)
		key, _, ok := jwtCacheKey(nil, token, secretConstraints(secret).Value)
		if !ok {
			t.Fatal("no cache key")
		}
		return len(key)
	}
	n := 8 << 10
	n += maxJWTCacheKey - keyLen(strings.Repeat("s", n))
	for _, extra := range []int{0, 1} {
		secret := strings.Repeat("s", n+extra)
		if got := keyLen(secret); got != maxJWTCacheKey+extra {
			t.Fatalf("key of %d bytes, want %d", got, maxJWTCacheKey+extra)
		}
		token, c := ast.StringTerm(hs256(stdHeader, `{"edge":1}`, secret)), secretConstraints(secret)
		if got := jwtDifferential(t, fixedNow, token, c); got.String()[:5] != "[true" {
			t.Fatalf("token not verified: %v", got)
		}
		if cached := isCached(token, c); cached != (extra == 0) {
			t.Errorf("key of %d bytes cached %v", maxJWTCacheKey+extra, cached)
		}
	}
}

// TestNewJWTEntry: only OPA's verified results, [true, header, payload]
// with an object payload, of tokens that cannot be nested, are cached; exp
// and nbf take the fast comparison when they are integers within 2^53.
func TestNewJWTEntry(t *testing.T) {
	token := hs256(stdHeader, `{}`, "secret")
	verified := func(payload string) *ast.Term {
		return ast.ArrayTerm(ast.BooleanTerm(true), ast.ObjectTerm(), ast.MustParseTerm(payload))
	}
	for name, out := range map[string]*ast.Term{
		"no result":          nil,
		"not an array":       ast.StringTerm("x"),
		"too short":          ast.ArrayTerm(ast.BooleanTerm(true), ast.ObjectTerm()),
		"not verified":       ast.ArrayTerm(ast.BooleanTerm(false), ast.ObjectTerm(), ast.ObjectTerm()),
		"payload not object": verified(`"x"`),
		"exp not a number":   verified(`{"exp": "1"}`),
		"nbf not a number":   verified(`{"nbf": null}`),
	} {
		if e := newJWTEntry(token, out); e != nil {
			t.Errorf("%s: cached", name)
		}
	}
	if e := newJWTEntry(hs256(`{"alg":"HS256","cty":"JWT"}`, `{}`, "secret"), verified(`{}`)); e != nil {
		t.Error("a token that may be nested: cached")
	}
	const p53 = 1 << 53
	for claim, fast := range map[string]bool{
		strconv.Itoa(p53): true, strconv.Itoa(-p53): true, "0": true, "1764000000": true,
		strconv.Itoa(p53 + 1): false, strconv.Itoa(-p53 - 1): false, "1.5": false, "1e9": false,
	} {
		e := newJWTEntry(token, verified(`{"exp": `+claim+`, "nbf": `+claim+`}`))
		if e == nil || e.expFast != fast || e.nbfFast != fast || string(e.exp) != claim || string(e.nbf) != claim {
			t.Errorf("claims %s: entry %+v, want fast %v", claim, e, fast)
			continue
		}
		if fast && (e.expF != float64(mustAtoi(t, claim)) || e.nbfF != e.expF) {
			t.Errorf("claims %s: floats %v %v", claim, e.expF, e.nbfF)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMayBeNested: a header that could spell "cty", directly or through an
// escape anywhere (its first byte included), or that cannot be decoded,
// makes the token one OPA may follow into a nested JWT.
func TestMayBeNested(t *testing.T) {
	enc := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) + ".e30.sig" }
	for h, want := range map[string]bool{
		`{"alg":"HS256"}`:              false,
		`{"alg":"HS256","cty":"JWT"}`:  true,
		`{"alg":"HS256","\u0063ty":1}`: true,
		`\{"alg":"HS256"}`:             true,
	} {
		if got := mayBeNested(enc(h)); got != want {
			t.Errorf("header %s: %v, want %v", h, got, want)
		}
	}
	if !mayBeNested("no-dots") || !mayBeNested("!!!.e30.sig") {
		t.Error("a token without a decodable header counted as not nested")
	}
}
