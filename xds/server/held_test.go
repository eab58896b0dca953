package server

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// A proxy of a held-back Gateway with no snapshot is told why, not that
// the Gateway does not exist.
func TestUnknownReasonHeld(t *testing.T) {
	pub, err := NewPublisher(PublisherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := translate.GroupKey{Gateway: "edge", Client: translate.ClientEnvoy}
	if r := pub.unknownReason(k); r != `no Gateway named "edge"` {
		t.Fatalf("reason %q", r)
	}
	pub.SetHeld([]string{"edge"})
	if r := pub.unknownReason(k); !strings.HasPrefix(r, `Gateway "edge" is held back: `) {
		t.Fatalf("reason %q", r)
	}
	pub.SetHeld(nil)
	if r := pub.unknownReason(k); r != `no Gateway named "edge"` {
		t.Fatalf("reason after release %q", r)
	}
}
