package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/readonce/readonce/client/e2e"
	"github.com/readonce/readonce/seal"
)

// createRequest is the decoded body of POST /api/v1/secrets/.
type createRequest struct {
	Content []byte // text ("content"), or a file's bytes ("content_base64")
	// File: the content came as content_base64, with an optional name and
	// a media type (application/octet-stream when none was given).
	File      bool
	Filename  string
	MediaType string
	TTL       time.Duration // from ttl_hours or ttl_seconds; 0 when both are absent or null
	Receipt   bool          // "receipt": true
	// Passphrase protects the secret when not empty; the caller clears it.
	Passphrase []byte
}

// maxPassphraseBytes bounds a passphrase: room for any passphrase a person
// types or a manager generates, and a fixed ceiling on what Argon2 hashes.
const maxPassphraseBytes = 1024

// minTTLSeconds is the shortest lifetime ttl_seconds accepts.
const minTTLSeconds = 60

// maxFieldErrors bounds the 422 list: a body of 78 000 unknown fields gets
// ten entries and a count, not a 6.5 MB answer.
const maxFieldErrors = 10

// fieldError is one entry of a 422 detail list, in FastAPI's shape.
type fieldError struct {
	Loc  []string `json:"loc"`
	Msg  string   `json:"msg"`
	Type string   `json:"type"`
}

// The body is not a JSON object at all (400).
var (
	errNotJSON   = &apiError{kind: kindBadBody, detail: "Request body is not valid JSON"}
	errNotObject = &apiError{kind: kindBadBody, detail: "Request body must be a JSON object"}
)

// decodeCreate parses body strictly: exactly one JSON object; only the known
// fields, each at most once; content a non-empty string of valid UTF-8 (no
// replacement characters slipped in for bad bytes or lone surrogates) of at
// most maxContent bytes; ttl_hours an integer literal within [1, maxTTL] or
// null, or ttl_seconds one within [60, maxTTL×3600] or null, never both;
// receipt true or false. A typo must not turn into a silent default.
//
// It fails with errNotJSON or errNotObject for a body that is not one JSON
// object, and with a kindInvalid error listing every field at fault.
func decodeCreate(body []byte, maxContent, maxFile, maxTTL int) (createRequest, error) {
	var req createRequest
	var seenContent, seenFile, seenName, seenType, seenHours, seenSeconds, seenReceipt, seenPassphrase bool
	var hours, seconds int
	var tooLarge error
	maxCiphertext := e2e.MaxLen(maxFile)
	errs, more, err := decodeObject(body, func(name string, val jsontext.Value) *fieldError {
		var fe *fieldError
		switch {
		case name == "content" && !seenContent:
			seenContent = true
			if !seenFile {
				req.Content, fe = decodeText(val, name, maxContent)
			}
		case name == "content_base64" && !seenFile:
			seenFile = true
			if !seenContent {
				req.File = true
				// Up to an end-to-end ciphertext's bound for now: which it is
				// shows in media_type, which may come later.
				req.Content, fe, tooLarge = decodeBase64(val, name, maxCiphertext)
			}
		case name == "filename" && !seenName:
			seenName = true
			req.Filename, fe = decodeFilename(val, name)
		case name == "media_type" && !seenType:
			seenType = true
			req.MediaType, fe = decodeMediaType(val, name)
		case name == "ttl_hours" && !seenHours:
			seenHours = true
			hours, fe = decodeInt(val, name, 1, maxTTL)
		case name == "ttl_seconds" && !seenSeconds:
			seenSeconds = true
			seconds, fe = decodeInt(val, name, minTTLSeconds, maxTTL*3600)
		case name == "receipt" && !seenReceipt:
			seenReceipt = true
			req.Receipt, fe = decodeBool(val, name)
		case name == "passphrase" && !seenPassphrase:
			seenPassphrase = true
			req.Passphrase, fe = decodeText(val, name, maxPassphraseBytes)
		case createFields[name]:
			fe = &fieldError{loc(name), "Field given more than once", "duplicate_field"}
		default:
			fe = &fieldError{loc(printable(name)), "Extra inputs are not permitted", "extra_forbidden"}
		}
		return fe
	})
	// MAX_FILE_BYTES bounds a file; an end-to-end ciphertext (the marked
	// media type, no name) may be what a file of that size becomes.
	if tooLarge == nil && req.File && len(req.Content) > maxFile && (req.MediaType != e2e.MediaType || seenName) {
		tooLarge = errFileTooLarge("content_base64", maxFile)
	}
	if err == nil && tooLarge != nil && len(errs) == 0 && more == 0 {
		err = tooLarge // the body is sound but for the file's decoded size: 413
	}
	if err == nil {
		switch {
		case seenContent && seenFile:
			errs = append(errs, fieldError{loc("content_base64"), "Give content or content_base64, not both", "mutually_exclusive"})
		case !seenContent && !seenFile:
			errs = append(errs, fieldError{loc("content"), "Field required (or content_base64 for a file)", "missing"})
		case !req.File && (seenName || seenType):
			field := "filename"
			if !seenName {
				field = "media_type"
			}
			errs = append(errs, fieldError{loc(field), "Only with content_base64: a text secret has no file name or type", "file_field_without_file"})
		}
		if hours != 0 && seconds != 0 {
			errs = append(errs, fieldError{loc("ttl_seconds"), "Give ttl_hours or ttl_seconds, not both", "mutually_exclusive"})
		}
		err = invalid(errs, more)
	}
	if err != nil {
		clear(req.Content)
		clear(req.Passphrase)
		return createRequest{}, err
	}
	req.TTL = time.Duration(hours)*time.Hour + time.Duration(seconds)*time.Second
	if req.File && req.MediaType == "" {
		req.MediaType = "application/octet-stream"
	}
	return req, nil
}

// createFields are the names a create body may hold (each once).
var createFields = map[string]bool{
	"content": true, "content_base64": true, "filename": true, "media_type": true,
	"ttl_hours": true, "ttl_seconds": true, "receipt": true, "passphrase": true,
}

// decodeReveal parses the body of POST /api/v1/secrets/{key}/reveal: one
// JSON object, with at most a "passphrase" (as on create). An empty body
// is {}. The passphrase is the caller's to clear.
func decodeReveal(body []byte) (passphrase []byte, err error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	seen := false
	errs, more, err := decodeObject(body, func(name string, val jsontext.Value) *fieldError {
		var fe *fieldError
		switch {
		case name == "passphrase" && !seen:
			seen = true
			passphrase, fe = decodeText(val, name, maxPassphraseBytes)
		case name == "passphrase":
			fe = &fieldError{loc(name), "Field given more than once", "duplicate_field"}
		default:
			fe = &fieldError{loc(printable(name)), "Extra inputs are not permitted", "extra_forbidden"}
		}
		return fe
	})
	if err == nil {
		err = invalid(errs, more)
	}
	if err != nil {
		clear(passphrase)
		return nil, err
	}
	return passphrase, nil
}

// decodeObject reads body as exactly one JSON object and hands each member
// to member, which returns the member's fault or nil. It keeps the first
// maxFieldErrors faults and counts the rest (a hostile body must not grow
// the answer); a body that is not one JSON object is errNotJSON or
// errNotObject.
func decodeObject(body []byte, member func(name string, val jsontext.Value) *fieldError) (errs []fieldError, more int, err error) {
	dec := decoders.Get().(*pooledDecoder)
	defer dec.release()
	dec.reset(body)
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, 0, errNotJSON
	}
	if tok.Kind() != '{' {
		return nil, 0, errNotObject
	}
	for dec.PeekKind() != '}' {
		nameTok, err := dec.ReadToken()
		if err != nil {
			return nil, 0, errNotJSON
		}
		name := nameTok.String() // before the next read voids the token
		val, err := dec.ReadValue()
		if err != nil {
			return nil, 0, errNotJSON
		}
		switch fe := member(name, val); {
		case fe == nil:
		case len(errs) < maxFieldErrors:
			errs = append(errs, *fe)
		default:
			more++
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return nil, 0, errNotJSON
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, 0, errNotJSON // trailing data after the object
	}
	return errs, more, nil
}

// invalid is the 422 for errs and more faults not listed, or nil for none.
func invalid(errs []fieldError, more int) error {
	if more > 0 {
		errs = append(errs, fieldError{[]string{"body"}, "and " + strconv.Itoa(more) + " more errors not listed", "too_many_errors"})
	}
	if len(errs) == 0 {
		return nil
	}
	return &apiError{kind: kindInvalid, fields: errs}
}

// Decoders are pooled: a fresh jsontext.Decoder allocates its buffers, and
// one runs per create.
var decoders = sync.Pool{New: func() any { return new(pooledDecoder) }}

type pooledDecoder struct {
	jsontext.Decoder
	r bytes.Reader
}

// reset points the decoder at body. It is lenient at the token level so
// that bad UTF-8 and duplicates come back to decodeCreate as precise 422s
// instead of generic syntax errors.
func (d *pooledDecoder) reset(body []byte) {
	d.r.Reset(body)
	d.Reset(&d.r, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
}

// release drops the reference to the request body and returns d to the pool.
func (d *pooledDecoder) release() {
	d.r.Reset(nil)
	decoders.Put(d)
}

// decodeText reads a non-empty JSON string of valid UTF-8 of at most limit
// bytes (content, a passphrase). A value refused is cleared.
func decodeText(val jsontext.Value, field string, limit int) ([]byte, *fieldError) {
	if val.Kind() != '"' {
		return nil, &fieldError{loc(field), "Input should be a valid string", "string_type"}
	}
	text, err := jsontext.AppendUnquote(nil, val) // strict: rejects bad UTF-8
	switch {
	case err != nil:
		clear(text)
		return nil, &fieldError{loc(field), "Input should be a valid string of UTF-8 text", "string_unicode"}
	case len(text) == 0:
		return nil, &fieldError{loc(field), "String should have at least 1 character", "string_too_short"}
	case len(text) > limit:
		clear(text)
		return nil, &fieldError{loc(field), "String should have at most " + strconv.Itoa(limit) + " bytes", "string_too_long"}
	}
	return text, nil
}

// decodeBase64 reads a file's bytes: standard base64 (RFC 4648 §4, the
// '+' and '/' alphabet) with its padding, strictly — no URL-safe alphabet,
// no missing or extra padding, no whitespace or line breaks, no non-zero
// trailing bits — of 1 to maxFile bytes once decoded. Too many bytes is not
// a 422 but the 413 tooLarge, naming the field; nothing is decoded then.
func decodeBase64(val jsontext.Value, field string, maxFile int) (data []byte, fe *fieldError, tooLarge error) {
	if val.Kind() != '"' {
		return nil, &fieldError{loc(field), "Input should be a valid string", "string_type"}, nil
	}
	// Base64 needs no JSON escapes: read it in place, without a copy of a
	// megabyte and a third, unless the client escaped it anyway.
	text := val[1 : len(val)-1]
	if bytes.IndexByte(text, '\\') >= 0 {
		var err error
		if text, err = jsontext.AppendUnquote(nil, val); err != nil {
			return nil, &fieldError{loc(field), "Input should be standard base64 (RFC 4648, with padding)", "base64"}, nil
		}
	}
	enc := base64.StdEncoding.Strict()
	switch n := enc.DecodedLen(len(text)); {
	case bytes.ContainsAny(text, "\r\n"): // Strict still skips line breaks; we do not
		return nil, &fieldError{loc(field), "Input should be standard base64 (RFC 4648, with padding)", "base64"}, nil
	case len(text) == 0:
		return nil, &fieldError{loc(field), "A file of at least 1 byte", "string_too_short"}, nil
	case n-2 > maxFile: // DecodedLen counts padding as bytes: at most 2 too many
		return nil, nil, errFileTooLarge(field, maxFile)
	}
	data = make([]byte, enc.DecodedLen(len(text)))
	n, err := enc.Decode(data, text)
	switch {
	case err != nil:
		clear(data)
		return nil, &fieldError{loc(field), "Input should be standard base64 (RFC 4648, with padding)", "base64"}, nil
	case n > maxFile:
		clear(data)
		return nil, nil, errFileTooLarge(field, maxFile)
	}
	return data[:n], nil, nil
}

// errFileTooLarge is the 413 of a file over max bytes (for an end-to-end
// ciphertext, max is its bound for a file of MAX_FILE_BYTES).
func errFileTooLarge(field string, max int) error {
	return &apiError{kind: kindTooLarge, detail: field + " decodes to more than MAX_FILE_BYTES allows (" + strconv.Itoa(max) + " bytes)"}
}

// decodeFilename reads a file name that is safe to hand back in a header
// and a page: 1–255 bytes of UTF-8, not "." or "..", and none of '/', '\',
// control characters (C0, DEL, C1) or bidirectional overrides and isolates
// (U+202A–U+202E, U+2066–U+2069), which can make "evil.exe" read as
// "exe.live". Refused, never cleaned: a name quietly changed is a surprise.
func decodeFilename(val jsontext.Value, field string) (string, *fieldError) {
	raw, fe := decodeText(val, field, seal.MaxFilenameBytes)
	if fe != nil {
		return "", fe
	}
	name := string(raw)
	if name == "." || name == ".." {
		return "", &fieldError{loc(field), "A file name, not a directory reference", "filename"}
	}
	for _, r := range name {
		switch {
		case r == '/' || r == '\\':
			return "", &fieldError{loc(field), "A file name without '/' or '\\'", "filename"}
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return "", &fieldError{loc(field), "A file name without control characters", "filename"}
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return "", &fieldError{loc(field), "A file name without bidirectional override characters", "filename"}
		}
	}
	return name, nil
}

// decodeMediaType reads a MIME type (RFC 2045 syntax, mime.ParseMediaType)
// and returns it in canonical form (lower-case type, parameters sorted), at
// most 255 bytes. It is sealed and given back in JSON, never as a
// Content-Type: a download is always application/octet-stream.
func decodeMediaType(val jsontext.Value, field string) (string, *fieldError) {
	raw, fe := decodeText(val, field, 1024)
	if fe != nil {
		return "", fe
	}
	mt, params, err := mime.ParseMediaType(string(raw))
	canonical := ""
	if err == nil && strings.Count(mt, "/") == 1 {
		canonical = mime.FormatMediaType(mt, params)
	}
	switch {
	case canonical == "":
		return "", &fieldError{loc(field), "Input should be a media type such as application/yaml", "media_type"}
	case len(canonical) > seal.MaxMediaTypeBytes:
		return "", &fieldError{loc(field), "A media type of at most " + strconv.Itoa(seal.MaxMediaTypeBytes) + " bytes", "string_too_long"}
	}
	return canonical, nil
}

// decodeBool reads true or false; null, strings and numbers are refused
// (a "yes" must not quietly mean no).
func decodeBool(val jsontext.Value, field string) (bool, *fieldError) {
	switch val.Kind() {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	}
	return false, &fieldError{loc(field), "Input should be a valid boolean", "bool_type"}
}

// decodeInt reads an integer literal within [lo, hi], or null (0).
func decodeInt(val jsontext.Value, field string, lo, hi int) (int, *fieldError) {
	switch val.Kind() {
	case 'n':
		return 0, nil
	case '0':
	default:
		return 0, &fieldError{loc(field), "Input should be a valid integer", "int_type"}
	}
	if bytes.ContainsAny(val, ".eE") {
		return 0, &fieldError{loc(field), "Input should be a valid integer, got a number with a fractional part or exponent", "int_from_float"}
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	switch {
	case err != nil && n > 0, err == nil && n > int64(hi):
		return 0, &fieldError{loc(field), "Input should be less than or equal to " + strconv.Itoa(hi), "less_than_equal"}
	case err != nil, n < int64(lo):
		return 0, &fieldError{loc(field), "Input should be greater than or equal to " + strconv.Itoa(lo), "greater_than_equal"}
	}
	return int(n), nil
}

func loc(field string) []string { return []string{"body", field} }

// printable bounds an unknown field name before it is echoed back in a 422,
// and keeps it valid UTF-8.
func printable(name string) string {
	const limit = 64
	if len(name) > limit {
		name = name[:limit]
	}
	return string(bytes.ToValidUTF8([]byte(name), []byte("\uFFFD")))
}
