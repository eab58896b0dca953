// Package grpctest serves a gatehouse gRPC service on a real loopback
// server for a test and dials it, the way every request-path service test
// starts (ext_authz, ext_proc, rate limit, access logs).
package grpctest

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Registrar is what a gatehouse service offers to put itself on a server.
type Registrar interface{ Register(*grpc.Server) }

// Serve registers r on a new gRPC server listening on a loopback port
// chosen by the kernel, and returns a plaintext client connection to it.
// Both are stopped when t ends.
func Serve(t testing.TB, r Registrar) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	r.Register(g)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
