package authz

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// FuzzCheckRequestInput: whatever the client sends, the eager and the lazy
// input agree (same value, or the same refusal), nothing panics, and a
// request the input cannot be built from is a decided deny (400 or 413),
// never failed open, under a policy that fails open. `go test` runs the
// seeds; `go test -fuzz FuzzCheckRequestInput ./pkg/authz` explores.
func FuzzCheckRequestInput(f *testing.F) {
	f.Add("GET", "/a/b?x=1&x=2", "application/json", `{"n": 4}`, "", false)
	f.Add("POST", "/x?a=1;b=2", "application/json", `{`, "", false)
	f.Add("POST", "/%zz", "Application/JSON; charset=utf-8", `{"a":1}}`, "8", false)
	f.Add("POST", "/", "application/problem+json", `{"a":1,"a":2}`, "", false)
	f.Add("PUT", "//a//b/", "application/x-www-form-urlencoded", "a=1&b=%zz", "999", false)
	f.Add("POST", "/", "multipart/form-data; boundary=XyZ", "--XyZ\r\nContent-Disposition: form-data; name=\"j\"\r\nContent-Type: application/json\r\n\r\n{\"k\":1,\"k\":2}\r\n--XyZ--\r\n", "", false)
	f.Add("POST", "/", "application/json", `{"n": 1}`, "", true)
	f.Add("POST", "/", "text/plain", strings.Repeat("[", 300), "x", false)
	f.Add("GET", "/\xff\xfe?\xff=1", "application/json garbage", "\xff", "", false)

	mod := map[string]string{"p.rego": `package envoy.authz
import rego.v1
allow if input.parsed_body != 7`}
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	var logged Decision
	s.opts.DecisionLogger = func(d Decision) { logged = d }
	if err := s.Update(context.Background(), &Config{Policies: map[string]Policy{"open": {Modules: mod, FailOpen: true}}}); err != nil {
		f.Fatal(err)
	}
	ghInfo := gatehouseInfo{"g", "r", "open", identity{consumer: "anonymous"}}
	gh := gatehouseTerm(ghInfo.gateway, ghInfo.route, ghInfo.policy, ghInfo.id)

	f.Fuzz(func(t *testing.T, method, path, contentType, body, contentLength string, partial bool) {
		h := map[string]string{"content-type": contentType}
		if contentLength != "" {
			h["content-length"] = contentLength
		}
		if partial {
			h["x-envoy-auth-partial-body"] = "true"
		}
		cr, ok := req{method: method, path: path, body: body, headers: h, ext: ext("r", "", "open")}.tryBuild()
		if !ok {
			return // not a request Envoy could send (protojson refuses it)
		}
		want, eagerErr := buildInput(cr, 0, gh)
		l, lazyErr := newLazyInput(cr, 0, ghInfo)
		var eagerBad, lazyBad *requestError
		if errors.As(eagerErr, &eagerBad) != errors.As(lazyErr, &lazyBad) || (eagerErr == nil) != (lazyErr == nil) {
			t.Fatalf("eager error %v, lazy error %v", eagerErr, lazyErr)
		}
		if eagerErr != nil && eagerBad == nil {
			t.Fatalf("input error that is not a requestError: %v", eagerErr)
		}
		if eagerErr == nil {
			if got := l.Materialize().Value; got.Compare(want) != 0 {
				t.Fatalf("lazy input differs:\n got %v\nwant %v", got, want)
			}
		} else if eagerBad.status != lazyBad.status {
			t.Fatalf("eager status %d, lazy %d", eagerBad.status, lazyBad.status)
		}

		o := check(t, s, cr)
		if strings.Contains(strings.Join(logged.Reasons, ";"), "internal error") {
			t.Fatalf("panic: %q", logged.Reasons)
		}
		// The policy reads the body: the service refuses exactly what the
		// whole input refuses.
		switch {
		case eagerBad != nil && (o.status != eagerBad.status || logged.FailedOpen):
			t.Fatalf("input error %v: got %v failed open %v, want %d", eagerErr, o, logged.FailedOpen, eagerBad.status)
		case eagerBad == nil && o.status != 200:
			t.Fatalf("got %v, want 200; reasons %q", o, logged.Reasons)
		}
	})
}
