package lowprio

import (
	"runtime"
	"syscall"
)

// niceness is the lowest priority: a nice-19 thread gets about 1.5% of a
// core against one nice-0 thread that wants it all (CFS weights 15:1024).
const niceness = 19

func run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // and never unlock: the thread exits with this goroutine
		// Best effort: without it f runs at normal priority, as elsewhere.
		_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), niceness)
		f()
	}()
	<-done
}

// priority is the calling thread's nice value (for tests).
func priority() (int, error) {
	// getpriority(2) returns 20 - nice through the raw syscall.
	r, _, errno := syscall.Syscall(syscall.SYS_GETPRIORITY, syscall.PRIO_PROCESS, uintptr(syscall.Gettid()), 0)
	if errno != 0 {
		return 0, errno
	}
	return 20 - int(r), nil
}
