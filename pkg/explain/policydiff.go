package explain

import (
	"fmt"
	"io/fs"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// PolicyDiff is the plan of a policy change: both policy trees loaded as
// the server loads them (popts) and translated with the server's options
// (topts), then Diff of the two translations. Objects a tree rejects are
// left out of its translation, as the server leaves them out of what it
// serves.
func PolicyDiff(before, after fs.FS, popts policy.Options, topts translate.Options) ([]Change, error) {
	translated := func(which string, fsys fs.FS) (map[translate.GroupKey]*translate.Group, error) {
		groups, err := translate.Translate(policy.LoadWith(fsys, nil, popts), topts)
		if err != nil {
			return nil, fmt.Errorf("translating the %s policy: %w", which, err)
		}
		return groups, nil
	}
	b, err := translated("current", before)
	if err != nil {
		return nil, err
	}
	a, err := translated("new", after)
	if err != nil {
		return nil, err
	}
	return Diff(b, a)
}
