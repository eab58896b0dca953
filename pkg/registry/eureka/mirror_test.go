package eureka

import (
	"encoding/json"
	"testing"
)

// TestHashCode: the reconcile hash code is Eureka's
// (Applications.getReconcileHashCode): statuses sorted by name, each with
// its count, "_" after each; statuses Eureka does not know count as
// UNKNOWN; an empty registry is "".
func TestHashCode(t *testing.T) {
	m := mirror{}
	if h := m.hashCode(); h != "" {
		t.Errorf("empty registry: %q, want \"\"", h)
	}
	add := func(app, id, status string) { m.put(app, &instanceDoc{InstanceID: id, Status: status}) }
	add("CART", "a", "UP")
	add("CART", "b", "UP")
	add("CART", "c", "DOWN")
	add("ORDERS", "d", "OUT_OF_SERVICE")
	add("ORDERS", "e", "up") // Eureka upper-cases (InstanceStatus.toEnum)
	add("ORDERS", "f", "SLEEPING")
	add("ORDERS", "g", "STARTING")
	if got, want := m.hashCode(), "DOWN_1_OUT_OF_SERVICE_1_STARTING_1_UNKNOWN_1_UP_3_"; got != want {
		t.Errorf("hash %q, want %q", got, want)
	}
}

// TestApplyDelta: ADDED and MODIFIED replace by instance id, DELETED
// removes (and an application left empty goes), as Eureka's client does.
func TestApplyDelta(t *testing.T) {
	var full appsDoc
	mustJSON(t, `{"applications":{"apps__hashcode":"UP_2_","application":[{"name":"CART","instance":[
		{"instanceId":"a","app":"CART","status":"UP","ipAddr":"10.0.0.1","port":{"$":80,"@enabled":"true"}},
		{"instanceId":"b","app":"CART","status":"UP","ipAddr":"10.0.0.2","port":{"$":80,"@enabled":"true"}}]}]}}`, &full)
	m := fromFull(&full.Applications)
	if m.hashCode() != full.Applications.HashCode {
		t.Fatalf("full: hash %q, server %q", m.hashCode(), full.Applications.HashCode)
	}
	var delta appsDoc
	// XStream-style: a single application and a single instance as bare
	// objects, numbers as strings.
	mustJSON(t, `{"applications":{"apps__hashcode":"DOWN_1_UP_1_","application":[
		{"name":"CART","instance":[{"instanceId":"a","app":"CART","status":"DOWN","actionType":"MODIFIED"},
		                           {"instanceId":"b","app":"cart","actionType":"DELETED"}]},
		{"name":"ORDERS","instance":{"hostName":"o1","status":"UP","ipAddr":"10.0.1.1","port":{"$":"81","@enabled":true},"actionType":"ADDED"}}]}}`, &delta)
	changed := m.applyDelta(&delta.Applications)
	if !changed["CART"] || !changed["ORDERS"] {
		t.Errorf("changed %v", changed)
	}
	if got := m.hashCode(); got != delta.Applications.HashCode {
		t.Errorf("after delta: hash %q, server %q", got, delta.Applications.HashCode)
	}
	o := m["ORDERS"]["o1"]
	if o == nil || o.Port.number() != 81 || !o.Port.enabled(false) {
		t.Errorf("ORDERS/o1 %+v", o)
	}
	m.applyDelta(&apps{Application: []appDoc{{Name: "ORDERS", Instance: []instanceDoc{{HostName: "o1", ActionType: "DELETED"}}}}})
	if _, ok := m["ORDERS"]; ok {
		t.Errorf("an application without instances stays: %v", m["ORDERS"])
	}
}

// TestWireRejects: what is not Eureka's JSON is an error, not an empty
// registry.
func TestWireRejects(t *testing.T) {
	for _, in := range []string{
		`{"applications":{"application":"CART"}}`,
		`{"applications":{"application":[{"name":"CART","instance":[{"port":{"$":[1]}}]}]}}`,
		`[1,2]`,
	} {
		var d appsDoc
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s: accepted as %+v", in, d)
		}
	}
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}
