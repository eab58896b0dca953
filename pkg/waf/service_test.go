package waf

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	coraza "github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func get(path string) [][2]string {
	return [][2]string{{":method", "GET"}, {":path", path}, {":scheme", "http"}, {":authority", "shop.example"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64)"}, {"accept", "text/html"}, {"x-request-id", "req-7f3a"}}
}

func run(t *testing.T, svc *Service, policy string, hs [][2]string, body []byte, respBody string) ([]int, bool, string) {
	t.Helper()
	client := startService(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, blocked, err := envoyExchange(ctx, client, policy, "HTTP/1.1", hs, body, 200, [][2]string{{"content-type", "text/plain"}}, []byte(respBody), 1024)
	if err != nil {
		t.Fatal(err)
	}
	if blocked == nil {
		return ids, false, ""
	}
	return ids, true, string(blocked.Body)
}

const sqli = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--"

// TestBlocksWith403AndRequestID: an injection is answered by the service
// (an immediate response, so Envoy never forwards it upstream) with 403,
// the request id, and the matched rule ids in the dynamic metadata.
func TestBlocksWith403AndRequestID(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	client := startService(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, blocked, err := envoyExchange(ctx, client, "edge", "HTTP/1.1", get(sqli), nil, 200, nil, nil, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if blocked == nil || blocked.Status.Code != 403 {
		t.Fatalf("SQL injection not blocked with 403: %v", blocked)
	}
	if !strings.Contains(string(blocked.Body), "req-7f3a") {
		t.Errorf("403 body %q lacks the request id", blocked.Body)
	}
	if !slices.Contains(ids, 949110) || !slices.ContainsFunc(ids, func(id int) bool { return id >= 942000 && id < 943000 }) {
		t.Errorf("rule ids %v: want a 942xxx SQLi rule and 949110", ids)
	}
	if ids, blocked, _ := run(t, svc, "edge", get("/search?q=running+shoes"), nil, "ok"); blocked || len(ids) != 0 {
		t.Errorf("benign request: blocked %v, ids %v", blocked, ids)
	}
}

// TestDetectionOnlyReportsWithoutBlocking.
func TestDetectionOnlyReportsWithoutBlocking(t *testing.T) {
	svc, err := New(map[string]Policy{"watch": {DetectionOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	ids, blocked, _ := run(t, svc, "watch", get(sqli), nil, "ok")
	if blocked || !slices.Contains(ids, 949110) {
		t.Errorf("detection only: blocked %v, ids %v (want not blocked, 949110 reported)", blocked, ids)
	}
}

// TestBodyInjectionBlockedAcrossChunks: the payload split over body
// messages is still seen (the attacker's split-the-body trick).
func TestBodyInjectionBlockedAcrossChunks(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("comment=" + strings.Repeat("a", 1020) + "<script>alert(document.cookie)</script>")
	hs := append(get("/comments"), [2]string{"content-type", "application/x-www-form-urlencoded"}, [2]string{"content-length", "1078"})
	hs[0][1] = "POST"
	_, blocked, _ := run(t, svc, "edge", hs, body, "ok")
	if !blocked {
		t.Error("XSS split across two body chunks was not blocked")
	}
}

// TestResponseInspection: a leaking response is blocked before its headers
// reach the client (response body buffered by Envoy).
func TestResponseInspection(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {InspectResponse: true}, "noresp": {}})
	if err != nil {
		t.Fatal(err)
	}
	leak := "Warning: mysql_fetch_array(): supplied argument is not a valid MySQL result resource in /var/www/x.php on line 3. You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version"
	if _, blocked, _ := run(t, svc, "edge", get("/item"), nil, leak); !blocked {
		t.Error("SQL error leak in the response was not blocked")
	}
	if _, blocked, _ := run(t, svc, "noresp", get("/item"), nil, leak); blocked {
		t.Error("response blocked with response inspection off")
	}
}

// TestExclusions: by id, by tag, by path prefix; the path exclusion does
// not leak to other paths (an attacker cannot use /healthz/../search).
func TestExclusions(t *testing.T) {
	svc, err := New(map[string]Policy{
		"byTag":  {ExcludeTags: []string{"attack-sqli"}},
		"byPath": {PathExclusions: []PathExclusion{{Prefix: "/search", Tags: []string{"attack-sqli"}}}},
		"byID":   {ExcludeIDs: []int{949110}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		policy, path string
		blocked      bool
	}{
		{"byTag", sqli, false},
		{"byPath", sqli, false},
		{"byPath", strings.Replace(sqli, "/search", "/other", 1), true},
		{"byPath", strings.Replace(sqli, "/search", "/other/../search", 1), true},
		{"byID", sqli, false},
	} {
		if _, blocked, _ := run(t, svc, tc.policy, get(tc.path), nil, "ok"); blocked != tc.blocked {
			t.Errorf("%s %s: blocked %v, want %v", tc.policy, tc.path, blocked, tc.blocked)
		}
	}
}

// TestBodyLimit: a body over the limit is refused, not passed uninspected
// (padding past the limit is the classic WAF bypass).
func TestBodyLimit(t *testing.T) {
	svc, err := New(map[string]Policy{"small": {RequestBodyLimit: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("a=" + strings.Repeat("b", 4096) + "&q=1' UNION SELECT password FROM users--")
	hs := append(get("/form"), [2]string{"content-type", "application/x-www-form-urlencoded"})
	hs[0][1] = "POST"
	if _, blocked, _ := run(t, svc, "small", hs, body, "ok"); !blocked {
		t.Error("body over the limit passed")
	}
}

// TestUnknownPolicyFailsClosed: a stream without a known policy is refused;
// Envoy's failure_mode_allow false then answers 500, never forwards.
func TestUnknownPolicyFailsClosed(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	client := startService(t, svc)
	for _, name := range []string{"", "other"} {
		_, _, err := envoyExchange(context.Background(), client, name, "", get("/"), nil, 200, nil, nil, 1024)
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("policy %q: err %v, want FailedPrecondition", name, err)
		}
	}
}

// TestBadPolicy: each bad field is rejected with its name.
func TestBadPolicy(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{ParanoiaLevel: 5}, "paranoiaLevel"},
		{Policy{ExcludeIDs: []int{942100, 123456}}, "exclude.ids[1]: 123456 is not a rule"},
		{Policy{ExcludeTags: []string{"x\"\nSecRuleEngine Off"}}, "exclude.tags[0]"},
		{Policy{PathExclusions: []PathExclusion{{Prefix: "/a\" \"id:1,phase:1,ctl:ruleEngine=Off", IDs: []int{942100}}}}, "exclude.paths[0].prefix"},
		{Policy{PathExclusions: []PathExclusion{{Prefix: "/a"}}}, "exclude.paths[0]: names no rule"},
		{Policy{RequestBodyLimit: 1 << 30}, "requestBodyLimit"},
	} {
		_, err := New(map[string]Policy{"p": tc.p})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "firewall p") {
			t.Errorf("%+v: err %v, want %q", tc.p, err, tc.want)
		}
	}
}

// panicking stands in for a bug in the rule engine.
type panicking struct{ coraza.WAF }

func (panicking) NewTransaction() types.Transaction { panic("engine bug") }

// TestPanicRefusesTheRequest: a panic while evaluating refuses the one
// request (403) and the service keeps serving the next stream.
func TestPanicRefusesTheRequest(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}})
	if err != nil {
		t.Fatal(err)
	}
	wafs := map[string]coraza.WAF{"edge": (*svc.wafs.Load())["edge"], "buggy": panicking{}}
	svc.wafs.Store(&wafs)
	client := startService(t, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, blocked, _ := envoyExchange(ctx, client, "buggy", "", get("/"), nil, 200, nil, nil, 1024)
	if blocked == nil || blocked.Status.Code != 403 {
		t.Fatalf("panic: answer %v, want 403", blocked)
	}
	if _, blocked, err := envoyExchange(ctx, client, "edge", "", get("/"), nil, 200, nil, nil, 1024); err != nil || blocked != nil {
		t.Fatalf("next stream after a panic: err %v blocked %v", err, blocked)
	}
}

// TestClientCannotChoosePolicy: a request header named like the policy
// metadata key does not select a policy (only Envoy's gRPC metadata does).
func TestClientCannotChoosePolicy(t *testing.T) {
	svc, err := New(map[string]Policy{"edge": {}, "lax": {DetectionOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	hs := append(get(sqli), [2]string{PolicyMetadataKey, "lax"})
	if _, blocked, _ := run(t, svc, "edge", hs, nil, "ok"); !blocked {
		t.Error("a request header switched the stream to the detection-only policy")
	}
}
