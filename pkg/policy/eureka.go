package policy

import "regexp"

// Eureka application names and VIP addresses. Eureka itself accepts any
// string (and upper-cases application names), but what real clients
// register are host-name-like words; checking them turns a typo (a space,
// a comma, which separates VIPs in Eureka) into a load error naming the
// field instead of a Service that silently never gets endpoints.
var (
	eurekaApp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`)
	eurekaVIP = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$`)
)

func validateEureka(o *objErrs, p string, e *EurekaDiscovery) {
	switch {
	case e.App == "":
		o.add(p+".app", "required: the Eureka application name")
	case !eurekaApp.MatchString(e.App):
		o.add(p+".app", "%q is not a Eureka application name (letters, digits, '.', '_' and '-', at most 200)", e.App)
	}
	if o.has(p+".vip") && !eurekaVIP.MatchString(e.VIP) {
		o.add(p+".vip", "%q is not a Eureka VIP address (one name: letters, digits, '.', '_', ':' and '-', at most 200)", e.VIP)
	}
}
