package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// syncOptions bound the initial syncs of a reconnect storm (issue 10): how
// many ADS streams send their first full responses at once, how long a
// stream waits for its turn, and how long a silent client keeps its turn.
// The bound caps the control plane's peak memory and keeps established
// streams served while every proxy reconnects after a restart. bridge
// bounds how long a cluster removal waits for every state-of-the-world
// proxy of a gateway to acknowledge the routes that stop naming the
// clusters (make-before-break; xds/server/sotwhold.go).
type syncOptions struct {
	syncs  int
	wait   time.Duration
	hold   time.Duration
	bridge time.Duration
}

const (
	defaultXDSInitialSyncs    = 32
	defaultXDSInitialSyncWait = 30 * time.Second
	defaultXDSInitialSyncHold = 10 * time.Second
	defaultXDSBridgeHold      = 10 * time.Second
)

func (o *syncOptions) addFlags(f *pflag.FlagSet) {
	f.IntVar(&o.syncs, "xds-initial-syncs", defaultXDSInitialSyncs, "ADS streams sending their initial full configuration at once (bounds memory and CPU of a reconnect storm); 0: unbounded")
	f.DurationVar(&o.wait, "xds-initial-sync-wait", defaultXDSInitialSyncWait, "longest a new ADS stream waits for an initial-sync slot; it then goes ahead without one")
	f.DurationVar(&o.hold, "xds-initial-sync-hold", defaultXDSInitialSyncHold, "longest a stream keeps its initial-sync slot while its proxy has not acknowledged the initial responses")
	f.DurationVar(&o.bridge, "xds-bridge-hold", defaultXDSBridgeHold, "longest a cluster removal waits for every state-of-the-world proxy of a gateway to acknowledge the routes that stop naming the clusters (make-before-break); past it the removal is sent and counted in gatehouse_xds_bridge_hold_expired_total. delta streams order their removals per stream and are not held")
}

// validate rejects values that would disable the bound by accident.
func (o *syncOptions) validate() error {
	if o.syncs < 0 {
		return fmt.Errorf("--xds-initial-syncs: %d is negative (0 means unbounded)", o.syncs)
	}
	if o.wait <= 0 {
		return fmt.Errorf("--xds-initial-sync-wait: %s is not a positive duration", o.wait)
	}
	if o.hold <= 0 {
		return fmt.Errorf("--xds-initial-sync-hold: %s is not a positive duration", o.hold)
	}
	if o.bridge <= 0 {
		return fmt.Errorf("--xds-bridge-hold: %s is not a positive duration (a removal must wait for the routes; lower it to bound how long a silent proxy delays it)", o.bridge)
	}
	return nil
}

// apply sets the bounds on the server's options (server.Options reads 0 as
// its default and a negative count as unbounded).
func (o *syncOptions) apply(opts *server.Options) {
	opts.InitialSyncs = o.syncs
	if o.syncs == 0 {
		opts.InitialSyncs = -1
	}
	opts.InitialSyncWait, opts.InitialSyncHold = o.wait, o.hold
	opts.BridgeHold = o.bridge
}
