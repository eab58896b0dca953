package eureka

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// DefaultServer is the Eureka server used when none is given: Eureka's
// default port on this host.
const DefaultServer = "http://127.0.0.1:8761/eureka"

// CredentialsEnv holds "user:password" for the Eureka servers when no
// credentials file is given.
const CredentialsEnv = "GATEHOUSE_EUREKA_CREDENTIALS"

// Config configures a Source. Zero values take the defaults noted.
type Config struct {
	// Servers are the Eureka service URLs, the same form as a Eureka
	// client's serviceUrl (http://host:8761/eureka): tried in order, the
	// one that answered is kept until it fails. Default DefaultServer.
	Servers []string
	// Username and Password, if set, are sent as HTTP basic auth to every
	// server.
	Username, Password string
	// OnUpdate receives every Service's endpoints, keyed by policy Service
	// name, whenever one of them changes. A Service absent from the map has
	// not been read yet. Called from one goroutine at a time.
	OnUpdate func(registry.Snapshot)

	PollInterval time.Duration // how often the delta is fetched (default 30s, as Eureka clients)
	Timeout      time.Duration // bound of one request (default 10s)
	MaxBody      int64         // largest response read (default 64 MiB)
	Client       *http.Client  // default: one with Timeout
}

func (c *Config) defaults() {
	if len(c.Servers) == 0 {
		c.Servers = []string{DefaultServer}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 30 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 20
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
}

// ParseServers checks a list of Eureka service URLs (comma-separated
// entries are split) and returns them without a trailing slash.
func ParseServers(list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, item := range list {
		for _, raw := range strings.Split(item, ",") {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
			u, err := url.Parse(raw)
			switch {
			case err != nil:
				return nil, fmt.Errorf("eureka server %q: %w", raw, err)
			case u.Scheme != "http" && u.Scheme != "https":
				return nil, fmt.Errorf("eureka server %q: the scheme must be http or https (as in http://eureka:8761/eureka)", raw)
			case u.Host == "":
				return nil, fmt.Errorf("eureka server %q: no host", raw)
			case u.User != nil:
				// A password in a flag shows in ps and in logs.
				return nil, fmt.Errorf("eureka server %q: no credentials in the URL; use --eureka-credentials-file or %s", u.Redacted(), CredentialsEnv)
			case u.RawQuery != "" || u.Fragment != "":
				return nil, fmt.Errorf("eureka server %q: no query or fragment", raw)
			}
			s := strings.TrimRight(u.String(), "/")
			if seen[s] {
				return nil, fmt.Errorf("eureka server %q is listed twice", raw)
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

// Credentials reads "user:password" from file, else from CredentialsEnv;
// both empty means no authentication.
func Credentials(file string) (user, password string, err error) {
	raw, where := os.Getenv(CredentialsEnv), CredentialsEnv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("eureka credentials: %w", err)
		}
		raw, where = string(b), file
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		if file != "" {
			return "", "", fmt.Errorf("eureka credentials file %s is empty; want user:password", file)
		}
		return "", "", nil
	}
	user, password, ok := strings.Cut(raw, ":")
	if !ok || user == "" || strings.ContainsAny(raw, "\r\n") {
		return "", "", errors.New("eureka credentials in " + where + ": want one line user:password")
	}
	return user, password, nil
}
