package controller

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/introspect"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// AuthzRules is what the ext_authz service decides with for snap: the
// Authentications (apiKey by header or query; JWT by issuer, since Envoy
// verified the token), the Consumers with their key hashes and JWT
// subjects, and the Authorizations. maxBody caps input.parsed_body.
func AuthzRules(snap *policy.Snapshot, maxBody int) (*authz.Config, error) {
	cfg := &authz.Config{
		APIKeyAuth:     map[string]authz.APIKeyAuth{},
		JWTAuth:        map[string]authz.JWTAuth{},
		CertAuth:       map[string]bool{},
		IntrospectAuth: map[string]authz.IntrospectAuth{},
		Consumers:      map[string]authz.Consumer{},
		Policies:       map[string]authz.Policy{},
		MaxBodyBytes:   maxBody,
	}
	for name, a := range snap.Authentications {
		switch {
		case a.Spec.APIKey != nil:
			cfg.APIKeyAuth[name] = authz.APIKeyAuth{Header: a.Spec.APIKey.Header, Query: a.Spec.APIKey.Query}
		case a.Spec.ClientCertificate != nil:
			cfg.CertAuth[name] = true
		case a.Spec.JWT != nil:
			cfg.JWTAuth[name] = authz.JWTAuth{Issuer: a.Spec.JWT.Issuer}
		case a.Spec.OAuth2Introspection != nil:
			cfg.IntrospectAuth[name] = IntrospectAuth(a.Spec.OAuth2Introspection)
		}
	}
	for name, c := range snap.Consumers {
		ac := authz.Consumer{Groups: c.Spec.Groups, Plan: c.Spec.Plan}
		for _, k := range c.Spec.APIKeys {
			var sum [32]byte
			// Validated as 64 hex digits by the policy loader, but this is
			// exported: check the length before decoding, since hex.Decode
			// writes past a destination too short for its input (a panic
			// from the 33rd byte on).
			if len(k.SHA256) != hex.EncodedLen(len(sum)) {
				return nil, fmt.Errorf("Consumer/%s: key %s: not a SHA-256 hex digest (%d characters, want %d)",
					name, k.ID, len(k.SHA256), hex.EncodedLen(len(sum)))
			}
			if _, err := hex.Decode(sum[:], []byte(k.SHA256)); err != nil {
				return nil, fmt.Errorf("Consumer/%s: key %s: not a SHA-256 hex digest", name, k.ID)
			}
			ac.APIKeys = append(ac.APIKeys, authz.APIKey{ID: k.ID, SHA256: sum})
		}
		for _, s := range c.Spec.JWTSubjects {
			ac.JWTSubjects = append(ac.JWTSubjects, authz.JWTSubject{Issuer: s.Issuer, Subject: s.Sub})
		}
		for _, cc := range c.Spec.Certificates {
			ac.Certificates = append(ac.Certificates, cc.Key())
		}
		cfg.Consumers[name] = ac
	}
	for name, a := range snap.Authorizations {
		p := authz.Policy{FailOpen: a.Spec.FailOpen}
		switch {
		case a.Spec.Allow != nil:
			// sourceCIDRs are enforced by Envoy's RBAC filter; the service
			// checks only what Envoy cannot: the consumer's groups.
			p.Allow = &authz.Allow{Groups: a.Spec.Allow.Groups}
		default:
			p.Modules = map[string]string{a.Spec.RegoFile: a.Spec.RegoSource}
			p.Query = a.Spec.RegoQuery()
		}
		cfg.Policies[name] = p
	}
	return cfg, nil
}

// IntrospectAuth is what the ext_authz service needs of an
// oauth2Introspection Authentication; unset durations take the policy's
// defaults.
func IntrospectAuth(in *policy.IntrospectionAuth) authz.IntrospectAuth {
	or := func(d policy.Duration, def time.Duration) time.Duration {
		if d > 0 {
			return d.D()
		}
		return def
	}
	return authz.IntrospectAuth{
		Issuer: in.Issuer,
		Introspect: introspect.Config{
			Endpoint:     in.Endpoint,
			AllowHTTP:    in.AllowInsecureHTTP,
			CAPEM:        string(in.CAPEM),
			ClientID:     in.ClientID,
			ClientSecret: in.ClientSecretValue.Reveal(),
			Timeout:      or(in.Timeout, policy.DefaultIntrospectionTimeout),
			CacheTTL:     or(in.CacheTTL, policy.DefaultIntrospectionCacheTTL),
			NegativeTTL:  or(in.NegativeCacheTTL, policy.DefaultIntrospectionNegativeTTL),
		},
	}
}
