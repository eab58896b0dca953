package main

import (
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// storeCollector exports the policy store's health, independent of
// /readyz (which stays ready on the last good policy):
// gatehouse_store_up, gatehouse_store_revision_info{revision} and
// gatehouse_store_last_read_timestamp_seconds.
type storeCollector struct {
	h                 *store.Health
	up, rev, lastRead *prometheus.Desc
}

func newStoreCollector(h *store.Health) *storeCollector {
	return &storeCollector{h: h,
		up: prometheus.NewDesc("gatehouse_store_up",
			"Whether the last read of the policy store succeeded (1) or not (0); the last good policy keeps being served.", nil, nil),
		rev: prometheus.NewDesc("gatehouse_store_revision_info",
			"The revision of the policy last read from the store (always 1).", []string{"revision"}, nil),
		lastRead: prometheus.NewDesc("gatehouse_store_last_read_timestamp_seconds",
			"When the policy store was last read successfully (Unix time).", nil, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.rev
	ch <- c.lastRead
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Status()
	up := 0.0
	if st.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	if st.Revision != "" {
		ch <- prometheus.MustNewConstMetric(c.rev, prometheus.GaugeValue, 1, st.Revision)
		ch <- prometheus.MustNewConstMetric(c.lastRead, prometheus.GaugeValue, float64(st.LastRead.UnixNano())/1e9)
	}
}

// printStore is the policy store line of `gatehouse status`.
func printStore(w io.Writer, st *store.HealthStatus, now time.Time) {
	if st == nil {
		return
	}
	switch {
	case st.Up:
		fmt.Fprintf(w, "Policy store %s: revision %s\n", st.Store, st.Revision)
	case st.LastError == "":
		fmt.Fprintf(w, "Policy store %s: not read yet\n", st.Store)
	case st.Revision != "":
		fmt.Fprintf(w, "Policy store %s: UNREADABLE (serving the last good policy; revision %s was read %s ago)\n", st.Store, st.Revision, now.Sub(st.LastRead).Round(time.Second))
	default:
		fmt.Fprintf(w, "Policy store %s: UNREADABLE (nothing read yet)\n", st.Store)
	}
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error (%s ago): %s\n", now.Sub(st.LastErrorAt).Round(time.Second), st.LastError)
	}
}
