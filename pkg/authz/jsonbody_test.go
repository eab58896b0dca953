package authz

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseJSONBodyStrict(t *testing.T) {
	many := func(dupAt int) string {
		var parts []string
		for i := 0; i < 40; i++ {
			parts = append(parts, fmt.Sprintf(`"k%d": {"k%d": [1, {"k0": 0}]}`, i, i))
		}
		if dupAt >= 0 {
			parts = append(parts, fmt.Sprintf(`"k%d": 0`, dupAt))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"a": 1, "b": {"a": 1}, "c": [{"a": 1}, {"a": 2}]}`, true},
		{`{"a": "}\"{,", "b": "a"}`, true},
		{` [1, 2] `, true},
		{many(-1), true},
		{`{"a": 1, "a": 1}`, false},
		{`{"a": 1, "\u0061": 2}`, false},
		{"{\"\xff\": 1, \"\xfe\": 2}", false}, // both decode to U+FFFD
		{`{"x": [{"a": 1, "b": {"c": 1}, "a": 2}]}`, false},
		{many(3), false},
		{many(39), false},
		{`{"a":1}}`, false},
		{`{"a":1} {"a":1}`, false},
		{`{"a":1}]`, false},
		{`{"a":1} x`, false},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), false},
	} {
		_, err := parseJSONBody([]byte(tc.body))
		if (err == nil) != tc.ok {
			b := tc.body
			if len(b) > 80 {
				b = b[:80] + "..."
			}
			t.Errorf("%q: error %v, want ok %v", b, err, tc.ok)
		}
	}
}
