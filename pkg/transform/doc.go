// Package transform is gatehouse's API transformation service: Envoy's
// external processing service (envoy.service.ext_proc.v3) reshaping a
// Route's requests and responses (JSON body operations, status mapping,
// header and query changes, JSON<->XML and JSON<->form conversion, body
// templates).
//
// Envoy names the Transformation of a stream in gRPC initial metadata
// (MetadataKey), set from the route's ExtProcPerRoute grpc_service, so a
// client cannot choose it. A body is transformed whole: the service holds
// every chunk (answering each with an empty chunk, so nothing reaches the
// upstream or the client half-transformed) and answers the last chunk with
// the transformed body. Anything it cannot transform fails closed: a
// malformed request body is answered 400, one over the limit 413, a
// response it cannot transform 502, an unknown Transformation or an
// internal error ends the stream with an error (Envoy, failure_mode_allow
// false, answers 500).
//
// Service.Process is the whole protocol, so a dispatcher sharing the
// ExternalProcessor registration with other processors (pkg/extproc) can
// call it for the streams it routes here.
package transform
