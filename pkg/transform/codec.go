package transform

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"unicode"
)

// errMalformed: the body is not what the transformation reads.
type errMalformed struct{ err error }

func (e errMalformed) Error() string { return e.err.Error() }

func decode(format string, body []byte) (any, error) {
	var v any
	var err error
	switch format {
	case "xml":
		v, err = decodeXML(body)
	case "form":
		v, err = decodeForm(body)
	default:
		v, err = decodeJSON(body)
	}
	if err != nil {
		return nil, errMalformed{err}
	}
	return v, nil
}

func encode(format, root string, v any) ([]byte, string, error) {
	switch format {
	case "xml":
		b, err := encodeXML(root, v)
		return b, "application/xml", err
	case "form":
		b, err := encodeForm(v)
		return b, "application/x-www-form-urlencoded", err
	default:
		b, err := json.Marshal(v)
		return b, "application/json", err
	}
}

func contentType(format string) string {
	_, ct, _ := encode(format, "", nil)
	return ct
}

func decodeJSON(body []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("malformed JSON: data after the value")
	}
	if depth(v, 0) > maxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	return v, nil
}

func depth(v any, d int) int {
	if d > maxDepth {
		return d
	}
	m := d
	switch c := v.(type) {
	case map[string]any:
		for _, x := range c {
			m = max(m, depth(x, d+1))
		}
	case []any:
		for _, x := range c {
			m = max(m, depth(x, d+1))
		}
	}
	return m
}

// decodeForm: each name a string, a repeated name an array.
func decodeForm(body []byte) (any, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("malformed form: %w", err)
	}
	out := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			out[k] = vs[0]
			continue
		}
		a := make([]any, len(vs))
		for i, v := range vs {
			a[i] = v
		}
		out[k] = a
	}
	return out, nil
}

// encodeForm takes a flat object: scalars, or arrays of scalars (a
// repeated name). Nested objects have no form encoding: an error.
func encodeForm(v any) ([]byte, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errShape{"a form body must be an object"}
	}
	q := url.Values{}
	for k, x := range m {
		switch c := x.(type) {
		case []any:
			for _, e := range c {
				s, ok := scalar(e)
				if !ok {
					return nil, errShape{fmt.Sprintf("%s: nested values have no form encoding", k)}
				}
				q.Add(k, s)
			}
		default:
			s, ok := scalar(x)
			if !ok {
				return nil, errShape{fmt.Sprintf("%s: nested values have no form encoding", k)}
			}
			q.Set(k, s)
		}
	}
	return []byte(q.Encode()), nil
}

func scalar(v any) (string, bool) {
	switch c := v.(type) {
	case nil:
		return "", true
	case string:
		return c, true
	case json.Number:
		return c.String(), true
	case bool, float64, int:
		return fmt.Sprint(c), true
	}
	return "", false
}

// decodeXML: an element with only text is a string; otherwise an object
// of its children (a repeated child an array), attributes as "@name" and
// text beside children as "#text". The root element is unwrapped.
// Directives (DOCTYPE, entity declarations) are refused.
func decodeXML(body []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.Entity = nil
	var root any
	seenRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("malformed XML: directives (DOCTYPE, ENTITY) are not accepted")
		case xml.StartElement:
			if seenRoot {
				return nil, fmt.Errorf("malformed XML: more than one root element")
			}
			seenRoot = true
			root, err = xmlElement(d, t, 1)
			if err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("malformed XML: text outside the root element")
			}
		}
	}
	if !seenRoot {
		return nil, fmt.Errorf("malformed XML: no element")
	}
	return root, nil
}

func xmlElement(d *xml.Decoder, start xml.StartElement, level int) (any, error) {
	if level > maxDepth {
		return nil, fmt.Errorf("XML nested deeper than %d", maxDepth)
	}
	obj := map[string]any{}
	for _, a := range start.Attr {
		obj["@"+a.Name.Local] = a.Value
	}
	var text strings.Builder
	children := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			children = true
			v, err := xmlElement(d, t, level+1)
			if err != nil {
				return nil, err
			}
			k := t.Name.Local
			switch prev := obj[k].(type) {
			case nil:
				obj[k] = v
			case []any:
				obj[k] = append(prev, v)
			default:
				obj[k] = []any{prev, v}
			}
		case xml.CharData:
			text.Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("malformed XML: directives are not accepted")
		case xml.EndElement:
			s := text.String()
			if !children && len(start.Attr) == 0 {
				return s, nil
			}
			if strings.TrimSpace(s) != "" {
				obj["#text"] = strings.TrimSpace(s)
			}
			return obj, nil
		}
	}
}

func xmlName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, r := range s {
		if !(unicode.IsLetter(r) || r == '_' || (i > 0 && (unicode.IsDigit(r) || r == '-' || r == '.'))) {
			return false
		}
	}
	return true
}

// encodeXML writes v under a root element (default "root"). Field names
// that are not XML names are an error, not silently renamed.
func encodeXML(root string, v any) ([]byte, error) {
	if root == "" {
		root = "root"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := xmlWrite(&b, root, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func xmlWrite(b *bytes.Buffer, name string, v any, level int) error {
	if level > maxDepth {
		return errShape{"body nested too deep for XML"}
	}
	if !xmlName(name) {
		return errShape{fmt.Sprintf("field %q is not an XML name", name)}
	}
	switch c := v.(type) {
	case []any:
		for _, e := range c {
			if err := xmlWrite(b, name, e, level+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		keys := make([]string, 0, len(c))
		var attrs []string
		for k := range c {
			if strings.HasPrefix(k, "@") {
				attrs = append(attrs, k)
			} else if k != "#text" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		sort.Strings(attrs)
		b.WriteString("<" + name)
		for _, a := range attrs {
			s, ok := scalar(c[a])
			if !ok || !xmlName(a[1:]) {
				return errShape{fmt.Sprintf("attribute %q must be a scalar with an XML name", a)}
			}
			b.WriteString(" " + a[1:] + `="`)
			_ = xml.EscapeText(b, []byte(s))
			b.WriteString(`"`)
		}
		b.WriteString(">")
		if t, ok := c["#text"]; ok {
			s, _ := scalar(t)
			_ = xml.EscapeText(b, []byte(s))
		}
		for _, k := range keys {
			if err := xmlWrite(b, k, c[k], level+1); err != nil {
				return err
			}
		}
		b.WriteString("</" + name + ">")
		return nil
	default:
		s, _ := scalar(c)
		b.WriteString("<" + name + ">")
		_ = xml.EscapeText(b, []byte(s))
		b.WriteString("</" + name + ">")
		return nil
	}
}
