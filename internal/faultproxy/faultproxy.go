// Package faultproxy is a Redis-aware TCP proxy for tests: it sits between
// readonce and a Redis server, counts the commands that pass, and can drop a
// reply, reset connections or refuse service, so tests can prove what
// happens when Redis misbehaves at the worst moment.
//
// It handles each connection request by request: read one command (a RESP
// array), forward it, read one reply, forward it. That is enough for
// go-redis, pipelines included, since Redis answers in order.
package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy forwards 127.0.0.1:<random> to a Redis address.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	counts    map[string]int
	answered  map[string]int // replies Redis sent back, per command name (forwarded or not)
	dropReply map[string]int // command name → how many replies to drop
	down      bool
	delay     time.Duration
	holdCmd   map[string]time.Duration // command name → extra hold before forwarding
	conns     map[net.Conn]struct{}
	wg        sync.WaitGroup
}

// Start proxies to target until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, counts: map[string]int{}, answered: map[string]int{}, dropReply: map[string]int{}, holdCmd: map[string]time.Duration{}, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Count is how many commands named cmd (case-insensitive) reached Redis.
func (p *Proxy) Count(cmd string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[strings.ToUpper(cmd)]
}

// Answered is how many commands named cmd Redis has answered (whether or
// not the reply then reached the client).
func (p *Proxy) Answered(cmd string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered[strings.ToUpper(cmd)]
}

// DropReplies makes the next n replies to cmd vanish: the command reaches
// Redis and runs, then the client's connection is closed without the answer.
func (p *Proxy) DropReplies(cmd string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropReply[strings.ToUpper(cmd)] = n
}

// SetDelay holds every command for d before forwarding it, as a slow
// network or a busy Redis would.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Hold makes every command named cmd wait d before it is forwarded (0
// ends it): a claim that reaches Redis after its sender gave up.
func (p *Proxy) Hold(cmd string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdCmd[strings.ToUpper(cmd)] = d
}

// SetDown makes the proxy reset every connection and refuse new ones (true),
// or serve again (false).
func (p *Proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
	if down {
		p.ResetAll()
	}
}

// ResetAll resets every open connection once, as a network blip would.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	var open []net.Conn
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		reset(c)
	}
}

// Close stops the proxy and all its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			reset(c)
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		p.mu.Unlock()
		client.Close()
	}()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.conns[upstream] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, upstream)
		p.mu.Unlock()
		upstream.Close()
	}()

	cr, ur := bufio.NewReader(client), bufio.NewReader(upstream)
	for {
		cmd, name, err := readCommand(cr)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.counts[name]++
		drop := p.dropReply[name] > 0
		if drop {
			p.dropReply[name]--
		}
		delay := p.delay + p.holdCmd[name]
		p.mu.Unlock()
		time.Sleep(delay)
		if _, err := upstream.Write(cmd); err != nil {
			return
		}
		reply, err := readReply(ur)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.answered[name]++
		p.mu.Unlock()
		if drop { // Redis has run the command; the client never learns how it went
			reset(client)
			return
		}
		if _, err := client.Write(reply); err != nil {
			return
		}
	}
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN
	}
	c.Close()
}

// readCommand reads one RESP array of bulk strings and returns its raw
// bytes and upper-cased name. Inline commands are not supported (go-redis
// never sends them).
func readCommand(r *bufio.Reader) (raw []byte, name string, err error) {
	var buf bytes.Buffer
	line, err := readLine(r, &buf)
	if err != nil {
		return nil, "", err
	}
	if len(line) == 0 || line[0] != '*' {
		return nil, "", fmt.Errorf("faultproxy: not a RESP array: %q", line)
	}
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil {
		return nil, "", err
	}
	for i := range n {
		hdr, err := readLine(r, &buf)
		if err != nil {
			return nil, "", err
		}
		size, err := strconv.Atoi(string(hdr[1:]))
		if err != nil || hdr[0] != '$' {
			return nil, "", fmt.Errorf("faultproxy: bad bulk header %q", hdr)
		}
		start := buf.Len()
		if _, err := io.CopyN(&buf, r, int64(size)+2); err != nil {
			return nil, "", err
		}
		if i == 0 {
			name = strings.ToUpper(string(buf.Bytes()[start : start+size]))
		}
	}
	return buf.Bytes(), name, nil
}

// readReply reads one complete RESP2/RESP3 reply, nested ones included.
func readReply(r *bufio.Reader) ([]byte, error) {
	var buf bytes.Buffer
	err := readValue(r, &buf)
	return buf.Bytes(), err
}

func readValue(r *bufio.Reader, buf *bytes.Buffer) error {
	line, err := readLine(r, buf)
	if err != nil {
		return err
	}
	if len(line) == 0 {
		return errors.New("faultproxy: empty reply line")
	}
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < 0 {
			return err
		}
		_, err = io.CopyN(buf, r, int64(n)+2)
		return err
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(string(line[1:]))
		if err != nil || n < 0 {
			return err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for range n {
			if err := readValue(r, buf); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("faultproxy: unknown reply type %q", line[0])
}

// readLine reads through CRLF, appends it to buf and returns it without CRLF.
func readLine(r *bufio.Reader, buf *bytes.Buffer) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	buf.Write(line)
	return bytes.TrimRight(line, "\r\n"), nil
}
