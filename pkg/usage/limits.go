package usage

// Other is the name that gateways, routes and consumers beyond their limit
// are counted under. Policy names are lowercase DNS labels, so no real
// object can be called that.
const Other = "_other"

// names admits distinct keys up to a limit, first come first served, for
// the life of the process: a key admitted once keeps its own series (a
// Prometheus counter that vanished and came back would read as a reset).
// Callers hold the Service's lock.
type names struct {
	max  int
	seen map[string]struct{}
}

func newNames(max int) *names { return &names{max: max, seen: map[string]struct{}{}} }

// admit reports whether key has (or now gets) its own series.
func (n *names) admit(key string) bool {
	if _, ok := n.seen[key]; ok {
		return true
	}
	if len(n.seen) >= n.max {
		return false
	}
	n.seen[key] = struct{}{}
	return true
}
