package protoset

// The descriptor sets committed next to their .proto sources;
// TestCommittedSetsAreCurrent fails when one is stale.
//go:generate go run ./cmd/protoset -o ../../examples/transcoding/bookstore.pb ../../examples/transcoding/bookstore.proto
//go:generate go run ./cmd/protoset -o ../../xds/translate/testdata/in/transcoding/bookstore.pb ../../xds/translate/testdata/in/transcoding/bookstore.proto
