package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const consumerFile = `# Partners of the shop.
kind: Plan
name: gold
spec:
  rateLimits:
    - {requests: 100, per: second}
---
# acme: the batch importer.
kind: Consumer
name: acme
spec:
  apiKeys:
    - {id: acme-2025, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
  groups: [partners]   # see README
  plan: gold
---
kind: Consumer
name: globex
spec:
  groups: [staff]
`

// runKeyCreate runs the command and returns stdout, stderr and status.
func runKeyCreate(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"consumer", "key", "create"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// assertKeyOnlyOnStdout checks the key is the single stdout line and that
// no file under dir and no log line holds it; returns its hex SHA-256.
func assertKeyOnlyOnStdout(t *testing.T, dir, stdout, stderr string) (key, digest string) {
	t.Helper()
	key = strings.TrimSuffix(stdout, "\n")
	if strings.Count(stdout, "\n") != 1 || !strings.HasPrefix(key, "gh_") || len(key) != 3+43 {
		t.Fatalf("stdout %q: want exactly one line with a gh_ key", stdout)
	}
	if strings.Contains(stderr, key) || strings.Contains(stderr, key[3:]) {
		t.Errorf("stderr holds the key: %q", stderr)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(key[3:])) {
			t.Errorf("%s holds the plaintext key", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:])
}

func TestConsumerKeyCreateEditsExistingConsumer(t *testing.T) {
	dir := writeFiles(t, map[string]string{"access.yaml": consumerFile, "other.yaml": "kind: Consumer\nname: acme-two\nspec: {}\n"})
	stdout, stderr, code := runKeyCreate(t, "acme", "--policy-dir", dir, "--id", "acme-ci")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, digest := assertKeyOnlyOnStdout(t, dir, stdout, stderr)
	if !strings.Contains(stderr, digest) || !strings.Contains(stderr, "acme-ci") {
		t.Errorf("stderr %q should name the key id and its digest", stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "access.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(got)
	// The other documents keep their bytes; the edited one its comments and fields.
	parts := strings.Split(text, "\n---\n")
	orig := strings.Split(consumerFile, "\n---\n")
	if len(parts) != 3 || parts[0] != orig[0] || parts[2] != orig[2] {
		t.Errorf("neighbouring documents changed:\n%s", text)
	}
	for _, want := range []string{"# acme: the batch importer.", "# see README", "acme-2025", "plan: gold", "{id: acme-ci, sha256: " + digest + "}"} {
		if !strings.Contains(parts[1], want) {
			t.Errorf("edited document lacks %q:\n%s", want, parts[1])
		}
	}
	var doc struct {
		Spec struct {
			APIKeys []struct{ ID, SHA256 string } `yaml:"apiKeys"`
			Groups  []string
		}
	}
	if err := yaml.Unmarshal([]byte(parts[1]), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Spec.APIKeys) != 2 || doc.Spec.APIKeys[1].ID != "acme-ci" || doc.Spec.APIKeys[1].SHA256 != digest || len(doc.Spec.Groups) != 1 {
		t.Errorf("decoded consumer %+v", doc.Spec)
	}

	// The same id again is refused and changes nothing.
	stdout, stderr, code = runKeyCreate(t, "acme", "--policy-dir", dir, "--id", "acme-ci")
	if code == 0 || stdout != "" || !strings.Contains(stderr, `already has a key with id "acme-ci"`) {
		t.Errorf("duplicate id: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "access.yaml"))
	if !bytes.Equal(again, got) {
		t.Error("a refused key create modified the file")
	}
}

func TestConsumerKeyCreateWithoutAPIKeys(t *testing.T) {
	dir := writeFiles(t, map[string]string{"access.yaml": consumerFile})
	stdout, stderr, code := runKeyCreate(t, "globex", "--policy-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, digest := assertKeyOnlyOnStdout(t, dir, stdout, stderr)
	got, _ := os.ReadFile(filepath.Join(dir, "access.yaml"))
	if !strings.Contains(string(got), "sha256: "+digest) || !strings.Contains(string(got), "groups: [staff]") {
		t.Errorf("globex not updated:\n%s", got)
	}
}

func TestConsumerKeyCreateNewConsumer(t *testing.T) {
	dir := writeFiles(t, map[string]string{"access.yaml": consumerFile})
	stdout, stderr, code := runKeyCreate(t, "initech", "--policy-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, digest := assertKeyOnlyOnStdout(t, dir, stdout, stderr)
	got, err := os.ReadFile(filepath.Join(dir, "consumers", "initech.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "kind: Consumer\nname: initech\n") || !strings.Contains(string(got), digest) {
		t.Errorf("new consumer file:\n%s", got)
	}
	if orig, _ := os.ReadFile(filepath.Join(dir, "access.yaml")); string(orig) != consumerFile {
		t.Error("an unrelated file changed")
	}
}

func TestConsumerKeyCreateRefusesBadInput(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "kind: Consumer\nname: twice\n",
		"b.yaml": "kind: Consumer\nname: twice\n",
		"c.yaml": "kind: Consumer\nname: weird\nspec: [1]\n",
	})
	for _, tc := range []struct{ name, want string }{
		{"twice", "defined in both"},
		{"weird", "spec is not a mapping"},
		{"../evil", "consumer name"},
	} {
		stdout, stderr, code := runKeyCreate(t, tc.name, "--policy-dir", dir)
		if code == 0 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d stdout %q stderr %q, want an error containing %q", tc.name, code, stdout, stderr, tc.want)
		}
	}
}

// The created key works, and neither the service's answer nor its decision
// log repeats it.
func TestConsumerKeyCreatedKeyAuthenticates(t *testing.T) {
	dir := writeFiles(t, map[string]string{"access.yaml": consumerFile})
	stdout, stderr, code := runKeyCreate(t, "acme", "--policy-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	key, digest := assertKeyOnlyOnStdout(t, dir, stdout, stderr)
	sum, err := authz.ParseKeyDigest(digest)
	if err != nil {
		t.Fatal(err)
	}
	var logged []authz.Decision
	svc, err := authz.New(authz.Options{DecisionLogger: func(d authz.Decision) { logged = append(logged, d) }})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Update(context.Background(), &authz.Config{
		APIKeyAuth: map[string]authz.APIKeyAuth{"keys": {Header: "x-api-key"}},
		Consumers:  map[string]authz.Consumer{"acme": {APIKeys: []authz.APIKey{{ID: "new", SHA256: sum}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/?api_key=" + key, Headers: map[string]string{"x-api-key": key},
		}},
		ContextExtensions: map[string]string{wire.CtxAuthentication: "keys"},
	}}
	resp, err := svc.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetOkResponse() == nil || resp.GetDynamicMetadata().AsMap()["consumer"] != "acme" {
		t.Fatalf("the created key was not accepted: %v", resp)
	}
	out, _ := protojson.Marshal(resp)
	logs, _ := json.Marshal(logged)
	if bytes.Contains(out, []byte(key)) || bytes.Contains(logs, []byte(key)) || len(logged) != 1 {
		t.Errorf("key repeated: response %s, log %s", out, logs)
	}
}
