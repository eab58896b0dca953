package main

import (
	"strings"
	"testing"
)

func TestTracingFlags(t *testing.T) {
	// Off by default: no endpoint, no tracing.
	if tr, err := (&tracingOptions{percent: 100}).start(); err != nil || tr != nil {
		t.Fatalf("default: %v, %v", tr, err)
	}
	for _, c := range []struct {
		o    tracingOptions
		flag string
	}{
		{tracingOptions{endpoint: "127.0.0.1:4317", percent: 101}, "--trace-sample-percent"},
		{tracingOptions{percent: -0.5}, "--trace-sample-percent"},
		{tracingOptions{endpoint: "collector", percent: 10}, "--otlp-endpoint"},
		{tracingOptions{endpoint: "ftp://collector:4317", percent: 10}, "--otlp-endpoint"},
	} {
		if _, err := c.o.start(); err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: %v, want an error naming %s", c.o, err, c.flag)
		}
	}
	tr, err := (&tracingOptions{endpoint: "https://collector.example.com:4317", percent: 0.5}).start()
	if err != nil || tr == nil {
		t.Fatalf("TLS endpoint: %v", err)
	}
}
