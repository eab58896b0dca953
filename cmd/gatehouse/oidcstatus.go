package main

import (
	"fmt"
	"io"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/oidc"
)

// printOIDC is the OpenID Connect discovery section of `gatehouse status`:
// an issuer that was never discovered is named as fail-closed (its tokens
// are all refused), one whose newest fetch failed as serving its last
// good jwks_uri.
func printOIDC(w io.Writer, issuers []oidc.IssuerStatus, now time.Time) {
	if len(issuers) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOpenID Connect discovery (%d issuers):\n", len(issuers))
	for _, s := range issuers {
		switch {
		case s.JWKSURI == "":
			fmt.Fprintf(w, "  %s: NEVER DISCOVERED (its tokens are refused, and its browser logins left out, until it is); %d failures, last: %s\n", s.Issuer, s.Failures, orNone(s.LastError))
		case s.LastError != "":
			fmt.Fprintf(w, "  %s: jwks_uri %s (last good, %s ago); FAILING (%d in a row): %s\n", s.Issuer, s.JWKSURI, now.Sub(s.LastSuccess).Round(time.Second), s.Failures, s.LastError)
		default:
			fmt.Fprintf(w, "  %s: jwks_uri %s (checked %s ago)\n", s.Issuer, s.JWKSURI, now.Sub(s.LastSuccess).Round(time.Second))
		}
		if s.JWKSURI != "" && s.TokenEndpoint != "" {
			fmt.Fprintf(w, "    browser login: authorization %s, token %s, end session %s\n", orNone(s.AuthorizationEndpoint), s.TokenEndpoint, orNone(s.EndSessionEndpoint))
		}
	}
}
