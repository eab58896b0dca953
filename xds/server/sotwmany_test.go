package server

import (
	"fmt"
	"testing"
	"time"
)

// Twenty streams that answer at once, the removal published right after
// the last one synced: that one's RDS ACK is still on its way, which was
// enough for it to get the removal first before the hold. Logs what the
// hold costs a removal (one more RDS round trip of the slowest stream).
func TestSotWRemovalManyStreams(t *testing.T) {
	h, f := published(t, 3, 2)
	var streams []*envoySotW
	for i := range 20 {
		e := newEnvoySotW(t, h, fmt.Sprintf("e%02d", i), "gw")
		e.sync()
		streams = append(streams, e)
	}
	g := withoutCluster(f, 2)
	start := time.Now()
	mustPublish(t, h.pub, g.groups(), g.clas)
	untilAll(t, "every stream has the cluster removed", func(e *envoySotW) bool { return len(e.clusters) > 0 && !e.has(clusterName(2)) }, streams...)
	t.Logf("removal at 20 streams %v after the publish", time.Since(start))
}
