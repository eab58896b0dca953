// Command sample is a tiny HTTP service for the Consul example: it answers
// every request with its name and host, and registers itself in Consul (with
// an HTTP health check on /healthz) until it is stopped, when it deregisters.
// Standard library only, so `go run` needs no downloads.
//
//	SERVICE_NAME=hello CONSUL_HTTP_ADDR=consul:8500 go run ./examples/consul/sample
//
// Environment: SERVICE_NAME (required), LISTEN (default :8080),
// CONSUL_HTTP_ADDR (default 127.0.0.1:8500), SERVICE_ADDRESS (the address
// Consul gives proxies; default: this host's first non-loopback IPv4),
// SERVICE_ZONE (optional, becomes the Envoy locality).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, cfg, log.Printf); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	name, listen, consul, address, zone string
}

func configFromEnv(getenv func(string) string) (config, error) {
	c := config{name: getenv("SERVICE_NAME"), listen: getenv("LISTEN"), consul: getenv("CONSUL_HTTP_ADDR"),
		address: getenv("SERVICE_ADDRESS"), zone: getenv("SERVICE_ZONE")}
	if c.name == "" {
		return c, errors.New("SERVICE_NAME is required")
	}
	if c.listen == "" {
		c.listen = ":8080"
	}
	if c.consul == "" {
		c.consul = "127.0.0.1:8500"
	}
	if c.address == "" {
		ip, err := firstIPv4()
		if err != nil {
			return c, err
		}
		c.address = ip
	}
	return c, nil
}

// run serves until ctx ends, registered in Consul meanwhile.
func run(ctx context.Context, c config, logf func(string, ...any)) error {
	l, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from %s (%s:%d) path %s\n", c.name, host, c.address, port, r.URL.Path)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	defer srv.Close()

	id := fmt.Sprintf("%s-%s-%d", c.name, c.address, port)
	// Consul may still be starting: retry the registration for a while.
	for attempt := 0; ; attempt++ {
		err = register(ctx, c, id, port)
		if err == nil {
			break
		}
		if attempt == 60 || ctx.Err() != nil {
			return fmt.Errorf("registering in consul at %s: %w", c.consul, err)
		}
		logf("consul not ready (%v); retrying", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	logf("serving %s on %s:%d, registered in consul %s as %s", c.name, c.address, port, c.consul, id)
	<-ctx.Done()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := consulPut(dctx, c.consul, "/v1/agent/service/deregister/"+id, ""); err != nil {
		return fmt.Errorf("deregistering: %w", err)
	}
	logf("deregistered %s", id)
	return nil
}

func register(ctx context.Context, c config, id string, port int) error {
	meta := ""
	if c.zone != "" {
		meta = fmt.Sprintf(`,"Meta":{"zone":%s}`, strconv.Quote(c.zone))
	}
	body := fmt.Sprintf(`{"ID":%s,"Name":%s,"Address":%s,"Port":%d%s,
 "Check":{"HTTP":"http://%s/healthz","Interval":"2s","Timeout":"1s","DeregisterCriticalServiceAfter":"1m"}}`,
		strconv.Quote(id), strconv.Quote(c.name), strconv.Quote(c.address), port, meta,
		net.JoinHostPort(c.address, strconv.Itoa(port)))
	return consulPut(ctx, c.consul, "/v1/agent/service/register", body)
}

func consulPut(ctx context.Context, addr, path, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if tok := os.Getenv("CONSUL_HTTP_TOKEN"); tok != "" {
		req.Header.Set("X-Consul-Token", tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s", path, resp.Status)
	}
	return nil
}

func firstIPv4() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
			return ip.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address: set SERVICE_ADDRESS")
}
