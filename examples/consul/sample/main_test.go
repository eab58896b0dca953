package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/consul/consultest"
)

// The sample registers itself (with a passing HTTP check on loopback),
// answers with its name, and deregisters when stopped.
func TestSampleRegistersAndDeregisters(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{name: "hello", listen: "127.0.0.1:0", consul: agent.Addr, address: "127.0.0.1", zone: "z1"}, t.Logf)
	}()
	c := agent.Client()
	var addr string
	for deadline := time.Now().Add(15 * time.Second); addr == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("sample not registered and passing within 15s")
		}
		entries, _, err := c.Health().Service("hello", "", true, nil)
		if err == nil && len(entries) == 1 {
			if z := entries[0].Service.Meta["zone"]; z != "z1" {
				t.Fatalf("zone meta %q", z)
			}
			addr = fmt.Sprintf("%s:%d", entries[0].Service.Address, entries[0].Service.Port)
		}
	}
	resp, err := http.Get("http://" + addr + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "hello from "; len(body) < len(want) || string(body[:len(want)]) != want {
		t.Fatalf("answer %q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if entries, _, err := c.Health().Service("hello", "", false, nil); err != nil || len(entries) != 0 {
		t.Fatalf("after stop: %d entries, err %v", len(entries), err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{"SERVICE_NAME": "echo", "SERVICE_ADDRESS": "10.0.0.7"}
	c, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil || c.listen != ":8080" || c.consul != "127.0.0.1:8500" || c.address != "10.0.0.7" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := configFromEnv(func(string) string { return "" }); err == nil {
		t.Fatal("no SERVICE_NAME must be an error")
	}
}
