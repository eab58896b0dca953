package transform

import (
	"fmt"
	"net/http"
	"strings"
)

// DefaultMaxBody is the body limit when a Side names none; MaxBodyLimit is
// the most a Side may ask for (the service holds whole bodies in memory).
const (
	DefaultMaxBody = 1 << 20
	MaxBodyLimit   = 16 << 20
)

// Transformation reshapes a Route's requests and responses, each side
// separately; a nil side is passed untouched.
type Transformation struct {
	Request  *Side `yaml:"request" json:"request,omitempty"`
	Response *Side `yaml:"response" json:"response,omitempty"`
}

// Side is what is done to one direction.
type Side struct {
	SetHeaders    map[string]Value `yaml:"setHeaders" json:"setHeaders,omitempty"`
	RemoveHeaders []string         `yaml:"removeHeaders" json:"removeHeaders,omitempty"`
	// Query changes (request only), applied by rewriting :path after
	// routing (the route is not chosen again).
	SetQuery    map[string]Value `yaml:"setQuery" json:"setQuery,omitempty"`
	RemoveQuery []string         `yaml:"removeQuery" json:"removeQuery,omitempty"`
	// Status maps response codes (response only).
	Status map[int]int `yaml:"status" json:"status,omitempty"`
	Body   *Body       `yaml:"body" json:"body,omitempty"`
}

// Body: the body is decoded From a format, the Ops applied, then encoded
// To a format or, with Template, replaced by the rendered template.
type Body struct {
	From     string    `yaml:"from" json:"from,omitempty"` // json (default), xml, form
	To       string    `yaml:"to" json:"to,omitempty"`     // json (default), xml, form
	XMLRoot  string    `yaml:"xmlRoot" json:"xmlRoot,omitempty"`
	Ops      []Op      `yaml:"ops" json:"ops,omitempty"`
	Template *Template `yaml:"template" json:"template,omitempty"`
	MaxBytes int       `yaml:"maxBytes" json:"maxBytes,omitempty"`
}

// Template renders ${body.a.b}, ${header.name}, ${claim.name},
// ${consumer} and ${status}; values are escaped for ContentType (JSON
// encoded for application/json, XML escaped for XML).
type Template struct {
	ContentType string `yaml:"contentType" json:"contentType"`
	Text        string `yaml:"text" json:"text"`
}

// Op is one JSON body operation; exactly one of its verbs is set. Paths
// are dotted field names, a number indexes an array.
type Op struct {
	Set    string `yaml:"set" json:"set,omitempty"` // path; Value is what
	Value  *Value `yaml:"value" json:"value,omitempty"`
	Remove string `yaml:"remove" json:"remove,omitempty"`
	Rename string `yaml:"rename" json:"rename,omitempty"` // path; To is the new last name
	Move   string `yaml:"move" json:"move,omitempty"`     // path; To is the new path
	To     string `yaml:"to" json:"to,omitempty"`
	Wrap   string `yaml:"wrap" json:"wrap,omitempty"` // path ("." the body); In names the wrapper field
	In     string `yaml:"in" json:"in,omitempty"`
	Unwrap string `yaml:"unwrap" json:"unwrap,omitempty"` // path: its value replaces its parent object
}

// Value is where a value comes from: exactly one of Literal, Header (the
// current side's header), Claim (a verified JWT claim, from Envoy's
// metadata) or Consumer (the consumer the authz service identified).
// Required: a missing value fails the exchange instead of skipping the op.
type Value struct {
	Literal  any    `yaml:"literal" json:"literal,omitempty"`
	Header   string `yaml:"header" json:"header,omitempty"`
	Claim    string `yaml:"claim" json:"claim,omitempty"`
	Consumer bool   `yaml:"consumer" json:"consumer,omitempty"`
	Required bool   `yaml:"required" json:"required,omitempty"`
}

// Validate names the first bad field.
func (t Transformation) Validate() error {
	if t.Request != nil {
		if err := t.Request.validate(false); err != nil {
			return fmt.Errorf("request.%w", err)
		}
	}
	if t.Response != nil {
		if err := t.Response.validate(true); err != nil {
			return fmt.Errorf("response.%w", err)
		}
	}
	return nil
}

// protectedHeader: headers a transformation may not write. The consumer
// header is the authz service's word; content-length is the service's own
// (it follows the body); pseudo headers and Host are routing.
func protectedHeader(n string) bool {
	n = strings.ToLower(n)
	return n == "" || strings.HasPrefix(n, ":") || n == "host" || n == "content-length" || n == "transfer-encoding" ||
		n == "x-gatehouse-consumer" || strings.HasPrefix(n, "x-envoy-") || strings.ContainsAny(n, " \t\r\n:")
}

func (s *Side) validate(response bool) error {
	for n, v := range s.SetHeaders {
		if protectedHeader(n) {
			return fmt.Errorf("setHeaders.%s: header may not be set by a transformation", n)
		}
		if err := v.validate(); err != nil {
			return fmt.Errorf("setHeaders.%s: %w", n, err)
		}
	}
	for i, n := range s.RemoveHeaders {
		if protectedHeader(n) {
			return fmt.Errorf("removeHeaders[%d]: %q may not be removed by a transformation", i, n)
		}
	}
	if response && (len(s.SetQuery) > 0 || len(s.RemoveQuery) > 0) {
		return fmt.Errorf("setQuery: query changes are for requests only")
	}
	for n, v := range s.SetQuery {
		if n == "" {
			return fmt.Errorf("setQuery: empty name")
		}
		if err := v.validate(); err != nil {
			return fmt.Errorf("setQuery.%s: %w", n, err)
		}
	}
	if !response && len(s.Status) > 0 {
		return fmt.Errorf("status: status mapping is for responses only")
	}
	for from, to := range s.Status {
		if from < 100 || from > 599 || to < 200 || to > 599 || http.StatusText(to) == "" {
			return fmt.Errorf("status.%d: %d -> %d is not a valid mapping (codes 200-599)", from, from, to)
		}
	}
	if s.Body != nil {
		if err := s.Body.validate(); err != nil {
			return fmt.Errorf("body.%w", err)
		}
	}
	return nil
}

func (v Value) validate() error {
	n := 0
	if v.Literal != nil {
		n++
	}
	if v.Header != "" {
		n++
	}
	if v.Claim != "" {
		n++
	}
	if v.Consumer {
		n++
	}
	if n != 1 {
		return fmt.Errorf("exactly one of literal, header, claim, consumer")
	}
	return nil
}

func validFormat(f string) bool { return f == "" || f == "json" || f == "xml" || f == "form" }

func (b *Body) validate() error {
	if !validFormat(b.From) {
		return fmt.Errorf("from: unknown format %q (json, xml, form)", b.From)
	}
	if !validFormat(b.To) {
		return fmt.Errorf("to: unknown format %q (json, xml, form)", b.To)
	}
	if b.XMLRoot != "" && !xmlName(b.XMLRoot) {
		return fmt.Errorf("xmlRoot: %q is not an XML name", b.XMLRoot)
	}
	if b.MaxBytes < 0 || b.MaxBytes > MaxBodyLimit {
		return fmt.Errorf("maxBytes: %d outside 0..%d", b.MaxBytes, MaxBodyLimit)
	}
	if b.Template != nil {
		if b.To != "" {
			return fmt.Errorf("template: give either to or template")
		}
		if b.Template.ContentType == "" {
			return fmt.Errorf("template.contentType: required")
		}
		if _, err := parseTemplate(b.Template.Text); err != nil {
			return fmt.Errorf("template.text: %w", err)
		}
	}
	for i, op := range b.Ops {
		if err := op.validate(); err != nil {
			return fmt.Errorf("ops[%d].%w", i, err)
		}
	}
	return nil
}

func (o Op) validate() error {
	verbs := 0
	for _, v := range []string{o.Set, o.Remove, o.Rename, o.Move, o.Wrap, o.Unwrap} {
		if v != "" {
			verbs++
		}
	}
	if verbs != 1 {
		return fmt.Errorf("op: exactly one of set, remove, rename, move, wrap, unwrap")
	}
	check := func(field, p string, root bool) error {
		if p == "." && root {
			return nil
		}
		if _, err := parsePath(p); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		return nil
	}
	switch {
	case o.Set != "":
		if o.Value == nil {
			return fmt.Errorf("value: required with set")
		}
		if err := o.Value.validate(); err != nil {
			return fmt.Errorf("value: %w", err)
		}
		return check("set", o.Set, false)
	case o.Remove != "":
		return check("remove", o.Remove, false)
	case o.Rename != "":
		if o.To == "" || strings.Contains(o.To, ".") {
			return fmt.Errorf("to: a field name (no dots) is required with rename")
		}
		return check("rename", o.Rename, false)
	case o.Move != "":
		if err := check("to", o.To, false); err != nil {
			return err
		}
		return check("move", o.Move, false)
	case o.Wrap != "":
		if o.In == "" || strings.Contains(o.In, ".") {
			return fmt.Errorf("in: a field name (no dots) is required with wrap")
		}
		return check("wrap", o.Wrap, true)
	default:
		return check("unwrap", o.Unwrap, false)
	}
}

func (b *Body) max() int {
	if b.MaxBytes > 0 {
		return b.MaxBytes
	}
	return DefaultMaxBody
}
