package ratelimit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRedisURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want RedisOptions
		err  string // substring of the error; "" for success
	}{
		{url: "redis://127.0.0.1:6379", want: RedisOptions{Addr: "127.0.0.1:6379"}},
		{url: "redis://:s3cret@redis:6379/2", want: RedisOptions{Addr: "redis:6379", Password: "s3cret", DB: 2}},
		{url: "redis://gh:p%40ss@redis:6379", want: RedisOptions{Addr: "redis:6379", Username: "gh", Password: "p@ss"}},
		{url: "redis://[::1]:6379", want: RedisOptions{Addr: "[::1]:6379"}},
		{url: "redis+cluster://a:7000,b:7001,c:7002", want: RedisOptions{Mode: RedisCluster, Addrs: []string{"a:7000", "b:7001", "c:7002"}}},
		{url: "redis+cluster://u:p@a:7000", want: RedisOptions{Mode: RedisCluster, Addrs: []string{"a:7000"}, Username: "u", Password: "p"}},
		{url: "redis+sentinel://s1:26379,s2:26379,s3:26379/mymaster", want: RedisOptions{Mode: RedisSentinel, Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterName: "mymaster"}},
		{url: "redis+sentinel://:pw@s1:26379/mymaster/3", want: RedisOptions{Mode: RedisSentinel, Addrs: []string{"s1:26379"}, MasterName: "mymaster", Password: "pw", DB: 3}},

		{url: "127.0.0.1:6379", err: "no scheme"},
		{url: "http://a:1", err: `unknown scheme "http"`},
		{url: "rediss://a:1", err: "TLS to Redis is not supported"},
		{url: "redis://a:1?dial_timeout=1s", err: "query parameters"},
		{url: "redis://a", err: `"a" is not host:port`},
		{url: "redis://:1", err: `":1" is not host:port`},
		{url: "redis://a:0", err: "port must be 1-65535"},
		{url: "redis://a:99999", err: "port must be 1-65535"},
		{url: "redis://a:1,b:2", err: "takes one host:port"},
		{url: "redis://a:1/x", err: `database "x" is not a number`},
		{url: "redis://a:1/-1", err: "not a number >= 0"},
		{url: "redis://a:1/0/1", err: "database number only"},
		{url: "redis+cluster://a:1,,b:2", err: `"" is not host:port`},
		{url: "redis+cluster://a:1/0", err: "takes no path"},
		{url: "redis+sentinel://s:26379", err: "needs the master name"},
		{url: "redis+sentinel://s:26379/", err: "needs the master name"},
		{url: "redis+sentinel://s:26379/m/1/2", err: "master-name[/db]"},
		{url: "redis://u:p%zz@a:1", err: "bad %-escape"},
	} {
		got, err := ParseRedisURL(tc.url)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRedisURL(%q) error = %v, want one containing %q", tc.url, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRedisURL(%q): %v", tc.url, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRedisURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

// A password must never reach an error message (they end up in logs).
func TestParseRedisURLErrorsHideThePassword(t *testing.T) {
	for _, u := range []string{
		"redis://u:hunter2@a:1?x=1",
		"redis://u:hunter2@a",
		"redis+sentinel://:hunter2@s:1",
		"rediss://:hunter2@a:1",
		"nope://:hunter2@a:1",
		":hunter2@a:1",
		"redis://:hunter2%zz@a:1",
	} {
		_, err := ParseRedisURL(u)
		if err == nil {
			t.Fatalf("ParseRedisURL(%q) accepted", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("ParseRedisURL(%q) error shows the password: %v", u, err)
		}
	}
}
