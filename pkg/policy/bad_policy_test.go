package policy

import "testing"

// Lines 1-3 of the cases below.
const (
	authn    = "kind: Authentication\nname: n\nspec:\n"
	consumer = "kind: Consumer\nname: c\nspec:\n"
	plan     = "kind: Plan\nname: p\nspec:\n"
	authz    = "kind: Authorization\nname: z\nspec:\n"
	rlimit   = "kind: RateLimit\nname: l\nspec:\n"
)

// jwtHead is lines 1-6 of a JWT Authentication; jwks follows on line 7.
const jwtHead = authn + "  jwt:\n    issuer: https://idp.example.com/\n    audiences: [api]\n"

const (
	hashA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	hashB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

const keyHint = "only the SHA-256 hex digest of a key is stored; create one with `gatehouse consumer key create NAME`"

// TestBadPolicyInputs covers the validation rules of Authentication,
// Consumer, Plan, Authorization and RateLimit, and the references to them.
func TestBadPolicyInputs(t *testing.T) {
	runBadCases(t, []badCase{
		// Authentication
		{"authn neither kind", authn + "  {}\n",
			3, "Authentication/n", "spec", `set exactly one of jwt, apiKey`},
		{"authn both kinds", jwtHead + "    jwks: {uri: https://idp.example.com/jwks.json}\n  apiKey: {header: x-api-key}\n",
			3, "Authentication/n", "spec", `set exactly one of jwt, apiKey`},
		{"jwt without issuer", authn + "  jwt:\n    audiences: [api]\n    jwks: {uri: https://idp.example.com/jwks.json}\n",
			4, "Authentication/n", "spec.jwt.issuer", `required: the iss claim of accepted tokens`},
		{"jwt without audiences", authn + "  jwt:\n    issuer: https://idp.example.com/\n    jwks: {uri: https://idp.example.com/jwks.json}\n",
			4, "Authentication/n", "spec.jwt.audiences", `required: list at least one audience`},
		{"jwt empty audiences", authn + "  jwt:\n    issuer: https://idp.example.com/\n    audiences: []\n    jwks: {uri: https://idp.example.com/jwks.json}\n",
			6, "Authentication/n", "spec.jwt.audiences", `required: list at least one audience`},
		{"jwks missing", jwtHead,
			4, "Authentication/n", "spec.jwt.jwks", `required: where the signing keys are (uri, file or inline)`},
		{"jwks two sources", jwtHead + "    jwks:\n      uri: https://idp.example.com/jwks.json\n      file: keys/jwks.json\n",
			7, "Authentication/n", "spec.jwt.jwks", `set exactly one of uri, file, inline`},
		{"jwks plain http", jwtHead + "    jwks:\n      uri: http://idp.example.com/jwks.json\n",
			8, "Authentication/n", "spec.jwt.jwks.uri", `"http://idp.example.com/jwks.json" uses plain http: keys fetched without TLS can be replaced by anyone on the path; use https, or set allowInsecureHTTP: true`},
		{"jwks other scheme", jwtHead + "    jwks: {uri: ftp://idp.example.com/jwks.json}\n",
			7, "Authentication/n", "spec.jwt.jwks.uri", `"ftp://idp.example.com/jwks.json" must be an https URL`},
		{"jwks uri without host", jwtHead + "    jwks: {uri: \"https:///jwks.json\"}\n",
			7, "Authentication/n", "spec.jwt.jwks.uri", `"https:///jwks.json" has no host`},
		{"jwks file missing", jwtHead + "    jwks: {file: keys/nope.json}\n",
			7, "Authentication/n", "spec.jwt.jwks.file", `cannot read keys/nope.json: file does not exist`},
		{"jwks file not a set", jwtHead + "    jwks: {file: keys/not-jwks.json}\n",
			7, "Authentication/n", "spec.jwt.jwks.file", `keys/not-jwks.json is not a usable JWKS: no "keys" member`},
		{"jwks inline key without kty", jwtHead + "    jwks:\n      inline: '{\"keys\": [{\"kid\": \"a\"}]}'\n",
			8, "Authentication/n", "spec.jwt.jwks.inline", `not a usable JWKS: keys[0] has no "kty" (key type)`},
		{"jwks inline not json", jwtHead + "    jwks:\n      inline: '{...}'\n",
			8, "Authentication/n", "spec.jwt.jwks.inline", `not a usable JWKS: not a JSON object`},
		{"jwks inline no keys", jwtHead + "    jwks:\n      inline: '{\"keys\": []}'\n",
			8, "Authentication/n", "spec.jwt.jwks.inline", `not a usable JWKS: "keys" is empty`},
		{"jwks cache zero", jwtHead + "    jwks:\n      uri: https://idp.example.com/jwks.json\n      cacheDuration: 0s\n",
			9, "Authentication/n", "spec.jwt.jwks.cacheDuration", `must be greater than 0`},
		{"jwks cache with file", jwtHead + "    jwks:\n      file: keys/jwks.json\n      cacheDuration: 1m\n",
			9, "Authentication/n", "spec.jwt.jwks.cacheDuration", `only applies to a remote JWKS (uri)`},
		{"claim to consumer header", jwtHead + "    jwks: {file: keys/jwks.json}\n    claimsToHeaders:\n      - {claim: sub, header: X-Gatehouse-Consumer}\n",
			9, "Authentication/n", "spec.jwt.claimsToHeaders[0].header", `x-gatehouse-consumer is set by gatehouse itself and cannot be used here`},
		{"claim to pseudo header", jwtHead + "    jwks: {file: keys/jwks.json}\n    claimsToHeaders:\n      - {claim: sub, header: \":path\"}\n",
			9, "Authentication/n", "spec.jwt.claimsToHeaders[0].header", `":path" is a pseudo-header`},
		{"claim to host", jwtHead + "    jwks: {file: keys/jwks.json}\n    claimsToHeaders:\n      - {claim: sub, header: host}\n",
			9, "Authentication/n", "spec.jwt.claimsToHeaders[0].header", `the host header cannot be used here`},
		{"two claims one header", jwtHead + "    jwks: {file: keys/jwks.json}\n    claimsToHeaders:\n      - {claim: sub, header: x-user}\n      - {claim: email, header: X-User}\n",
			10, "Authentication/n", "spec.jwt.claimsToHeaders[1].header", `header "X-User" is already set from another claim`},
		{"claim without name", jwtHead + "    jwks: {file: keys/jwks.json}\n    claimsToHeaders:\n      - {header: x-user}\n",
			9, "Authentication/n", "spec.jwt.claimsToHeaders[0].claim", `required: the claim to copy`},
		{"api key header and query", authn + "  apiKey: {header: x-api-key, query: api_key}\n",
			4, "Authentication/n", "spec.apiKey", `set exactly one of header, query`},
		{"api key bad header", authn + "  apiKey:\n    header: \"x api key\"\n",
			5, "Authentication/n", "spec.apiKey.header", `"x api key" is not a valid HTTP header name`},
		{"api key bad query", authn + "  apiKey:\n    query: \"a&b\"\n",
			5, "Authentication/n", "spec.apiKey.query", `"a&b" is not a valid query parameter name`},

		// Consumer
		{"sha256 not hex", consumer + "  apiKeys:\n    - {id: k1, sha256: " + hashA[:63] + "g}\n",
			5, "Consumer/c", "spec.apiKeys[0].sha256", "not a SHA-256 hex digest (64 characters); it must be exactly 64 lowercase hex digits: " + keyHint},
		{"sha256 wrong length", consumer + "  apiKeys:\n    - {id: k1, sha256: " + hashA[:40] + "}\n",
			5, "Consumer/c", "spec.apiKeys[0].sha256", "not a SHA-256 hex digest (40 characters); it must be exactly 64 lowercase hex digits: " + keyHint},
		{"sha256 plaintext key", consumer + "  apiKeys:\n    - id: k1\n      sha256: my-secret-key\n",
			6, "Consumer/c", "spec.apiKeys[0].sha256", keyHint},
		{"sha256 uppercase", consumer + "  apiKeys:\n    - {id: k1, sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08}\n",
			5, "Consumer/c", "spec.apiKeys[0].sha256", keyHint},
		{"sha256 missing", consumer + "  apiKeys:\n    - {id: k1}\n",
			5, "Consumer/c", "spec.apiKeys[0].sha256", "required; it must be exactly 64 lowercase hex digits"},
		{"duplicate key id", consumer + "  apiKeys:\n    - {id: k1, sha256: " + hashA + "}\n    - {id: k1, sha256: " + hashB + "}\n",
			6, "Consumer/c", "spec.apiKeys[1].id", `duplicate key id "k1" (also spec.apiKeys[0])`},
		{"duplicate hash in consumer", consumer + "  apiKeys:\n    - {id: k1, sha256: " + hashA + "}\n    - {id: k2, sha256: " + hashA + "}\n",
			6, "Consumer/c", "spec.apiKeys[1].sha256", `the same key hash is already listed (spec.apiKeys[0])`},
		{"key hash in two consumers", "kind: Consumer\nname: c0\nspec:\n  apiKeys: [{id: k, sha256: " + hashA + "}]\n---\n" +
			consumer + "  apiKeys:\n    - {id: k1, sha256: " + hashB + "}\n    - {id: k2, sha256: " + hashA + "}\n",
			11, "Consumer/c", "spec.apiKeys[1].sha256", `the same key hash is also in Consumer/c0 (bad.yaml:4); a credential must identify one Consumer`},
		{"key hash in two consumers, first", consumer + "  apiKeys: [{id: k, sha256: " + hashA + "}]\n---\n" +
			"kind: Consumer\nname: c2\nspec:\n  apiKeys:\n    - {id: k2, sha256: " + hashA + "}\n",
			4, "Consumer/c", "spec.apiKeys[0].sha256", `the same key hash is also in Consumer/c2 (bad.yaml:10)`},
		{"jwt subject in two consumers", "kind: Consumer\nname: c0\nspec:\n  jwtSubjects: [{issuer: i, sub: s}]\n---\n" +
			consumer + "  jwtSubjects:\n    - {issuer: i, sub: s}\n",
			10, "Consumer/c", "spec.jwtSubjects[0]", `the same JWT subject (issuer "i", sub "s") is also in Consumer/c0 (bad.yaml:4)`},
		{"jwt subject without sub", consumer + "  jwtSubjects:\n    - {issuer: https://idp.example.com/}\n",
			5, "Consumer/c", "spec.jwtSubjects[0].sub", `required: the token's sub claim`},
		{"consumer plan missing", consumer + "  plan: gold\n",
			4, "Consumer/c", "spec.plan", `Plan "gold" does not exist`},
		{"consumer bad group", consumer + "  groups: [partners, Partners]\n",
			4, "Consumer/c", "spec.groups[1]", `"Partners" is not a valid group name`},
		{"consumer named anonymous", "kind: Consumer\nname: anonymous\nspec: {groups: [a]}\n",
			2, "Consumer/anonymous", "name", `"anonymous" is reserved`},

		// Plan
		{"plan empty", plan + "  rateLimits: []\n",
			3, "Plan/p", "spec", `set at least one of rateLimits, quota`},
		{"plan zero requests", plan + "  rateLimits:\n    - {requests: 0, per: second}\n",
			5, "Plan/p", "spec.rateLimits[0].requests", `0 is out of range; 1..4294967295`},
		{"plan unknown unit", plan + "  rateLimits:\n    - {requests: 5, per: week}\n",
			5, "Plan/p", "spec.rateLimits[0].per", `"week" is not a unit here; one of second, minute, hour, day, month`},
		{"plan duplicate unit", plan + "  rateLimits:\n    - {requests: 5, per: second}\n    - {requests: 9, per: second}\n",
			6, "Plan/p", "spec.rateLimits[1].per", `a limit per second is already set (spec.rateLimits[0])`},
		{"quota per hour", plan + "  quota:\n    requests: 10\n    per: hour\n",
			6, "Plan/p", "spec.quota.per", `"hour" is not a unit here; one of day, month`},
		{"quota without unit", plan + "  quota: {requests: 10}\n",
			4, "Plan/p", "spec.quota.per", `required; one of day, month`},

		// Authorization
		{"authz nothing", authz + "  failOpen: true\n",
			3, "Authorization/z", "spec", `set exactly one of rego (a .rego file), inline (Rego source), allow (simple rules)`},
		{"authz two kinds", authz + "  rego: policies/ok.rego\n  allow: {groups: [a]}\n",
			3, "Authorization/z", "spec", `set exactly one of rego`},
		{"rego file missing", authz + "  rego: policies/nope.rego\n",
			4, "Authorization/z", "spec.rego", `cannot read policies/nope.rego: file does not exist`},
		{"rego not .rego", authz + "  rego: policies/ok.txt\n",
			4, "Authorization/z", "spec.rego", `"policies/ok.txt" must be a .rego file`},
		{"rego outside directory", authz + "  rego: ../policies/users.rego\n",
			4, "Authorization/z", "spec.rego", `"../policies/users.rego" points outside the policy directory`},
		{"rego parse error", authz + "  rego: policies/broken.rego\n",
			4, "Authorization/z", "spec.rego", `policies/broken.rego:4: rego_parse_error: `},
		{"rego compile error", authz + "  rego: policies/undefined.rego\n",
			4, "Authorization/z", "spec.rego", `policies/undefined.rego:5: rego_type_error: undefined function no_such_function`},
		{"inline rego error", authz + "  inline: |\n    package envoy.authz\n\n    allow if {\n      input.x = = 1\n    }\n",
			8, "Authorization/z", "spec.inline", `Rego line 4: rego_parse_error: `},
		{"inline rego unsafe", authz + "  inline: \"package p\\nallow if x\"\n  query: data.p.allow\n",
			4, "Authorization/z", "spec.inline", `Rego line 2: rego_unsafe_var_error: var x is unsafe`},
		{"inline rego empty", authz + "  inline: \"# nothing\"\n",
			4, "Authorization/z", "spec.inline", `Rego line 1: rego_parse_error: empty module`},
		{"query not a reference", authz + "  rego: policies/ok.rego\n  query: data.envoy[x]\n",
			5, "Authorization/z", "spec.query", `"data.envoy[x]" is not a reference into data such as data.envoy.authz.allow`},
		{"query not into data", authz + "  rego: policies/ok.rego\n  query: input.allow\n",
			5, "Authorization/z", "spec.query", `"input.allow" is not a reference into data`},
		{"query outside package", authz + "  rego: policies/ok.rego\n  query: data.other.allow\n",
			5, "Authorization/z", "spec.query", `data.other.allow is outside the module's package data.envoy.authz`},
		{"query unknown rule", authz + "  rego: policies/ok.rego\n  query: data.envoy.authz.alow\n",
			5, "Authorization/z", "spec.query", `data.envoy.authz.alow names no rule of package data.envoy.authz (it has allow)`},
		{"allow empty", authz + "  allow: {}\n",
			4, "Authorization/z", "spec.allow", `list at least one condition: sourceCIDRs, groups`},
		{"allow bad cidr", authz + "  allow:\n    sourceCIDRs: [10.0.0.0/33]\n",
			5, "Authorization/z", "spec.allow.sourceCIDRs[0]", `"10.0.0.0/33" is not a CIDR such as 10.0.0.0/8`},
		{"allow bare address", authz + "  allow:\n    sourceCIDRs: [192.0.2.1]\n",
			5, "Authorization/z", "spec.allow.sourceCIDRs[0]", `(a single address is 192.0.2.1/32)`},
		{"allow cidr host bits", authz + "  allow:\n    sourceCIDRs: [10.1.2.3/8]\n",
			5, "Authorization/z", "spec.allow.sourceCIDRs[0]", `"10.1.2.3/8" has bits set beyond the prefix length; did you mean 10.0.0.0/8?`},
		{"allow with query", authz + "  allow: {groups: [a]}\n  query: data.x.allow\n",
			5, "Authorization/z", "spec.query", `only applies to Rego`},

		// RateLimit
		{"ratelimit no limits", rlimit + "  shadow: true\n",
			3, "RateLimit/l", "spec.limits", `required: list at least one limit (or set plan: true`},
		{"ratelimit zero requests", rlimit + "  limits:\n    - {key: [consumer], requests: 0, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].requests", `0 is out of range; 1..4294967295`},
		{"ratelimit requests too big", rlimit + "  limits:\n    - {key: [consumer], requests: 4294967296, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].requests", `4294967296 is out of range; 1..4294967295`},
		{"ratelimit unknown unit", rlimit + "  limits:\n    - key: [consumer]\n      requests: 10\n      per: fortnight\n",
			7, "RateLimit/l", "spec.limits[0].per", `"fortnight" is not a unit here; one of second, minute, hour, day, month`},
		{"ratelimit missing unit", rlimit + "  limits:\n    - {key: [consumer], requests: 10}\n",
			5, "RateLimit/l", "spec.limits[0].per", `required; one of second, minute, hour, day, month`},
		{"unknown key kind", rlimit + "  limits:\n    - {key: [consumer, ip], requests: 10, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].key[1]", `"ip" is not a key kind; one of consumer, route, remote_address (or remote_address:v4=N,v6=M), path, method, header:NAME, claim:NAME`},
		{"duplicate key kind", rlimit + "  limits:\n    - {key: [\"header:X-Tenant\", route, \"header:x-tenant\"], requests: 10, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].key[2]", `duplicate key "header:x-tenant" (also spec.limits[0].key[0])`},
		{"header key bad name", rlimit + "  limits:\n    - {key: [\"header::path\"], requests: 10, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].key[0]", `"header::path": ":path" is not a valid HTTP header name (for the path or method use the path or method key)`},
		{"claim key without name", rlimit + "  limits:\n    - {key: [\"claim:\"], requests: 10, per: minute}\n",
			5, "RateLimit/l", "spec.limits[0].key[0]", `"claim:": name the claim, such as claim:sub`},
		{"local consumer key", rlimit + "  limits:\n    - key: [remote_address, consumer]\n      requests: 10\n      per: second\n      local: true\n",
			5, "RateLimit/l", "spec.limits[0].key[1]", `"consumer" cannot be counted locally: local: true counts inside each Envoy (local_ratelimit), which runs before authentication and sees only the request itself`},
		{"local claim key", rlimit + "  limits:\n    - {key: [\"claim:sub\"], requests: 10, per: second, local: true}\n",
			5, "RateLimit/l", "spec.limits[0].key[0]", `"claim:sub" cannot be counted locally`},
		{"local per month", rlimit + "  limits:\n    - {key: [route], requests: 10, per: month, local: true}\n",
			5, "RateLimit/l", "spec.limits[0].per", `a local limit cannot be per month`},
		{"ratelimit bad algorithm", rlimit + "  limits: [{requests: 1, per: second}]\n  algorithm: token-bucket\n",
			5, "RateLimit/l", "spec.algorithm", `"token-bucket" is not an algorithm; one of fixed-window, sliding-window`},
		{"ratelimit bad failure mode", rlimit + "  limits: [{requests: 1, per: second}]\n  failureMode: open\n",
			5, "RateLimit/l", "spec.failureMode", `"open" is not a failure mode; one of allow, deny`},
		{"ratelimit named none", "kind: RateLimit\nname: none\nspec: {limits: [{requests: 1, per: second}]}\n",
			2, "RateLimit/none", "name", `"none" is reserved: rateLimit: none turns rate limiting off`},

		// References to policies
		{"route authorization missing", route + "  gateways: [gw]\n  backends: [{service: a}]\n  authorization: nope\n",
			6, "Route/r", "spec.authorization", `Authorization "nope" does not exist`},
		{"route authorization rejected", authz + "  allow: {}\n---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authorization: z\n",
			11, "Route/r", "spec.authorization", `Authorization "z" was rejected (see its errors)`},
		{"route authentication rejected", authn + "  apiKey: {}\n---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [n]\n",
			11, "Route/r", "spec.authentication[0]", `Authentication "n" was rejected (see its errors)`},
		{"route authentication duplicate", authn + "  apiKey: {header: x-key}\n---\n" + route + "  gateways: [gw]\n  backends: [{service: a}]\n  authentication: [n, n]\n",
			11, "Route/r", "spec.authentication[1]", `duplicate Authentication "n"`},
		{"route authorization empty", route + "  gateways: [gw]\n  backends: [{service: a}]\n  authorization: \"\"\n",
			6, "Route/r", "spec.authorization", `must name an Authorization (omit it for none)`},
		{"gateway default rate limit missing", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  defaults: {rateLimit: per-ip}\n",
			6, "Gateway/g", "spec.defaults.rateLimit", `RateLimit "per-ip" does not exist`},
	})
}
