package policy

import (
	"fmt"
	"regexp"
)

// zoneRE admits the zone names of clouds and schedulers (us-east-1a,
// europe-west1-b, eastus-1, 1) and rules out what no registry would report
// (spaces, slashes, control characters).
var zoneRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)

// CheckZone reports whether z can name the zone of a Gateway (spec.zone or
// serve --zone); the error says what is allowed.
func CheckZone(z string) error {
	if !zoneRE.MatchString(z) {
		return fmt.Errorf("%q is not a zone name: 1-128 letters, digits, '.', '_' or '-', starting and ending with a letter or digit", z)
	}
	return nil
}

// validateZone checks a Gateway's spec.zone when it is given.
func validateZone(o *objErrs, g *Gateway) {
	if !o.has("spec.zone") {
		return
	}
	if err := CheckZone(g.Spec.Zone); err != nil {
		o.add("spec.zone", "%v", err)
	}
}
