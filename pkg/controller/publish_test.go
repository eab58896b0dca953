package controller

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// The failure paths of publish that the policy-edit tests of
// failure_test.go do not reach: a Publish failing on the first build, on
// an endpoint-only build, and a rollback the services refuse.

// The first build's Publish fails: no proxy has any configuration, so the
// services keep the rules they were given (there is nothing older to go
// back to) and are not handed them a second time; the controller is not
// Ready. The next trigger publishes.
func TestFirstPublishFailure(t *testing.T) {
	f := runFailing(t, policyV1, nil, errors.New("injected first publish failure"))
	f.waitFor(t, "the failed first build", func() bool { return f.failures(stagePublish) == 1 })
	v1 := rulesOf(t, policyV1)
	st := f.ctrl.Status()
	if st.Ready || f.ctrl.Ready() || st.LastError != "publishing: injected first publish failure" {
		t.Fatalf("status after a failed first publish: Ready %v, LastError %q", st.Ready, st.LastError)
	}
	if cur, calls := f.svc.state(); calls != 1 || cur == nil || !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services: %d updates, holding %s; want v1 once", calls, dump(derefRules(cur)))
	}

	f.flaky.set(nil, false, nil)
	f.ctrl.PolicyChanged()
	f.waitFor(t, "the retry", func() bool { return f.ctrl.Ready() })
	if st := f.ctrl.Status(); st.LastError != "" {
		t.Fatalf("LastError %q after the retry published", st.LastError)
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services after the retry:\n%s", diff(v1, *cur))
	}
}

// An endpoint-only build whose Publish fails, after setting some groups:
// the policy did not change, so the services are neither rolled back nor
// told to keep two versions, and the error says only what failed. The
// next policy edit still moves the services make-before-break from v1.
func TestEndpointPublishFailureLeavesServices(t *testing.T) {
	f := startFailing(t, policyV1)
	v1, v2 := rulesOf(t, policyV1), rulesOf(t, policyV2)
	_, calls := f.svc.state()
	f.flaky.set(errors.New("injected endpoint publish failure"), true, nil)
	n := buildCount(t, f.reg)
	f.ctrl.SetEndpoints("consul", registry.Snapshot{"users": {{Address: "10.0.0.1", Port: 80, Weight: 1}}})
	f.waitFor(t, "the failed endpoint build", func() bool { return buildCount(t, f.reg) > n })
	if st := f.ctrl.Status(); st.LastError != "publishing: injected endpoint publish failure" {
		t.Fatalf("LastError %q", st.LastError)
	}
	if got := f.failures(stagePublish); got != 1 {
		t.Fatalf("gatehouse_build_failures_total{stage=publish} = %v, want 1", got)
	}
	if cur, c := f.svc.state(); c != calls || !reflect.DeepEqual(*cur, v1) {
		t.Fatalf("services updated %d times by an endpoint-only build; holding:\n%s", c-calls, diff(v1, *cur))
	}

	var during *ServiceRules
	f.flaky.set(nil, false, func() { during, _ = f.svc.state() })
	f.edit(t, policyV2)
	if during == nil || !reflect.DeepEqual(during.Authz.Policies["z"], v1.Authz.Policies["z"]) || !reflect.DeepEqual(during.Authz.Consumers, v1.Authz.Consumers) {
		t.Fatalf("while publishing v2 the services lacked v1's rules: %s", dump(derefRules(during)))
	}
	if cur, _ := f.svc.state(); !reflect.DeepEqual(*cur, v2) {
		t.Fatalf("services after v2:\n%s", diff(v2, *cur))
	}
}

// A Publish that sets nothing fails, and the services refuse the rollback
// to the served rules: the error names both failures, so an operator
// knows the services still hold the new names.
func TestRollbackFailureIsReported(t *testing.T) {
	f := startFailing(t, policyV1)
	v1, v2 := rulesOf(t, policyV1), rulesOf(t, policyV2)
	f.flaky.set(errors.New("injected publish failure"), false, nil)
	f.svc.setFail(func(r ServiceRules) error {
		if _, ok := r.Authz.Policies["z2"]; !ok {
			return errors.New("injected: restore refused")
		}
		return nil
	})
	f.edit(t, policyV2)
	want := "publishing: injected publish failure\nrestoring the served authz and rate-limit rules: injected: restore refused"
	if st := f.ctrl.Status(); st.LastError != want {
		t.Fatalf("LastError %q, want %q", st.LastError, want)
	}
	if got := f.failures(stagePublish); got != 1 {
		t.Fatalf("gatehouse_build_failures_total{stage=publish} = %v, want 1", got)
	}
	// The services kept the transition rules they accepted: both versions.
	cur, _ := f.svc.state()
	if !reflect.DeepEqual(cur.Authz.Policies["z"], v1.Authz.Policies["z"]) || !reflect.DeepEqual(cur.Authz.Policies["z2"], v2.Authz.Policies["z2"]) {
		t.Fatalf("services after the refused rollback: %v, want v1's z and v2's z2", keys(cur.Authz.Policies))
	}
}
