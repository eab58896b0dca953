package translate

import (
	"sort"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/types/known/anypb"
)

type (
	typesResource = types.Resource
	anyT          = anypb.Any
)

type named interface{ GetName() string }

func sortByName(rs []types.Resource) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].(named).GetName() < rs[j].(named).GetName() })
}

func sortGroup(g *Group) {
	sortByName(g.Listeners)
	sortByName(g.Routes)
	sortByName(g.Clusters)
	sortByName(g.Secrets)
	sort.Strings(g.Skipped)
}
