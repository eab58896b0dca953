// Package explain answers "what happens to this request" and "what changes
// on the proxies" for a translated configuration. It is pure: its inputs
// are a policy snapshot, the groups xds/translate.Translate built from it
// and, optionally, the registry's endpoints; it does no I/O.
//
// Explain decides which route a request takes by reading the translated
// Envoy resources, not the policy: the listener and its filter chain, the
// connection manager's host and path settings, the RouteConfiguration's
// virtual hosts and routes in the order they are emitted, and the HTTP
// filters with the route's per-filter configs. It follows Envoy's own
// matching code (each function cites the Envoy file it follows), so that
// it cannot drift from what a proxy does with the same resources; the
// policy is read only to name what a resource came from (the Route, its
// Authentication and Authorization objects). Its tests walk every route of
// every golden output of the translator.
//
// Diff lists, per group and resource type, the resources added, removed
// and changed between two translations, with a short field-level summary
// of each change.
package explain
