package registry

import "testing"

func TestEqual(t *testing.T) {
	a := []Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1}, {Address: "10.0.0.2", Port: 80, Weight: 1}}
	same := append([]Endpoint(nil), a...)
	moved := append([]Endpoint(nil), a...)
	moved[1].Port = 81
	cases := []struct {
		name string
		x, y []Endpoint
		want bool
	}{
		{"same slice", a, a, true},
		{"equal copy", a, same, true},
		{"one port differs", a, moved, false},
		{"shorter", a, a[:1], false},
		{"both empty", nil, []Endpoint{}, true},
		{"empty vs one", nil, a[:1], false},
		{"zone differs", []Endpoint{{Address: "x", Port: 1, Zone: "a"}}, []Endpoint{{Address: "x", Port: 1, Zone: "b"}}, false},
	}
	for _, c := range cases {
		if got := Equal(c.x, c.y); got != c.want {
			t.Errorf("%s: Equal = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSnapshotEqual(t *testing.T) {
	a := []Endpoint{{Address: "10.0.0.1", Port: 80, Weight: 1}}
	b := []Endpoint{{Address: "10.0.0.2", Port: 80, Weight: 1}}
	cases := []struct {
		name string
		x, y Snapshot
		want bool
	}{
		{"both empty", Snapshot{}, nil, true},
		{"same", Snapshot{"s": a}, Snapshot{"s": append([]Endpoint(nil), a...)}, true},
		{"endpoints differ", Snapshot{"s": a}, Snapshot{"s": b}, false},
		{"a Service more", Snapshot{"s": a, "t": b}, Snapshot{"s": a}, false},
		{"a Service less", Snapshot{"s": a}, Snapshot{"s": a, "t": b}, false},
		// Absent is "not read yet", known empty is "no endpoints": a source
		// must report the change from one to the other.
		{"known empty vs absent, same size", Snapshot{"s": nil}, Snapshot{"t": nil}, false},
		{"known empty vs absent", Snapshot{"s": nil}, Snapshot{}, false},
		{"known empty both", Snapshot{"s": nil}, Snapshot{"s": []Endpoint{}}, true},
	}
	for _, c := range cases {
		if got := c.x.Equal(c.y); got != c.want {
			t.Errorf("%s: Equal = %v, want %v", c.name, got, c.want)
		}
		if got := c.y.Equal(c.x); got != c.want {
			t.Errorf("%s (swapped): Equal = %v, want %v", c.name, got, c.want)
		}
	}
}
