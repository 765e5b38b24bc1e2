package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime"
	"strings"
	"testing"

	"github.com/readonce/readonce/client/e2e"
	"github.com/readonce/readonce/internal/apitest"
	"github.com/readonce/readonce/internal/redistest"
	"github.com/readonce/readonce/server"
)

// filesSuite runs on miniredis here and on a real redis-server in the
// integration build (TestIntegrationAPI).
func filesSuite(t *testing.T, be backend) {
	t.Run("files: JSON reveal with name and type, once", func(t *testing.T) { testFileReveal(t, startApp(t, be)) })
	t.Run("files: downloads are attachments, never rendered", func(t *testing.T) { testFileDownload(t, startApp(t, be)) })
	t.Run("files: every rejection names its field and stores nothing", func(t *testing.T) { testFileRejections(t, startApp(t, be)) })
	t.Run("files: 1 MiB, and one byte more is a JSON 413", func(t *testing.T) { testFileSizes(t, startApp(t, be)) })
	t.Run("files: behind a passphrase", func(t *testing.T) { testFilePassphrase(t, startApp(t, be)) })
	t.Run("files: a dump holds neither the name nor the bytes", func(t *testing.T) { testFileDump(t, startApp(t, be)) })
	t.Run("files: 20 concurrent readers, one reveal", func(t *testing.T) {
		a := startApp(t, be)
		key := a.createFile(t, []byte("raced for"), "race.txt", "")
		apitest.ExactlyOne(t, 20, func() int { return a.do("GET", "/api/v1/secrets/"+key, "").Status })
	})
}

func TestFiles(t *testing.T) { filesSuite(t, miniBackend(t)) }

// createFile creates a file secret and returns its access key.
func (a *app) createFile(t *testing.T, data []byte, name, mediaType string) string {
	t.Helper()
	body := map[string]any{"content_base64": base64.StdEncoding.EncodeToString(data)}
	if name != "" {
		body["filename"] = name
	}
	if mediaType != "" {
		body["media_type"] = mediaType
	}
	b, _ := json.Marshal(body)
	r := a.do("POST", "/api/v1/secrets/", string(b))
	if r.Status != 201 {
		t.Fatalf("create a file: %d %s", r.Status, r.Body)
	}
	return r.JSON(t).String(t, "access_key")
}

func testFileReveal(t *testing.T, a *app) {
	data := []byte("apiVersion: v1\nkind: Config\nusers: [{name: ci, user: {token: s3cr3t}}]\n\x00\xff")
	key := a.createFile(t, data, "kubeconfig.yaml", "Application/YAML")
	r := a.do("GET", "/api/v1/secrets/"+key, "")
	got := r.JSON(t)
	decoded, err := base64.StdEncoding.DecodeString(got.String(t, "content_base64"))
	if r.Status != 200 || err != nil || !bytes.Equal(decoded, data) || got["filename"] != "kubeconfig.yaml" ||
		got["media_type"] != "application/yaml" || got["created_at"] == nil || got["content"] != nil || len(got) != 4 {
		t.Fatalf("reveal of a file: %d %s", r.Status, r.Body)
	}
	if r := a.do("GET", "/api/v1/secrets/"+key, ""); r.Status != 404 {
		t.Errorf("second reveal: %d", r.Status)
	}
	key = a.createFile(t, []byte("no name"), "", "")
	if got := a.do("GET", "/api/v1/secrets/"+key, "").JSON(t); got["filename"] != nil || got["media_type"] != "application/octet-stream" {
		t.Errorf("a file without a name or type: %v", got)
	}
	if got := a.do("GET", "/api/v1/secrets/"+a.create("still text"), "").JSON(t); got["content"] != "still text" || got["content_base64"] != nil {
		t.Errorf("a text secret's reveal changed: %v", got)
	}
}

// testFileDownload: Accept: application/octet-stream gives the bytes as an
// attachment whatever the sealed type (HTML and SVG included), with the
// name in RFC 8187 form that Go's own MIME parser reads back exactly.
func testFileDownload(t *testing.T, a *app) {
	for _, c := range []struct{ name, mediaType, want string }{
		{"page.html", "text/html", `attachment; filename="page.html"; filename*=UTF-8''page.html`},
		{"logo.svg", "image/svg+xml", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`},
		{`résumé "final";v2.pdf`, "application/pdf", `attachment; filename="r_sum___final__v2.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%3Bv2.pdf`},
		{"שלום.txt", "", ""},    // right-to-left letters are a name, not an override
		{"a;b=c d.env", "", ""}, // parameter syntax inside the name stays inside it
		{"", "", "attachment"},
	} {
		data := []byte("<script>alert(1)</script><svg onload=alert(2)>\x00")
		key := a.createFile(t, data, c.name, c.mediaType)
		r := a.do("GET", "/api/v1/secrets/"+key, "", "Accept", "application/octet-stream")
		if r.Status != 200 || !bytes.Equal(r.Body, data) || r.Header.Get("Content-Type") != "application/octet-stream" ||
			r.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("download of %q: %d %q %v", c.name, r.Status, r.Body, r.Header)
		}
		cd := r.Header.Get("Content-Disposition")
		if c.want != "" && cd != c.want {
			t.Errorf("Content-Disposition for %q: %s, want %s", c.name, cd, c.want)
		}
		disposition, params, err := mime.ParseMediaType(cd)
		if err != nil || disposition != "attachment" || params["filename"] != c.name {
			t.Errorf("Content-Disposition %q reads back as (%q, %q, %v), want the name %q", cd, disposition, params["filename"], err, c.name)
		}
	}
	key := a.create("text as a download: ✓")
	r := a.do("GET", "/api/v1/secrets/"+key, "", "Accept", "text/html;q=0.9, application/octet-stream")
	if r.Status != 200 || string(r.Body) != "text as a download: ✓" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="secret.txt"`) {
		t.Errorf("a text secret downloaded: %d %q %q", r.Status, r.Body, r.Header.Get("Content-Disposition"))
	}
	key = a.createFile(t, []byte("x"), "x.bin", "")
	if r := a.do("GET", "/api/v1/secrets/"+key, "", "Accept", "application/octet-stream;q=0, application/json"); r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("q=0 still downloaded: %q", r.Header.Get("Content-Type"))
	}
}

func testFileRejections(t *testing.T, a *app) {
	before := a.be.dbsize(t)
	b64 := base64.StdEncoding.EncodeToString([]byte("file?>>"))
	for _, c := range []struct{ body, field, typ string }{
		{`{"content":"x","content_base64":"eA=="}`, "content_base64", "mutually_exclusive"},
		{`{}`, "content", "missing"},
		{`{"content_base64":"` + base64.URLEncoding.EncodeToString([]byte("file?>>")) + `"}`, "content_base64", "base64"},
		{`{"content_base64":"` + strings.TrimRight(b64, "=") + `"}`, "content_base64", "base64"},
		{`{"content_base64":"` + b64[:4] + `\n` + b64[4:] + `"}`, "content_base64", "base64"},
		{`{"content_base64":"eB=="}`, "content_base64", "base64"}, // non-zero trailing bits
		{`{"content_base64":""}`, "content_base64", "string_too_short"},
		{`{"content_base64":42}`, "content_base64", "string_type"},
		{`{"content_base64":"eA==","filename":"../../etc/passwd"}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":"dir\\name"}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":"two\nlines"}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":"invoice\u202Efdp.exe"}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":"\u2066isolated"}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":".."}`, "filename", "filename"},
		{`{"content_base64":"eA==","filename":"` + strings.Repeat("n", 256) + `"}`, "filename", "string_too_long"},
		{`{"content_base64":"eA==","filename":""}`, "filename", "string_too_short"},
		{`{"content":"x","filename":"a.txt"}`, "filename", "file_field_without_file"},
		{`{"content":"x","media_type":"text/plain"}`, "media_type", "file_field_without_file"},
		{`{"content_base64":"eA==","media_type":"not a type"}`, "media_type", "media_type"},
		{`{"content_base64":"eA==","media_type":"text/"}`, "media_type", "media_type"},
		{`{"content_base64":"eA==","media_type":"a/b/c"}`, "media_type", "media_type"},
	} {
		r := a.do("POST", "/api/v1/secrets/", c.body)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"loc":["body","`+c.field+`"]`) || !strings.Contains(string(r.Body), `"type":"`+c.typ+`"`) {
			t.Errorf("%.70s: %d %s, want 422 %s on %s", c.body, r.Status, r.Body, c.typ, c.field)
		}
	}
	if got := a.be.dbsize(t); got > before { // fewer is an earlier test's tombstone expiring
		t.Errorf("rejected creates stored %d keys", got-before)
	}
	key := a.createFile(t, []byte("x"), "x", "Text/Plain; Charset=UTF-8")
	if got := a.do("GET", "/api/v1/secrets/"+key, "").JSON(t); got["media_type"] != "text/plain; charset=UTF-8" {
		t.Errorf("media type kept as %v, want the canonical form", got["media_type"])
	}
}

func testFileSizes(t *testing.T, a *app) {
	mib := bytes.Repeat([]byte{0xa5}, 1<<20)
	key := a.createFile(t, mib, "one.mib", "")
	r := a.do("GET", "/api/v1/secrets/"+key, "", "Accept", "application/octet-stream")
	if r.Status != 200 || !bytes.Equal(r.Body, mib) {
		t.Fatalf("a 1 MiB file: %d, %d bytes", r.Status, len(r.Body))
	}
	before := a.be.dbsize(t)
	over := `{"content_base64":"` + base64.StdEncoding.EncodeToString(append(mib, 1)) + `"}`
	r = a.do("POST", "/api/v1/secrets/", over)
	if r.Status != 413 || !strings.Contains(r.JSON(t).String(t, "detail"), "content_base64") {
		t.Errorf("a file of MAX_FILE_BYTES + 1: %d %s, want a JSON 413 naming content_base64", r.Status, r.Body)
	}
	// An end-to-end ciphertext may be what a file of MAX_FILE_BYTES becomes
	// (padded, with its name and type inside), and no more; a plain file,
	// or one with a name beside it, may not.
	bound := e2e.MaxLen(1 << 20)
	ciphertext := func(n int, extra string) string {
		return `{"content_base64":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, n)) + `","media_type":"` + e2e.MediaType + `"` + extra + `}`
	}
	if r := a.do("POST", "/api/v1/secrets/", ciphertext(bound, "")); r.Status != 201 {
		t.Errorf("an end-to-end ciphertext of %d bytes (a 1 MiB file's bound): %d %.200s, want 201", bound, r.Status, r.Body)
	}
	before = a.be.dbsize(t)
	for what, body := range map[string]string{
		"an end-to-end ciphertext one byte over its bound": ciphertext(bound+1, ""),
		"a ciphertext over MAX_FILE_BYTES with a filename": ciphertext(1<<20+1, `,"filename":"x.bin"`),
		"a plain file of the ciphertext's bound":           `{"content_base64":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, bound)) + `"}`,
	} {
		if r := a.do("POST", "/api/v1/secrets/", body); r.Status != 413 || !strings.Contains(r.JSON(t).String(t, "detail"), "content_base64") {
			t.Errorf("%s: %d %.200s, want a JSON 413 naming content_base64", what, r.Status, r.Body)
		}
	}
	huge := `{"content_base64":"` + strings.Repeat("A", server.MaxBodyBytes(maxContent, 1<<20)) + `"}`
	if r := a.rawPost("/api/v1/secrets/", huge); r.Status != 413 || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("a body over the limit: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	if got := a.be.dbsize(t); got > before { // fewer is an earlier test's tombstone expiring
		t.Errorf("oversized creates stored %d keys", got-before)
	}
}

func testFilePassphrase(t *testing.T, a *app) {
	b, _ := json.Marshal(map[string]any{"content_base64": base64.StdEncoding.EncodeToString([]byte("client\nremote vpn 1194\n")),
		"filename": "office.ovpn", "passphrase": "by phone"})
	r := a.do("POST", "/api/v1/secrets/", string(b))
	if r.Status != 201 || r.JSON(t)["passphrase_required"] != true {
		t.Fatalf("a protected file: %d %s", r.Status, r.Body)
	}
	key := r.JSON(t).String(t, "access_key")
	wantAttempts(t, a.do("GET", "/api/v1/secrets/"+key, "", "Accept", "application/octet-stream"), "Passphrase required", 5)
	r = a.do("POST", "/api/v1/secrets/"+key+"/reveal", `{"passphrase":"by phone"}`)
	if got := r.JSON(t); r.Status != 200 || got["filename"] != "office.ovpn" || got["content_base64"] != base64.StdEncoding.EncodeToString([]byte("client\nremote vpn 1194\n")) {
		t.Errorf("the protected file revealed: %d %s", r.Status, r.Body)
	}
}

func testFileDump(t *testing.T, a *app) {
	const name, data = "dump-canary-name-Qx81.env", "DUMP_CANARY_BYTES=Mw27v"
	key := a.createFile(t, []byte(data), name, "text/x-dump-canary")
	dump, err := redistest.Dump(a.be.addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{name, "dump-canary", data, base64.StdEncoding.EncodeToString([]byte(data)), "x-dump-canary", key} {
		if strings.Contains(dump, s) {
			t.Errorf("Redis holds %q", s)
		}
	}
	if logs := a.logs.String(); strings.Contains(logs, "dump-canary") || strings.Contains(logs, "DUMP_CANARY") {
		t.Error("the log holds the file's name or bytes")
	}
}
