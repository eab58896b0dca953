package oidc

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// TargetOf is the discovery target of a JWT Authentication that uses
// discovery.
func TargetOf(j *policy.JWTAuth) Target {
	return Target{Issuer: j.Issuer, AllowInsecureHTTP: j.Discovery.AllowInsecureHTTP}
}

// TargetOfLogin is the discovery target of an oauth2Login Authentication
// that names an issuer.
func TargetOfLogin(l *policy.OAuth2LoginAuth) Target {
	return Target{Issuer: l.Issuer, AllowInsecureHTTP: l.AllowInsecureHTTP}
}

// Targets lists the issuers the snapshot's JWT Authentications discover,
// and those of its oauth2Login Authentications that name one (refreshed
// every DefaultDiscoveryRefresh), each with the shortest refresh interval
// asked for.
func Targets(snap *policy.Snapshot) map[Target]time.Duration {
	out := map[Target]time.Duration{}
	if snap == nil {
		return out
	}
	for _, a := range snap.Authentications {
		if l := a.Spec.OAuth2Login; l != nil && l.Issuer != "" {
			t, r := TargetOfLogin(l), policy.DefaultDiscoveryRefresh
			if old, ok := out[t]; !ok || r < old {
				out[t] = r
			}
			continue
		}
		j := a.Spec.JWT
		if j == nil || !j.UseDiscovery {
			continue
		}
		t, r := TargetOf(j), j.Discovery.Refresh()
		if old, ok := out[t]; !ok || r < old {
			out[t] = r
		}
	}
	return out
}
