// Package redistest starts real redis-server processes for tests, on free
// loopback ports, and stops them when the test ends. A machine without
// redis-server fails the test: it is never a silent skip.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2/proto"

	"github.com/readonce/readonce/internal/apitest"
)

// Server is one redis-server process.
type Server struct {
	Addr string
	Port int
	cmd  *exec.Cmd
	args []string
	t    testing.TB
}

// Start runs redis-server on a free 127.0.0.1 port with persistence off and
// maxmemory-policy noeviction, plus any extra "--name value" arguments, and
// waits until it answers PING.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, "", extra)
}

// start runs redis-server; with a config file (sentinels) that comes first.
func start(t testing.TB, configFile string, extra []string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (apt-get install -y redis-server): %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for range 5 { // a free port can be taken between probe and bind: try again
		port := freePort(t)
		var args []string
		if configFile != "" {
			args = append(args, configFile)
		}
		args = append(args,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--loglevel", "warning")
		if configFile == "" {
			args = append(args, "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction")
		}
		args = append(args, extra...)
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Port: port, args: args, t: t}
		s.cmd = exec.Command(bin, args...)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)))
		if err != nil {
			t.Fatal(err)
		}
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		if lastErr = s.waitReady(5 * time.Second); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
		s.Stop()
	}
	t.Fatalf("redis-server did not come up: %v", lastErr)
	return nil
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Stop kills the process (continuing it first if it was paused).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause freezes the process (SIGSTOP); Resume continues it.
func (s *Server) Pause()  { _ = s.cmd.Process.Signal(syscall.SIGSTOP) }
func (s *Server) Resume() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }

// Info returns the text of a bulk-string reply (INFO, CLUSTER INFO, …).
func (s *Server) Info(args ...string) (string, error) { return doBulk(s.Addr, args...) }

// doBulk sends one command to addr and returns its bulk-string reply whole
// (or the reply's first line when it is not a bulk string).
func doBulk(addr string, args ...string) (string, error) {
	raw, err := exchange(addr, args)
	if err != nil {
		return "", err
	}
	if bulk, err := proto.ReadString(raw); err == nil {
		return bulk, nil
	}
	return firstLine(raw), nil
}

// Dump returns every key of addr's current database with its value (a
// string, or a hash's fields and values), raw, for tests that prove what
// a thief with a dump would not find.
func Dump(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	cl := proto.NewClient(c)
	keys, err := cl.DoStrings("KEYS", "*")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, k := range keys {
		typ, err := cl.Do("TYPE", k)
		if err != nil {
			return "", err
		}
		cmd := []string{"GET", k}
		if strings.Contains(typ, "hash") {
			cmd = []string{"HGETALL", k}
		}
		v, err := cl.Do(cmd...)
		if err != nil {
			return "", err
		}
		b.WriteString(k + "\n" + v + "\n")
	}
	return b.String(), nil
}

// DoBulk is Do for a bulk-string reply (a value), returned whole.
func DoBulk(addr string, args ...string) (string, error) { return doBulk(addr, args...) }

// exchange sends one command on a fresh connection and returns the raw
// reply (miniredis's RESP codec); set-up code in tests must not depend on
// the code under test.
func exchange(addr string, args []string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return proto.NewClient(c).Do(args...)
}

func firstLine(raw string) string {
	line, _, _ := strings.Cut(raw, "\r\n")
	return line
}

// Do sends one command over a fresh connection and returns the first reply
// line, for test set-up that should not depend on the code under test.
func (s *Server) Do(args ...string) (string, error) {
	return Do(s.Addr, args...)
}

// Do sends one command to addr and returns the first line of its reply.
func Do(addr string, args ...string) (string, error) {
	raw, err := exchange(addr, args)
	return firstLine(raw), err
}

func (s *Server) waitReady(limit time.Duration) error {
	var reply string
	var err error
	if apitest.Eventually(limit, func() bool { reply, err = s.Do("PING"); return err == nil && reply == "+PONG" }) {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("PING answered %q", reply)
	}
	return err
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct{ Nodes []*Server }

// URL is the go-redis cluster URL: the first node, the rest as addr=.
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr
	for i, n := range c.Nodes[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + n.Addr
	}
	return u
}

// StartCluster starts n masters in cluster mode, joins them with
// redis-cli --cluster create (slots split evenly, no replicas) and waits
// until every node reports cluster_state:ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	args := []string{"--cluster", "create"}
	for range n {
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, s)
		args = append(args, s.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range c.Nodes {
		for {
			info, err := s.Info("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ok on %s: %q %v", s.Addr, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Sentinels is a master, one replica and three sentinels watching them.
type Sentinels struct {
	Master, Replica *Server
	Sentinels       []*Server
	MasterName      string
}

// URL is the go-redis failover URL: the sentinels and the master name.
func (s *Sentinels) URL() string {
	u := "redis://" + s.Sentinels[0].Addr + "?master_name=" + s.MasterName
	for _, x := range s.Sentinels[1:] {
		u += "&addr=" + x.Addr
	}
	return u
}

// MasterAddr asks a sentinel which address is the master now.
func (s *Sentinels) MasterAddr() (string, error) {
	raw, err := exchange(s.Sentinels[0].Addr, []string{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.MasterName})
	if err != nil {
		return "", err
	}
	parts, err := proto.ReadStrings(raw)
	if err != nil || len(parts) != 2 {
		return "", fmt.Errorf("unexpected reply %q", raw)
	}
	return net.JoinHostPort(parts[0], parts[1]), nil
}

// StartSentinels starts a master, a replica of it, and three sentinels with
// quorum 2 and a 1 s down-after, and waits until the sentinels know the
// replica.
func StartSentinels(t testing.TB) *Sentinels {
	t.Helper()
	s := &Sentinels{MasterName: "mymaster"}
	s.Master = Start(t)
	s.Replica = Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))
	waitFor(t, "replica in sync", func() bool {
		info, err := s.Replica.Info("INFO", "replication")
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for i := range 3 {
		conf := filepath.Join(t.TempDir(), fmt.Sprintf("sentinel-%d.conf", i))
		text := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 1000\n"+
			"sentinel failover-timeout %s 5000\n"+
			"sentinel parallel-syncs %s 1\n", s.MasterName, s.Master.Port, s.MasterName, s.MasterName, s.MasterName)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, start(t, conf, []string{"--sentinel"}))
	}
	waitFor(t, "sentinels see the replica", func() bool {
		for _, x := range s.Sentinels {
			info, err := x.Info("INFO", "sentinel")
			if err != nil || !strings.Contains(info, "slaves=1") || !strings.Contains(info, "sentinels=3") {
				return false
			}
		}
		return true
	})
	return s
}

func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	apitest.WaitFor(t, 20*time.Second, what, ok)
}

// FreePort is a loopback TCP port nothing listens on (for a second port of a
// server, such as --tls-port).
func FreePort(t testing.TB) int { return freePort(t) }
