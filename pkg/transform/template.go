package transform

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
)

// piece of a template: literal text, or a placeholder (kind and name).
type piece struct {
	text, kind, name string
}

func parseTemplate(s string) ([]piece, error) {
	var out []piece
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return append(out, piece{text: s}), nil
		}
		out = append(out, piece{text: s[:i]})
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed ${")
		}
		ref := s[i+2 : i+j]
		kind, name, _ := strings.Cut(ref, ".")
		switch kind {
		case "body":
			if _, err := parsePath(name); err != nil {
				return nil, fmt.Errorf("${%s}: %w", ref, err)
			}
		case "header", "claim":
			if name == "" {
				return nil, fmt.Errorf("${%s}: a name is required", ref)
			}
		case "consumer", "status":
			if name != "" {
				return nil, fmt.Errorf("${%s}: %s takes no name", ref, kind)
			}
		default:
			return nil, fmt.Errorf("${%s}: unknown placeholder (body., header., claim., consumer, status)", ref)
		}
		out = append(out, piece{kind: kind, name: name})
		s = s[i+j+1:]
	}
}

// render fills the template; every value is escaped for the content type,
// so a value cannot break out of its place (JSON injection, XML tags).
func render(t *Template, body any, vals *sources) []byte {
	pieces, _ := parseTemplate(t.Text) // validated at load
	ct := strings.ToLower(t.ContentType)
	var b bytes.Buffer
	for _, p := range pieces {
		if p.kind == "" {
			b.WriteString(p.text)
			continue
		}
		var v any
		var ok bool
		switch p.kind {
		case "body":
			segs, _ := parsePath(p.name)
			v, ok = lookup(body, segs)
		case "header":
			v, ok = vals.value(Value{Header: p.name})
		case "claim":
			v, ok = vals.value(Value{Claim: p.name})
		case "consumer":
			v, ok = vals.value(Value{Consumer: true})
		case "status":
			v, ok = vals.status, vals.status != ""
		}
		switch {
		case strings.Contains(ct, "json"):
			if !ok {
				v = nil
			}
			j, _ := json.Marshal(v)
			b.Write(j)
		case !ok:
		default:
			s, isScalar := scalar(v)
			if !isScalar {
				j, _ := json.Marshal(v)
				s = string(j)
			}
			if strings.Contains(ct, "xml") || strings.Contains(ct, "html") {
				_ = xml.EscapeText(&b, []byte(s))
			} else {
				b.WriteString(s)
			}
		}
	}
	return b.Bytes()
}
