package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	roclient "github.com/readonce/readonce/client"
	"github.com/readonce/readonce/internal/apitest"
)

// The command line, tested as people and pipelines run it: the real
// binary (built once per test run) against a real server (the same binary,
// serving with its embedded store).

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary is readonce built from this tree.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "readonce-cli-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "readonce")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cliServer runs `readonce serve` on a free loopback port, its PUBLIC_URL
// that address, and returns the URL.
func cliServer(t *testing.T, env ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	base := "http://127.0.0.1:" + port
	cmd := exec.Command(binary(t), "serve")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PORT=" + port, "HOST=127.0.0.1", "PUBLIC_URL=" + base,
		"LOG_FORMAT=json", "LOG_LEVEL=debug", "PASSPHRASE_QUEUE_WAIT=30s"}, env...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	apitest.WaitFor(t, 15*time.Second, "readonce serve to answer /health", func() bool {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return base
}

// ran is one run of the binary.
type ran struct {
	code           int
	stdout, stderr string
}

// ro runs `readonce args…` with stdin and env (READONCE_URL and friends).
func ro(t *testing.T, env []string, stdin []byte, args ...string) ran {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := ran{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// want fails unless r exited with code and stderr says every one of says.
func (r ran) want(t *testing.T, what string, code int, says ...string) ran {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	for _, s := range says {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("%s: stderr %q does not say %q", what, r.stderr, s)
		}
	}
	return r
}

// secrets collects every link, key and token the tests make, to check
// that no error message ever held one.
type secrets struct {
	mu     sync.Mutex
	values []string
	errs   []string
}

func (s *secrets) link(t *testing.T, link string) string {
	t.Helper()
	link = strings.TrimSpace(link)
	key, clientKey, err := roclient.ParseLink(link)
	if err != nil {
		t.Fatalf("not a link: %v", err)
	}
	s.mu.Lock()
	s.values = append(s.values, key)
	if clientKey != "" {
		s.values = append(s.values, clientKey)
	}
	s.mu.Unlock()
	return link
}

func (s *secrets) run(t *testing.T, env []string, stdin []byte, args ...string) ran {
	t.Helper()
	r := ro(t, env, stdin, args...)
	s.mu.Lock()
	s.errs = append(s.errs, r.stderr)
	s.mu.Unlock()
	return r
}

func (s *secrets) check(t *testing.T) {
	t.Helper()
	if len(s.values) == 0 {
		t.Fatal("no secrets were collected: the check proves nothing")
	}
	for _, e := range s.errs {
		for _, v := range s.values {
			if strings.Contains(e, v) {
				t.Errorf("an error message holds a key: %q", e)
			}
		}
	}
}

func TestCLISendGet(t *testing.T) {
	base := cliServer(t)
	env := []string{"READONCE_URL=" + base}
	s := &secrets{}
	defer s.check(t)

	// Text through pipes, exactly: the trailing newline too.
	text := "pässwörd 🔑\nline two\n"
	link := s.link(t, s.run(t, env, []byte(text), "send", "--ttl", "15m").want(t, "send", 0).stdout)
	if !strings.HasPrefix(link, base+"/s#") || !strings.Contains(link[len(base):], ".") {
		t.Fatalf("send printed %q, want an end-to-end share link", link)
	}
	// End-to-end: what the server holds is the marked ciphertext.
	got := s.run(t, env, nil, "get", link).want(t, "get", 0)
	if got.stdout != text {
		t.Fatalf("get printed %q, want %q", got.stdout, text)
	}
	s.run(t, env, nil, "get", link).want(t, "a second get", 3, "not found", "intercepted")

	// --server-sealed: the server encrypts; a plain reveal shows the text.
	link = s.link(t, s.run(t, env, []byte("sealed by the server"), "send", "--server-sealed").want(t, "send --server-sealed", 0).stdout)
	if strings.Contains(link[len(base):], ".") {
		t.Fatalf("--server-sealed printed an end-to-end link %q", link)
	}
	key, _ := roclient.KeyOf(link)
	resp, err := http.Get(base + "/api/v1/secrets/" + key)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct{ Content string }
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	if raw.Content != "sealed by the server" {
		t.Errorf("a server-sealed secret revealed %q by plain HTTP", raw.Content)
	}

	// Binary stdin (a NUL, not UTF-8) goes as a nameless file, exactly.
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n'}
	link = s.link(t, s.run(t, env, bin, "send").want(t, "send binary", 0).stdout)
	if got := s.run(t, env, nil, "get", link).want(t, "get binary", 0); got.stdout != string(bin) {
		t.Errorf("binary round trip: %q", got.stdout)
	}

	// --json, both ways; a link made by the API client opens with the CLI.
	var sent struct {
		ShareURL  string `json:"share_url"`
		EndToEnd  bool   `json:"end_to_end"`
		ExpiresAt string `json:"expires_at"`
	}
	out := s.run(t, env, []byte("as json"), "send", "--json").want(t, "send --json", 0).stdout
	if err := json.Unmarshal([]byte(out), &sent); err != nil || !sent.EndToEnd || sent.ExpiresAt == "" {
		t.Fatalf("send --json: %q %v", out, err)
	}
	s.link(t, sent.ShareURL)
	var revealed struct {
		Content   string `json:"content"`
		CreatedAt string `json:"created_at"`
	}
	out = s.run(t, env, nil, "get", "--json", sent.ShareURL).want(t, "get --json", 0).stdout
	if err := json.Unmarshal([]byte(out), &revealed); err != nil || revealed.Content != "as json" || revealed.CreatedAt == "" {
		t.Errorf("get --json: %q %v", out, err)
	}
	api, _ := roclient.New(base, nil, "")
	made, err := api.Create(t.Context(), "made by the Go client", roclient.CreateOptions{EndToEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.run(t, env, nil, "get", s.link(t, made.ShareURL)).want(t, "get a client's link", 0); got.stdout != "made by the Go client" {
		t.Errorf("a Go client's link opened as %q", got.stdout)
	}
	// Without READONCE_URL a full link names its server.
	link = s.link(t, s.run(t, env, []byte("found by its link"), "send").stdout)
	if got := s.run(t, nil, nil, "get", link).want(t, "get without READONCE_URL", 0); got.stdout != "found by its link" {
		t.Errorf("got %q", got.stdout)
	}
}

func TestCLIFiles(t *testing.T) {
	base := cliServer(t) // MAX_FILE_BYTES 1 MiB: a 1 MiB file fits end-to-end, padding and all
	env := []string{"READONCE_URL=" + base}
	s := &secrets{}
	defer s.check(t)
	dir := t.TempDir()

	data := make([]byte, 1<<20)
	rand.Read(data)
	in := filepath.Join(dir, "backup.tar.gz")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	link := s.link(t, s.run(t, env, nil, "send", "--file", in, "--ttl", "2h").want(t, "send a 1 MiB file", 0).stdout)

	// -o onto a file that exists: refused before any request, secret kept.
	existing := filepath.Join(dir, "taken")
	os.WriteFile(existing, []byte("keep me"), 0o644)
	s.run(t, env, nil, "get", link, "-o", existing).want(t, "get -o an existing file", 2, "exists", "nothing was revealed")
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatal("the existing file was changed")
	}
	// -o into a directory that does not exist: refused, secret kept.
	s.run(t, env, nil, "get", link, "-o", filepath.Join(dir, "no", "such", "dir")).want(t, "get -o a bad path", 2, "nothing was revealed")

	// --force replaces it, 0600, with the exact bytes.
	meta := s.run(t, env, nil, "get", link, "-o", existing, "--force", "--json").want(t, "get -o --force", 0).stdout
	fi, err := os.Stat(existing)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the written file: %v %v, want mode 0600", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(existing); !bytes.Equal(b, data) {
		t.Fatal("the written file differs from the one sent")
	}
	var m struct {
		Filename  string `json:"filename"`
		MediaType string `json:"media_type"`
		Bytes     int    `json:"bytes"`
		SavedTo   string `json:"saved_to"`
	}
	if json.Unmarshal([]byte(meta), &m); m.Filename != "backup.tar.gz" || m.MediaType != "application/gzip" || m.Bytes != 1<<20 || m.SavedTo != existing {
		t.Errorf("get --json of a file: %s", meta)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want 2 (no temporary file left)", len(entries))
	}

	// A new file: created 0600; to stdout, exactly.
	link = s.link(t, s.run(t, env, nil, "send", "--file", in).stdout)
	fresh := filepath.Join(dir, "fresh.bin")
	s.run(t, env, nil, "get", "-o", fresh, link).want(t, "get -o a new file", 0)
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a new -o file: %v", err)
	}
	link = s.link(t, s.run(t, env, nil, "send", "--file", in).stdout)
	if got := s.run(t, env, nil, "get", link).want(t, "get a file to stdout", 0); got.stdout != string(data) {
		t.Error("a file to stdout differs")
	}

	// Too large: server-sealed one byte over MAX_FILE_BYTES; end-to-end,
	// a ciphertext past what a MAX_FILE_BYTES file can become (the server
	// sees padding buckets, not the file's size).
	over := filepath.Join(dir, "over")
	os.WriteFile(over, make([]byte, 1<<20+1), 0o600)
	s.run(t, env, nil, "send", "--file", over, "--server-sealed").want(t, "send a file over the limit, server-sealed", 1, "too large")
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 1<<20+64<<10), 0o600)
	s.run(t, env, nil, "send", "--file", big).want(t, "send a file over the limit", 1, "too large", "MAX_FILE_BYTES", "nothing was stored")
	s.run(t, env, nil, "send", "--file", filepath.Join(dir, "missing")).want(t, "send a missing file", 2)
}

func TestCLIReceiptsAndBurn(t *testing.T) {
	base := cliServer(t)
	env := []string{"READONCE_URL=" + base}
	s := &secrets{}
	defer s.check(t)

	lines := strings.Split(strings.TrimSpace(s.run(t, env, []byte("watched"), "send", "--receipt").want(t, "send --receipt", 0).stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], base+"/r#") {
		t.Fatalf("send --receipt printed %q, want the share link then the receipt link", lines)
	}
	link, receipt := s.link(t, lines[0]), s.link(t, lines[1])
	if got := s.run(t, env, nil, "status", receipt).want(t, "status", 0).stdout; !strings.HasPrefix(got, "pending\n") {
		t.Errorf("status before the reveal: %q", got)
	}
	s.run(t, env, nil, "get", link).want(t, "get", 0)
	var r struct {
		State      string  `json:"state"`
		RevealedAt *string `json:"revealed_at"`
	}
	out := s.run(t, env, nil, "status", "--json", receipt).want(t, "status --json", 0).stdout
	if json.Unmarshal([]byte(out), &r); r.State != "revealed" || r.RevealedAt == nil {
		t.Errorf("status after the reveal: %s", out)
	}
	token := receipt[strings.Index(receipt, "#")+1:]
	s.run(t, env, nil, "burn", token).want(t, "burn a revealed secret by receipt", 3, "too late")

	lines = strings.Split(strings.TrimSpace(s.run(t, env, []byte("taken back"), "send", "--receipt").stdout), "\n")
	link, receipt = s.link(t, lines[0]), s.link(t, lines[1])
	if got := s.run(t, env, nil, "burn", receipt).want(t, "burn by receipt", 0).stdout; !strings.HasPrefix(got, "burned\n") {
		t.Errorf("burn by receipt printed %q", got)
	}
	s.run(t, env, nil, "get", link).want(t, "get a burned secret", 3, "intercepted")

	link = s.link(t, s.run(t, env, []byte("burn by link"), "send").stdout)
	s.run(t, env, nil, "burn", link).want(t, "burn by link", 0)
	s.run(t, env, nil, "burn", link).want(t, "burn it again", 3)
	s.run(t, env, nil, "status", strings.Repeat("A", 43)).want(t, "status of an unknown receipt", 3)
	s.run(t, env, nil, "status", link).want(t, "status of a share link", 2, "not a receipt")
}

func TestCLIPassphrase(t *testing.T) {
	base := cliServer(t)
	env := []string{"READONCE_URL=" + base}
	s := &secrets{}
	defer s.check(t)
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("incorrect horse\r\n"), 0o600)

	link := s.link(t, s.run(t, env, []byte("two factors"), "send", "--passphrase-file", pass).want(t, "send --passphrase-file", 0).stdout)
	s.run(t, env, nil, "get", link).want(t, "get without the passphrase (not a terminal)", 6, "--passphrase-file", "5 attempts left")
	s.run(t, env, nil, "get", link, "--passphrase-file", wrong).want(t, "a wrong passphrase", 6, "wrong passphrase", "4 attempts left")
	if got := s.run(t, env, nil, "get", link, "--passphrase-file", pass).want(t, "the right passphrase", 0); got.stdout != "two factors" {
		t.Errorf("got %q", got.stdout)
	}
	for _, r := range s.errs {
		if strings.Contains(r, "horse") {
			t.Errorf("an error message holds the passphrase: %q", r)
		}
	}
	s.run(t, env, nil, "send", "--passphrase-file", filepath.Join(dir, "none")).want(t, "a missing passphrase file", 2)
}

func TestCLIUsageAndFailures(t *testing.T) {
	base := cliServer(t, "REQUIRE_AUTH=true", "SECRET_KEY="+strongKey)
	env := []string{"READONCE_URL=" + base}
	s := &secrets{}
	defer s.check(t)

	s.run(t, env, []byte("x"), "send").want(t, "send without a token", 5, "READONCE_TOKEN")
	token := strings.TrimSpace(ro(t, []string{"SECRET_KEY=" + strongKey}, nil, "token", "--subject", "ci").want(t, "token", 0).stdout)
	withToken := append(env, "READONCE_TOKEN="+token)
	link := s.link(t, s.run(t, withToken, []byte("with a token"), "send").want(t, "send with a token", 0).stdout)

	for _, c := range []struct {
		what string
		env  []string
		in   string
		args []string
	}{
		{"no arguments to get", env, "", []string{"get"}},
		{"two links", env, "", []string{"get", link, link}},
		{"not a link", env, "", []string{"get", "https://example.com/s#hunter2"}},
		{"a damaged end-to-end key", env, "", []string{"get", link[:len(link)-1]}},
		{"an unknown flag", env, "", []string{"get", "--frobnicate", link}},
		{"the secret as an argument", withToken, "", []string{"send", "hunter2"}},
		{"empty stdin", withToken, "", []string{"send"}},
		{"a bad --ttl", withToken, "x", []string{"send", "--ttl", "soon"}},
		{"no server", nil, "x", []string{"send"}},
		{"an unknown command", env, "", []string{"fetch"}},
	} {
		r := s.run(t, c.env, []byte(c.in), c.args...)
		if c.what == "an unknown command" {
			if r.code == 0 || !strings.Contains(r.stderr, "unknown command") {
				t.Errorf("%s: exit %d %q", c.what, r.code, r.stderr)
			}
			continue
		}
		r.want(t, c.what, 2)
		if strings.Contains(r.stderr, "hunter2") {
			t.Errorf("%s: the error echoes the input: %q", c.what, r.stderr)
		}
	}
	// The usage errors above consumed nothing.
	if got := s.run(t, env, nil, "get", link).want(t, "get after the usage errors", 0); got.stdout != "with a token" {
		t.Errorf("got %q", got.stdout)
	}

	// A closed port: unavailable, and no key in the message.
	dead := []string{"READONCE_URL=http://127.0.0.1:1"}
	link = s.link(t, s.run(t, withToken, []byte("kept"), "send").stdout)
	key, _ := roclient.KeyOf(link)
	s.run(t, dead, nil, "get", key).want(t, "get from a closed port", 4, "could not be reached", "try again")
	s.run(t, dead, []byte("x"), "send").want(t, "send to a closed port", 4)
	s.run(t, dead, nil, "status", strings.Repeat("B", 43)).want(t, "status from a closed port", 4)
	s.run(t, []string{"READONCE_URL=" + base}, nil, "get", link).want(t, "the secret outlived the closed port", 0)
}

// The CI recipe in the README, run as the shell script it is.
func TestCLIRecipeInReadme(t *testing.T) {
	base := cliServer(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"github-actions", "gitlab-ci"} {
		script := recipe(t, string(readme), name)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "deploy-password"), []byte("s3cr3t from the vault\n"), 0o600)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		summary := filepath.Join(dir, "step-summary.md") // GitHub's job summary
		cmd.Env = []string{"PATH=" + filepath.Dir(binary(t)) + ":" + os.Getenv("PATH"), "HOME=" + dir,
			"READONCE_URL=" + base, "DEPLOY_PASSWORD=s3cr3t from the vault", "GITHUB_STEP_SUMMARY=" + summary}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the %s recipe failed: %v\n%s\nscript:\n%s", name, err, out, script)
		}
		if !strings.Contains(string(out), "recipe ok") || strings.Contains(string(out), "s3cr3t") {
			t.Errorf("the %s recipe did not finish, or printed the password: %s", name, out)
		}
		if name != "github-actions" {
			continue
		}
		if !strings.Contains(string(out), "pending") {
			t.Errorf("the receipt did not say pending: %s", out)
		}
		// The person who gets the link from the summary reads it once.
		text, _ := os.ReadFile(summary)
		link := strings.TrimSpace(string(text[bytes.LastIndex(text, []byte(": "))+2:]))
		if got := ro(t, nil, nil, "get", link).want(t, "open the summary's link", 0); got.stdout != "s3cr3t from the vault" {
			t.Errorf("the summary's link opened as %q", got.stdout)
		}
	}
}

// recipe is the shell in README.md's recipe block `name`: the lines of its
// `run: |` (GitHub Actions) or `script:` block (GitLab CI), unindented.
func recipe(t *testing.T, readme, name string) string {
	t.Helper()
	start := strings.Index(readme, "<!-- recipe: "+name+" -->")
	if start < 0 {
		t.Fatalf("README.md has no recipe %s", name)
	}
	block := readme[start:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	var script []string
	indent := -1
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case indent < 0 && (strings.HasSuffix(trimmed, "run: |") || trimmed == "- |"):
			indent = 0 // the block's lines follow
		case indent == 0 && trimmed != "":
			indent = len(line) - len(trimmed)
			script = append(script, trimmed)
		case indent > 0 && (trimmed == "" || len(line)-len(trimmed) >= indent):
			script = append(script, strings.TrimPrefix(line, strings.Repeat(" ", indent)))
		case indent > 0:
			return strings.Join(script, "\n")
		}
	}
	if len(script) == 0 {
		t.Fatalf("recipe %s has no script", name)
	}
	return strings.Join(script, "\n")
}

// At a terminal, get asks for the passphrase and the terminal does not
// echo it.
func TestCLIPassphrasePrompt(t *testing.T) {
	base := cliServer(t)
	env := []string{"READONCE_URL=" + base}
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	link := strings.TrimSpace(ro(t, env, []byte("asked for at a terminal"), "send", "--passphrase-file", pass).want(t, "send", 0).stdout)

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(binary(t), "get", link)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	closed := make(chan struct{}) // the terminal's last output read: every writer is gone
	go func() {
		defer close(closed)
		buf := make([]byte, 1024)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	if !apitest.Eventually(10*time.Second, func() bool { return strings.Contains(shown(), "Passphrase (5 attempts left): ") }) {
		cmd.Process.Kill()
		t.Fatalf("no prompt; the terminal shows %q", shown())
	}
	ptmx.Write([]byte("correct horse\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("get at a terminal: %v; the terminal shows %q", err, shown())
	}
	if stdout.String() != "asked for at a terminal" {
		t.Errorf("revealed %q", stdout.String())
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the terminal never closed")
	}
	if strings.Contains(shown(), "horse") {
		t.Errorf("the terminal echoed the passphrase: %q", shown())
	}
}
