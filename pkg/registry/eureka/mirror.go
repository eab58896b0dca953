package eureka

import (
	"sort"
	"strconv"
	"strings"
)

// mirror is gatehouse's copy of the whole Eureka registry: application ->
// instance id -> instance. It holds every application and every status,
// not only what policies reference, because the reconcile hash code that
// checks a delta is computed over the whole registry.
type mirror map[string]map[string]*instanceDoc

// fromFull builds a mirror from GET /eureka/apps.
func fromFull(a *apps) mirror {
	m := mirror{}
	for i := range a.Application {
		app := &a.Application[i]
		for j := range app.Instance {
			m.put(appName(app, &app.Instance[j]), &app.Instance[j])
		}
	}
	return m
}

func (m mirror) put(app string, in *instanceDoc) {
	insts := m[app]
	if insts == nil {
		insts = map[string]*instanceDoc{}
		m[app] = insts
	}
	insts[in.id()] = in
}

// applyDelta applies GET /eureka/apps/delta the way Eureka's client does
// (DiscoveryClient.updateDelta): ADDED and MODIFIED put the instance (by
// id), DELETED removes it and an application left without instances. It
// reports which applications changed.
func (m mirror) applyDelta(d *apps) map[string]bool {
	changed := map[string]bool{}
	for i := range d.Application {
		app := &d.Application[i]
		for j := range app.Instance {
			in := &app.Instance[j]
			name := appName(app, in)
			switch strings.ToUpper(in.ActionType) {
			case "ADDED", "MODIFIED":
				m.put(name, in)
				changed[name] = true
			case "DELETED":
				if insts := m[name]; insts != nil {
					delete(insts, in.id())
					if len(insts) == 0 {
						delete(m, name)
					}
					changed[name] = true
				}
			}
		}
	}
	return changed
}

// eurekaStatuses are Eureka's InstanceStatus values; any other status
// counts as UNKNOWN (InstanceStatus.toEnum).
var eurekaStatuses = map[string]bool{"UP": true, "DOWN": true, "STARTING": true, "OUT_OF_SERVICE": true, "UNKNOWN": true}

func normStatus(s string) string {
	s = strings.ToUpper(s)
	if !eurekaStatuses[s] {
		return "UNKNOWN"
	}
	return s
}

// hashCode is Eureka's reconcile hash code of the mirror
// (Applications.getReconcileHashCode in eureka-client/.../shared/Applications.java):
// for each status with at least one instance, in the order of the
// status names (a TreeMap), "STATUS_COUNT_"; e.g. "DOWN_1_UP_3_". The
// server sends its own as apps__hashcode with every delta; a different
// value here means the delta did not bring the mirror to the server's
// state, and a full fetch follows.
func (m mirror) hashCode() string {
	counts := map[string]int{}
	for _, insts := range m {
		for _, in := range insts {
			counts[normStatus(in.Status)]++
		}
	}
	return hashOf(counts)
}

// hashOf formats status counts as the reconcile hash code.
func hashOf(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for s, n := range counts {
		if n > 0 {
			names = append(names, s)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, s := range names {
		b.WriteString(s)
		b.WriteByte('_')
		b.WriteString(strconv.Itoa(counts[s]))
		b.WriteByte('_')
	}
	return b.String()
}

// instances counts the mirror's instances.
func (m mirror) instances() int {
	n := 0
	for _, insts := range m {
		n += len(insts)
	}
	return n
}
