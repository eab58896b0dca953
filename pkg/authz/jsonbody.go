package authz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// parseJSONBody decodes a JSON body strictly: one value and nothing after
// it (opa-envoy-plugin refuses `{"a":1}}` too), nesting within
// encoding/json's limit (which the plugin inherits), and no object with the
// same key twice: parsers disagree on which duplicate wins, so a policy and
// the upstream could read different values.
func parseJSONBody(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("data after the JSON value: %v", tok)
		}
		return nil, err
	}
	if err := checkDuplicateKeys(body); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonFrame is an open object or array while scanning for duplicate keys.
type jsonFrame struct {
	object, wantKey bool
	start           int                 // this object's first key in the scanner's keys
	set             map[string]struct{} // its keys, once there are many
}

// linearKeys is how many keys an object is searched linearly for a
// duplicate before its keys go into a set.
const linearKeys = 16

// checkDuplicateKeys finds an object key given twice in b, a JSON text
// encoding/json has already accepted. Keys compare as encoding/json
// decodes them (escapes resolved, invalid UTF-8 as U+FFFD), so two
// spellings of one key are a duplicate.
func checkDuplicateKeys(b []byte) error {
	var stack []jsonFrame
	var keys []string
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, jsonFrame{object: true, wantKey: true, start: len(keys)})
		case '[':
			stack = append(stack, jsonFrame{start: len(keys)})
		case '}', ']':
			keys = keys[:stack[len(stack)-1].start]
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; stack[top].object {
				stack[top].wantKey = true
			}
		case '"':
			j, plain := i+1, true
			for ; b[j] != '"'; j++ {
				switch {
				case b[j] == '\\':
					j++
					plain = false
				case b[j] >= 0x80:
					plain = false
				}
			}
			if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
				k := string(b[i+1 : j])
				if !plain {
					if err := json.Unmarshal(b[i:j+1], &k); err != nil {
						return err
					}
				}
				if err := addKey(&stack[top], &keys, k); err != nil {
					return err
				}
			}
			i = j
		}
	}
	return nil
}

func addKey(f *jsonFrame, keys *[]string, k string) error {
	f.wantKey = false
	if f.set != nil {
		if _, dup := f.set[k]; dup {
			return fmt.Errorf("duplicate key %q", k)
		}
		f.set[k] = struct{}{}
		return nil
	}
	own := (*keys)[f.start:]
	for _, seen := range own {
		if seen == k {
			return fmt.Errorf("duplicate key %q", k)
		}
	}
	*keys = append(*keys, k)
	if len(own)+1 > linearKeys {
		f.set = make(map[string]struct{}, 2*linearKeys)
		for _, s := range (*keys)[f.start:] {
			f.set[s] = struct{}{}
		}
	}
	return nil
}
