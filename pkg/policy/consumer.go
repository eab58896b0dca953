package policy

import (
	"fmt"
	"regexp"

	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

const keyHashRule = "must be exactly 64 lowercase hex digits: only the SHA-256 hex digest of a key is stored; create one with `gatehouse consumer key create NAME`"

var (
	sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	keyIDRE     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$`)
)

func validateConsumer(o *objErrs, c *Consumer) {
	if c.Name == wire.AnonymousConsumer {
		o.add("name", "%q is reserved: it is the consumer of callers without credentials", c.Name)
	}
	sp := &c.Spec
	ids, hashes := map[string]string{}, map[string]string{}
	for i, k := range sp.APIKeys {
		p := fmt.Sprintf("spec.apiKeys[%d]", i)
		switch {
		case k.ID == "":
			o.add(p+".id", "required: a name for the key (letters, digits, '.', '_', '-'), unique within the Consumer")
		case !keyIDRE.MatchString(k.ID):
			o.add(p+".id", "%q is not a valid key id: use letters, digits, '.', '_' and '-', at most 63 characters", k.ID)
		case ids[k.ID] != "":
			o.add(p+".id", "duplicate key id %q (also %s)", k.ID, ids[k.ID])
		default:
			ids[k.ID] = p
		}
		switch {
		case k.SHA256 == "":
			o.add(p+".sha256", "required; it %s", keyHashRule)
		case !sha256HexRE.MatchString(k.SHA256):
			// Never echo the value: it may be a plaintext key pasted by mistake.
			o.add(p+".sha256", "not a SHA-256 hex digest (%d characters); it %s", len(k.SHA256), keyHashRule)
		case hashes[k.SHA256] != "":
			o.add(p+".sha256", "the same key hash is already listed (%s)", hashes[k.SHA256])
		default:
			hashes[k.SHA256] = p
		}
	}
	validateConsumerCertificates(o, sp.Certificates)
	subs := map[JWTSubject]string{}
	for i, s := range sp.JWTSubjects {
		p := fmt.Sprintf("spec.jwtSubjects[%d]", i)
		if s.Issuer == "" {
			o.add(p+".issuer", "required: the iss claim of the Authentication that verifies the token")
		}
		if s.Sub == "" {
			o.add(p+".sub", "required: the token's sub claim")
		}
		if first := subs[s]; first != "" {
			o.add(p, "duplicate subject (also %s)", first)
		} else {
			subs[s] = p
		}
	}
	checkGroups(o, "spec.groups", sp.Groups)
	if o.has("spec.plan") && sp.Plan == "" {
		o.add("spec.plan", "must name a Plan (omit it for none)")
	}
}

// checkGroups: group names follow the object-name syntax, each once.
func checkGroups(o *objErrs, p string, groups []string) {
	seen := map[string]bool{}
	for i, g := range groups {
		gp := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case !nameRE.MatchString(g):
			o.add(gp, "%q is not a valid group name: it %s", g, nameRule)
		case seen[g]:
			o.add(gp, "duplicate group %q", g)
		}
		seen[g] = true
	}
}

// credential is where a key hash or JWT subject is defined.
type credential struct {
	obj  *objErrs
	path string
}

func (c credential) describe() string {
	return fmt.Sprintf("%s (%s:%d)", c.obj.ref, c.obj.file, c.obj.lineOf(c.path))
}

// markCredentialConflicts reports, on both Consumers, every key hash or JWT
// subject defined in two Consumers of this load: which one a credential
// identifies must not depend on file order.
func markCredentialConflicts(objs []*object) {
	keys, subs, certs := map[string]credential{}, map[JWTSubject]credential{}, map[string]credential{}
	// Repeats within one Consumer are validateConsumer's to report.
	conflict := func(first, me credential, what string) {
		if first.obj.ref == me.obj.ref {
			return
		}
		msg := "the same %s is also in %s; a credential must identify one Consumer"
		me.obj.add(me.path, msg, what, first.describe())
		first.obj.add(first.path, msg, what, me.describe())
	}
	for _, ob := range objs {
		c, ok := ob.val.(*Consumer)
		if !ok || ob.name == "" {
			continue
		}
		for i, k := range c.Spec.APIKeys {
			if !sha256HexRE.MatchString(k.SHA256) {
				continue
			}
			me := credential{ob.errs, fmt.Sprintf("spec.apiKeys[%d].sha256", i)}
			if first, dup := keys[k.SHA256]; dup {
				conflict(first, me, "key hash")
			} else {
				keys[k.SHA256] = me
			}
		}
		for i, s := range c.Spec.JWTSubjects {
			me := credential{ob.errs, fmt.Sprintf("spec.jwtSubjects[%d]", i)}
			if first, dup := subs[s]; dup {
				conflict(first, me, fmt.Sprintf("JWT subject (issuer %q, sub %q)", s.Issuer, s.Sub))
			} else {
				subs[s] = me
			}
		}
		for i, cc := range c.Spec.Certificates {
			me := credential{ob.errs, fmt.Sprintf("spec.certificates[%d]", i)}
			if first, dup := certs[cc.Key()]; dup {
				conflict(first, me, fmt.Sprintf("certificate identity %q", cc.Key()))
			} else {
				certs[cc.Key()] = me
			}
		}
	}
}

// servedCredentials maps the credentials of the Consumers a Snapshot serves
// to their owner, so a carried-over Consumer cannot take one that a newly
// loaded Consumer now holds.
type servedCredentials struct {
	keys  map[string]string
	subs  map[JWTSubject]string
	certs map[string]string
}

func (s *servedCredentials) add(c *Consumer) {
	if s.keys == nil {
		s.keys, s.subs, s.certs = map[string]string{}, map[JWTSubject]string{}, map[string]string{}
	}
	for _, cc := range c.Spec.Certificates {
		s.certs[cc.Key()] = c.Name
	}
	for _, k := range c.Spec.APIKeys {
		s.keys[k.SHA256] = c.Name
	}
	for _, sub := range c.Spec.JWTSubjects {
		s.subs[sub] = c.Name
	}
}

// conflicts reports on o every credential of c that another served Consumer
// holds, and returns whether there was none.
func (s *servedCredentials) conflicts(o *objErrs, c *Consumer) bool {
	ok := true
	for i, k := range c.Spec.APIKeys {
		if other, dup := s.keys[k.SHA256]; dup && other != c.Name {
			o.add(fmt.Sprintf("spec.apiKeys[%d].sha256", i), "the same key hash now belongs to Consumer %q", other)
			ok = false
		}
	}
	for i, sub := range c.Spec.JWTSubjects {
		if other, dup := s.subs[sub]; dup && other != c.Name {
			o.add(fmt.Sprintf("spec.jwtSubjects[%d]", i), "the same JWT subject now belongs to Consumer %q", other)
			ok = false
		}
	}
	for i, cc := range c.Spec.Certificates {
		if other, dup := s.certs[cc.Key()]; dup && other != c.Name {
			o.add(fmt.Sprintf("spec.certificates[%d]", i), "the same certificate identity now belongs to Consumer %q", other)
			ok = false
		}
	}
	return ok
}
