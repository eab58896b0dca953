package usage

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of Options.
const (
	DefaultWindow       = time.Hour
	DefaultBucket       = time.Minute
	DefaultMaxGateways  = 64
	DefaultMaxRoutes    = 1000
	DefaultMaxConsumers = 1000
	DefaultMaxRows      = 4096
)

// Options configure a Service. Zero fields take the defaults.
type Options struct {
	Registerer prometheus.Registerer
	// Window is how far back the usage store answers queries, in buckets
	// of Bucket.
	Window, Bucket time.Duration
	// MaxGateways, MaxRoutes and MaxConsumers bound the distinct gateways,
	// (gateway, route, service) and (gateway, consumer) pairs that get
	// their own series; later ones count as Other.
	MaxGateways, MaxRoutes, MaxConsumers int
	// MaxRows bounds the rows of one bucket of the usage store.
	MaxRows int
	Clock   func() time.Time
}

// Service is the access-log service (envoy.service.accesslog.v3).
type Service struct {
	alsv3.UnimplementedAccessLogServiceServer
	opts    Options
	metrics *metrics
	plans   atomic.Pointer[map[string]string] // consumer -> plan

	mu        sync.Mutex // guards what follows
	gateways  *names
	routes    *names
	consumers *names
	store     *store
}

// New returns a Service.
func New(opts Options) (*Service, error) {
	opts.Window = orDefault(opts.Window, DefaultWindow)
	opts.Bucket = orDefault(opts.Bucket, DefaultBucket)
	opts.MaxGateways = orDefault(opts.MaxGateways, DefaultMaxGateways)
	opts.MaxRoutes = orDefault(opts.MaxRoutes, DefaultMaxRoutes)
	opts.MaxConsumers = orDefault(opts.MaxConsumers, DefaultMaxConsumers)
	opts.MaxRows = orDefault(opts.MaxRows, DefaultMaxRows)
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Window < opts.Bucket {
		return nil, fmt.Errorf("usage: the window (%v) must be at least one bucket (%v)", opts.Window, opts.Bucket)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("usage: registering metrics: %w", err)
	}
	s := &Service{
		opts: opts, metrics: m,
		gateways: newNames(opts.MaxGateways), routes: newNames(opts.MaxRoutes), consumers: newNames(opts.MaxConsumers),
		store: newStore(opts.Window, opts.Bucket, opts.MaxRows),
	}
	s.plans.Store(&map[string]string{})
	return s, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { alsv3.RegisterAccessLogServiceServer(g, s) }

// Update gives the service each consumer's plan (the controller calls it
// with every new policy). The map must not change afterwards.
func (s *Service) Update(consumerPlan map[string]string) {
	if consumerPlan == nil {
		consumerPlan = map[string]string{}
	}
	s.plans.Store(&consumerPlan)
}

// Window is how far back Query can look.
func (s *Service) Window() time.Duration { return s.opts.Window }

// StreamAccessLogs receives one Envoy's log stream. Envoy sends the
// identifier (its node, whose cluster is the Gateway) only on the first
// message of a stream (Envoy:
// source/extensions/access_loggers/common/grpc_access_logger.h, flush:
// initMessage only when the stream is not started) and never reads an
// answer: an error closes the stream, and Envoy opens a new one with its
// next flush.
func (s *Service) StreamAccessLogs(stream alsv3.AccessLogService_StreamAccessLogsServer) error {
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()
	gateway := ""
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&alsv3.StreamAccessLogsResponse{})
		}
		if err != nil {
			// grpc-go has already answered a message that does not
			// decode with Internal ("failed to unmarshal"); count it.
			if status.Code(err) == codes.Internal {
				s.metrics.malformed.WithLabelValues("undecodable").Inc()
			}
			return err
		}
		if id := msg.GetIdentifier(); id != nil {
			gateway = id.GetNode().GetCluster()
			if gateway == "" || len(gateway) > maxLabel {
				s.metrics.malformed.WithLabelValues("no_gateway").Inc()
				return status.Error(codes.InvalidArgument, "identifier.node.cluster must name the Gateway (as in gatehouse's bootstrap), in at most 253 bytes")
			}
		}
		if gateway == "" {
			s.metrics.malformed.WithLabelValues("no_identifier").Inc()
			return status.Error(codes.InvalidArgument, "the first message of an access-log stream must carry the identifier (node.cluster names the Gateway)")
		}
		if err := s.receive(gateway, msg); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
}

// receive counts one message's entries. Good entries of a message with a
// malformed one still count; the first malformed one is returned.
func (s *Service) receive(gateway string, msg *alsv3.StreamAccessLogsMessage) error {
	switch {
	case msg.GetHttpLogs() != nil:
	case msg.GetTcpLogs() != nil:
		s.metrics.entries.WithLabelValues("tcp_ignored").Add(float64(len(msg.GetTcpLogs().GetLogEntry())))
		return nil
	default:
		s.metrics.malformed.WithLabelValues("no_entries").Inc()
		return errors.New("access-log message carries neither http_logs nor tcp_logs")
	}
	plans := *s.plans.Load()
	now := s.opts.Clock()
	var first error
	for i, e := range msg.GetHttpLogs().GetLogEntry() {
		r, bad := parseEntry(gateway, e)
		if bad != nil {
			s.metrics.entries.WithLabelValues("malformed").Inc()
			s.metrics.malformed.WithLabelValues(bad.reason).Inc()
			if first == nil {
				first = fmt.Errorf("http_logs.log_entry[%d]: %w", i, bad)
			}
			continue
		}
		s.count(now, r, plans[r.consumer])
		s.metrics.entries.WithLabelValues("counted").Inc()
	}
	return first
}

// count records r, with the names beyond their limits replaced by Other.
func (s *Service) count(now time.Time, r record, plan string) {
	s.mu.Lock()
	if !s.gateways.admit(r.gateway) {
		r.gateway = Other
		s.metrics.overflow.WithLabelValues("gateway").Inc()
	}
	if !s.routes.admit(r.gateway + "\x00" + r.route + "\x00" + r.service) {
		r.route, r.service = Other, Other
		s.metrics.overflow.WithLabelValues("route").Inc()
	}
	if r.consumer != "" && !s.consumers.admit(r.gateway+"\x00"+r.consumer) {
		r.consumer = Other
		s.metrics.overflow.WithLabelValues("consumer").Inc()
	}
	if s.store.add(now, key{r.gateway, r.route, r.service, r.consumer, plan}, r) {
		s.metrics.overflow.WithLabelValues("store").Inc()
	}
	s.mu.Unlock()

	m := s.metrics
	m.requests.WithLabelValues(r.gateway, r.route, r.service, r.class).Inc()
	if r.hasDuration {
		m.latency.WithLabelValues(r.gateway, r.route, r.service).Observe(r.duration.Seconds())
	}
	m.consumers.WithLabelValues(r.gateway, r.consumer, plan, r.class).Inc()
	if r.hasQuota && r.consumer != "" && r.consumer != Other {
		m.quota.WithLabelValues(r.gateway, r.consumer, plan).Set(r.quotaUsed)
	}
}

// Report is the answer to a usage query.
type Report struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Consumer string    `json:"consumer,omitempty"`
	Rows     []Row     `json:"rows"`
}

// Query reports usage over the last since (the whole window when 0),
// for one consumer or all.
func (s *Service) Query(since time.Duration, consumer string) (Report, error) {
	if since < 0 || since > s.opts.Window {
		return Report{}, fmt.Errorf("since %v: must be between 0 and the usage window, %v (older usage is in Prometheus: gatehouse_usage_*)", since, s.opts.Window)
	}
	if since == 0 {
		since = s.opts.Window
	}
	now := s.opts.Clock()
	from := now.Add(-since)
	s.mu.Lock()
	rows := s.store.query(now, from, consumer)
	s.mu.Unlock()
	return Report{From: from.UTC(), To: now.UTC(), Consumer: consumer, Rows: rows}, nil
}

// storeRows is the number of rows the store holds.
func (s *Service) storeRows() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.store.rows()
}
