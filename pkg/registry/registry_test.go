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
