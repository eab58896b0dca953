package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/pkg/admin"
)

// adminAuthOptions secure the admin API.
type adminAuthOptions struct {
	tokensFile    string
	metricsPublic bool
	tlsCert       string
	tlsKey        string
	tokens        *admin.Tokens // read by load
}

func (o *adminAuthOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.tokensFile, "admin-tokens", "", `file of admin API bearer tokens, one a line as "sha256:<hex> <role> <name>" (role reader or admin; gatehouse token create prints lines); without it the admin API binds loopback only`)
	f.BoolVar(&o.metricsPublic, "metrics-public", false, "with --admin-tokens: serve /metrics without a token (Prometheus scrapers that send none)")
	f.StringVar(&o.tlsCert, "admin-tls-cert", "", "certificate chain (PEM) of the admin API: with --admin-tls-key it serves HTTPS only")
	f.StringVar(&o.tlsKey, "admin-tls-key", "", "private key (PEM) of --admin-tls-cert")
}

// load checks the flags against --admin-addr before anything listens: an
// admin API without tokens listens on loopback only. It reads the tokens
// file, refusing it whole on a bad line (file:line).
func (o *adminAuthOptions) load(addr string) error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--admin-tls-cert and --admin-tls-key must be given together")
	}
	if o.tokensFile == "" {
		if o.metricsPublic {
			return errors.New("--metrics-public needs --admin-tokens (without tokens every path is open, on loopback only)")
		}
		if !loopbackAddr(addr) {
			return fmt.Errorf("--admin-addr %s is not a loopback address, and without --admin-tokens the admin API has no authentication: "+
				"give --admin-tokens FILE (lines from gatehouse token create), or listen on 127.0.0.1", addr)
		}
		return nil
	}
	tokens, err := admin.LoadTokens(o.tokensFile)
	if err != nil {
		return err
	}
	o.tokens = tokens
	return nil
}

// wrap puts the token check in front of h when there are tokens.
func (o *adminAuthOptions) wrap(h http.Handler, log *slog.Logger) http.Handler {
	if o.tokens == nil {
		return h
	}
	return admin.Authenticate(h, admin.AuthConfig{Tokens: o.tokens, MetricsPublic: o.metricsPublic, Logger: log})
}

// serve runs srv on lis, over TLS when configured.
func (o *adminAuthOptions) serve(srv *http.Server, lis net.Listener) error {
	if o.tlsCert != "" {
		return srv.ServeTLS(lis, o.tlsCert, o.tlsKey)
	}
	return srv.Serve(lis)
}

// loopbackAddr reports whether addr's host is a loopback IP or localhost;
// an empty or unspecified host listens everywhere.
func loopbackAddr(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// url is the admin API's base URL.
func (o *adminAuthOptions) url(addr string) string {
	if o.tlsCert != "" {
		return "https://" + addr
	}
	return "http://" + addr
}
