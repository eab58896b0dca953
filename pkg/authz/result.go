package authz

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// policyResult is a Rego decision in the shape opa-envoy-plugin accepts:
// a boolean, or an object with "allowed" and optional response controls.
type policyResult struct {
	allowed         bool
	headers         []*corev3.HeaderValueOption // upstream on allow, client on deny
	removeHeaders   []string
	responseHeaders []*corev3.HeaderValueOption
	setQuery        []*corev3.QueryParameter
	removeQuery     []string
	status          int // 0: default (403 on deny)
	body            *string
	dynamic         *structpb.Struct
}

// parseResult reads a decision as opa-envoy-plugin does
// (internal/internal.go, envoyauth/response.go): "allowed", "headers" and
// "dynamic_metadata" always; request_headers_to_remove,
// response_headers_to_add and the query changes only on an allow; body and
// http_status only on a deny. A member the decision does not use is not
// read, so not validated; a wrong type in one it uses makes the whole
// decision invalid (deny).
func parseResult(v any) (*policyResult, error) {
	switch d := v.(type) {
	case bool:
		return &policyResult{allowed: d}, nil
	case map[string]any:
		return parseObjectResult(d)
	}
	return nil, fmt.Errorf("decision is %s, want a boolean or an object", typeName(v))
}

func parseObjectResult(d map[string]any) (*policyResult, error) {
	r := &policyResult{}
	a, ok := d["allowed"]
	if !ok {
		return nil, fmt.Errorf(`decision object has no "allowed"`)
	}
	if r.allowed, ok = a.(bool); !ok {
		return nil, fmt.Errorf(`"allowed" is %s, want a boolean`, typeName(a))
	}
	var err error
	if r.headers, err = headerOptions(d, "headers"); err != nil {
		return nil, err
	}
	if r.dynamic, err = dynamicMetadata(d); err != nil {
		return nil, err
	}
	if r.allowed {
		return r, parseAllowMembers(d, r)
	}
	return r, parseDenyMembers(d, r)
}

func parseAllowMembers(d map[string]any, r *policyResult) error {
	var err error
	if r.responseHeaders, err = headerOptions(d, "response_headers_to_add"); err != nil {
		return err
	}
	if r.removeHeaders, err = stringList(d, "request_headers_to_remove", checkHeaderName); err != nil {
		return err
	}
	if r.removeQuery, err = stringList(d, "query_parameters_to_remove", checkQueryKey); err != nil {
		return err
	}
	r.setQuery, err = queryParams(d)
	return err
}

func parseDenyMembers(d map[string]any, r *policyResult) error {
	if s, ok := d["http_status"]; ok {
		code, err := denyStatus(s)
		if err != nil {
			return err
		}
		r.status = code
	}
	if b, ok := d["body"]; ok {
		s, isStr := b.(string)
		if !isStr {
			return fmt.Errorf(`"body" is %s, want a string`, typeName(b))
		}
		r.body = &s
	}
	return nil
}

// denyStatus reads "http_status" as opa-envoy-plugin does (an integer that
// Go's net/http and Envoy's StatusCode enum both name), and further refuses
// 1xx and 2xx: Envoy sends the denied response's code as the local reply's
// status, whatever it is (Envoy: source/extensions/filters/common/ext_authz/
// ext_authz_grpc_impl.cc, denied_response.status().code();
// source/extensions/filters/http/ext_authz/ext_authz.cc, sendLocalReply),
// so a deny answered 200 would tell the client and every log that a
// request succeeded which never reached the upstream, and a 1xx is no
// final response at all.
func denyStatus(v any) (int, error) {
	n, isNum := v.(json.Number)
	if !isNum {
		return 0, fmt.Errorf(`"http_status" is %s, want a number`, typeName(v))
	}
	code, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf(`"http_status" %s is not an integer`, n)
	}
	if code < 300 || code > 599 || http.StatusText(int(code)) == "" || typev3.StatusCode_name[int32(code)] == "" {
		return 0, fmt.Errorf(`"http_status" %d is not a status a denial can have (3xx, 4xx or 5xx known to Envoy)`, code)
	}
	return int(code), nil
}

func dynamicMetadata(d map[string]any) (*structpb.Struct, error) {
	m, ok := d["dynamic_metadata"]
	if !ok {
		return nil, nil
	}
	obj, isObj := m.(map[string]any)
	if !isObj {
		return nil, fmt.Errorf(`"dynamic_metadata" is %s, want an object`, typeName(m))
	}
	st, err := structpb.NewStruct(jsonNumbersToFloat(obj).(map[string]any))
	if err != nil {
		return nil, fmt.Errorf(`"dynamic_metadata": %w`, err)
	}
	return st, nil
}

// headerOptions reads an object of header -> string or list of strings, or
// a list of such objects (both forms are accepted by opa-envoy-plugin).
func headerOptions(d map[string]any, field string) ([]*corev3.HeaderValueOption, error) {
	v, ok := d[field]
	if !ok {
		return nil, nil
	}
	var objs []map[string]any
	switch x := v.(type) {
	case map[string]any:
		objs = []map[string]any{x}
	case []any:
		for _, e := range x {
			o, isObj := e.(map[string]any)
			if !isObj {
				return nil, fmt.Errorf("%q holds %s, want objects", field, typeName(e))
			}
			objs = append(objs, o)
		}
	default:
		return nil, fmt.Errorf("%q is %s, want an object", field, typeName(v))
	}
	var out []*corev3.HeaderValueOption
	for _, o := range objs {
		for _, k := range sortedKeys(o) {
			if err := checkHeaderName(field, k); err != nil {
				return nil, err
			}
			add := func(s string) error {
				if strings.ContainsAny(s, "\x00\r\n") {
					return fmt.Errorf("%q: header %q: value %q holds NUL, CR or LF", field, k, s)
				}
				out = append(out, &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: s}})
				return nil
			}
			switch val := o[k].(type) {
			case string:
				if err := add(val); err != nil {
					return nil, err
				}
			case []any:
				for _, e := range val {
					s, isStr := e.(string)
					if !isStr {
						return nil, fmt.Errorf("%q: header %q holds %s, want strings", field, k, typeName(e))
					}
					if err := add(s); err != nil {
						return nil, err
					}
				}
			default:
				return nil, fmt.Errorf("%q: header %q is %s, want a string", field, k, typeName(val))
			}
		}
	}
	return out, nil
}

func stringList(d map[string]any, field string, check func(field, s string) error) ([]string, error) {
	v, ok := d[field]
	if !ok {
		return nil, nil
	}
	l, isList := v.([]any)
	if !isList {
		return nil, fmt.Errorf("%q is %s, want a list of strings", field, typeName(v))
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, isStr := e.(string)
		if !isStr {
			return nil, fmt.Errorf("%q holds %s, want strings", field, typeName(e))
		}
		if err := check(field, s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func queryParams(d map[string]any) ([]*corev3.QueryParameter, error) {
	v, ok := d["query_parameters_to_set"]
	if !ok {
		return nil, nil
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		return nil, fmt.Errorf(`"query_parameters_to_set" is %s, want an object`, typeName(v))
	}
	var out []*corev3.QueryParameter
	add := func(k, v string) error {
		if err := checkQueryValue(k, v); err != nil {
			return err
		}
		out = append(out, &corev3.QueryParameter{Key: k, Value: v})
		return nil
	}
	for _, k := range sortedKeys(o) {
		if err := checkQueryKey("query_parameters_to_set", k); err != nil {
			return nil, err
		}
		switch val := o[k].(type) {
		case string:
			if err := add(k, val); err != nil {
				return nil, err
			}
		case []any:
			for _, e := range val {
				s, isStr := e.(string)
				if !isStr {
					return nil, fmt.Errorf(`"query_parameters_to_set": %q holds %s, want strings`, k, typeName(e))
				}
				if err := add(k, s); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf(`"query_parameters_to_set": %q is %s, want a string or a list`, k, typeName(val))
		}
	}
	return out, nil
}

// withoutConsumerHeader drops any attempt of a policy to set or remove the
// consumer header: gatehouse owns it, and the upstream trusts it.
func withoutConsumerHeader(hs []*corev3.HeaderValueOption) []*corev3.HeaderValueOption {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.GetHeader().GetKey(), wire.ConsumerHeader) {
			out = append(out, h)
		}
	}
	return out
}

func withoutConsumerName(names []string) []string {
	out := names[:0]
	for _, n := range names {
		if !strings.EqualFold(n, wire.ConsumerHeader) {
			out = append(out, n)
		}
	}
	return out
}

// jsonNumbersToFloat makes a Rego result acceptable to structpb, which
// knows float64 but not json.Number.
func jsonNumbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = jsonNumbersToFloat(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonNumbersToFloat(e)
		}
		return x
	}
	return v
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
