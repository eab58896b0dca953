package oidc

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// docClient serves whatever document it holds.
type docClient struct {
	mu  sync.Mutex
	doc Document
}

func (c *docClient) Fetch(_ context.Context, t Target) (Document, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.doc
	d.Issuer = t.Issuer
	return d, nil
}

func (c *docClient) set(d Document) {
	c.mu.Lock()
	c.doc = d
	c.mu.Unlock()
}

// A login endpoint that moves while jwks_uri stays rebuilds the
// configuration (OnChange) and is what Endpoints returns; a login
// Authentication with an issuer is a discovery target, one without is not.
func TestLoginEndpointsChange(t *testing.T) {
	snap := &policy.Snapshot{Authentications: map[string]*policy.Authentication{
		"with":    {Spec: policy.AuthenticationSpec{OAuth2Login: &policy.OAuth2LoginAuth{Issuer: "https://idp.example.com/"}}},
		"without": {Spec: policy.AuthenticationSpec{OAuth2Login: &policy.OAuth2LoginAuth{AuthorizationEndpoint: "https://other.example.com/auth"}}},
	}}
	targets := Targets(snap)
	target := Target{Issuer: "https://idp.example.com/"}
	if len(targets) != 1 || targets[target] != policy.DefaultDiscoveryRefresh {
		t.Fatalf("targets %v", targets)
	}
	c := &docClient{doc: Document{JWKSURI: "https://idp.example.com/keys", AuthorizationEndpoint: "https://idp.example.com/auth", TokenEndpoint: "https://idp.example.com/token"}}
	var changes atomic.Int32
	d := New(Config{Client: c, OnChange: func() { changes.Add(1) }})
	d.Set(map[Target]time.Duration{target: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 5*time.Second, "first discovery", func() bool { return changes.Load() == 1 })
	if e := d.Endpoints(target); e.TokenEndpoint != "https://idp.example.com/token" || e.AuthorizationEndpoint != "https://idp.example.com/auth" {
		t.Fatalf("endpoints %+v", e)
	}
	c.set(Document{JWKSURI: "https://idp.example.com/keys", AuthorizationEndpoint: "https://idp.example.com/auth", TokenEndpoint: "https://idp.example.com/v2/token"})
	waitFor(t, 5*time.Second, "token endpoint change seen", func() bool { return changes.Load() == 2 })
	if e := d.Endpoints(target); e.TokenEndpoint != "https://idp.example.com/v2/token" {
		t.Errorf("endpoints after the change %+v", e)
	}
	if e := d.Endpoints(Target{Issuer: "https://unknown.example.com/"}); e != (Document{}) {
		t.Errorf("an unknown issuer has endpoints %+v", e)
	}
}
