// Package client is the Go client of Gatehouse's admin API (/api/v1). The
// CLI uses it for every call to a server; it never builds URLs itself.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// Environment variables that give the server and token when no flag does.
const (
	EnvAddr  = "GATEHOUSE_ADDR"
	EnvToken = "GATEHOUSE_TOKEN"
	// DefaultAddr is `gatehouse serve`'s default --admin-addr.
	DefaultAddr = "127.0.0.1:18080"
)

// maxAnswer bounds what is read of an answer (config dumps of large
// Gateways are the biggest).
const maxAnswer = 256 << 20

// Client calls one gatehouse server.
type Client struct {
	base   *url.URL
	token  string
	author string
	http   *http.Client
}

// Options configure a Client. Empty Addr and Token fall back to
// GATEHOUSE_ADDR and GATEHOUSE_TOKEN, then to DefaultAddr and no token.
type Options struct {
	Addr    string // host:port or http(s)://host:port
	Token   string // sent as "Authorization: Bearer TOKEN"
	Author  string // recorded in the history of writes
	Timeout time.Duration
}

// New returns a client for the server of opts.
func New(opts Options) (*Client, error) {
	addr := firstOf(opts.Addr, os.Getenv(EnvAddr), DefaultAddr)
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("server address %q: want host:port or http(s)://host:port (the server's --admin-addr)", addr)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Client{base: u, token: firstOf(opts.Token, os.Getenv(EnvToken)), author: opts.Author, http: &http.Client{Timeout: opts.Timeout}}, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Addr is the server's address as the client dials it.
func (c *Client) Addr() string { return c.base.String() }

// APIError is an answer of 400 or more.
type APIError struct {
	Status int
	Body   api.Error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Body.Error)
	for _, r := range e.Body.Rejected {
		for _, msg := range r.Errors {
			b.WriteString("\n  " + msg)
		}
	}
	return b.String()
}

// UnreachableError: the server did not answer.
type UnreachableError struct {
	Addr string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach gatehouse at %s (is `gatehouse serve` running? set --server or %s to its --admin-addr): %v", e.Addr, EnvAddr, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Conflict reports whether err is a refused write based on a stale revision.
func Conflict(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}

// do sends one request and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte, contentType string, out any) error {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.author != "" {
		req.Header.Set(api.HeaderAuthor, c.author)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &UnreachableError{Addr: c.base.Host, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return &UnreachableError{Addr: c.base.Host, Err: fmt.Errorf("reading the answer to %s %s: %w", method, path, err)}
	}
	if resp.StatusCode >= 400 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &ae.Body) != nil || ae.Body.Error == "" {
			ae.Body.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer (is %s a gatehouse admin address?): %w", method, path, c.base.Host, err)
	}
	return nil
}

// WriteOptions are those of every write.
type WriteOptions struct {
	DryRun       bool
	BaseRevision string // refuse unless the store is still at it
	Message      string
}

func (o WriteOptions) query() url.Values {
	q := url.Values{}
	if o.DryRun {
		q.Set(api.ParamDryRun, "true")
	}
	if o.BaseRevision != "" {
		q.Set(api.ParamBaseRevision, o.BaseRevision)
	}
	if o.Message != "" {
		q.Set(api.ParamMessage, o.Message)
	}
	return q
}

// Apply stores the objects of a YAML stream (or JSON array), all or none.
func (c *Client) Apply(ctx context.Context, yamlDocs []byte, o WriteOptions) (*api.ApplyResult, error) {
	var res api.ApplyResult
	return &res, c.do(ctx, http.MethodPost, "/api/v1/apply", o.query(), yamlDocs, "application/yaml", &res)
}

// ListOptions filter a list.
type ListOptions struct {
	Kind    string
	Labels  []string // KEY=VALUE, all must match
	Gateway string
}

// List lists stored objects.
func (c *Client) List(ctx context.Context, o ListOptions) (*api.ObjectList, error) {
	q := url.Values{}
	if o.Kind != "" {
		q.Set("kind", o.Kind)
	}
	for _, l := range o.Labels {
		q.Add("label", l)
	}
	if o.Gateway != "" {
		q.Set("gateway", o.Gateway)
	}
	var res api.ObjectList
	return &res, c.do(ctx, http.MethodGet, "/api/v1/objects", q, nil, "", &res)
}

// Get returns one object.
func (c *Client) Get(ctx context.Context, kind, name string) (*api.ObjectList, error) {
	var res api.ObjectList
	return &res, c.do(ctx, http.MethodGet, "/api/v1/objects/"+url.PathEscape(kind)+"/"+url.PathEscape(name), nil, nil, "", &res)
}

// Delete deletes one object.
func (c *Client) Delete(ctx context.Context, kind, name string, o WriteOptions) (*api.ApplyResult, error) {
	var res api.ApplyResult
	return &res, c.do(ctx, http.MethodDelete, "/api/v1/objects/"+url.PathEscape(kind)+"/"+url.PathEscape(name), o.query(), nil, "", &res)
}

// ObjectStatus returns Accepted and Programmed per object (kind and name
// may be empty).
func (c *Client) ObjectStatus(ctx context.Context, kind, name string) (*api.StatusList, error) {
	q := url.Values{}
	if kind != "" {
		q.Set("kind", kind)
	}
	if name != "" {
		q.Set("name", name)
	}
	var res api.StatusList
	return &res, c.do(ctx, http.MethodGet, "/api/v1/object-status", q, nil, "", &res)
}

// History lists up to limit revisions, newest first.
func (c *Client) History(ctx context.Context, limit int) (*api.History, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var res api.History
	return &res, c.do(ctx, http.MethodGet, "/api/v1/history", q, nil, "", &res)
}

// Rollback restores a revision as a new one.
func (c *Client) Rollback(ctx context.Context, req api.RollbackRequest) (*api.ApplyResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var res api.ApplyResult
	return &res, c.do(ctx, http.MethodPost, "/api/v1/rollback", nil, body, "application/json", &res)
}

// ConfigDump returns what a Gateway's clients of one kind are served.
func (c *Client) ConfigDump(ctx context.Context, gateway, clientKind string) (*api.ConfigDump, error) {
	q := url.Values{"gateway": {gateway}}
	if clientKind != "" {
		q.Set("client", clientKind)
	}
	var res api.ConfigDump
	return &res, c.do(ctx, http.MethodGet, "/api/v1/config-dump", q, nil, "", &res)
}

// Proxies lists the connected proxies.
func (c *Client) Proxies(ctx context.Context) ([]server.ProxyStatus, error) {
	var res []server.ProxyStatus
	return res, c.do(ctx, http.MethodGet, "/api/v1/proxies", nil, nil, "", &res)
}

// Status decodes the control plane's status into out.
func (c *Client) Status(ctx context.Context, out any) error {
	return c.do(ctx, http.MethodGet, "/api/v1/status", nil, nil, "", out)
}

// Usage decodes /api/v1/usage (pkg/usage's Report) into out: usage of one
// consumer ("" for all) over the last since (0 for the server's window).
func (c *Client) Usage(ctx context.Context, consumer string, since time.Duration, out any) error {
	q := url.Values{}
	if consumer != "" {
		q.Set("consumer", consumer)
	}
	if since > 0 {
		q.Set("since", since.String())
	}
	return c.do(ctx, http.MethodGet, "/api/v1/usage", q, nil, "", out)
}

// Explain asks the server which route a request would take on what its
// proxies are served now.
func (c *Client) Explain(ctx context.Context, req explain.Request) (*explain.Result, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var res explain.Result
	return &res, c.do(ctx, http.MethodPost, "/api/v1/explain", nil, body, "application/json", &res)
}
