package translate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// Every documented field is one command Envoy knows (checked against the
// command tables formatCommands holds), and so is the text format.
func TestAccessLogFieldsAreEnvoyCommands(t *testing.T) {
	for k, v := range AccessLogFields {
		if k == "gateway" {
			continue
		}
		cmds, err := formatCommands(v)
		if err != nil {
			t.Errorf("%s: %v", k, err)
			continue
		}
		if len(cmds) != 1 || "%"+cmds[0][0]+wrap(cmds[0][1])+"%" != v {
			t.Errorf("%s: %q is not exactly one command (%v)", k, v, cmds)
		}
	}
	if _, err := formatCommands(accessLogText); err != nil {
		t.Errorf("text format: %v", err)
	}
}

func wrap(params string) string {
	if params == "" {
		return ""
	}
	return "(" + params + ")"
}

// What Envoy would refuse at load (or gatehouse has not checked) is refused.
func TestFormatCommandsRefusesBad(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%NOPE%", `"NOPE" is not a command`},
		{"%REQ%", "REQ needs parameters"},
		{"%REQ()%", "REQ needs parameters"},
		{"%DURATION(x)%", "DURATION takes no parameters"},
		{"%DYNAMIC_METADATA(a:b):10%", "a :LENGTH is allowed only for REQ and RESP"},
		{"%REQ(X):ten%", "after the parameters"},
		{"%REQ(X%", "unbalanced parenthesis"},
		{"start %DURATION", "unterminated command"},
		{"%req(x-request-id)%", `"req" is not a command`},
		// Envoy's command syntax is %COMMAND(SUBCOMMAND):LENGTH% with
		// LENGTH digits (source/common/formatter/substitution_formatter.cc,
		// commandWithArgsRegex); a lone '%' at the end starts no command.
		{"100%", "unterminated command"},
		{"%REQ(X)x1%", "after the parameters"},
		{"%REQ(X):%", "after the parameters"},
	} {
		if _, err := formatCommands(tc.format); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error containing %q", tc.format, err, tc.want)
		}
	}
	for _, ok := range []string{"100%% %DURATION%", "%REQ(X-A?X-B):64%", "%START_TIME%", "%REQ(X):1%", "%RESP(X):1090%"} {
		if _, err := formatCommands(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// No field can carry a credential or a query string, whatever a client
// sends: the path is logged without its query, no credential-bearing
// header is read, and the consumer comes from ext_authz's metadata (a
// request header could be sent by the client itself).
func TestAccessLogFieldsCarryNoCredentials(t *testing.T) {
	for k, v := range AccessLogFields {
		low := strings.ToLower(v)
		for _, bad := range []string{"authorization", "cookie", "api-key", "apikey", "x-gatehouse-", "token", "(:path)", "?:path", "path(wq", "original-path"} {
			if strings.Contains(low, bad) {
				t.Errorf("%s: %q reads %q", k, v, bad)
			}
		}
	}
	if AccessLogFields["path"] != "%PATH(NQ)%" {
		t.Errorf("path is %q, want %%PATH(NQ)%%", AccessLogFields["path"])
	}
	// A Gateway name ends up in a format string; '%' is escaped even
	// though names cannot hold one.
	gw := &policy.Gateway{}
	gw.Name = "a%DURATION%"
	if got := accessLogFormat(gw)["gateway"]; got != "a%%DURATION%%" {
		t.Errorf("gateway value %q", got)
	}
}

func TestSuccessSampling(t *testing.T) {
	pct := func(f float64) *policy.AccessLog { return &policy.AccessLog{SuccessSamplePercent: &f} }
	if successSampling(nil) != nil || successSampling(&policy.AccessLog{}) != nil || successSampling(pct(100)) != nil {
		t.Fatal("a filter without sampling")
	}
	for _, tc := range []struct {
		p    float64
		want uint32
	}{{0, 0}, {12.5, 125000}, {0.0001, 1}, {99.9999, 999999}} {
		f := successSampling(pct(tc.p))
		or := f.GetOrFilter().GetFilters()
		if len(or) != 3 || or[0].GetStatusCodeFilter().GetComparison().GetValue().GetDefaultValue() != 400 ||
			or[0].GetStatusCodeFilter().GetComparison().GetOp() != accesslogv3.ComparisonFilter_GE ||
			or[1].GetResponseFlagFilter() == nil || len(or[1].GetResponseFlagFilter().GetFlags()) != 0 {
			t.Fatalf("%v: errors and flagged requests are not always kept: %v", tc.p, f)
		}
		if got := or[2].GetRuntimeFilter().GetPercentSampled().GetNumerator(); got != tc.want {
			t.Errorf("%v%%: %d per million, want %d", tc.p, got, tc.want)
		}
		if err := f.ValidateAll(); err != nil {
			t.Errorf("%v: %v", tc.p, err)
		}
	}
}

// Check refuses an access log Envoy would refuse or that would lose every
// entry: an unknown command in the JSON format, a collector cluster that
// is not there.
func TestCheckAccessLogRules(t *testing.T) {
	base := translateCase(t, "accesslog", Options{})[GroupKey{"edge", ClientEnvoy}]
	if err := Check(cloneGroup(base), clasOf(base)); err != nil {
		t.Fatalf("accesslog: %v", err)
	}
	cases := []struct {
		name string
		g    func() *Group
		want string
	}{
		{"collector cluster missing", func() *Group { return withoutCluster(cloneGroup(base), "svc/otel-collector") }, `access log envoy.access_loggers.open_telemetry: cluster "svc/otel-collector" does not exist`},
		{"usage cluster missing", func() *Group { return withoutCluster(cloneGroup(base), "gatehouse/usage") }, `access log envoy.access_loggers.http_grpc: cluster "gatehouse/usage" does not exist`},
		{"unknown command", func() *Group {
			g := cloneGroup(base)
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				fal := &filev3.FileAccessLog{}
				if err := h.AccessLog[0].GetTypedConfig().UnmarshalTo(fal); err != nil {
					t.Fatal(err)
				}
				fal.GetLogFormat().GetJsonFormat().Fields["x"] = structpb.NewStringValue("%REQ_WITH_QUERY%")
				h.AccessLog[0].ConfigType = &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(fal)}
			})
			return g
		}, `"REQ_WITH_QUERY" is not a command`},
		{"unknown command in a text format", func() *Group {
			g := cloneGroup(base)
			editHCM(t, g.Listeners[0].(*listenerv3.Listener), func(h *hcmv3.HttpConnectionManager) {
				fal := &filev3.FileAccessLog{}
				if err := h.AccessLog[0].GetTypedConfig().UnmarshalTo(fal); err != nil {
					t.Fatal(err)
				}
				fal.AccessLogFormat = &filev3.FileAccessLog_LogFormat{LogFormat: &corev3.SubstitutionFormatString{Format: &corev3.SubstitutionFormatString_TextFormatSource{
					TextFormatSource: &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "%START_TIME% %NOPE%\n"}},
				}}}
				h.AccessLog[0].ConfigType = &accesslogv3.AccessLog_TypedConfig{TypedConfig: mustAny(fal)}
			})
			return g
		}, `"NOPE" is not a command`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g()
			err := Check(g, clasOf(g))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

// accessLogSamples is what each command gives for one sample request: a
// rate-limited API call by a known consumer, traced. Numbers are numbers:
// Envoy's JSON formatter writes numeric commands as JSON numbers.
var accessLogSamples = map[string]any{
	"%START_TIME%":                          "2026-12-04T08:30:00.123Z",
	"%REQ(X-REQUEST-ID)%":                   "5b0f2a4c-7d3e-4f21-9a8b-1c2d3e4f5a6b",
	"%TRACE_ID%":                            "4bf92f3577b34da6a3ce929d0e0e4736",
	"%ROUTE_NAME%":                          "orders",
	"%UPSTREAM_CLUSTER%":                    "svc/orders",
	"%UPSTREAM_HOST%":                       "10.0.3.7:8080",
	"%REQ(:METHOD)%":                        "GET",
	"%PATH(NQ)%":                            "/v1/orders/42",
	"%PROTOCOL%":                            "HTTP/2",
	"%REQ(:AUTHORITY)%":                     "api.example.com",
	"%RESPONSE_CODE%":                       200,
	"%RESPONSE_CODE_DETAILS%":               "via_upstream",
	"%RESPONSE_FLAGS%":                      "-",
	"%DURATION%":                            23,
	"%REQUEST_DURATION%":                    0,
	"%RESPONSE_DURATION%":                   21,
	"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%": "19",
	"%BYTES_RECEIVED%":                      0,
	"%BYTES_SENT%":                          512,
	"%DYNAMIC_METADATA(envoy.filters.http.ext_authz:consumer)%":    "acme-mobile",
	"%DYNAMIC_METADATA(envoy.filters.http.ext_authz:decision_id)%": "01JEZ8Q9V2K7M3N4P5R6S7T8V9",
	"%DYNAMIC_METADATA(gatehouse.waf:action)%":                     "detect",
	"%DYNAMIC_METADATA(gatehouse.waf:rule_ids)%":                   "920350",
	"%DYNAMIC_METADATA(gatehouse.openapi:action)%":                 "log",
	"%DYNAMIC_METADATA(gatehouse.openapi:location)%":               "query",
	"%DYNAMIC_METADATA(gatehouse.openapi:field)%":                  "status",
	"%RESP(X-RATELIMIT-LIMIT)%":                                    "100, 100;w=60",
	"%RESP(X-RATELIMIT-REMAINING)%":                                "57",
	"%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%":                     "203.0.113.9",
	"%REQ(USER-AGENT)%":                                            "curl/8.5.0",
}

// The golden example line (docs/access-logs.md shows it): every field
// rendered with a sample value. A new field without a sample fails here,
// so the example and the documentation follow the field set.
func TestAccessLogExampleLine(t *testing.T) {
	gw := &policy.Gateway{}
	gw.Name = "edge"
	line := map[string]any{}
	for k, v := range accessLogFormat(gw) {
		if k == "gateway" {
			line[k] = v
			continue
		}
		s, ok := accessLogSamples[v]
		if !ok {
			t.Fatalf("field %s: no sample for %s in accessLogSamples", k, v)
		}
		line[k] = s
	}
	got, err := json.Marshal(line) // keys sorted
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "accesslog-example.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("example line differs from %s:\n got %s\nwant %s", golden, got, want)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "access-logs.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, bytes.TrimSpace(want)) {
		t.Errorf("docs/access-logs.md does not show the example line %s", want)
	}
	for k := range AccessLogFields {
		if !bytes.Contains(doc, []byte("| `"+k+"` |")) {
			t.Errorf("docs/access-logs.md does not document field %s", k)
		}
	}
}
