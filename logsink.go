package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logSink batches log lines into fewer write syscalls: one access line per
// request would otherwise cost one write(2) each, a measurable share of a
// request at tens of thousands per second. Lines are flushed every interval
// and on Close; a crash can lose at most one interval of lines.
type logSink struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newLogSink(w io.Writer, interval time.Duration) *logSink {
	s := &logSink{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.flush()
			case <-s.stop:
				s.flush()
				return
			}
		}
	}()
	return s
}

// Write takes one whole log record (slog handlers write each record in one
// call), so records are never interleaved.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.buf.Flush()
}

// Close flushes what is buffered and stops the flusher.
func (s *logSink) Close() error {
	close(s.stop)
	<-s.done
	return nil
}
