package consul

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/store/internal/tree"
)

// Commit applies changes in one Consul transaction that first checks the
// ModifyIndex of the revision key: of two commits read at one revision
// (two replicas, a replica and the CLI) only one is applied; the other is
// store.ErrConflict. With base "" the commit is retried a few times on
// such a race instead.
func (s *Store) Commit(ctx context.Context, base string, changes []store.Change, meta store.Meta) (store.Revision, error) {
	for attempt := 0; ; attempt++ {
		rev, raced, err := s.commitOnce(ctx, base, changes, meta)
		if !raced {
			return rev, err
		}
		if base != "" || attempt == 4 {
			return store.Revision{}, fmt.Errorf("%w (another commit to consul %s landed first): read it again and redo the change", store.ErrConflict, s.Prefix())
		}
	}
}

// commitOnce reports raced when the revision key changed between the read
// and the write.
func (s *Store) commitOnce(ctx context.Context, base string, changes []store.Change, meta store.Meta) (store.Revision, bool, error) {
	st, err := s.read(ctx)
	if err != nil {
		return store.Revision{}, false, err
	}
	head, seq, err := s.latest(ctx)
	if err != nil {
		return store.Revision{}, false, err
	}
	cur := tree.Revision(st.files)
	type pending struct {
		rec   *tree.Record
		files map[string][]byte // the tree the record describes
	}
	var recs []pending
	if head == nil && len(st.files) > 0 || head != nil && head.ID != cur {
		// Keys put by hand since the last commit: their own revision.
		head = tree.HandEdit(head, st.files, s.cfg.Now())
		recs = append(recs, pending{head, st.files})
	}
	if base != "" && base != cur {
		return store.Revision{}, false, fmt.Errorf("%w (based on revision %s, consul %s is at %s): read it again and redo the change", store.ErrConflict, base, s.Prefix(), cur)
	}
	next, changed, err := tree.Apply(st.files, changes, s.cfg.Limits)
	if err != nil {
		return store.Revision{}, false, err
	}
	if len(changed) > 0 {
		recs = append(recs, pending{&tree.Record{ID: tree.Revision(next), Time: s.cfg.Now().UTC(), Author: meta.Author,
			Message: meta.Message, Changed: changed, Files: tree.Manifest(next)}, next})
	}
	if len(recs) == 0 {
		if head == nil {
			return store.Revision{ID: cur}, false, nil
		}
		return head.Revision(), false, nil
	}

	check := &api.KVTxnOp{Verb: api.KVCheckIndex, Key: s.revisionKey(), Index: st.revIndex}
	if st.revIndex == 0 {
		check = &api.KVTxnOp{Verb: api.KVCheckNotExists, Key: s.revisionKey()}
	}
	ops := api.TxnOps{{KV: check}}
	set := func(key string, value []byte) {
		ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: key, Value: value}})
	}
	blobs := map[string]bool{}
	for _, p := range recs {
		// Blobs with the record: the history can always give a
		// recorded content back.
		for _, path := range p.rec.Changed {
			if content, ok := p.files[path]; ok && !blobs[tree.BlobID(content)] {
				blobs[tree.BlobID(content)] = true
				set(s.blobKey(tree.BlobID(content)), content)
			}
		}
		data, err := json.Marshal(p.rec)
		if err != nil {
			return store.Revision{}, false, err
		}
		seq++
		set(s.historyKey(seq), data)
	}
	for _, path := range changed {
		if content, ok := next[path]; ok {
			set(s.filesPrefix()+path, content)
		} else {
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: s.filesPrefix() + path}})
		}
	}
	last := recs[len(recs)-1].rec
	set(s.revisionKey(), []byte(last.ID))
	if err := fits(ops); err != nil {
		return store.Revision{}, false, err
	}

	wctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	ok, resp, _, err := s.client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(wctx))
	if err != nil {
		return store.Revision{}, false, s.fail("committing", err)
	}
	if !ok {
		for _, e := range resp.Errors {
			if e.OpIndex == 0 {
				return store.Revision{}, true, nil
			}
		}
		return store.Revision{}, false, s.fail("committing", txnErrors(resp))
	}
	// The commit stands whatever happens to the trimming; a failed trim
	// is retried by the next commit.
	_ = s.trim(ctx)
	return last.Revision(), false, nil
}

// fits refuses a transaction Consul would refuse, with what to do.
func fits(ops api.TxnOps) error {
	size := 2
	for _, op := range ops {
		// JSON of one KV op: the key, the value in base64, the field names.
		size += 100 + len(op.KV.Key) + (len(op.KV.Value)+2)/3*4
	}
	if len(ops) > maxTxnOps || size > maxTxnBytes {
		return fmt.Errorf("the change is too large for one Consul transaction (%d operations, about %d bytes; Consul takes at most %d operations and %d bytes, txn_max_req_len; each changed file costs two operations, the file and its history copy): commit fewer or smaller files at a time",
			len(ops), size, maxTxnOps, maxTxnBytes)
	}
	return nil
}
