// Package netlab builds a small network of Linux network namespaces for one
// test — a hub namespace holding a bridge, one namespace per node on it,
// and a private link from the test to chosen nodes — and can partition it
// by moving nodes' bridge ports to a second, isolated bridge. Everything it
// makes is removed when the test ends (and leftovers of a killed run when
// the next one starts). It needs root and iproute2; no traffic leaves the
// namespaces it made, which have no default route.
package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// prefix names every namespace this package makes, so leftovers of a
// killed run can be found and removed.
const prefix = "ronl-"

// Lab is one test's network.
type Lab struct {
	t     testing.TB
	id    string
	hub   string
	mu    sync.Mutex
	nodes []*Node
	links int
	cut   map[*Node]bool
}

// Node is one namespace on the lab's bridge, at IP on 10.213.0.0/24.
type Node struct {
	Name string
	NS   string
	IP   string
	port string // its veth end in the hub namespace
}

// Possible says why a lab cannot be built here ("" when it can): not root,
// or no ip(8).
func Possible() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs ip(8) from iproute2"
	}
	return ""
}

// New builds the hub: a namespace with bridge br0 (the network) and br1
// (where partitioned nodes go).
func New(t testing.TB) *Lab {
	t.Helper()
	if why := Possible(); why != "" {
		t.Fatalf("netlab: %s", why)
	}
	removeLeftovers(t)
	l := &Lab{t: t, id: fmt.Sprintf("%d", os.Getpid()%100000), cut: map[*Node]bool{}}
	l.hub = prefix + l.id + "-hub"
	l.must("ip", "netns", "add", l.hub)
	t.Cleanup(l.remove)
	for _, br := range []string{"br0", "br1"} {
		l.in(l.hub, "ip", "link", "add", br, "type", "bridge")
		l.in(l.hub, "ip", "link", "set", br, "up")
	}
	l.in(l.hub, "ip", "link", "set", "lo", "up")
	return l
}

// Node adds a namespace on br0 with the next address.
func (l *Lab) Node(name string) *Node {
	l.t.Helper()
	l.mu.Lock()
	n := &Node{Name: name, NS: prefix + l.id + "-" + name, IP: fmt.Sprintf("10.213.0.%d", len(l.nodes)+1)}
	n.port = fmt.Sprintf("p%d", len(l.nodes)+1)
	l.nodes = append(l.nodes, n)
	l.mu.Unlock()
	l.must("ip", "netns", "add", n.NS)
	l.in(n.NS, "ip", "link", "set", "lo", "up")
	// eth0 in the node, its peer in the hub on br0.
	l.in(n.NS, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", n.port, "netns", l.hub)
	l.in(n.NS, "ip", "addr", "add", n.IP+"/24", "dev", "eth0")
	l.in(n.NS, "ip", "link", "set", "eth0", "up")
	l.in(l.hub, "ip", "link", "set", n.port, "master", "br0")
	l.in(l.hub, "ip", "link", "set", n.port, "up")
	return n
}

// Link gives the test (the root namespace) its own path to n, outside the
// bridge, so partitions never cut the test off: it returns the address of
// n on that link (10.214.k.2; the test's end is 10.214.k.1).
func (l *Lab) Link(n *Node) string {
	l.t.Helper()
	l.mu.Lock()
	l.links++
	k := l.links
	l.mu.Unlock()
	root, node := fmt.Sprintf("%sl%d", prefix, k), "test0"
	l.must("ip", "link", "add", root, "type", "veth", "peer", "name", node, "netns", n.NS)
	l.must("ip", "addr", "add", fmt.Sprintf("10.214.%d.1/30", k), "dev", root)
	l.must("ip", "link", "set", root, "up")
	l.in(n.NS, "ip", "addr", "add", fmt.Sprintf("10.214.%d.2/30", k), "dev", node)
	l.in(n.NS, "ip", "link", "set", node, "up")
	return fmt.Sprintf("10.214.%d.2", k)
}

// Partition moves nodes to br1: they reach each other, and nothing else.
func (l *Lab) Partition(nodes ...*Node) {
	l.t.Helper()
	for _, n := range nodes {
		l.in(l.hub, "ip", "link", "set", n.port, "master", "br1")
		l.cut[n] = true
	}
}

// Heal puts every partitioned node back on br0.
func (l *Lab) Heal() {
	l.t.Helper()
	for n := range l.cut {
		l.in(l.hub, "ip", "link", "set", n.port, "master", "br0")
		delete(l.cut, n)
	}
}

// Command runs name in n's namespace (ip netns exec replaces itself with
// the program: the process is the program).
func (n *Node) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.NS, name}, args...)...)
}

func (l *Lab) in(ns string, args ...string) {
	l.t.Helper()
	l.must(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.t.Fatalf("netlab: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// remove deletes the namespaces (which takes their veths with them) and
// the test's links.
func (l *Lab) remove() {
	for k := 1; k <= l.links; k++ {
		_ = exec.Command("ip", "link", "del", fmt.Sprintf("%sl%d", prefix, k)).Run()
	}
	for _, n := range l.nodes {
		_ = exec.Command("ip", "netns", "del", n.NS).Run()
	}
	_ = exec.Command("ip", "netns", "del", l.hub).Run()
}

// removeLeftovers deletes what a killed earlier run left behind.
func removeLeftovers(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("netlab: ip netns list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); strings.HasPrefix(name, prefix) {
			_ = exec.Command("ip", "netns", "del", name).Run()
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for line := range strings.Lines(string(links)) {
		if _, rest, ok := strings.Cut(line, ": "); ok {
			name, _, _ := strings.Cut(rest, "@")
			name, _, _ = strings.Cut(name, ":")
			if strings.HasPrefix(name, prefix) {
				_ = exec.Command("ip", "link", "del", name).Run()
			}
		}
	}
}
