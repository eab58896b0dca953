package registry

import "context"

// Emitter reports a source's snapshot after changes, coalescing them: a
// burst of changes while a report is being built costs one more report,
// never one per change, and the watcher that signals never blocks. The
// Consul, Kubernetes and Eureka sources share it.
type Emitter struct{ ch chan struct{} }

// NewEmitter returns an Emitter with no change pending.
func NewEmitter() *Emitter { return &Emitter{ch: make(chan struct{}, 1)} }

// Kick notes that something changed; it never blocks.
func (e *Emitter) Kick() {
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// Run calls next after each Kick and passes its snapshot to onUpdate when
// next says it differs from the last one reported, until ctx ends. A nil
// onUpdate reports nothing.
func (e *Emitter) Run(ctx context.Context, next func() (Snapshot, bool), onUpdate func(Snapshot)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.ch:
		}
		if snap, ok := next(); ok && onUpdate != nil {
			onUpdate(snap)
		}
	}
}
