package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// The initial-sync flags reach server.Options as their documented meaning,
// and values that would silently disable the bound are refused.
func TestXDSInitialSyncFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
		want    server.Options
	}{
		{args: nil, want: server.Options{InitialSyncs: 32, InitialSyncWait: 30 * time.Second, InitialSyncHold: 10 * time.Second, BridgeHold: 10 * time.Second}},
		{args: []string{"--xds-bridge-hold", "2s"}, want: server.Options{InitialSyncs: 32, InitialSyncWait: 30 * time.Second, InitialSyncHold: 10 * time.Second, BridgeHold: 2 * time.Second}},
		{args: []string{"--xds-bridge-hold", "0s"}, wantErr: "--xds-bridge-hold: 0s is not a positive duration"},
		{args: []string{"--xds-initial-syncs", "4", "--xds-initial-sync-wait", "2s", "--xds-initial-sync-hold", "500ms"},
			want: server.Options{InitialSyncs: 4, InitialSyncWait: 2 * time.Second, InitialSyncHold: 500 * time.Millisecond, BridgeHold: 10 * time.Second}},
		// 0 is unbounded on the command line; server.Options spells that -1
		// (its 0 is "default").
		{args: []string{"--xds-initial-syncs", "0"}, want: server.Options{InitialSyncs: -1, InitialSyncWait: 30 * time.Second, InitialSyncHold: 10 * time.Second, BridgeHold: 10 * time.Second}},
		{args: []string{"--xds-initial-syncs", "-1"}, wantErr: "--xds-initial-syncs: -1 is negative"},
		{args: []string{"--xds-initial-sync-wait", "0s"}, wantErr: "--xds-initial-sync-wait: 0s is not a positive duration"},
		{args: []string{"--xds-initial-sync-hold", "-5s"}, wantErr: "--xds-initial-sync-hold: -5s is not a positive duration"},
	} {
		cmd := newServeCmd()
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var o syncOptions
		o.syncs, _ = cmd.Flags().GetInt("xds-initial-syncs")
		o.wait, _ = cmd.Flags().GetDuration("xds-initial-sync-wait")
		o.hold, _ = cmd.Flags().GetDuration("xds-initial-sync-hold")
		o.bridge, _ = cmd.Flags().GetDuration("xds-bridge-hold")
		err := o.validate()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		var got server.Options
		o.apply(&got)
		if got.InitialSyncs != tc.want.InitialSyncs || got.InitialSyncWait != tc.want.InitialSyncWait || got.InitialSyncHold != tc.want.InitialSyncHold || got.BridgeHold != tc.want.BridgeHold {
			t.Errorf("%v: options %d/%s/%s/%s, want %d/%s/%s/%s", tc.args, got.InitialSyncs, got.InitialSyncWait, got.InitialSyncHold, got.BridgeHold,
				tc.want.InitialSyncs, tc.want.InitialSyncWait, tc.want.InitialSyncHold, tc.want.BridgeHold)
		}
	}
}

// serve refuses a bad bound before it opens the store or listens.
func TestServeRejectsBadInitialSyncs(t *testing.T) {
	o := serveOptions{policyDir: t.TempDir(), syncs: syncOptions{syncs: -3, wait: time.Second, hold: time.Second}}
	err := serve(t.Context(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "--xds-initial-syncs") {
		t.Fatalf("serve with --xds-initial-syncs -3: %v, want the flag named", err)
	}
}
