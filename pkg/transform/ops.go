package transform

import (
	"fmt"
	"strconv"
	"strings"
)

// maxDepth bounds nesting in every decoder (a deep body must not cost
// stack or time out of proportion to its size).
const maxDepth = 64

func parsePath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("path %q has an empty segment", p)
		}
	}
	return segs, nil
}

// errShape: the body does not have the shape the transformation needs.
type errShape struct{ msg string }

func (e errShape) Error() string { return e.msg }

func index(s string, n int) (int, bool) {
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i < n
}

// lookup returns the value at path.
func lookup(root any, segs []string) (any, bool) {
	cur := root
	for _, s := range segs {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := index(s, len(c))
			if !ok {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// parent returns the container holding the last segment; create makes
// missing objects on the way.
func parent(root any, segs []string, create bool) (any, error) {
	cur := root
	for i, s := range segs[:len(segs)-1] {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[s]
			if !ok {
				if !create {
					return nil, nil
				}
				v = map[string]any{}
				c[s] = v
			}
			cur = v
		case []any:
			j, ok := index(s, len(c))
			if !ok {
				return nil, errShape{fmt.Sprintf("%s: no element %s", strings.Join(segs[:i], "."), s)}
			}
			cur = c[j]
		default:
			if !create {
				return nil, nil
			}
			return nil, errShape{fmt.Sprintf("%s is not an object", strings.Join(segs[:i+1], "."))}
		}
	}
	return cur, nil
}

func setAt(root any, segs []string, v any) error {
	p, err := parent(root, segs, true)
	if err != nil {
		return err
	}
	last := segs[len(segs)-1]
	switch c := p.(type) {
	case map[string]any:
		c[last] = v
	case []any:
		i, ok := index(last, len(c))
		if !ok {
			return errShape{fmt.Sprintf("%s: no element %s", strings.Join(segs[:len(segs)-1], "."), last)}
		}
		c[i] = v
	default:
		return errShape{fmt.Sprintf("%s is not an object", strings.Join(segs[:len(segs)-1], "."))}
	}
	return nil
}

// removeAt deletes the field at path and returns its value; ok false when
// there was none. Array elements are not removed (indexes would shift
// under the following ops).
func removeAt(root any, segs []string) (any, bool) {
	p, err := parent(root, segs, false)
	if err != nil {
		return nil, false
	}
	m, isMap := p.(map[string]any)
	if !isMap {
		return nil, false
	}
	v, ok := m[segs[len(segs)-1]]
	delete(m, segs[len(segs)-1])
	return v, ok
}

// apply runs the ops on a decoded body and returns the new root.
func apply(root any, ops []Op, vals *sources) (any, error) {
	if root == nil {
		root = map[string]any{}
	}
	for i, op := range ops {
		var err error
		root, err = applyOne(root, op, vals)
		if err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
	}
	return root, nil
}

func applyOne(root any, op Op, vals *sources) (any, error) {
	switch {
	case op.Set != "":
		v, ok := vals.value(*op.Value)
		if !ok {
			if op.Value.Required {
				return nil, errMissing{op.Set}
			}
			return root, nil
		}
		segs, _ := parsePath(op.Set)
		return root, setAt(root, segs, v)
	case op.Remove != "":
		segs, _ := parsePath(op.Remove)
		removeAt(root, segs)
		return root, nil
	case op.Rename != "":
		segs, _ := parsePath(op.Rename)
		v, ok := removeAt(root, segs)
		if !ok {
			return root, nil
		}
		to := append(append([]string(nil), segs[:len(segs)-1]...), op.To)
		return root, setAt(root, to, v)
	case op.Move != "":
		segs, _ := parsePath(op.Move)
		v, ok := removeAt(root, segs)
		if !ok {
			return root, nil
		}
		to, _ := parsePath(op.To)
		return root, setAt(root, to, v)
	case op.Wrap != "":
		if op.Wrap == "." {
			return map[string]any{op.In: root}, nil
		}
		segs, _ := parsePath(op.Wrap)
		v, ok := lookup(root, segs)
		if !ok {
			return root, nil
		}
		return root, setAt(root, segs, map[string]any{op.In: v})
	default:
		segs, _ := parsePath(op.Unwrap)
		v, ok := lookup(root, segs)
		if !ok {
			return root, nil
		}
		if len(segs) == 1 {
			return v, nil
		}
		return root, setAt(root, segs[:len(segs)-1], v)
	}
}

// errMissing: a required value is absent.
type errMissing struct{ field string }

func (e errMissing) Error() string { return fmt.Sprintf("%s: required value missing", e.field) }
