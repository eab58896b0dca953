package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/ratelimit"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func TestRedisFlags(t *testing.T) {
	for _, tc := range []struct {
		name, addr, url string
		want            *ratelimit.RedisOptions
		wantErr         string
	}{
		{name: "none: in-memory counters"},
		{name: "addr", addr: "redis:6379", want: &ratelimit.RedisOptions{Addr: "redis:6379"}},
		{name: "single url", url: "redis://redis:6379/1", want: &ratelimit.RedisOptions{Addr: "redis:6379", DB: 1}},
		{name: "cluster", url: "redis+cluster://a:7000,b:7001", want: &ratelimit.RedisOptions{Mode: ratelimit.RedisCluster, Addrs: []string{"a:7000", "b:7001"}}},
		{name: "sentinel", url: "redis+sentinel://s1:26379,s2:26379/main", want: &ratelimit.RedisOptions{Mode: ratelimit.RedisSentinel, Addrs: []string{"s1:26379", "s2:26379"}, MasterName: "main"}},
		{name: "both", addr: "redis:6379", url: "redis://redis:6379", wantErr: "give one"},
		{name: "bad url", url: "redis+cluster://a", wantErr: "--redis-url: redis URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := serviceOptions{components: allComponents, systemCAFile: translate.DefaultSystemCAFile, redisAddr: tc.addr, redisURL: tc.url}
			err := o.validate("127.0.0.1:18000")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("validate: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.redis, tc.want) {
				t.Fatalf("redis options %+v, want %+v", o.redis, tc.want)
			}
		})
	}
}

// The startup line names the topology but never the password.
func TestRedisDescriptionHidesCredentials(t *testing.T) {
	for _, u := range []string{"redis://:pw-secret@r:6379", "redis+cluster://u:pw-secret@a:1,b:2", "redis+sentinel://:pw-secret@s:1/m"} {
		o, err := ratelimit.ParseRedisURL(u)
		if err != nil {
			t.Fatal(err)
		}
		if d := redisDescription(&o); strings.Contains(d, "pw-secret") {
			t.Errorf("%s: description %q shows the password", u, d)
		}
	}
}
