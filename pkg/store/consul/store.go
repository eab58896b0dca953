// Package consul is a policy store in Consul KV, for several gatehouse
// replicas (and CLI runs) sharing one policy: files under
// PREFIX/files/<path>, the revision under PREFIX/revision (every commit is
// one transaction guarded by a check-index on it), the history under
// PREFIX/history/ and the contents it names under PREFIX/blobs/.
package consul

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// Consul's own limits (agent/txn_endpoint.go of Consul: maxTxnOps, and
// txn_max_req_len / kv_max_value_size, both 512 KiB by default).
const (
	maxTxnOps    = 128
	maxTxnBytes  = 512 << 10
	maxValueSize = 512 << 10
)

// Config configures a Store. Zero values take the defaults noted.
type Config struct {
	// Address of the agent: host:port or a URL; "" uses CONSUL_HTTP_ADDR,
	// else 127.0.0.1:8500.
	Address string
	// Token is the ACL token ("" uses CONSUL_HTTP_TOKEN). It needs
	// key_prefix "PREFIX/" read (serve) and write (commits).
	Token string
	// Prefix is the KV prefix of the store, without slashes around it.
	Prefix string
	Limits store.Limits
	// HistoryLimit is how many revisions are kept (default 100).
	HistoryLimit int
	WaitTime     time.Duration // bound of a blocking query (default 1m)
	ReadTimeout  time.Duration // bound of any other request (default 10s)
	MinInterval  time.Duration // least time between two watch reads (default 100ms)
	BackoffBase  time.Duration // first retry delay after an error (default 200ms)
	BackoffMax   time.Duration // longest retry delay (default 5s)
	Now          func() time.Time
}

// Store is a policy store in Consul KV.
type Store struct {
	cfg    Config
	client *api.Client
	kv     *api.KV
	addr   string
	prefix string // with a trailing slash
}

var _ store.Store = (*Store)(nil)

// New returns the store at cfg.Prefix of the agent at cfg.Address. It
// does not contact Consul.
func New(cfg Config) (*Store, error) {
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix == "" {
		return nil, errors.New("the Consul store needs a KV prefix (consul://ADDR/PREFIX)")
	}
	for _, el := range strings.Split(prefix, "/") {
		if el == "" || el == "." || el == ".." {
			return nil, fmt.Errorf("Consul KV prefix %q: empty, . or .. elements are not allowed", cfg.Prefix)
		}
	}
	if i := strings.IndexFunc(prefix, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r))
	}); i >= 0 {
		return nil, fmt.Errorf("Consul KV prefix %q: %q is not allowed: use letters, digits, '/', '.', '_' and '-'", cfg.Prefix, prefix[i:i+1])
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.Limits.MaxFileSize > maxValueSize {
		cfg.Limits.MaxFileSize = maxValueSize
	}
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = tree.HistoryLimit
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.WaitTime, time.Minute)
	def(&cfg.ReadTimeout, 10*time.Second)
	def(&cfg.MinInterval, 100*time.Millisecond)
	def(&cfg.BackoffBase, 200*time.Millisecond)
	def(&cfg.BackoffMax, 5*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ac := api.DefaultConfig()
	if cfg.Address != "" {
		ac.Address = cfg.Address
	}
	if cfg.Token != "" {
		ac.Token = cfg.Token
	}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("consul client for %s: %w", ac.Address, err)
	}
	return &Store{cfg: cfg, client: c, kv: c.KV(), addr: ac.Address, prefix: prefix + "/"}, nil
}

// Address is the agent's address.
func (s *Store) Address() string { return s.addr }

// Prefix is the store's KV prefix.
func (s *Store) Prefix() string { return strings.TrimSuffix(s.prefix, "/") }

func (s *Store) filesPrefix() string { return s.prefix + "files/" }
func (s *Store) revisionKey() string { return s.prefix + "revision" }
func (s *Store) historyPrefix() string {
	return s.prefix + "history/"
}
func (s *Store) blobKey(id string) string { return s.prefix + "blobs/" + id }

// state is the store as one transaction read it.
type state struct {
	files map[string][]byte
	// revIndex is the ModifyIndex of the revision key (0: absent), the
	// index commits check.
	revIndex uint64
}

// read reads the files and the revision key in one transaction, so they
// are of one Raft index.
func (s *Store) read(ctx context.Context) (*state, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVGetOrEmpty, Key: s.revisionKey()}},
		{KV: &api.KVTxnOp{Verb: api.KVGetTree, Key: s.filesPrefix()}},
	}
	ok, resp, _, err := s.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, s.fail("reading the policy", err)
	}
	if !ok {
		return nil, s.fail("reading the policy", txnErrors(resp))
	}
	st := &state{files: map[string][]byte{}}
	count := tree.Counter{Limits: s.cfg.Limits}
	for _, r := range resp.Results {
		kv := r.KV
		if kv == nil {
			continue
		}
		if kv.Key == s.revisionKey() {
			st.revIndex = kv.ModifyIndex
			continue
		}
		p := strings.TrimPrefix(kv.Key, s.filesPrefix())
		if strings.HasSuffix(kv.Key, "/") || tree.Hidden(p) {
			// A "folder" key made by the Consul UI is no file; hidden
			// files are skipped as in a directory.
			continue
		}
		if err := tree.CheckPath(p); err != nil {
			return nil, fmt.Errorf("consul key %s: %v: rename or delete it", kv.Key, err)
		}
		if err := count.Add(p, int64(len(kv.Value))); err != nil {
			return nil, fmt.Errorf("consul %s: %w", s.Prefix(), err)
		}
		st.files[p] = kv.Value
	}
	return st, nil
}

// Read returns the tree; its revision is the hash of the files' content,
// so a key put by hand is a new revision too.
func (s *Store) Read(ctx context.Context) (*store.Tree, error) {
	st, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return &store.Tree{Revision: tree.Revision(st.files), Files: st.files}, nil
}

// fail wraps a Consul error: an agent that cannot be reached or has no
// leader is store.ErrUnavailable (callers keep what they last read);
// anything else (a denied token, a refused transaction) says what to do.
func (s *Store) fail(op string, err error) error {
	var ue *url.Error
	var ne net.Error
	var se api.StatusError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Permission denied") || strings.Contains(msg, "ACL not found"),
		errors.As(err, &se) && se.Code == 403:
		return fmt.Errorf("consul %s: %s: %v: the token needs key_prefix %q read (and write to commit)", s.addr, op, err, s.prefix)
	case errors.As(err, &ue), errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &se) && se.Code >= 500,
		strings.Contains(msg, "No cluster leader"), strings.Contains(msg, "rpc error"):
		return fmt.Errorf("%w: consul %s: %s: %v", store.ErrUnavailable, s.addr, op, err)
	}
	return fmt.Errorf("consul %s: %s: %w", s.addr, op, err)
}

// txnErrors turns a refused transaction's errors into one error.
func txnErrors(resp *api.TxnResponse) error {
	if resp == nil || len(resp.Errors) == 0 {
		return errors.New("transaction refused")
	}
	var msgs []string
	for _, e := range resp.Errors {
		msgs = append(msgs, fmt.Sprintf("operation %d: %s", e.OpIndex, e.What))
	}
	return errors.New(strings.Join(msgs, "; "))
}
