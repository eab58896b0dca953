package main

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Envoy reaches the access-log service at an address it can dial.
func TestUsageAdvertiseAddr(t *testing.T) {
	for _, c := range []struct {
		xds, authz, usage, want, err string
	}{
		{xds: "127.0.0.1:18000", want: "127.0.0.1:18000"},
		{xds: "127.0.0.1:18000", usage: "gh-usage:18002", want: "gh-usage:18002"},
		{xds: "0.0.0.0:18000", authz: "gatehouse:18000", want: "gatehouse:18000"},
		{xds: "0.0.0.0:18000", authz: "gatehouse:18000", usage: "gh-usage:18002", want: "gh-usage:18002"},
		{xds: "127.0.0.1:18000", usage: "0.0.0.0:18002", err: "--usage-advertise-addr 0.0.0.0:18002"},
	} {
		o := serviceOptions{components: allComponents, authzAdvertise: c.authz, ratelimitAdvertise: c.authz, usageAdvertise: c.usage, systemCAFile: translate.DefaultSystemCAFile}
		err := o.validate(c.xds)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: validate = %v, want %q", c, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if got := o.translateOptions(c.xds).UsageAddr; got != c.want {
			t.Errorf("%+v: UsageAddr %q, want %q", c, got, c.want)
		}
	}
}
