package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func init() { addVerb(newConsumerCmd) }

func newConsumerCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "consumer",
		Short: "Manage API consumers (keys)",
	}
	key := &cobra.Command{Use: "key", Short: "Manage a consumer's API keys"}
	key.AddCommand(newConsumerKeyCreateCmd(), newConsumerKeyListCmd(), newConsumerKeyRevokeCmd())
	c.AddCommand(key, newConsumerListCmd())
	return c
}

// apiKeyPrefix marks gatehouse keys, so secret scanners and people can
// recognise one.
const apiKeyPrefix = "gh_"

func newConsumerKeyCreateCmd() *cobra.Command {
	var (
		dir, id string
		remote  remoteFlags
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key for a consumer; print it once, store only its hash",
		Long: `Generate a random API key (32 bytes, base64url, prefixed "gh_") for the
Consumer NAME, print it once on standard output, and add only its SHA-256 to
the Consumer's spec.apiKeys. The key itself is never sent or written anywhere:
copy it now, it cannot be shown again.

By default the key's hash is applied to a running server (--server or
GATEHOUSE_ADDR): the Consumer is read, the key added, and the Consumer applied
based on the revision read, so a concurrent change is never overwritten; the
Consumer is created if there is none. The key is printed only once the server
stored its hash.

With --policy-dir the policy directory is edited instead (offline): the file
that defines "kind: Consumer, name: NAME" is edited in place (other objects in
it are left as they are); if no file defines it, consumers/NAME.yaml is
created. A running "gatehouse serve" picks the change up like any other
policy edit.

` + exitCodesHelp,
		Example: `  gatehouse consumer key create acme > acme.key
  gatehouse consumer key create acme --id acme-ci --server 10.0.0.5:18080
  gatehouse consumer key create acme --policy-dir policies`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !objectNameRE.MatchString(name) {
				return fmt.Errorf("consumer name %q: use letters, digits, '-', '_' and '.'", name)
			}
			if id == "" {
				id = defaultKeyID(name, time.Now())
			}
			key, digest := newAPIKey()
			var where, verb string
			if cmd.Flags().Changed("policy-dir") {
				file, created, err := addConsumerKey(dir, name, id, digest)
				if err != nil {
					return err
				}
				where, verb = file, "added to"
				if created {
					verb = "created"
				}
			} else {
				c, err := remote.client()
				if err != nil {
					return err
				}
				rev, created, err := serverAddKey(cmd.Context(), c, name, id, digest)
				if err != nil {
					return err
				}
				where, verb = c.Addr()+" revision "+rev, "Consumer updated"
				if created {
					verb = "Consumer created"
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "key %q of consumer %s: sha256 %s in %s (%s); the key below is shown only once\n",
				id, name, digest, where, verb)
			_, err := fmt.Fprintln(cmd.OutOrStdout(), key)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "policy-dir", ".", "edit this policy directory instead of applying to a server")
	cmd.Flags().StringVar(&id, "id", "", "key id (default NAME-YYYYMMDD-XXXX)")
	remote.add(cmd.Flags())
	return cmd
}

var objectNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$`)

func newAPIKey() (key, sha256hex string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	key = apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:])
}

func defaultKeyID(name string, now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", name, now.UTC().Format("20060102"), hex.EncodeToString(b[:]))
}

// addConsumerKey records the digest in the Consumer's file and returns that
// file's path and whether it was created.
func addConsumerKey(dir, name, id, digest string) (string, bool, error) {
	found, err := findPolicyDoc(dir, "Consumer", name)
	if err != nil {
		return "", false, err
	}
	entry := fmt.Sprintf("{id: %s, sha256: %s}", yamlScalar(id), digest)
	if found == nil {
		p := filepath.Join(dir, "consumers", name+".yaml")
		body := fmt.Sprintf("kind: Consumer\nname: %s\nspec:\n  apiKeys:\n    - %s\n", yamlScalar(name), entry)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", false, fmt.Errorf("create %s: %w", p, err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", false, fmt.Errorf("create %s: %w", p, err)
		}
		if _, err := f.WriteString(body); err != nil {
			f.Close()
			return "", false, fmt.Errorf("write %s: %w", p, err)
		}
		return p, true, f.Close()
	}
	doc := found.docs[found.index]
	if err := appendKey(doc.node, id, digest); err != nil {
		return "", false, fmt.Errorf("%s:%d: Consumer/%s: %w", found.path, doc.line, name, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc.node); err != nil {
		return "", false, fmt.Errorf("encode Consumer/%s: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return "", false, fmt.Errorf("encode Consumer/%s: %w", name, err)
	}
	// Only the edited document is re-encoded; the others keep their bytes.
	out := found.replace(found.index, buf.String())
	return found.path, false, writeFileAtomic(found.path, out)
}

// appendKey adds {id, sha256} to spec.apiKeys, refusing a duplicate id.
func appendKey(doc *yaml.Node, id, digest string) error {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return errors.New("not a mapping")
	}
	spec := mapValue(root, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		if spec != nil && !(spec.Kind == yaml.ScalarNode && spec.Tag == "!!null") {
			return errors.New("spec is not a mapping")
		}
		spec = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		setMapValue(root, "spec", spec)
	}
	keys := mapValue(spec, "apiKeys")
	if keys == nil || (keys.Kind == yaml.ScalarNode && keys.Tag == "!!null") {
		keys = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		setMapValue(spec, "apiKeys", keys)
	}
	if keys.Kind != yaml.SequenceNode {
		return errors.New("spec.apiKeys is not a list")
	}
	for _, k := range keys.Content {
		if v := mapValue(k, "id"); v != nil && v.Value == id {
			return fmt.Errorf("spec.apiKeys already has a key with id %q", id)
		}
	}
	keys.Content = append(keys.Content, &yaml.Node{
		Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle,
		Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "id"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: id},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: "sha256"},
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: digest},
		},
	})
	return nil
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// yamlScalar quotes s when plain YAML would read it as something else.
func yamlScalar(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Sprintf("%q", s)
	}
	return strings.TrimSuffix(string(b), "\n")
}

// policyDoc is one YAML document of a policy file, with the byte range it
// occupies, so it can be replaced without touching its neighbours.
type policyDoc struct {
	node       *yaml.Node
	line       int
	start, end int // byte offsets of the document's text in the file
}

type policyFile struct {
	path  string
	data  []byte
	docs  []policyDoc
	index int // the document found
}

func (f *policyFile) replace(i int, text string) []byte {
	d := f.docs[i]
	var out bytes.Buffer
	out.Write(f.data[:d.start])
	out.WriteString(text)
	out.Write(f.data[d.end:])
	return out.Bytes()
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?\r?\n`)

// splitPolicyFile splits a file at its "---" lines and parses each part.
// A part that does not parse on its own (a "---" inside a block scalar,
// say) makes the file unsplittable: the caller then refuses to edit it.
func splitPolicyFile(path string, data []byte) (*policyFile, error) {
	f := &policyFile{path: path, data: data}
	starts := []int{0}
	for _, m := range docSep.FindAllIndex(data, -1) {
		if m[0] == 0 {
			starts[0] = m[1]
			continue
		}
		starts = append(starts, m[1])
	}
	for i, st := range starts {
		end := len(data)
		if i+1 < len(starts) {
			// the separator line belongs to neither document
			sep := docSep.FindIndex(data[st:])
			end = st + sep[0]
		}
		chunk := data[st:end]
		line := 1 + bytes.Count(data[:st], []byte("\n"))
		var n yaml.Node
		if err := yaml.Unmarshal(chunk, &n); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if n.Kind == 0 {
			continue // empty document
		}
		f.docs = append(f.docs, policyDoc{node: &n, line: line, start: st, end: end})
	}
	return f, nil
}

// findPolicyDoc finds the file under dir whose document has this kind and
// name; nil when there is none.
func findPolicyDoc(dir, kind, name string) (*policyFile, error) {
	var found *policyFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(kind)) || !bytes.Contains(data, []byte(name)) {
			return nil
		}
		f, err := splitPolicyFile(p, data)
		if err != nil {
			return err
		}
		for i, doc := range f.docs {
			root := doc.node
			if len(root.Content) == 1 {
				root = root.Content[0]
			}
			k, n := mapValue(root, "kind"), mapValue(root, "name")
			if k != nil && n != nil && k.Value == kind && n.Value == name {
				if found != nil {
					return fmt.Errorf("%s/%s is defined in both %s and %s", kind, name, found.path, p)
				}
				f.index = i
				found = f
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy directory %s: %w", dir, err)
	}
	return found, nil
}

// writeFileAtomic replaces path's content, keeping its mode, so a running
// gatehouse never reads half a file.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
