// Package lowprio runs CPU-bound work that must not hold up anything else:
// on Linux, on an OS thread of its own at the lowest scheduling priority.
package lowprio

// Run calls f and returns when it has returned. On Linux f runs on a fresh
// OS thread niced to 19: the kernel gives every other thread of the machine
// (this server's request handlers, Redis) the CPU first, and f what is left.
// The thread is never unlocked, so Go ends it with f's goroutine and its
// priority never reaches other work. Elsewhere f runs as it is.
func Run(f func()) { run(f) }
