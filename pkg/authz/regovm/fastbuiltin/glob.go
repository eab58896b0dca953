package fastbuiltin

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/glob"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// glob.match compiles each (pattern, delimiters) once into a bounded cache
// shared by all evaluations. OPA keys its own caches with pattern + "-" +
// delimiters, which is ambiguous (pattern "a-" with delimiter "b" and
// pattern "a" with delimiters "-b" share a key, so OPA may match with the
// other's compiled glob); this cache's key is length-prefixed and cannot
// collide, so it always matches with the glob OPA compiles for the call.
func init() {
	register(ast.GlobMatch.Name, 3, globMatch)
}

var opaGlobMatch = opaBuiltin(ast.GlobMatch.Name)

// maxGlobCache bounds the compiled globs kept; when full the cache is
// dropped and refilled by the patterns in use.
const maxGlobCache = 1024

// maxGlobPattern bounds the patterns cached, so that the cache is bounded
// in bytes too: a pattern may come from a request. Longer ones go to OPA.
const maxGlobPattern = 1024

// globs maps a key to its compiled glob; a nil value: glob.Compile fails
// (OPA errors).
var globs = newBoundedCache[*glob.Pattern](maxGlobCache)

func globMatch(bctx *topdown.BuiltinContext, a []*ast.Term) (*ast.Term, error) {
	pattern, ok := a[0].Value.(ast.String)
	if !ok || len(pattern) > maxGlobPattern {
		return opaGlobMatch(bctx, a)
	}
	match, ok := a[2].Value.(ast.String)
	if !ok {
		return opaGlobMatch(bctx, a)
	}
	var buf [128]byte
	key := binary.AppendUvarint(buf[:0], uint64(len(pattern)))
	key = append(key, pattern...)
	delimStart := len(key)
	// Delimiters as OPA reads them: null is none, an empty array is ".",
	// else each element must be a one-rune string ([]rune of a string with
	// one invalid byte is that one rune, U+FFFD, as in utf8.DecodeRune).
	switch d := a[1].Value.(type) {
	case ast.Null:
	case *ast.Array:
		if d.Len() == 0 {
			key = utf8.AppendRune(key, '.')
			break
		}
		for i := 0; i < d.Len(); i++ {
			s, ok := d.Elem(i).Value.(ast.String)
			if !ok {
				return opaGlobMatch(bctx, a)
			}
			r, size := utf8.DecodeRuneInString(string(s))
			if size == 0 || size != len(s) {
				return opaGlobMatch(bctx, a)
			}
			key = utf8.AppendRune(key, r)
		}
	default:
		return opaGlobMatch(bctx, a)
	}
	g, ok := globs.get(key)
	if !ok {
		var err error
		g, err = glob.Compile(string(pattern), runesAfter(key, delimStart)...)
		if err != nil {
			g = nil
		}
		globs.put(key, g)
	}
	if g == nil {
		return opaGlobMatch(bctx, a)
	}
	return ast.InternedTerm(g.Match(string(match))), nil
}

// runesAfter decodes the delimiter runes stored in key from offset i.
func runesAfter(key []byte, i int) []rune {
	out := []rune{}
	for i < len(key) {
		r, size := utf8.DecodeRune(key[i:])
		out = append(out, r)
		i += size
	}
	return out
}
