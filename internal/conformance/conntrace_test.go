package conformance

import (
	"context"
	"crypto/tls"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

// writeWait is how long net/http's HTTP/1 transport waits, once an answer
// has been read to its end, for its own writer goroutine to report that the
// request went out; if the report is late, the transport closes the
// connection instead of pooling it (maxWriteWaitBeforeConnReuse in
// https://go.dev/src/net/http/transport.go). On a machine loaded enough to
// starve that goroutine for so long, a Send that read its answer to the end
// still costs a connection, and such a Send has lasted at least writeWait.
// A Send that does not read its answer to the end loses its connection at
// once: that is what TestConnectionReuse catches.
const writeWait = 50 * time.Millisecond

// reuseMeter sends through a notifier with an httptrace.ClientTrace on the
// Send's context, and sees what the transport does with each request's
// connection: new or reused, put back in the idle pool or not. Sends are
// sequential; nothing is inferred from timing except the lower bound of
// writeWait, which a slow machine only makes easier to meet.
type reuseMeter struct {
	t  *testing.T
	mu sync.Mutex
	// requests counts the connections handed to a request (GotConn), fresh
	// the new ones among them, h2 those that speak HTTP/2.
	requests, fresh, h2 int
	// returned counts the HTTP/1 connections put back in the idle pool
	// after their answer (PutIdleConn, which HTTP/2 does not call).
	returned int
	// refused holds why the pool refused a connection.
	refused []error
	// lost counts the HTTP/1 connections not pooled after a Send that
	// lasted writeWait or more.
	lost int
}

func newReuseMeter(t *testing.T) *reuseMeter { return &reuseMeter{t: t} }

func (m *reuseMeter) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			tc, ok := info.Conn.(*tls.Conn)
			h2 := ok && tc.ConnectionState().NegotiatedProtocol == "h2"
			m.mu.Lock()
			defer m.mu.Unlock()
			m.requests++
			if !info.Reused {
				m.fresh++
			}
			if h2 {
				m.h2++
			}
		},
		PutIdleConn: func(err error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err != nil {
				m.refused = append(m.refused, err)
				return
			}
			m.returned++
		},
	}
}

// unpooled is how many HTTP/1 requests have not had their connection put
// back in the pool.
func (m *reuseMeter) unpooled() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests - m.h2 - m.returned
}

// send sends e through n. Every HTTP/1 connection must be back in the pool
// when Send returns (net/http pools it before the body's last Read
// returns), unless net/http's writeWait ran out during the Send.
func (m *reuseMeter) send(ctx context.Context, n notify.Notifier, e notify.Event) (notify.Receipt, error) {
	m.t.Helper()
	before := m.unpooled()
	start := time.Now()
	rc, err := n.Send(httptrace.WithClientTrace(ctx, m.trace()), e)
	took := time.Since(start)
	if lost := m.unpooled() - before; lost > 0 {
		if took < writeWait {
			m.t.Fatalf("a Send of %v lost its connection (not pooled: the answer was not read to its end, or keep-alive is off): %v", took, err)
		}
		m.mu.Lock()
		m.lost += lost
		m.mu.Unlock()
	}
	return rc, err
}

// check compares what the transport did with what the server saw over
// sends Sends: one connection, plus one for each lost to net/http's
// writeWait (none on a machine that is not starved).
func (m *reuseMeter) check(srv *loopbackServer, sends int, http2 bool) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Empty(m.t, m.refused, "the idle pool refused a connection")
	require.EqualValues(m.t, srv.requests.Load(), m.requests, "every request carries the Send's context (the trace saw it)")
	if http2 {
		require.Equal(m.t, m.requests, m.h2, "every request went over HTTP/2")
	} else {
		require.Zero(m.t, m.h2, "no request went over HTTP/2")
	}
	require.EqualValues(m.t, m.fresh, srv.conns.Load(), "the server accepted the connections the transport opened, and no other")
	if m.lost > 0 {
		m.t.Logf("%d of %d connections lost to net/http's %v write wait on a starved machine", m.lost, m.requests, writeWait)
	}
	require.LessOrEqual(m.t, m.lost, sends/20, "a connection lost in more than one Send in 20: more than a starved goroutine")
	// A connection is opened for the first request, and after a lost one
	// only (none if the last request lost it).
	require.GreaterOrEqual(m.t, m.fresh, 1)
	require.LessOrEqual(m.t, m.fresh, 1+m.lost, "connections opened for %d sends", sends)
}
