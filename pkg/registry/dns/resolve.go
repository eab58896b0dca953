package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// answer is one resolution of a name.
type answer struct {
	addrs []netip.Addr  // in the order the server gave them, deduplicated
	ttl   time.Duration // the shortest TTL of the records used; 0 if none
}

// errNoServer: neither Config.Servers nor resolv.conf name a nameserver.
var errNoServer = errors.New("no DNS server: set --dns-server or a nameserver in /etc/resolv.conf")

// resolver queries A and AAAA records with github.com/miekg/dns, which
// exposes their TTLs (the standard library's resolver does not).
type resolver struct {
	servers []string // host:port, tried in order
	timeout time.Duration
}

// resolve looks name up for family. An NXDOMAIN or an empty answer is
// not an error: the name has no addresses (right now).
func (r *resolver) resolve(ctx context.Context, name, family string) (answer, error) {
	var types []uint16
	switch family {
	case policy.DNSFamilyV4:
		types = []uint16{mdns.TypeA}
	case policy.DNSFamilyV6:
		types = []uint16{mdns.TypeAAAA}
	case policy.DNSFamilyAll:
		types = []uint16{mdns.TypeA, mdns.TypeAAAA}
	default: // auto: AAAA, then A when there is none
		types = []uint16{mdns.TypeAAAA, mdns.TypeA}
	}
	var out answer
	seen := map[netip.Addr]bool{}
	for _, qt := range types {
		if family == policy.DNSFamilyAuto && len(out.addrs) > 0 {
			break
		}
		msg, err := r.exchange(ctx, name, qt)
		if err != nil {
			return answer{}, err
		}
		owners := chain(mdns.Fqdn(name), msg.Answer)
		for _, rr := range msg.Answer {
			if !owners[strings.ToLower(rr.Header().Name)] {
				continue // not about the name asked (nor its aliases)
			}
			var ip net.IP
			switch rec := rr.(type) {
			case *mdns.A:
				ip = rec.A
			case *mdns.AAAA:
				ip = rec.AAAA
			case *mdns.CNAME:
				out.ttl = minTTL(out.ttl, rr.Header().Ttl)
				continue
			default:
				continue
			}
			a, ok := netip.AddrFromSlice(ip)
			if !ok {
				continue
			}
			a = a.Unmap()
			out.ttl = minTTL(out.ttl, rr.Header().Ttl)
			if !seen[a] {
				seen[a] = true
				out.addrs = append(out.addrs, a)
			}
		}
	}
	return out, nil
}

// chain is the set of owner names an answer about name may use: name and
// the targets of the CNAME records that lead from it (lowercase, fully
// qualified). A record of any other owner (a server's extra, or an
// injected, record) is ignored. The chain is followed at most 8 steps.
func chain(name string, rrs []mdns.RR) map[string]bool {
	owners := map[string]bool{strings.ToLower(name): true}
	for range 8 {
		grew := false
		for _, rr := range rrs {
			c, ok := rr.(*mdns.CNAME)
			if !ok || !owners[strings.ToLower(c.Hdr.Name)] || owners[strings.ToLower(c.Target)] {
				continue
			}
			owners[strings.ToLower(c.Target)] = true
			grew = true
		}
		if !grew {
			break
		}
	}
	return owners
}

func minTTL(cur time.Duration, ttl uint32) time.Duration {
	d := time.Duration(ttl) * time.Second
	if cur == 0 || d < cur {
		return d
	}
	return cur
}

// exchange sends one query, over UDP and again over TCP when the answer
// was truncated, to each server in turn until one answers.
func (r *resolver) exchange(ctx context.Context, name string, qt uint16) (*mdns.Msg, error) {
	if len(r.servers) == 0 {
		return nil, errNoServer
	}
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), qt)
	q.RecursionDesired = true
	var lastErr error
	for _, srv := range r.servers {
		c := &mdns.Client{Net: "udp", Timeout: r.timeout}
		msg, _, err := c.ExchangeContext(ctx, q, srv)
		if err == nil && msg.Truncated {
			c.Net = "tcp"
			msg, _, err = c.ExchangeContext(ctx, q, srv)
		}
		if err != nil {
			lastErr = fmt.Errorf("%s %s @%s: %w", mdns.TypeToString[qt], name, srv, err)
			continue
		}
		switch msg.Rcode {
		case mdns.RcodeSuccess, mdns.RcodeNameError:
			return msg, nil
		default:
			lastErr = fmt.Errorf("%s %s @%s: %s", mdns.TypeToString[qt], name, srv, mdns.RcodeToString[msg.Rcode])
		}
	}
	return nil, lastErr
}

// systemServers reads the nameservers of a resolv.conf file.
func systemServers(path string) ([]string, error) {
	cfg, err := mdns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	return out, nil
}
