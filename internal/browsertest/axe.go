package browsertest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/chromedp/chromedp"
)

// axeScript finds axe-core's browser bundle: AXE_CORE_JS, or the copy `make
// axe` installs from the npm registry beside this file (version pinned, with
// its integrity hash, in axe/package-lock.json).
func axeScript() (string, error) {
	path := os.Getenv("AXE_CORE_JS")
	if path == "" {
		_, here, _, _ := runtime.Caller(0)
		path = filepath.Join(filepath.Dir(here), "axe", "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("axe-core is not installed (make axe, which runs npm ci in internal/browsertest/axe): %w", err)
	}
	return string(src), nil
}

// Violation is one failed axe-core rule on the page.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"` // CSS selectors of the failing elements
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s at %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
}

// AuditWCAG runs axe-core on the current page against the WCAG 2.0 and 2.1
// A and AA rules and returns what fails. The script is injected through the
// DevTools protocol, so the page's CSP (which allows no such script) stays
// as it is in production.
func (b *Browser) AuditWCAG() []Violation {
	b.t.Helper()
	src, err := axeScript()
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Run(b.Ctx, chromedp.Evaluate[any](src+";0")); err != nil {
		b.t.Fatalf("injecting axe-core: %v", err)
	}
	const run = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.map(n => n.target.join(" "))})))`
	out, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]Violation](run, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("running axe-core: %v", err)
	}
	return out
}
