package policy

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// baseYAML is a small valid policy that bad inputs are loaded next to, so
// every case also shows that one bad object does not take down the rest.
const baseYAML = `kind: Gateway
name: gw
spec:
  listeners:
    - {name: http, port: 8080, protocol: HTTP}
---
kind: Service
name: a
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9001}]
---
kind: Service
name: b
spec:
  discovery:
    static: [{address: 127.0.0.1, port: 9002}]
`

// testFS returns a MapFS with the base policy, the test certificates and
// the given extra files.
func testFS(t testing.TB, files map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{"base.yaml": {Data: []byte(baseYAML)}}
	for _, c := range []string{"api.pem", "api-key.pem", "internal-ca.pem"} {
		data, err := os.ReadFile("testdata/model/certs/" + c)
		if err != nil {
			t.Fatal(err)
		}
		fsys["certs/"+c] = &fstest.MapFile{Data: data}
	}
	for name, data := range files {
		if data == "" {
			delete(fsys, name)
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return fsys
}

// findErr returns the error line starting with prefix and containing msg.
func findErr(s *Snapshot, prefix, msg string) (string, bool) {
	for _, e := range s.Errors() {
		if strings.HasPrefix(e, prefix) && strings.Contains(e[len(prefix):], msg) {
			return e, true
		}
	}
	return "", false
}

func rejectedEntry(s *Snapshot, ref string) *Rejected {
	for i := range s.Rejected {
		if s.Rejected[i].Ref == ref {
			return &s.Rejected[i]
		}
	}
	return nil
}
