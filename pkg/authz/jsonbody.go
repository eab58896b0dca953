package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxJSONDepth is encoding/json's own nesting limit, which
// opa-envoy-plugin's parser inherits: bodies it accepts are accepted here.
const maxJSONDepth = 10000

// parseJSONBody decodes a JSON body strictly: one value and nothing after
// it (opa-envoy-plugin refuses `{"a":1}}` too), and no object with the same
// key twice: parsers disagree on which duplicate wins, so a policy and the
// upstream could see different values.
func parseJSONBody(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("data after the JSON value: %v", tok)
		}
		return nil, err
	}
	return v, nil
}

func decodeJSON(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		return tok, nil // string, json.Number, bool or nil
	}
	if depth >= maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	switch d {
	case '{':
		return decodeObject(dec, depth)
	case '[':
		return decodeArray(dec, depth)
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

func decodeObject(dec *json.Decoder, depth int) (any, error) {
	obj := map[string]any{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := kt.(string) // the decoder gives only a string here
		if _, dup := obj[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		if obj[k], err = decodeJSON(dec, depth+1); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return obj, nil
}

func decodeArray(dec *json.Decoder, depth int) (any, error) {
	arr := []any{}
	for dec.More() {
		v, err := decodeJSON(dec, depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return arr, nil
}
