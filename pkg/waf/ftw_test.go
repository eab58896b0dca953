package waf

// The CRS regression suite (go-ftw YAML shipped in the coraza-coreruleset
// module under tests/) driven through the ext_proc service over real gRPC,
// message by message as Envoy sends them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"
)

// ftwTestingConfig is the setup the CRS regression suite requires (CRS
// tests/regression/README): detection only so every rule is evaluated,
// paranoia level 4, and the fixed limits the tests are written against.
const ftwTestingConfig = `SecAction "id:900005,phase:1,nolog,pass,ctl:ruleEngine=DetectionOnly,ctl:ruleRemoveById=910000,setvar:tx.blocking_paranoia_level=4,setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535"
`

func ftwPolicy() Policy {
	return Policy{ParanoiaLevel: 4, DetectionOnly: true, InspectResponse: true, RequestBodyLimit: 1 << 20, extra: ftwTestingConfig}
}

type ftwFile struct {
	RuleID int       `yaml:"rule_id"`
	Tests  []ftwTest `yaml:"tests"`
}

type ftwTest struct {
	TestID int        `yaml:"test_id"`
	Stages []ftwStage `yaml:"stages"`
}

type ftwStage struct {
	Input struct {
		Method         *string           `yaml:"method"`
		URI            *string           `yaml:"uri"`
		Version        *string           `yaml:"version"`
		Headers        map[string]string `yaml:"headers"`
		Data           *string           `yaml:"data"`
		EncodedRequest string            `yaml:"encoded_request"`
		Autocomplete   *bool             `yaml:"autocomplete_headers"`
	} `yaml:"input"`
	Output struct {
		Status int `yaml:"status"`
		Log    struct {
			ExpectIDs   []int `yaml:"expect_ids"`
			NoExpectIDs []int `yaml:"no_expect_ids"`
		} `yaml:"log"`
	} `yaml:"output"`
}

// ftwCase is one stage of one test, ready to send.
type ftwCase struct {
	Family, Name string
	Headers      [][2]string // lower-case names, pseudo-headers first
	Body         []byte
	Expect, Not  []int
	Protocol     string // request.protocol attribute Envoy sends
	Skip         string // exclusion reason, "" to run
}

// loadFTW reads every test of the suite.
func loadFTW() ([]ftwCase, error) {
	var cases []ftwCase
	err := fs.WalkDir(crstests.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		src, err := fs.ReadFile(crstests.FS, p)
		if err != nil {
			return err
		}
		var f ftwFile
		if err := yaml.Unmarshal(src, &f); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, t := range f.Tests {
			for si, st := range t.Stages {
				c := ftwCase{Family: path.Dir(p), Name: fmt.Sprintf("%d-%d", f.RuleID, t.TestID)}
				if len(t.Stages) > 1 {
					c.Name += fmt.Sprintf("/%d", si+1)
				}
				c.Expect, c.Not = st.Output.Log.ExpectIDs, st.Output.Log.NoExpectIDs
				c.Skip = buildCase(&c, st)
				cases = append(cases, c)
			}
		}
		return nil
	})
	return cases, err
}

func strOr(p *string, d string) string {
	if p == nil {
		return d
	}
	return *p
}

// buildCase turns a go-ftw stage into the headers and body Envoy would pass
// on, or returns why the test does not apply to a WAF behind Envoy.
func buildCase(c *ftwCase, st ftwStage) string {
	if len(c.Expect) == 0 && len(c.Not) == 0 {
		return "checks only the status or log text, no rule ids"
	}
	if st.Output.Status == 400 {
		return "expects the HTTP server to reject the message (400); Envoy's codec rejects it before any filter"
	}
	in := st.Input
	if in.EncodedRequest != "" {
		raw, err := base64.StdEncoding.DecodeString(in.EncodedRequest)
		if err != nil {
			return "encoded_request is not base64"
		}
		if name, ok := badHeaderName(raw); ok {
			return "header name " + strconv.Quote(name) + " with bytes outside RFC 9110's token set: Envoy's HTTP/1 codec answers 400"
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return "raw request an HTTP/1.1 parser rejects (" + err.Error() + "); Envoy answers 400 first"
		}
		body, _ := io.ReadAll(req.Body)
		c.Headers = [][2]string{{":method", req.Method}, {":path", req.RequestURI}, {":authority", req.Host}, {":scheme", "http"}}
		for k, vs := range req.Header {
			for _, v := range vs {
				c.Headers = append(c.Headers, [2]string{strings.ToLower(k), v})
			}
		}
		for _, te := range req.TransferEncoding {
			// Go moves it out of Header; Envoy's codec keeps it for filters.
			c.Headers = append(c.Headers, [2]string{"transfer-encoding", te})
		}
		c.Body = body
		c.Protocol = req.Proto
		if len(req.Header.Values("Content-Type")) > 1 {
			return "asserts Apache httpd's folding of repeated Content-Type headers into one; Envoy passes both, and the rule firing is the intended detection"
		}
		return ""
	}
	method := strOr(in.Method, "GET")
	uri := strOr(in.URI, "/")
	version := strOr(in.Version, "HTTP/1.1")
	if version != "HTTP/1.1" && version != "HTTP/1.0" && version != "HTTP/2" && version != "HTTP/2.0" {
		return "HTTP version " + strconv.Quote(version) + " that Envoy's codecs reject"
	}
	if !validPath(uri) {
		return "request target Envoy's HTTP/1 codec rejects (control characters or spaces)"
	}
	c.Protocol = version
	if version == "HTTP/2" {
		c.Protocol = "HTTP/2.0"
	}
	_, hasTE := in.Headers["Transfer-Encoding"]
	_, hasCL := in.Headers["Content-Length"]
	if hasTE && hasCL && strings.HasPrefix(version, "HTTP/1") {
		return "both Content-Length and Transfer-Encoding: Envoy's HTTP/1 codec rejects the message (allow_chunked_length is off)"
	}
	c.Headers = [][2]string{{":method", method}, {":path", uri}, {":scheme", "http"}}
	keys := make([]string, 0, len(in.Headers))
	for k := range in.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	host := ""
	for _, k := range keys {
		if strings.EqualFold(k, "Host") {
			host = in.Headers[k]
			continue
		}
		c.Headers = append(c.Headers, [2]string{strings.ToLower(k), in.Headers[k]})
	}
	if _, ok := in.Headers["Host"]; !ok {
		return "no Host header: Envoy answers 400 (HTTP/1.1) or 426 (HTTP/1.0 without default_host_for_http_10), or supplies its default host"
	}
	c.Headers = append(c.Headers[:3:3], append([][2]string{{":authority", host}}, c.Headers[3:]...)...)
	if in.Data != nil {
		c.Body = []byte(*in.Data)
		autocomplete := in.Autocomplete == nil || *in.Autocomplete
		if autocomplete && !hasCL && len(c.Body) > 0 {
			// go-ftw completes Content-Length, as any client would.
			c.Headers = append(c.Headers, [2]string{"content-length", strconv.Itoa(len(c.Body))})
		} else if !hasCL && !hasTE && strings.HasPrefix(version, "HTTP/1") {
			// An HTTP/1 message without Content-Length or chunking has no
			// body (RFC 9112 6.3): the bytes are the next message's.
			c.Body = nil
		}
	}
	return ""
}

// badHeaderName finds a header name of a raw message with a byte outside
// the token set (RFC 9110 5.6.2), which Envoy's HTTP/1 parser refuses.
func badHeaderName(raw []byte) (string, bool) {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	lines := bytes.Split(head, []byte("\r\n"))
	for _, l := range lines[1:] {
		name, _, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		for _, ch := range name {
			if ch <= 0x20 || ch >= 0x7f || bytes.IndexByte([]byte("\"(),/:;<=>?@[\\]{}"), ch) >= 0 {
				return string(name), true
			}
		}
	}
	return "", false
}

// validPath: Envoy's HTTP/1 parser (llhttp) refuses a request target with
// control characters, spaces or bytes above 0x7e.
func validPath(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] <= 0x20 || p[i] >= 0x7f {
			return false
		}
	}
	return p != ""
}

// reflectResponse is what the suite's backend (albedo) answers on /reflect:
// the status, headers and body the request's JSON asks for.
func reflectResponse(c ftwCase) (int, [][2]string, []byte) {
	var r struct {
		Status      int               `json:"status"`
		Headers     map[string]string `json:"headers"`
		Body        string            `json:"body"`
		EncodedBody string            `json:"encodedBody"`
	}
	isReflect := false
	for _, h := range c.Headers {
		if h[0] == ":path" && strings.HasPrefix(h[1], "/reflect") {
			isReflect = true
		}
	}
	if !isReflect || json.Unmarshal(c.Body, &r) != nil {
		return 200, [][2]string{{"content-type", "text/plain"}}, []byte("ok\n")
	}
	if r.Status == 0 {
		r.Status = 200
	}
	body := []byte(r.Body)
	if r.EncodedBody != "" {
		if b, err := base64.StdEncoding.DecodeString(r.EncodedBody); err == nil {
			body = b
		}
	}
	hdrs := [][2]string{}
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hdrs = append(hdrs, [2]string{strings.ToLower(k), r.Headers[k]})
	}
	if len(hdrs) == 0 {
		hdrs = append(hdrs, [2]string{"content-type", "text/plain"})
	}
	return r.Status, hdrs, body
}

func headerMap(hs [][2]string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for _, h := range hs {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: h[0], RawValue: []byte(h[1])})
	}
	return m
}

// envoyExchange plays one exchange as Envoy's ext_proc filter does with
// request and response bodies in STREAMED mode: headers, body chunks of
// chunk bytes, then the response, waiting for each answer. It returns the
// rule ids of the final dynamic metadata and whether the service blocked.
func envoyExchange(ctx context.Context, client extprocv3.ExternalProcessorClient, policy, protocol string, reqHeaders [][2]string, reqBody []byte,
	status int, respHeaders [][2]string, respBody []byte, chunk int) (ids []int, blocked *extprocv3.ImmediateResponse, err error) {
	ctx = metadata.AppendToOutgoingContext(ctx, PolicyMetadataKey, policy)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Process(ctx)
	if err != nil {
		return nil, nil, err
	}
	var last *extprocv3.ProcessingResponse
	send := func(r *extprocv3.ProcessingRequest) (bool, error) {
		if err := stream.Send(r); err != nil && !errors.Is(err, io.EOF) {
			// io.EOF: the server already ended the stream; Recv gives its
			// answer or status, as Envoy's client would see them.
			return false, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return false, err
		}
		if resp.DynamicMetadata != nil {
			last = resp
		}
		if ir := resp.GetImmediateResponse(); ir != nil {
			blocked = ir
			return true, nil
		}
		return false, nil
	}
	first := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: headerMap(reqHeaders), EndOfStream: len(reqBody) == 0}}}
	if protocol != "" {
		// As Envoy sends it with request_attributes: [request.protocol].
		first.Attributes = map[string]*structpb.Struct{"envoy.filters.http.ext_proc": {Fields: map[string]*structpb.Value{"request.protocol": structpb.NewStringValue(protocol)}}}
	}
	steps := []*extprocv3.ProcessingRequest{first}
	steps = append(steps, bodySteps(reqBody, chunk, false)...)
	rh := append([][2]string{{":status", strconv.Itoa(status)}}, respHeaders...)
	steps = append(steps, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{Headers: headerMap(rh), EndOfStream: len(respBody) == 0}}})
	steps = append(steps, bodySteps(respBody, chunk, true)...)
	for _, s := range steps {
		stop, err := send(s)
		if err != nil {
			return nil, nil, err
		}
		if stop {
			break
		}
	}
	_ = stream.CloseSend()
	if last != nil {
		ids = parseIDs(last.DynamicMetadata.GetFields()[MetadataNamespace].GetStructValue().GetFields()["rule_ids"].GetStringValue())
	}
	return ids, blocked, nil
}

func bodySteps(body []byte, chunk int, response bool) []*extprocv3.ProcessingRequest {
	var out []*extprocv3.ProcessingRequest
	for off := 0; off < len(body); off += chunk {
		end := min(off+chunk, len(body))
		b := &extprocv3.HttpBody{Body: body[off:end], EndOfStream: end == len(body)}
		if response {
			out = append(out, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: b}})
		} else {
			out = append(out, &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: b}})
		}
	}
	return out
}

func parseIDs(s string) []int {
	var out []int
	for _, p := range strings.Split(s, ",") {
		if id, err := strconv.Atoi(p); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// judge compares the triggered ids with the test's expectations.
func judge(c ftwCase, ids []int) string {
	got := map[int]bool{}
	for _, id := range ids {
		got[id] = true
	}
	var problems []string
	for _, id := range c.Expect {
		if !got[id] {
			problems = append(problems, fmt.Sprintf("expected %d", id))
		}
	}
	for _, id := range c.Not {
		if got[id] {
			problems = append(problems, fmt.Sprintf("unexpected %d", id))
		}
	}
	return strings.Join(problems, ", ")
}
