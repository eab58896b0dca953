package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// The history: PREFIX/history/NNNNNNNNNN is one revision (who, when, why,
// what changed, and each path's content hash); PREFIX/blobs/<sha256> is a
// content. The newest HistoryLimit revisions are kept; after a commit the
// older ones and the blobs only they named are deleted, in transactions
// that check the revision key, so a commit landing meanwhile stops the
// deletion instead of losing a blob it names.

func (s *Store) historyKey(seq int64) string {
	return fmt.Sprintf("%s%010d", s.historyPrefix(), seq)
}

// seqOf is the sequence number of a history key, -1 if it is none.
func (s *Store) seqOf(key string) int64 {
	num := strings.TrimPrefix(key, s.historyPrefix())
	if len(num) != 10 {
		return -1
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// latest returns the newest record (nil if none) and its sequence number
// (-1 if none).
func (s *Store) latest(ctx context.Context) (*tree.Record, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	q := (&api.QueryOptions{}).WithContext(ctx)
	keys, _, err := s.kv.Keys(s.historyPrefix(), "", q)
	if err != nil {
		return nil, -1, s.fail("reading the history", err)
	}
	var newest string
	seq := int64(-1)
	for _, k := range keys {
		if n := s.seqOf(k); n > seq {
			newest, seq = k, n
		}
	}
	if seq < 0 {
		return nil, -1, nil
	}
	pair, _, err := s.kv.Get(newest, q)
	if err != nil {
		return nil, -1, s.fail("reading the history", err)
	}
	if pair == nil {
		return nil, -1, fmt.Errorf("%w: consul %s: history entry %s vanished while read", store.ErrConflict, s.addr, newest)
	}
	r, err := s.decode(pair)
	return r, seq, err
}

func (s *Store) decode(pair *api.KVPair) (*tree.Record, error) {
	var r tree.Record
	if err := json.Unmarshal(pair.Value, &r); err != nil {
		return nil, fmt.Errorf("consul history entry %s is damaged (%v): delete the key", pair.Key, err)
	}
	return &r, nil
}

// records returns every record, newest first.
func (s *Store) records(ctx context.Context) ([]*tree.Record, api.KVPairs, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	pairs, _, err := s.kv.List(s.historyPrefix(), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, nil, s.fail("reading the history", err)
	}
	var kept api.KVPairs
	for _, p := range pairs {
		if s.seqOf(p.Key) >= 0 {
			kept = append(kept, p)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Key > kept[j].Key })
	out := make([]*tree.Record, 0, len(kept))
	for _, p := range kept {
		r, err := s.decode(p)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
	}
	return out, kept, nil
}

// History lists up to limit revisions, newest first, after recording keys
// put by hand since the last commit as a revision of their own.
func (s *Store) History(ctx context.Context, limit int) ([]store.Revision, error) {
	if _, err := s.Commit(ctx, "", nil, store.Meta{}); err != nil {
		return nil, err
	}
	recs, _, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Revision
	for _, r := range recs {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, r.Revision())
	}
	return out, nil
}

// ReadAt rebuilds the tree of a revision from the history.
func (s *Store) ReadAt(ctx context.Context, revision string) (*store.Tree, error) {
	recs, _, err := s.records(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.ID != revision {
			continue
		}
		files, err := s.blobs(ctx, r)
		if err != nil {
			return nil, err
		}
		return &store.Tree{Revision: r.ID, Files: files}, nil
	}
	return nil, fmt.Errorf("%w: %s is not among the last %d revisions of consul %s", store.ErrUnknownRevision, revision, s.cfg.HistoryLimit, s.Prefix())
}

// blobs reads the contents a record names, in transactions of at most
// maxTxnOps reads.
func (s *Store) blobs(ctx context.Context, r *tree.Record) (map[string][]byte, error) {
	paths := tree.SortedPaths(r.Files)
	files := make(map[string][]byte, len(paths))
	for start := 0; start < len(paths); start += maxTxnOps {
		chunk := paths[start:min(start+maxTxnOps, len(paths))]
		ops := make(api.TxnOps, 0, len(chunk))
		for _, p := range chunk {
			if !tree.ValidBlobID(r.Files[p]) || tree.CheckPath(p) != nil {
				return nil, fmt.Errorf("consul %s: revision %s: the history entry is damaged (file %q, content %q): delete it", s.Prefix(), r.ID, p, r.Files[p])
			}
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVGet, Key: s.blobKey(r.Files[p])}})
		}
		cctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
		ok, resp, _, err := s.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(cctx))
		cancel()
		if err != nil {
			return nil, s.fail("reading the history", err)
		}
		if !ok {
			return nil, fmt.Errorf("consul %s: revision %s: a content it names is missing from the history (%v)", s.Prefix(), r.ID, txnErrors(resp))
		}
		for i, res := range resp.Results {
			files[chunk[i]] = res.KV.Value
		}
	}
	return files, nil
}

// trim deletes the revisions beyond HistoryLimit and the blobs no kept
// revision names.
func (s *Store) trim(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	q := (&api.QueryOptions{}).WithContext(ctx)
	// The revision index first: every deletion checks it, so anything
	// read after it is at least as new as what the deletions assume.
	rev, _, err := s.kv.Get(s.revisionKey(), q)
	if err != nil || rev == nil {
		return err
	}
	keys, _, err := s.kv.Keys(s.historyPrefix(), "", q)
	if err != nil || len(keys) <= s.cfg.HistoryLimit {
		return err // nothing to trim: spare reading every record
	}
	recs, pairs, err := s.records(ctx)
	if err != nil || len(recs) <= s.cfg.HistoryLimit {
		return err
	}
	used := map[string]bool{}
	for _, r := range recs[:s.cfg.HistoryLimit] {
		for _, id := range r.Files {
			used[s.blobKey(id)] = true
		}
	}
	var del []string
	for _, p := range pairs[s.cfg.HistoryLimit:] {
		del = append(del, p.Key)
	}
	blobKeys, _, err := s.kv.Keys(s.prefix+"blobs/", "", q)
	if err != nil {
		return err
	}
	for _, k := range blobKeys {
		if !used[k] {
			del = append(del, k)
		}
	}
	for start := 0; start < len(del); start += maxTxnOps - 1 {
		ops := api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: s.revisionKey(), Index: rev.ModifyIndex}}}
		for _, k := range del[start:min(start+maxTxnOps-1, len(del))] {
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: k}})
		}
		ok, resp, _, err := s.client.Txn().Txn(ops, q)
		if err != nil {
			return err
		}
		if !ok {
			return txnErrors(resp)
		}
	}
	return nil
}
