// Package logbuf is a log sink for tests: many goroutines write log records
// to it, and the test reads them back whole.
package logbuf

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a goroutine-safe bytes.Buffer for log output.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the log, one record a line.
func (b *Buffer) Lines() []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}
