package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

// Stages a build can fail at: the stage label of
// gatehouse_build_failures_total.
const (
	stageBuild    = "build"    // loading, translating, checking, endpoints
	stageServices = "services" // handing the services their rules
	stagePublish  = "publish"  // setting the proxies' snapshots
)

// stageError is a failed build and the stage it failed at.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// publish gives the proxies res and, when next is not nil (a new policy),
// the services next, so that the services never lack a name a proxy can
// send them and never change what a name means before the proxies are
// given the configuration that goes with it (make-before-break both ways):
//
//  1. the services get the served rules plus next's new names
//     (withNames): a proxy that already has the new configuration finds
//     its Authorizations and limits, one that has the old one finds them
//     unchanged;
//  2. the proxies get their snapshots;
//  3. the services get next (plus the served names while a Gateway is held
//     back, since its proxies keep the old configuration).
//
// If step 1 fails, or step 2 fails before any group was set, the services
// go back to the served rules, which match what every proxy has. If step 2
// set some groups before failing, the proxies are mixed and the services
// keep step 1's rules, which answer both. If step 3 fails the proxies have
// next and the services keep step 1's rules: the build counts as published,
// and the returned drop error says the services hold more than they should.
func (c *Controller) publish(ctx context.Context, snap *policy.Snapshot, res *Result, next *ServiceRules) (stats server.PublishStats, dropErr error, _ *stageError) {
	pub := c.cfg.Publisher
	if next != nil && (pub == nil || c.served == nil) {
		// No proxy of this process has any configuration yet (or this
		// replica serves no xDS): nothing to keep consistent with.
		if err := c.cfg.Services(ctx, *next); err != nil {
			return stats, nil, &stageError{stageServices, fmt.Errorf("updating the authz and rate-limit services: %w", err)}
		}
		c.served = next
	}
	if pub == nil {
		return stats, nil, nil
	}
	var transition ServiceRules
	if next != nil && c.served != next {
		transition = withNames(*c.served, *next)
		if err := c.cfg.Services(ctx, transition); err != nil {
			err = fmt.Errorf("updating the authz and rate-limit services: %w", err)
			return stats, nil, &stageError{stageServices, c.rollBack(ctx, err)}
		}
	}
	pub.SetHeld(sortedKeys(snap.Held))
	stats, err := pub.Publish(ctx, res.Groups, res.CLAs, res.CLAHashes)
	if err != nil {
		err = fmt.Errorf("publishing: %w", err)
		switch {
		case next == nil || c.served == next:
		case len(stats.Changed) == 0:
			err = c.rollBack(ctx, err)
		default:
			c.served = &transition
			err = fmt.Errorf("%w (the services keep the rules of both versions: some proxies got the new one)", err)
		}
		return stats, nil, &stageError{stagePublish, err}
	}
	if next == nil || c.served == next {
		return stats, nil, nil
	}
	final := *next
	if len(snap.Held) > 0 {
		final = withNames(*next, *c.served)
	}
	if err := c.cfg.Services(ctx, final); err != nil {
		c.served = &transition
		return stats, fmt.Errorf("dropping the previous rules from the authz and rate-limit services: %w", err), nil
	}
	c.served = &final
	return stats, nil, nil
}

// rollBack gives the services the served rules again after err; the result
// is err, joined with the rollback's own error if that failed too.
func (c *Controller) rollBack(ctx context.Context, err error) error {
	if rbErr := c.cfg.Services(ctx, *c.served); rbErr != nil {
		return errors.Join(err, fmt.Errorf("restoring the served authz and rate-limit rules: %w", rbErr))
	}
	return err
}
