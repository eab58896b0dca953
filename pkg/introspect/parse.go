package introspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Parse reads an RFC 7662 2.2 answer strictly: "active" must be a JSON
// boolean (the string "true" is not), "scope" a space-separated string (a
// list is refused rather than guessed at), "sub" and "client_id" strings,
// "exp" a number. Anything else about an active token is an error, so a
// confused or hostile server cannot make gatehouse grant more than it said.
func Parse(body []byte) (Result, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return Result{}, fmt.Errorf("answer is not a JSON object: %v", err)
	}
	// One object and nothing after it: a body with trailing data is not
	// the answer RFC 7662 describes, and a parser that stopped at the
	// first value could be shown a different answer than one that reads
	// the whole body (found by FuzzParse: `{"active":true}0`).
	if _, err := dec.Token(); err != io.EOF {
		return Result{}, fmt.Errorf("answer has data after its JSON object")
	}
	active, ok := raw["active"].(bool)
	if !ok {
		return Result{}, fmt.Errorf("answer: \"active\" is %s, want a boolean", describe(raw["active"]))
	}
	if !active {
		return Result{}, nil
	}
	var t Token
	var err error
	if t.Subject, err = optString(raw, "sub"); err != nil {
		return Result{}, err
	}
	if t.ClientID, err = optString(raw, "client_id"); err != nil {
		return Result{}, err
	}
	scope, err := optString(raw, "scope")
	if err != nil {
		return Result{}, err
	}
	t.Scopes = strings.Fields(scope)
	if v, ok := raw["exp"]; ok {
		n, ok := v.(json.Number)
		if !ok {
			return Result{}, fmt.Errorf("answer: \"exp\" is %s, want a number", describe(v))
		}
		f, err := n.Float64()
		if err != nil || f <= 0 || f > math.MaxInt32*4 {
			return Result{}, fmt.Errorf("answer: \"exp\" %s is out of range", n)
		}
		t.Expires = time.Unix(int64(f), 0)
	}
	t.Claims = map[string]any{}
	for k, v := range raw {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return Result{}, fmt.Errorf("answer: %q: %v", k, err)
			}
			v = f
		}
		t.Claims[k] = v
	}
	return Result{Active: true, Token: t}, nil
}

func optString(raw map[string]any, k string) (string, error) {
	v, ok := raw[k]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("answer: %q is %s, want a string", k, describe(v))
	}
	return s, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "missing"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// HasScopes reports whether every scope in want is among the token's
// scopes (exact, case-sensitive match: RFC 6749 3.3).
func (t Token) HasScopes(want []string) bool {
	for _, w := range want {
		found := false
		for _, s := range t.Scopes {
			if s == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
