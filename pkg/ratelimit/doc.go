// Package ratelimit is gatehouse's global rate-limit service: Envoy's
// envoy.service.ratelimit.v3.RateLimitService, fed by the controller with
// the limits of the RateLimit and Plan objects (Service.Update), counting in
// a Store: MemoryStore for a single replica, RedisStore for several replicas
// that must enforce one limit together.
//
// # Descriptors
//
// The descriptors are the ones pkg/wire names. Each limit of a RateLimit is
// one descriptor whose first entry is ("ratelimit", "<name>#<index>"),
// followed by one entry per key of the limit (Limit.Keys, in order); a plan
// is one descriptor ("plan", <consumer>). Anything else, a domain not in
// Config.Domains, a RateLimit the domain does not list, or entries that do
// not match the limit's keys, is answered OK with no limit applied and
// counted in gatehouse_ratelimit_ignored_descriptors_total{reason}: a
// configuration mismatch must never block traffic. Only the first
// Options.MaxDescriptors descriptors of a request are read (16 by default;
// policy validation refuses a RateLimit whose limits and plan would make
// more), and a descriptor with more than Options.MaxEntries entries is
// ignored.
//
// # Counting
//
// A RateLimit's counters are keyed by the RateLimit's name, the limit's
// index and the key values, not by domain, so every Route and Gateway that
// names the RateLimit shares them. Keys are length-prefixed (and hashed when
// long), so no value can alias another. Windows are fixed and aligned to
// the unit (second to day from the Unix epoch, as envoyproxy/ratelimit
// aligns them; month is the calendar month in UTC). As in
// envoyproxy/ratelimit, a request counts against every limit it meets, even
// one that rejects it, and the response has one status per descriptor with
// the limit, the remaining count and the time to reset, which is what
// Envoy's ratelimit filter needs to add the draft-standard x-ratelimit-*
// headers (enable_x_ratelimit_headers: DRAFT_VERSION_03). The overall code
// is OVER_LIMIT when any status is. hits_addend is honoured per request (0
// means 1) and per descriptor (0 there only checks) up to what the limit's
// RateLimit allows (Limit.MaxHits, Domain.PlanMaxHits for plan
// descriptors; 1 by default): above it the request is OVER_LIMIT and
// nothing of it is counted. Where any is allowed (MaxHitsAddend) it is clamped to
// MaxHitsAddend (2^32, one more than the largest limit): a clamped request
// is over every limit the real one would be over, and it is counted, not
// refused, since an error would let Envoy's failure mode pass it. Counters
// saturate (MemoryStore at 2^64-1; Redis refuses INCRBY past 2^63-1, which
// the RedisStore reads as a saturated counter): they never wrap back under
// a limit.
//
// # Keys Envoy sends
//
// The translator makes Envoy send keys a client cannot use to escape its
// count: the path key is the path without its query string (a header the
// first HTTP filter sets), a header key whose header is absent is sent as
// ("header:NAME", "missing"), and remote_address is Envoy's
// masked_remote_address entry, the client address as a CIDR masked to /32
// for IPv4 and /64 for IPv6 by default; the policy key
// remote_address:v4=N,v6=M sets other masks. The service maps a limit's
// policy keys to the entry keys Envoy sends (wire.DescriptorKey).
//
// Shadow limits count and report but never reject: like envoyproxy/
// ratelimit's shadow_mode, their status says OK, with 0 remaining once over,
// and the decision metric says shadow_over_limit.
//
// Sliding windows (Algorithm SlidingWindow) estimate the requests of the
// last unit as the current fixed window's count plus the previous window's
// count weighted by the share of the previous window still inside that unit
// (the approximation Cloudflare describes). This removes the 2x burst a
// fixed window allows across its edge; it assumes the previous window's
// requests were spread evenly.
//
// # Plans and quotas
//
// A ("plan", consumer) descriptor applies the consumer's Plan: its limits
// and quota, counted per consumer across all Routes and Gateways. The
// descriptor's status is the tightest of them. A quota counts only allowed
// requests: it is read with the other counters and incremented in a second
// store call once the whole request is allowed. If that increment fails the
// request fails with codes.Unavailable, like any store error, so the
// route's failure mode decides it: answering OK would let it through
// uncounted even on a fail-closed route (and a Redis that reads but refuses
// writes, out of memory, would never exhaust a quota). A plan descriptor
// with an empty consumer or more than one entry is ignored like any other
// mismatch; a consumer without a Plan has no plan limits. Two replicas deciding at
// the same instant may both allow the last request of a quota, so a quota
// can be overshot by the requests in flight at its edge.
//
// # Memory store
//
// MemoryStore bounds the counters it keeps (MemoryOptions.MaxEntries) and
// evicts the least recently used in O(1) when a shard is full, preferring
// an expired one among the few at the LRU end; plan and quota counters
// (Op.Pinned) are never evicted, and exist only for consumers with a Plan.
// A flood of new keys can still evict other live counters (which then
// restart at zero, erring towards allowing); size MaxEntries for the key
// space, or use Redis (configured with maxmemory-policy noeviction or
// volatile-ttl, so that it too does not drop live counters).
//
// # Store calls
//
// All counters of a request go to the store in one call (for Redis: one
// round trip, a pipeline of INCRBY, with PEXPIRE only the first time this
// process touches a key; concurrent requests share pipelines), plus the
// quota increment when there is one. A store call is bounded by Options.Timeout (100ms by
// default); on error or timeout the request fails with codes.Unavailable so
// that Envoy applies the route's failure mode (allow or deny), and the next
// request tries again, so service resumes by itself when Redis returns.
// Redis runs a pipeline's commands one by one, so an error reply part way
// (a counter key holding something else than a number, out of memory) fails
// the request whose command it was after its other counters may have been
// incremented, so a failed request may still count against some limits.
// Requests sharing the pipeline get their own answers. Increments are never retried
// on one Redis or through Sentinel, so no request is counted twice. On a
// Redis Cluster (RedisOptions.Mode) the pipeline is split by master and sent
// to each at once; MOVED and ASK replies are followed, and a pipeline whose
// connection broke after sending may be sent again, which can count its
// requests twice (stricter, never more lenient). docs/operations.md lists
// the topologies and what each failure does.
package ratelimit
