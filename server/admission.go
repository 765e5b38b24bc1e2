package server

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// admission decides, at accept, whether a connection is served: at most
// Concurrency connections in all and MaxConnsPerIP from one client (an IPv4
// address, an IPv6 /64), so that one client holding idle keep-alive
// connections cannot lock everyone else out. Trusted proxies are not
// capped per address: every client behind them shares their address.
//
// A refused connection gets the failure table's JSON 503 with Retry-After
// and the security headers, then is closed. fasthttp's own refusals are
// text/plain and written before any handler runs, so the counting is done
// here instead, under fasthttp's.
type admission struct {
	net.Listener
	s       *Server
	perIP   int // 0: no cap per address
	total   int
	refusal []byte

	mu     sync.Mutex
	open   int
	byAddr map[string]int
}

func (s *Server) admit(ln net.Listener) net.Listener {
	return &admission{Listener: ln, s: s, perIP: s.cfg.MaxConnsPerIP, total: s.cfg.Concurrency,
		refusal: rawFailure(kindTooManyConnections), byAddr: map[string]int{}}
}

// Accept hands fasthttp only connections within the caps.
func (a *admission) Accept() (net.Conn, error) {
	for {
		c, err := a.Listener.Accept()
		if err != nil {
			return nil, err
		}
		bucket := a.bucket(c)
		if a.take(bucket) {
			return &admitted{Conn: c, a: a, bucket: bucket}, nil
		}
		a.s.metrics.rateLimited.WithLabelValues("connections").Inc()
		go a.refuse(c)
	}
}

// bucket is the per-address key, or "" when the peer is not capped.
func (a *admission) bucket(c net.Conn) string {
	if a.perIP <= 0 {
		return ""
	}
	// As fasthttp's RemoteIP: a peer that is not TCP (a unix socket, an
	// in-memory pipe) is 0.0.0.0.
	addr := netip.IPv4Unspecified()
	if tcp, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		addr, _ = netip.AddrFromSlice(tcp.IP)
	}
	addr = addr.Unmap().WithZone("")
	if a.s.trusted(addr) {
		return ""
	}
	return clientBucket(addr)
}

func (a *admission) take(bucket string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open >= a.total || bucket != "" && a.byAddr[bucket] >= a.perIP {
		return false
	}
	a.open++
	if bucket != "" {
		a.byAddr[bucket]++
	}
	return true
}

func (a *admission) release(bucket string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.open--
	if bucket != "" {
		if a.byAddr[bucket]--; a.byAddr[bucket] <= 0 {
			delete(a.byAddr, bucket)
		}
	}
}

// refuse answers before closing, and reads what the client already sent,
// so the close does not reset the connection and lose the answer with it.
func (a *admission) refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(a.refusal); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	var buf [4096]byte
	for range 16 {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

// admitted gives its place back when closed (once).
type admitted struct {
	net.Conn
	a      *admission
	bucket string
	once   sync.Once
}

func (c *admitted) Close() error {
	c.once.Do(func() { c.a.release(c.bucket) })
	return c.Conn.Close()
}

// rawFailure is a whole HTTP/1.1 response for a failure of the table, for
// the one place that answers without fasthttp: a refused connection.
func rawFailure(k kind) []byte {
	o := outcomes[k]
	body := append(append([]byte(`{"detail":`), quote(o.detail)...), '}')
	b := []byte("HTTP/1.1 " + strconv.Itoa(o.status) + " " + statusText(o.status) + "\r\n")
	for _, h := range securityHeaderList {
		b = append(b, h[0]+": "+h[1]+"\r\n"...)
	}
	if o.retry {
		b = append(b, "Retry-After: "+retryAfterSeconds+"\r\n"...)
	}
	b = append(b, "Content-Type: application/json\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"...)
	return append(b, body...)
}
