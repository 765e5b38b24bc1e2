package lowprio

import (
	"runtime"
	"testing"
)

// f runs at nice 19, and the caller's thread keeps its own priority.
func TestRunNicesOnlyItsThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := priority()
	if err != nil {
		t.Fatal(err)
	}
	var inside int
	ran := false
	Run(func() {
		ran = true
		inside, err = priority()
	})
	if !ran || err != nil || inside != niceness {
		t.Fatalf("inside Run: ran %v, nice %d (%v), want %d", ran, inside, err, niceness)
	}
	if after, _ := priority(); after != before {
		t.Errorf("the caller's thread went from nice %d to %d", before, after)
	}
}
