package translate

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

// TestOutlierDetectionSetsOnlyWhatIsGiven: a field of outlierDetection
// left out stays unset in the Cluster, so Envoy's default applies (5,
// 10s, 30s and 10%: api/envoy/config/cluster/v3/outlier_detection.proto).
// Set to 0 instead, each would replace that default with a value the
// policy never asked for.
func TestOutlierDetectionSetsOnlyWhatIsGiven(t *testing.T) {
	for name, tc := range map[string]struct {
		od   policy.OutlierDetection
		want *clusterv3.OutlierDetection
	}{
		"none given": {policy.OutlierDetection{}, &clusterv3.OutlierDetection{}},
		"consecutive5xx only": {policy.OutlierDetection{Consecutive5xx: 3},
			&clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(3)}},
		"interval only": {policy.OutlierDetection{Interval: policy.Duration(2 * time.Second)},
			&clusterv3.OutlierDetection{Interval: durationpb.New(2 * time.Second)}},
		"base ejection time only": {policy.OutlierDetection{BaseEjectionTime: policy.Duration(time.Minute)},
			&clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(time.Minute)}},
		"max ejection percent only": {policy.OutlierDetection{MaxEjectionPercent: 50},
			&clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(50)}},
	} {
		t.Run(name, func(t *testing.T) {
			od := tc.od
			svc := &policy.Service{Meta: policy.Meta{Name: "a"}, Spec: policy.ServiceSpec{OutlierDetection: &od}}
			for _, kind := range []ClientKind{ClientEnvoy, ClientGRPC} {
				got := buildCluster(svc, kind, DefaultSystemCAFile).GetOutlierDetection()
				if !proto.Equal(got, tc.want) {
					t.Errorf("%v: outlier_detection %v, want %v", kind, got, tc.want)
				}
			}
		})
	}
}

// TestHealthCheckDefaults: an interval or timeout left out gets
// gatehouse's default, never 0s (Envoy's HealthCheck requires both > 0).
func TestHealthCheckDefaults(t *testing.T) {
	hc := healthCheck(&policy.HealthCheck{TCP: &struct{}{}})
	if hc.GetInterval().AsDuration() != defaultHCInterval || hc.GetTimeout().AsDuration() != defaultHCTimeout {
		t.Fatalf("interval %v, timeout %v; want the defaults %v, %v", hc.GetInterval().AsDuration(), hc.GetTimeout().AsDuration(), defaultHCInterval, defaultHCTimeout)
	}
	if err := hc.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	hc = healthCheck(&policy.HealthCheck{TCP: &struct{}{}, Interval: policy.Duration(3 * time.Second), Timeout: policy.Duration(2 * time.Second)})
	if hc.GetInterval().AsDuration() != 3*time.Second || hc.GetTimeout().AsDuration() != 2*time.Second {
		t.Fatalf("interval %v, timeout %v; want 3s, 2s", hc.GetInterval().AsDuration(), hc.GetTimeout().AsDuration())
	}
}
