package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

func consumerSnap(digest string) *policy.Snapshot {
	return &policy.Snapshot{Consumers: map[string]*policy.Consumer{
		"alice": {Meta: policy.Meta{Kind: "Consumer", Name: "alice"},
			Spec: policy.ConsumerSpec{APIKeys: []policy.ConsumerAPIKey{{ID: "k1", SHA256: digest}}}},
	}}
}

// AuthzRules is exported and may be handed a Snapshot the loader did not
// validate: a key hash that is not exactly 32 bytes of hex must be an error
// naming the Consumer and key, never a panic (hex.Decode into the fixed
// 32-byte array used to index past its end from the 33rd byte on) and never
// a silently truncated or zero-padded hash that another key could match.
func TestAuthzRulesRejectsBadKeyDigests(t *testing.T) {
	good := sha256.Sum256([]byte("secret"))
	goodHex := hex.EncodeToString(good[:])
	for name, digest := range map[string]string{
		"33 bytes":       goodHex + "ab",
		"64 bytes":       goodHex + goodHex,
		"31 bytes":       goodHex[:62],
		"odd length":     goodHex[:63],
		"empty":          "",
		"not hex":        strings.Repeat("zz", 32),
		"one extra char": goodHex + "a",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("AuthzRules panicked on a %d-character digest: %v", len(digest), r)
					}
				}()
				_, err = AuthzRules(consumerSnap(digest), 0)
			}()
			if err == nil || !strings.Contains(err.Error(), "Consumer/alice") || !strings.Contains(err.Error(), "k1") {
				t.Fatalf("AuthzRules(%q) error = %v, want one naming Consumer/alice and key k1", digest, err)
			}
		})
	}
	cfg, err := AuthzRules(consumerSnap(goodHex), 0)
	if err != nil {
		t.Fatalf("valid digest refused: %v", err)
	}
	if keys := cfg.Consumers["alice"].APIKeys; len(keys) != 1 || keys[0].SHA256 != good || keys[0].ID != "k1" {
		t.Fatalf("keys = %+v, want k1 with sha256(secret)", keys)
	}
}

// Each Authentication reaches the authz service under its kind: an API key
// one with its header or query parameter, a JWT one with its issuer (the
// service maps the verified token's issuer and subject to a Consumer).
func TestAuthzRulesAuthentications(t *testing.T) {
	snap := &policy.Snapshot{Authentications: map[string]*policy.Authentication{
		"keys": {Spec: policy.AuthenticationSpec{APIKey: &policy.APIKeyAuth{Header: "x-api-key"}}},
		"jwt":  {Spec: policy.AuthenticationSpec{JWT: &policy.JWTAuth{Issuer: "https://idp.example.com/"}}},
	}}
	cfg, err := AuthzRules(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.APIKeyAuth) != 1 || cfg.APIKeyAuth["keys"].Header != "x-api-key" {
		t.Errorf("API key authentications %+v, want keys (header x-api-key) alone", cfg.APIKeyAuth)
	}
	if len(cfg.JWTAuth) != 1 || cfg.JWTAuth["jwt"].Issuer != "https://idp.example.com/" {
		t.Errorf("JWT authentications %+v, want jwt (issuer https://idp.example.com/) alone", cfg.JWTAuth)
	}
}
