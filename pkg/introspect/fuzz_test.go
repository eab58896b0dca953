package introspect

import (
	"encoding/json"
	"testing"
)

// Parse never panics, and says active only when the answer's "active" is
// the JSON boolean true; every scope it returns is a non-empty word of the
// answer's "scope" string.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"sub":"a","scope":"x y","exp":4102444800}`,
		`{"active":"true"}`, `{"active":true,"scope":["x"]}`, `{"active":false}`, `[]`, `{"active":true,"exp":1e400}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Parse(body)
		if err != nil || !r.Active {
			if r.Active {
				t.Fatalf("active with error %v", err)
			}
			return
		}
		var raw map[string]any
		if json.Unmarshal(body, &raw) != nil {
			t.Fatalf("active from a body encoding/json refuses: %q", body)
		}
		if raw["active"] != true {
			t.Fatalf("active although \"active\" is %#v", raw["active"])
		}
		for _, s := range r.Token.Scopes {
			if s == "" {
				t.Fatal("empty scope")
			}
		}
	})
}
