package transcode

import (
	"fmt"
	"net/url"
	"strings"
)

// A Template is a google.api.http path template (google/api/http.proto):
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// "**" matches zero or more segments and must be the last segment; a
// variable without "=" matches one segment ("{name}" is "{name=*}").
type Template struct {
	Raw  string
	segs []segment
	vars []variable
	Verb string
}

type segKind int

// The kinds in match priority: a literal beats "*", which beats "**"
// (grpc-httpjson-transcoding's path matcher tries a node's literal child
// before its wildcards).
const (
	segLiteral segKind = iota
	segSingle
	segDouble
)

type segment struct {
	kind segKind
	lit  string
}

// variable binds segs[start:end] to a field path.
type variable struct {
	field      string
	start, end int
}

// Fields are the field paths the template's variables bind.
func (t *Template) Fields() []string {
	out := make([]string, len(t.vars))
	for i, v := range t.vars {
		out[i] = v.field
	}
	return out
}

// shape is the template with variables replaced by what they match: two
// bindings of one HTTP method with the same shape are ambiguous.
func (t *Template) shape() string {
	var b strings.Builder
	for _, s := range t.segs {
		b.WriteByte('/')
		switch s.kind {
		case segLiteral:
			b.WriteString(s.lit)
		case segSingle:
			b.WriteString("*")
		case segDouble:
			b.WriteString("**")
		}
	}
	if len(t.segs) == 0 {
		b.WriteByte('/')
	}
	if t.Verb != "" {
		b.WriteString(":" + t.Verb)
	}
	return b.String()
}

// ParseTemplate parses a path template; the error says what is wrong where.
func ParseTemplate(raw string) (*Template, error) {
	t := &Template{Raw: raw}
	if !strings.HasPrefix(raw, "/") {
		return nil, fmt.Errorf("path template %q must start with /", raw)
	}
	if raw == "/" {
		return t, nil
	}
	p := &tmplParser{s: raw, i: 1, t: t}
	if err := p.segments(false); err != nil {
		return nil, fmt.Errorf("path template %q: %w", raw, err)
	}
	if p.i < len(raw) && raw[p.i] == ':' {
		verb := raw[p.i+1:]
		if verb == "" || strings.ContainsAny(verb, "/{}*:") {
			return nil, fmt.Errorf("path template %q: bad verb %q", raw, verb)
		}
		t.Verb = verb
		p.i = len(raw)
	}
	if p.i != len(raw) {
		return nil, fmt.Errorf("path template %q: unexpected %q at offset %d", raw, raw[p.i:], p.i)
	}
	for i, s := range t.segs {
		if s.kind == segDouble && i != len(t.segs)-1 {
			return nil, fmt.Errorf("path template %q: ** must be the last segment", raw)
		}
	}
	return t, nil
}

type tmplParser struct {
	s string
	i int
	t *Template
}

// segments reads Segments; inVar stops at '}'.
func (p *tmplParser) segments(inVar bool) error {
	for {
		if err := p.segment(inVar); err != nil {
			return err
		}
		if p.i < len(p.s) && p.s[p.i] == '/' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *tmplParser) segment(inVar bool) error {
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "**"):
		p.t.segs = append(p.t.segs, segment{kind: segDouble})
		p.i += 2
	case strings.HasPrefix(rest, "*"):
		p.t.segs = append(p.t.segs, segment{kind: segSingle})
		p.i++
	case strings.HasPrefix(rest, "{"):
		if inVar {
			return fmt.Errorf("nested variable at offset %d", p.i)
		}
		return p.variable()
	default:
		j := p.i
		for j < len(p.s) && !strings.ContainsRune("/{}*:", rune(p.s[j])) {
			j++
		}
		if j == p.i {
			return fmt.Errorf("empty segment at offset %d", p.i)
		}
		lit, err := url.PathUnescape(p.s[p.i:j])
		if err != nil {
			return fmt.Errorf("literal %q: %w", p.s[p.i:j], err)
		}
		p.t.segs = append(p.t.segs, segment{kind: segLiteral, lit: lit})
		p.i = j
	}
	return nil
}

func (p *tmplParser) variable() error {
	p.i++ // '{'
	j := p.i
	for j < len(p.s) && p.s[j] != '=' && p.s[j] != '}' {
		j++
	}
	field := p.s[p.i:j]
	if !fieldPath(field) {
		return fmt.Errorf("variable %q is not a field path (ident{.ident})", field)
	}
	for _, v := range p.t.vars {
		if v.field == field {
			return fmt.Errorf("variable %q bound twice", field)
		}
	}
	p.i = j
	start := len(p.t.segs)
	if p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
		if err := p.segments(true); err != nil {
			return err
		}
	} else {
		p.t.segs = append(p.t.segs, segment{kind: segSingle})
	}
	if p.i >= len(p.s) || p.s[p.i] != '}' {
		return fmt.Errorf("variable %q is not closed with }", field)
	}
	p.i++
	p.t.vars = append(p.t.vars, variable{field: field, start: start, end: len(p.t.segs)})
	return nil
}

func fieldPath(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !ident(part) {
			return false
		}
	}
	return true
}

func ident(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// match matches a request path (no query) with its custom verb already
// split off. It returns the variable values and the match's priority
// (one kind per matched segment: lower is more specific), or ok false.
func (t *Template) match(segs []string, verb string) (vals map[string]string, prio []segKind, ok bool) {
	if verb != t.Verb {
		return nil, nil, false
	}
	// pos[i] is where template segment i starts in segs; ** takes the rest.
	pos := make([]int, len(t.segs)+1)
	n := 0
	for i, s := range t.segs {
		pos[i] = n
		switch s.kind {
		case segDouble:
			for range segs[n:] {
				prio = append(prio, segDouble)
			}
			n = len(segs)
		default:
			if n >= len(segs) {
				return nil, nil, false
			}
			if s.kind == segLiteral && segs[n] != s.lit {
				return nil, nil, false
			}
			prio = append(prio, s.kind)
			n++
		}
	}
	pos[len(t.segs)] = n
	if n != len(segs) {
		return nil, nil, false
	}
	vals = map[string]string{}
	for _, v := range t.vars {
		raw := strings.Join(segs[pos[v.start]:pos[v.end]], "/")
		// Envoy's default url_unescape_spec, ALL_CHARACTERS_EXCEPT_RESERVED:
		// a one-segment variable is fully decoded, a multi-segment one
		// keeps RFC 6570 reserved characters (%2F stays) encoded
		// (transcoder.proto, UrlUnescapeSpec).
		if v.end-v.start == 1 && t.segs[v.start].kind == segSingle {
			if u, err := url.PathUnescape(raw); err == nil {
				raw = u
			}
		} else {
			raw = unescapeUnreserved(raw)
		}
		vals[v.field] = raw
	}
	return vals, prio, true
}

// unescapeUnreserved decodes %XX escapes except those of RFC 6570
// reserved characters.
func unescapeUnreserved(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if u, err := url.PathUnescape(s[i : i+3]); err == nil && !strings.Contains(":/?#[]@!$&'()*+,;=", u) {
				b.WriteString(u)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// morePrecise reports whether priority a beats b (grpc-httpjson-
// transcoding tries literals, then *, then ** at each segment).
func morePrecise(a, b []segKind) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) > len(b)
}

// MayMatchPrefix reports whether some path starting with prefix may match
// t (a Route matching by prefix may reach the binding): the prefix's
// segments are compared with t's, a variable's wildcard matching any
// segment, "**" the rest; the prefix's last segment may be the start of a
// literal (the verb counts as part of the last one). fold compares
// literals case-insensitively (a case-insensitive Route: a superset).
func (t *Template) MayMatchPrefix(prefix string, fold bool) bool {
	if fold {
		prefix = strings.ToLower(prefix)
	}
	ps := strings.Split(strings.TrimPrefix(prefix, "/"), "/")
	for i, s := range ps {
		if i >= len(t.segs) {
			return len(t.segs) == 0 && s == "" // "/" matches the template "/"
		}
		seg := t.segs[i]
		switch seg.kind {
		case segDouble:
			return true
		case segSingle:
			continue
		}
		lit := seg.lit
		if i == len(t.segs)-1 && t.Verb != "" {
			lit += ":" + t.Verb
		}
		if fold {
			lit = strings.ToLower(lit)
		}
		if i == len(ps)-1 {
			return strings.HasPrefix(lit, s)
		}
		if s != lit {
			return false
		}
	}
	return true
}
