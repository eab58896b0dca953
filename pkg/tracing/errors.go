package tracing

import (
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
)

// exportErrorEvery bounds how often a failing export is logged: a collector
// that is down fails every batch, and the log must not flood.
const exportErrorEvery = time.Minute

var (
	lastLogged atomic.Int64 // unix nanos
	suppressed atomic.Int64
)

// logErrors sends the SDK's errors (failed exports, dropped spans) to slog,
// at most one line per exportErrorEvery with a count of the rest.
func logErrors() {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		last := lastLogged.Load()
		if now-last < int64(exportErrorEvery) || !lastLogged.CompareAndSwap(last, now) {
			suppressed.Add(1)
			return
		}
		slog.Warn("tracing: spans not exported", "err", err, "similar_errors_not_logged", suppressed.Swap(0))
	}))
}
