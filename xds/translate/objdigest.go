package translate

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"sync"
)

// objDigest is the content digest of one policy object (a Route or a
// Service): SHA-256 over a canonical encoding of every field, exported or
// not, reached through pointers, slices, maps and interfaces. The Memo
// compares digests instead of running reflect.DeepEqual over the previous
// and the current object (a third of a one-Route edit, issue 10): an
// object's digest is computed once, when it is first seen, and kept with
// it while it is the memo's, so an edit hashes each new object once
// instead of walking two trees and DeepEqual's visited-pointer map.
//
// The encoding is injective for values of one type: every variable-length
// part is length-prefixed, nil is told apart from empty (as DeepEqual
// does: a nil slice and an empty one are not equal), map entries are
// sorted by their encoded key, and an interface writes its dynamic type's
// package path and name before the value. Kinds it cannot encode exactly
// (funcs, channels, unsafe pointers) or a nesting deeper than digestDepth
// (a cycle) make the object undigestible: ok is false and the memo treats
// it as changed, which is always safe. TestDigestSeesEveryField changes
// each leaf of a fully populated Route and Service and checks the digest
// changes; TestMemoMatchesFreshTranslate holds the memo to a fresh build.
type objDigest struct {
	sum [sha256.Size]byte
	ok  bool // computed and the object is digestible
}

// digestDepth bounds the nesting the encoder follows; policy objects are
// trees far shallower than this, so only a cycle reaches it.
const digestDepth = 64

var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// digestOf returns v's digest. v is a pointer to a policy object.
func digestOf(v any) objDigest {
	bp := digestBufs.Get().(*[]byte)
	defer digestBufs.Put(bp)
	rv := reflect.ValueOf(v)
	buf := appendTypeName((*bp)[:0], rv.Type())
	buf, ok := appendValue(buf, rv, 0)
	*bp = buf[:0]
	if !ok {
		return objDigest{}
	}
	return objDigest{sum: sha256.Sum256(buf), ok: true}
}

// same reports whether a and b are digests of equal content.
func (a objDigest) same(b objDigest) bool { return a.ok && b.ok && a.sum == b.sum }

func appendTypeName(buf []byte, t reflect.Type) []byte {
	buf = appendString(buf, t.PkgPath())
	return appendString(buf, t.String())
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// appendValue appends the canonical encoding of v; false if v holds
// something it cannot encode exactly.
func appendValue(buf []byte, v reflect.Value, depth int) ([]byte, bool) {
	if depth > digestDepth {
		return buf, false
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(buf, 1), true
		}
		return append(buf, 0), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.AppendVarint(buf, v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.AppendUvarint(buf, v.Uint()), true
	case reflect.Float32, reflect.Float64:
		// By bits: -0 and +0 differ (treated as changed, which is safe);
		// a NaN equals itself here, and it yields the same output.
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(v.Float())), true
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(real(c)))
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(imag(c))), true
	case reflect.String:
		return appendString(buf, v.String()), true
	case reflect.Pointer:
		if v.IsNil() {
			return append(buf, 0), true
		}
		return appendValue(append(buf, 1), v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return append(buf, 0), true
		}
		e := v.Elem()
		buf = appendTypeName(append(buf, 1), e.Type())
		return appendValue(buf, e, depth+1)
	case reflect.Slice:
		if v.IsNil() {
			return append(buf, 0), true
		}
		buf = binary.AppendUvarint(append(buf, 1), uint64(v.Len()))
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return append(buf, v.Bytes()...), true
		}
		return appendElems(buf, v, depth)
	case reflect.Array:
		return appendElems(buf, v, depth)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			var ok bool
			if buf, ok = appendValue(buf, v.Field(i), depth+1); !ok {
				return buf, false
			}
		}
		return buf, true
	case reflect.Map:
		return appendMap(buf, v, depth)
	default: // Func, Chan, UnsafePointer, Invalid
		return buf, false
	}
}

func appendElems(buf []byte, v reflect.Value, depth int) ([]byte, bool) {
	for i := 0; i < v.Len(); i++ {
		var ok bool
		if buf, ok = appendValue(buf, v.Index(i), depth+1); !ok {
			return buf, false
		}
	}
	return buf, true
}

// appendMap writes a map's entries in the order of their encoded keys, so
// the encoding does not depend on Go's map iteration order. Each entry is
// its key's and value's encodings, both length-prefixed.
func appendMap(buf []byte, v reflect.Value, depth int) ([]byte, bool) {
	if v.IsNil() {
		return append(buf, 0), true
	}
	type entry struct{ k, v []byte }
	entries := make([]entry, 0, v.Len())
	it := v.MapRange()
	for it.Next() {
		k, ok := appendValue(nil, it.Key(), depth+1)
		if !ok {
			return buf, false
		}
		val, ok := appendValue(nil, it.Value(), depth+1)
		if !ok {
			return buf, false
		}
		entries = append(entries, entry{k, val})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	buf = binary.AppendUvarint(append(buf, 1), uint64(len(entries)))
	for _, e := range entries {
		buf = binary.AppendUvarint(buf, uint64(len(e.k)))
		buf = append(buf, e.k...)
		buf = binary.AppendUvarint(buf, uint64(len(e.v)))
		buf = append(buf, e.v...)
	}
	return buf, true
}
