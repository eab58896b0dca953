package ratelimit

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedisMode says which Redis topology a RedisStore talks to.
type RedisMode string

const (
	// RedisSingle is one Redis server (RedisOptions.Addr).
	RedisSingle RedisMode = ""
	// RedisCluster is a Redis Cluster; RedisOptions.Addrs are seed nodes.
	RedisCluster RedisMode = "cluster"
	// RedisSentinel is a master found through Sentinel; RedisOptions.Addrs
	// are the sentinels and MasterName names the master they watch.
	RedisSentinel RedisMode = "sentinel"
)

// URL schemes ParseRedisURL accepts.
const (
	schemeSingle   = "redis"
	schemeCluster  = "redis+cluster"
	schemeSentinel = "redis+sentinel"
)

// RedisURLForms is the help text of the accepted URL forms.
const RedisURLForms = "redis://[user:password@]host:port[/db], " +
	"redis+cluster://[user:password@]host:port[,host:port...], " +
	"redis+sentinel://[user:password@]host:port[,host:port...]/master-name[/db]"

// ParseRedisURL reads a Redis location into the connection fields of
// RedisOptions (Mode, Addr or Addrs, MasterName, Username, Password, DB).
// The forms are those of RedisURLForms; the host list and sentinel master
// name follow the redis+sentinel convention of redis-py and Sidekiq. A
// cluster has only database 0, so its URL takes no path. Query parameters
// are refused rather than ignored: every tuning knob is a flag of its own.
func ParseRedisURL(raw string) (RedisOptions, error) {
	var o RedisOptions
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return o, fmt.Errorf("redis URL %q: no scheme; use one of %s", redact(raw), RedisURLForms)
	}
	switch scheme {
	case schemeSingle, schemeCluster, schemeSentinel:
	case "rediss", "rediss+cluster", "rediss+sentinel":
		return o, fmt.Errorf("redis URL %q: TLS to Redis is not supported yet; reach Redis over a private network or a TLS tunnel", redact(raw))
	default:
		return o, fmt.Errorf("redis URL %q: unknown scheme %q; use one of %s", redact(raw), scheme, RedisURLForms)
	}
	if strings.ContainsAny(rest, "?#") {
		return o, fmt.Errorf("redis URL %q: query parameters and fragments are not accepted; use one of %s", redact(raw), RedisURLForms)
	}
	hosts, path, _ := strings.Cut(rest, "/")
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		user, pass, hasPass := strings.Cut(hosts[:at], ":")
		var err error
		if o.Username, err = url.PathUnescape(user); err != nil {
			return o, fmt.Errorf("redis URL %q: user name: %w", redact(raw), err)
		}
		if hasPass {
			if o.Password, err = url.PathUnescape(pass); err != nil {
				return o, fmt.Errorf("redis URL %q: the password has a bad %%-escape", redact(raw))
			}
		}
		hosts = hosts[at+1:]
	}
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return o, fmt.Errorf("redis URL %q: address %q is not host:port", redact(raw), h)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return o, fmt.Errorf("redis URL %q: address %q: port must be 1-65535", redact(raw), h)
		}
		o.Addrs = append(o.Addrs, h)
	}
	segs := strings.Split(path, "/")
	if path == "" {
		segs = nil
	}
	switch scheme {
	case schemeSingle:
		if len(o.Addrs) != 1 {
			return o, fmt.Errorf("redis URL %q: redis:// takes one host:port; for several use redis+cluster:// or redis+sentinel://", redact(raw))
		}
		o.Addr, o.Addrs = o.Addrs[0], nil
		if len(segs) > 1 {
			return o, fmt.Errorf("redis URL %q: the path is the database number only", redact(raw))
		}
	case schemeCluster:
		o.Mode = RedisCluster
		if len(segs) > 0 {
			return o, fmt.Errorf("redis URL %q: a Redis Cluster has database 0 only, so redis+cluster:// takes no path", redact(raw))
		}
	case schemeSentinel:
		o.Mode = RedisSentinel
		if len(segs) == 0 || segs[0] == "" {
			return o, fmt.Errorf("redis URL %q: redis+sentinel:// needs the master name as its path: redis+sentinel://host:port,.../master-name", redact(raw))
		}
		if len(segs) > 2 {
			return o, fmt.Errorf("redis URL %q: the path is master-name[/db]", redact(raw))
		}
		o.MasterName = segs[0]
		segs = segs[1:]
	}
	if len(segs) == 1 {
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return o, fmt.Errorf("redis URL %q: database %q is not a number >= 0", redact(raw), segs[0])
		}
		o.DB = db
	}
	return o, nil
}

// redact drops the user information from a URL for error messages, so a
// password never reaches a log.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.Contains(raw, "@") {
			return "(redacted)"
		}
		return raw
	}
	hosts, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		hosts = "xxx@" + hosts[at+1:]
	}
	if hasPath {
		return scheme + "://" + hosts + "/" + path
	}
	return scheme + "://" + hosts
}
