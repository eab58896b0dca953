package server

import (
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// typeIdx indexes the resource types gatehouse serves, in the order ADS
// sends them (CDS, EDS, LDS, RDS, SDS).
type typeIdx int

const (
	tClusters typeIdx = iota
	tEndpoints
	tListeners
	tRoutes
	tSecrets
	numTypes
)

// Short type names used in stats, proxy status and metric labels.
const (
	TypeClusters  = "clusters"
	TypeEndpoints = "endpoints"
	TypeListeners = "listeners"
	TypeRoutes    = "routes"
	TypeSecrets   = "secrets"
)

var (
	typeNames     = [numTypes]string{TypeClusters, TypeEndpoints, TypeListeners, TypeRoutes, TypeSecrets}
	responseTypes = [numTypes]types.ResponseType{types.Cluster, types.Endpoint, types.Listener, types.Route, types.Secret}
	typeURLs      = [numTypes]string{resource.ClusterType, resource.EndpointType, resource.ListenerType, resource.RouteType, resource.SecretType}
)

// typeIndex maps a type URL to its index, or -1 if gatehouse does not serve
// that type.
func typeIndex(typeURL string) typeIdx {
	for i, u := range typeURLs {
		if u == typeURL {
			return typeIdx(i)
		}
	}
	return -1
}
