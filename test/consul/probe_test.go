package consulproc

import (
	"net"
	"os"
	"testing"
)

// The connection probe the scale test bounds gatehouse with: it counts
// exactly the established connections to a port, and fails, rather than
// answering 0, when it cannot read them.
func TestConnectionProbeCountsAndFailsLoudly(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	for want := 0; want <= 3; want++ {
		if want > 0 {
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		got, err := establishedTo(os.Getpid(), port)
		if err != nil || got != want {
			t.Fatalf("with %d connections open: counted %d, %v", want, got, err)
		}
	}
	// A process that does not exist (pid 0 never names one in /proc).
	if n, err := establishedTo(0, port); err == nil {
		t.Fatalf("no error for a missing process (counted %d)", n)
	}
}
