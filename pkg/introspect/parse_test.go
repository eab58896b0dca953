package introspect

import (
	"strings"
	"testing"
)

// A hostile or confused server cannot get a token accepted, or widen its
// scopes, with answers that only look active.
func TestParseRefusesLookalikes(t *testing.T) {
	for _, tc := range []struct{ body, err string }{
		{`{"active":"true","sub":"x"}`, `"active" is a string`},
		{`{"active":1}`, `"active" is a number`},
		{`{"sub":"x"}`, `"active" is missing`},
		{`{"active":true,"scope":["admin","read"]}`, `"scope" is a list`},
		{`{"active":true,"sub":{"id":"x"}}`, `"sub" is an object`},
		{`{"active":true,"client_id":7}`, `"client_id" is a number`},
		{`{"active":true,"exp":"4102444800"}`, `"exp" is a string`},
		{`{"active":true,"exp":-1}`, `"exp" -1 is out of range`},
		{`[true]`, `not a JSON object`},
		{`not json`, `not a JSON object`},
		{`{"active":true}0`, `data after its JSON object`},
		{`{"active":true}{"active":false}`, `data after its JSON object`},
		{`{"active":false}{"active":true}`, `data after its JSON object`},
		{`{"active":true} garbage`, `data after its JSON object`},
	} {
		r, err := Parse([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.err) || r.Active {
			t.Errorf("Parse(%s) = %+v, %v; want an error containing %q", tc.body, r, err, tc.err)
		}
	}
}

func TestParseScopesAreSpaceSeparatedAndExact(t *testing.T) {
	r, err := Parse([]byte(`{"active":true,"sub":"s","client_id":"c","scope":"read  write:all","exp":4102444800}`))
	if err != nil || !r.Active {
		t.Fatal(r, err)
	}
	if got := strings.Join(r.Token.Scopes, ","); got != "read,write:all" {
		t.Errorf("scopes %q", got)
	}
	for want, ok := range map[string]bool{"read": true, "write:all": true, "write": false, "READ": false, "read write:all": false, "": false} {
		if got := r.Token.HasScopes([]string{want}); got != ok {
			t.Errorf("HasScopes(%q) = %v, want %v", want, got, ok)
		}
	}
	if r, _ := Parse([]byte(`{"active":false,"scope":"admin","sub":"root"}`)); r.Active || r.Token.Subject != "" {
		t.Errorf("inactive answer leaked %+v", r)
	}
}
