package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// resultCase is a decision a policy returns and what the service must make
// of it. result is a Rego expression for data.envoy.authz.allow; it may
// read the request (path carries the client's part).
type resultCase struct {
	name   string
	result string
	path   string
	status int
	reason string                // substring of the logged reasons
	check  func(o outcome) error // more for a decided response; nil: none
}

// malformedReason is what every malformed decision logs after its own
// error: it is denied as decided, not failed open.
const malformedReason = "denied: a policy that decides nothing allows nothing"

func malformedDecisions() []resultCase {
	bad := func(name, result, reason string) resultCase {
		return resultCase{name: name, result: result, status: 403, reason: reason}
	}
	noHeader := func(k string) func(o outcome) error {
		return func(o outcome) error {
			if _, ok := o.headers[k]; ok {
				return fmt.Errorf("header %q reached the response", k)
			}
			return nil
		}
	}
	return []resultCase{
		// The decision itself.
		bad("string decision", `"yes"`, "decision is a string, want a boolean or an object"),
		bad("number decision", `1`, "decision is a number"),
		bad("array decision", `[true]`, "decision is an array"),
		bad("null decision", `null`, "decision is null"),
		// "allowed".
		bad("allowed missing", `{"headers": {"x-a": "1"}}`, `decision object has no "allowed"`),
		bad("allowed missing, empty object", `{}`, `no "allowed"`),
		bad(`allowed "no"`, `{"allowed": "no"}`, `"allowed" is a string, want a boolean`),
		bad(`allowed "true"`, `{"allowed": "true"}`, `"allowed" is a string`),
		bad("allowed 1", `{"allowed": 1}`, `"allowed" is a number`),
		bad("allowed 0", `{"allowed": 0}`, `"allowed" is a number`),
		bad("allowed null", `{"allowed": null}`, `"allowed" is null`),
		bad("allowed [true]", `{"allowed": [true]}`, `"allowed" is an array`),
		bad("allowed {}", `{"allowed": {"v": true}}`, `"allowed" is an object`),
		bad(`allowed "no" with allow members`, `{"allowed": "no", "headers": {"x-a": "1"}, "http_status": 200}`, `"allowed" is a string`),
		// http_status, read on a deny only.
		bad("status string", `{"allowed": false, "http_status": "429"}`, `"http_status" is a string, want a number`),
		bad("status null", `{"allowed": false, "http_status": null}`, `"http_status" is null`),
		bad("status object", `{"allowed": false, "http_status": {"code": 429}}`, `"http_status" is an object`),
		bad("status fractional", `{"allowed": false, "http_status": 403.5}`, `"http_status" 403.5 is not an integer`),
		bad("status exponent", `{"allowed": false, "http_status": 4.03e2}`, `"http_status"`),
		bad("status 0", `{"allowed": false, "http_status": 0}`, `"http_status" 0 is not a status a denial can have`),
		bad("status negative", `{"allowed": false, "http_status": -403}`, `"http_status" -403 is not`),
		bad("status 99", `{"allowed": false, "http_status": 99}`, `"http_status" 99 is not`),
		bad("status 100", `{"allowed": false, "http_status": 100}`, `"http_status" 100 is not`),
		bad("status 200", `{"allowed": false, "http_status": 200}`, `"http_status" 200 is not`),
		bad("status 204", `{"allowed": false, "http_status": 204}`, `"http_status" 204 is not`),
		bad("status 418 (Go knows it, Envoy's enum does not)", `{"allowed": false, "http_status": 418}`, `"http_status" 418 is not`),
		bad("status 599", `{"allowed": false, "http_status": 599}`, `"http_status" 599 is not`),
		bad("status 600", `{"allowed": false, "http_status": 600}`, `"http_status" 600 is not`),
		bad("status 403 plus 2^32", `{"allowed": false, "http_status": 4294967699}`, `"http_status" 4294967699 is not`),
		bad("status huge", `{"allowed": false, "http_status": 1e400}`, `"http_status"`),
		{name: "status 302 with location", result: `{"allowed": false, "http_status": 302, "headers": {"location": "/login"}}`, status: 302,
			reason: "policy denied", check: func(o outcome) error {
				if o.headers["location"] != "/login" {
					return fmt.Errorf("location %q", o.headers["location"])
				}
				return nil
			}},
		{name: "status 511", result: `{"allowed": false, "http_status": 511}`, status: 511, reason: "policy denied"},
		{name: "bad status on an allow is not read", result: `{"allowed": true, "http_status": "nope"}`, status: 200, reason: "policy allowed"},
		// body, read on a deny only.
		bad("body object", `{"allowed": false, "http_status": 429, "body": {"msg": "x"}}`, `"body" is an object, want a string`),
		bad("body number", `{"allowed": false, "body": 5}`, `"body" is a number`),
		bad("body null", `{"allowed": false, "body": null}`, `"body" is null`),
		bad("body array", `{"allowed": false, "body": ["x"]}`, `"body" is an array`),
		{name: "bad body on an allow is not read", result: `{"allowed": true, "body": {"msg": "x"}}`, status: 200, reason: "policy allowed"},
		// headers, read on both: upstream on an allow, to the client on a deny.
		bad("headers string", `{"allowed": true, "headers": "x-a: 1"}`, `"headers" is a string, want an object`),
		bad("headers number", `{"allowed": true, "headers": 1}`, `"headers" is a number`),
		bad("headers null", `{"allowed": true, "headers": null}`, `"headers" is null`),
		bad("headers on a deny, string", `{"allowed": false, "headers": "x-a: 1"}`, `"headers" is a string`),
		bad("headers array of strings", `{"allowed": true, "headers": ["x-a: 1"]}`, `"headers" holds a string, want objects`),
		bad("headers array with a non-object", `{"allowed": true, "headers": [{"x-a": "1"}, 2]}`, `"headers" holds a number`),
		bad("header value number", `{"allowed": true, "headers": {"x-a": 1}}`, `"headers": header "x-a" is a number, want a string`),
		bad("header value boolean", `{"allowed": true, "headers": {"x-a": true}}`, `header "x-a" is a boolean`),
		bad("header value null", `{"allowed": true, "headers": {"x-a": null}}`, `header "x-a" is null`),
		bad("header value object", `{"allowed": true, "headers": {"x-a": {"v": "1"}}}`, `header "x-a" is an object`),
		bad("header value list with a number", `{"allowed": true, "headers": {"x-a": ["1", 2]}}`, `header "x-a" holds a number, want strings`),
		bad("header in array form, bad value", `{"allowed": true, "headers": [{"x-a": "1"}, {"x-b": 2}]}`, `header "x-b" is a number`),
		bad("pseudo-header :path", `{"allowed": true, "headers": {":path": "/admin"}}`, `header name ":path" is not an HTTP field name`),
		bad("pseudo-header :authority", `{"allowed": true, "headers": {":authority": "internal"}}`, `header name ":authority"`),
		bad("pseudo-header :status on a deny", `{"allowed": false, "headers": {":status": "200"}}`, `header name ":status"`),
		bad("host upstream", `{"allowed": true, "headers": {"Host": "internal.example"}}`, `header "Host" is used for routing`),
		bad("empty header name", `{"allowed": true, "headers": {"": "x"}}`, `header name ""`),
		bad("header name with a space", `{"allowed": true, "headers": {"x a": "1"}}`, `header name "x a"`),
		bad("header name with CR LF", `{"allowed": true, "headers": {"x-a\r\nx-admin": "1"}}`, `is not an HTTP field name`),
		bad("header name with a colon", `{"allowed": true, "headers": {"x-a:": "1"}}`, `header name "x-a:"`),
		bad("header value with CR LF", `{"allowed": true, "headers": {"x-a": "1\r\nx-admin: true"}}`, `value "1\r\nx-admin: true" holds NUL, CR or LF`),
		bad("header value with LF", `{"allowed": true, "headers": {"x-a": "1\nx"}}`, `holds NUL, CR or LF`),
		bad("header value with NUL", `{"allowed": true, "headers": {"x-a": "1\u0000"}}`, `holds NUL, CR or LF`),
		bad("header value list with CR LF", `{"allowed": true, "headers": {"x-a": ["ok", "1\r\n"]}}`, `holds NUL, CR or LF`),
		{name: "deny header with CR LF: no header, no body", result: `{"allowed": false, "http_status": 429, "body": "later", "headers": {"set-cookie": "a\r\nx: y"}}`,
			status: 403, reason: `"headers": header "set-cookie": value`, check: func(o outcome) error {
				if o.body != "" || len(o.headers) != 0 {
					return fmt.Errorf("the malformed decision's body or headers reached the client: %v", o)
				}
				return nil
			}},
		{name: "client CR LF echoed into a header", result: `{"allowed": true, "headers": {"x-tenant": input.parsed_query.t[0]}}`, path: "/?t=a%0D%0Ax-admin:%20true",
			status: 403, reason: `"headers": header "x-tenant": value "a\r\nx-admin: true"`, check: noHeader("x-tenant")},
		{name: "client value echoed into a header", result: `{"allowed": true, "headers": {"x-tenant": input.parsed_query.t[0]}}`, path: "/?t=t1",
			status: 200, reason: "policy allowed", check: func(o outcome) error {
				if o.headers["x-tenant"] != "t1" {
					return fmt.Errorf("x-tenant %q", o.headers["x-tenant"])
				}
				return nil
			}},
		// The consumer header belongs to gatehouse, in every form.
		{name: "consumer header set", result: `{"allowed": true, "headers": {"x-gatehouse-consumer": "admin"}}`, status: 200, reason: "policy allowed", check: onlyRealConsumer},
		{name: "consumer header in other case", result: `{"allowed": true, "headers": {"X-Gatehouse-Consumer": "admin"}}`, status: 200, reason: "policy allowed", check: onlyRealConsumer},
		{name: "consumer header in array form, twice", result: `{"allowed": true, "headers": [{"x-gatehouse-consumer": ["admin", "root"]}, {"X-GATEHOUSE-CONSUMER": "admin"}]}`, status: 200, reason: "policy allowed", check: onlyRealConsumer},
		{name: "consumer header removed", result: `{"allowed": true, "request_headers_to_remove": ["x-gatehouse-consumer", "X-Gatehouse-Consumer", "x-internal"]}`, status: 200, reason: "policy allowed", check: func(o outcome) error {
			if got := o.resp.GetOkResponse().GetHeadersToRemove(); len(got) != 1 || got[0] != "x-internal" {
				return fmt.Errorf("headers to remove %q, want [x-internal]", got)
			}
			return onlyRealConsumer(o)
		}},
		{name: "consumer and decision id in metadata", result: `{"allowed": true, "dynamic_metadata": {"consumer": "admin", "decision_id": "x", "tier": "gold"}}`, status: 200, reason: "policy allowed", check: func(o outcome) error {
			if o.meta[wire.ConsumerMetadataKey] != wire.AnonymousConsumer || o.meta[wire.DecisionIDMetadataKey] == "x" || o.meta["tier"] != "gold" {
				return fmt.Errorf("metadata %v", o.meta)
			}
			return nil
		}},
		// request_headers_to_remove and response_headers_to_add, read on an allow only.
		bad("remove not a list", `{"allowed": true, "request_headers_to_remove": "x-a"}`, `"request_headers_to_remove" is a string, want a list of strings`),
		bad("remove object", `{"allowed": true, "request_headers_to_remove": {"x-a": true}}`, `"request_headers_to_remove" is an object`),
		bad("remove with a number", `{"allowed": true, "request_headers_to_remove": ["x-a", 1]}`, `"request_headers_to_remove" holds a number, want strings`),
		bad("remove a pseudo-header", `{"allowed": true, "request_headers_to_remove": [":path"]}`, `header name ":path"`),
		bad("remove a name with CR LF", `{"allowed": true, "request_headers_to_remove": ["x\r\ny"]}`, `is not an HTTP field name`),
		bad("response headers string", `{"allowed": true, "response_headers_to_add": "x"}`, `"response_headers_to_add" is a string, want an object`),
		bad("response header number", `{"allowed": true, "response_headers_to_add": {"x-a": 1}}`, `"response_headers_to_add": header "x-a" is a number`),
		bad("response header CR LF", `{"allowed": true, "response_headers_to_add": {"set-cookie": "a=1\r\nx: y"}}`, `"response_headers_to_add": header "set-cookie": value`),
		bad("response pseudo-header", `{"allowed": true, "response_headers_to_add": {":status": "500"}}`, `"response_headers_to_add": header name ":status"`),
		{name: "bad allow members on a deny are not read", result: `{"allowed": false, "http_status": 429, "body": "later", "request_headers_to_remove": 5, "response_headers_to_add": "x", "query_parameters_to_set": [], "query_parameters_to_remove": {}}`,
			status: 429, reason: "policy denied", check: func(o outcome) error {
				if o.body != "later" {
					return fmt.Errorf("body %q", o.body)
				}
				return nil
			}},
		// dynamic_metadata, read on both.
		bad("metadata string", `{"allowed": true, "dynamic_metadata": "tier=gold"}`, `"dynamic_metadata" is a string, want an object`),
		bad("metadata array", `{"allowed": true, "dynamic_metadata": [{"tier": "gold"}]}`, `"dynamic_metadata" is an array`),
		bad("metadata number", `{"allowed": true, "dynamic_metadata": 1}`, `"dynamic_metadata" is a number`),
		bad("metadata null", `{"allowed": true, "dynamic_metadata": null}`, `"dynamic_metadata" is null`),
		bad("metadata string on a deny", `{"allowed": false, "dynamic_metadata": "x"}`, `"dynamic_metadata" is a string`),
		// Query changes, read on an allow only.
		bad("query set array", `{"allowed": true, "query_parameters_to_set": [{"a": "1"}]}`, `"query_parameters_to_set" is an array, want an object`),
		bad("query set string", `{"allowed": true, "query_parameters_to_set": "a=1"}`, `"query_parameters_to_set" is a string`),
		bad("query set number value", `{"allowed": true, "query_parameters_to_set": {"a": 1}}`, `"query_parameters_to_set": "a" is a number, want a string or a list`),
		bad("query set null value", `{"allowed": true, "query_parameters_to_set": {"a": null}}`, `"a" is null`),
		bad("query set list with a number", `{"allowed": true, "query_parameters_to_set": {"a": ["1", 2]}}`, `"query_parameters_to_set": "a" holds a number, want strings`),
		bad("query set value with &", `{"allowed": true, "query_parameters_to_set": {"a": "1&admin=true"}}`, `value "1&admin=true"`),
		bad("query set value with a space", `{"allowed": true, "query_parameters_to_set": {"a": "1 2"}}`, `value "1 2"`),
		bad("query set value with CR LF", `{"allowed": true, "query_parameters_to_set": {"a": "1\r\n"}}`, `value "1\r\n"`),
		bad("query set value with #", `{"allowed": true, "query_parameters_to_set": {"a": "1#x"}}`, `value "1#x"`),
		bad("query set value with a bad escape", `{"allowed": true, "query_parameters_to_set": {"a": "%zz"}}`, `value "%zz"`),
		bad("query set name with =", `{"allowed": true, "query_parameters_to_set": {"a=b": "1"}}`, `query parameter name "a=b"`),
		bad("query set empty name", `{"allowed": true, "query_parameters_to_set": {"": "1"}}`, `query parameter name ""`),
		{name: "client & echoed into a query value", result: `{"allowed": true, "query_parameters_to_set": {"t": input.parsed_query.t[0]}}`, path: "/?t=a%26admin%3Dtrue",
			status: 403, reason: `value "a&admin=true"`},
		{name: "query set, percent-encoded", result: `{"allowed": true, "query_parameters_to_set": {"a": "1%262", "b": ["x", "y/z?"]}}`, status: 200, reason: "policy allowed", check: func(o outcome) error {
			if got := o.resp.GetOkResponse().GetQueryParametersToSet(); len(got) != 3 {
				return fmt.Errorf("query to set %v", got)
			}
			return nil
		}},
		bad("query remove string", `{"allowed": true, "query_parameters_to_remove": "a"}`, `"query_parameters_to_remove" is a string, want a list of strings`),
		bad("query remove with a number", `{"allowed": true, "query_parameters_to_remove": ["a", 1]}`, `"query_parameters_to_remove" holds a number`),
		bad("query remove name with &", `{"allowed": true, "query_parameters_to_remove": ["a&b"]}`, `query parameter name "a&b"`),
		// Members opa-envoy-plugin does not know are ignored, as there.
		{name: "unknown member", result: `{"allowed": true, "status": "nope"}`, status: 200, reason: "policy allowed"},
	}
}

// onlyRealConsumer: the upstream gets gatehouse's consumer header, once.
func onlyRealConsumer(o outcome) error {
	var got []*corev3.HeaderValueOption
	for _, h := range o.resp.GetOkResponse().GetHeaders() {
		if strings.EqualFold(h.GetHeader().GetKey(), wire.ConsumerHeader) {
			got = append(got, h)
		}
	}
	if len(got) != 1 || got[0].GetHeader().GetValue() != wire.AnonymousConsumer {
		return fmt.Errorf("consumer headers %v, want one of %q", got, wire.AnonymousConsumer)
	}
	return nil
}

// TestMalformedDecisions runs every decision above on both engines, under
// policies that fail open: a malformed decision must deny (403, the
// documented status of docs/security/authz.md) with its reason, never
// allow and never fail open.
func TestMalformedDecisions(t *testing.T) {
	cases := malformedDecisions()
	cfg := &Config{Policies: map[string]Policy{}}
	for i, tc := range cases {
		src := fmt.Sprintf("package envoy.authz\n\nallow := %s\n", tc.result)
		cfg.Policies[fmt.Sprintf("m%d", i)] = Policy{Modules: map[string]string{"policy.rego": src}, FailOpen: true}
	}
	for _, engine := range []string{EngineIR, EngineTopdown} {
		logs := &decisions{}
		// A time limit far away: under load it could fail these open.
		s, err := New(Options{DecisionLogger: logs.log, EvalTimeout: 10 * time.Second, topdownOnly: engine == EngineTopdown})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if engine == EngineIR {
			for name, e := range s.Engines() {
				if e != EngineIR {
					t.Fatalf("policy %s runs on %q: this test is for both engines", name, e)
				}
			}
		}
		for i, tc := range cases {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				o := check(t, s, req{path: tc.path, ext: ext("r", "", fmt.Sprintf("m%d", i))}.build(t))
				d := logs.last(t)
				reasons := strings.Join(d.Reasons, "; ")
				if o.status != tc.status || d.Status != tc.status || d.FailedOpen || d.Engine != engine {
					t.Fatalf("got %v (logged %d, failed open %v, engine %q), want %d; reasons %q", o, d.Status, d.FailedOpen, d.Engine, tc.status, d.Reasons)
				}
				if !strings.Contains(reasons, tc.reason) {
					t.Errorf("reasons %q, want one containing %q", d.Reasons, tc.reason)
				}
				if tc.status == 403 && tc.reason != "policy denied" && !strings.Contains(reasons, malformedReason) {
					t.Errorf("reasons %q, want %q", d.Reasons, malformedReason)
				}
				if tc.check != nil {
					if err := tc.check(o); err != nil {
						t.Error(err)
					}
				}
			})
		}
	}
}
