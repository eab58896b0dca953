package server

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// pingCounter is a client connection that parses the HTTP/2 frames the
// server sends (9-byte headers: length, type, flags, stream) and counts
// the PINGs that are not ACKs: the server's own pings.
type pingCounter struct {
	net.Conn
	mu    sync.Mutex
	buf   []byte
	pings int
}

const (
	frameHeaderLen = 9
	framePing      = 0x6
	flagAck        = 0x1
)

func (c *pingCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p[:n]...)
	for len(c.buf) >= frameHeaderLen {
		length := int(binary.BigEndian.Uint32(append([]byte{0}, c.buf[:3]...)))
		if len(c.buf) < frameHeaderLen+length {
			break
		}
		if c.buf[3] == framePing && c.buf[4]&flagAck == 0 {
			c.pings++
		}
		c.buf = c.buf[frameHeaderLen+length:]
	}
	return n, err
}

func (c *pingCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pings
}

// serverPings makes calls RPCs to a server built with opts and returns how
// many PINGs the server sent the client meanwhile.
func serverPings(t *testing.T, opts []grpc.ServerOption, calls int) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(g, health.NewServer())
	go g.Serve(lis) //nolint:errcheck // ends with Stop
	defer g.Stop()
	var pc *pingCounter
	cc, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			pc = &pingCounter{Conn: conn}
			return pc, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range calls {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // room for a ping to follow the request
	}
	return pc.count()
}

// TestNoBDPPings: with gatehouse's server options the server sends no
// PING for the requests it receives (with grpc-go's dynamic windows it
// answers the first DATA frame of each round trip with a BDP ping, a write
// and a read more per proxy and change; see GRPCServerOptions). The
// control run with default options shows the counter sees those pings.
// Keepalive pings come only after 30 s idle, outside this test.
func TestNoBDPPings(t *testing.T) {
	const calls = 10
	if n := serverPings(t, nil, calls); n == 0 {
		t.Fatalf("default options: no server PING seen over %d calls; the counter cannot tell", calls)
	} else {
		t.Logf("default options: %d server PINGs over %d calls", n, calls)
	}
	if n := serverPings(t, GRPCServerOptions(), calls); n != 0 {
		t.Errorf("gatehouse options: %d server PINGs over %d calls, want 0", n, calls)
	}
}
