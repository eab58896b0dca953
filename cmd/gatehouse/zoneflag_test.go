package main

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func TestZoneFlag(t *testing.T) {
	for _, tc := range []struct{ zone, wantErr string }{
		{zone: ""},
		{zone: "us-east-1a"},
		{zone: "eu west", wantErr: `--zone: "eu west" is not a zone name`},
		{zone: "a@b", wantErr: `--zone: "a@b" is not a zone name`},
	} {
		o := serviceOptions{components: allComponents, systemCAFile: translate.DefaultSystemCAFile, zone: tc.zone}
		err := o.validate("127.0.0.1:18000")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("--zone %q: %v, want an error containing %q", tc.zone, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("--zone %q: %v", tc.zone, err)
			continue
		}
		if got := o.translateOptions("127.0.0.1:18000").Zone; got != tc.zone {
			t.Errorf("--zone %q: translate.Options.Zone = %q", tc.zone, got)
		}
	}
}
