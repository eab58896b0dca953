package gatehouseproc

import (
	"context"
	"fmt"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ADSStream is a raw State-of-the-World ADS stream.
type ADSStream = discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient

// OpenADS opens a raw ADS stream to xdsAddr (plaintext, with extra dial
// options); the stream and its connection end when the test ends.
func OpenADS(t testing.TB, xdsAddr string, opts ...grpc.DialOption) ADSStream {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(xdsAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); cc.Close() })
	st, err := discoveryv3.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Responses delivers what st receives on a channel of capacity buf, closed
// when the stream ends.
func Responses(st ADSStream, buf int) <-chan *discoveryv3.DiscoveryResponse {
	out := make(chan *discoveryv3.DiscoveryResponse, buf)
	go func() {
		defer close(out)
		for {
			r, err := st.Recv()
			if err != nil {
				return
			}
			out <- r
		}
	}()
	return out
}

// EDSNames are the EDS service names the clusters of a CDS response name,
// in response order.
func EDSNames(r *discoveryv3.DiscoveryResponse) ([]string, error) {
	var out []string
	for _, a := range r.Resources {
		c := &clusterv3.Cluster{}
		if err := a.UnmarshalTo(c); err != nil {
			return out, fmt.Errorf("cluster: %w", err)
		}
		out = append(out, c.GetEdsClusterConfig().GetServiceName())
	}
	return out, nil
}

// RDSNames are the route configurations the listeners of an LDS response
// name, in response order. A listener that does not decode is skipped and
// reported in the error, after the names of the others.
func RDSNames(r *discoveryv3.DiscoveryResponse) ([]string, error) {
	var out []string
	var first error
	for _, a := range r.Resources {
		l := &listenerv3.Listener{}
		if err := a.UnmarshalTo(l); err != nil {
			if first == nil {
				first = fmt.Errorf("listener: %w", err)
			}
			continue
		}
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(h) == nil && h.GetRds() != nil {
					out = append(out, h.GetRds().RouteConfigName)
				}
			}
		}
	}
	return out, first
}
