package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fasthttp"
)

// Handlers, guards and the decoder return errors; fail is the one place an
// error becomes a response, through the table below. A client only ever
// sees a fixed message: never a key, content or internal error text.

// kind is one way a request can fail.
type kind int

const (
	kindInternal           kind = iota // a bug: anything not classified below
	kindRouteNotFound                  // no such route
	kindMethodNotAllowed               // route exists, method does not
	kindSecretNotFound                 // unknown, expired, read or malformed key
	kindReceiptNotFound                // unknown, malformed or retired receipt token
	kindUnsupportedType                // Content-Type set and not JSON
	kindBadBody                        // not JSON, or not an object
	kindInvalid                        // 422: the fields are wrong
	kindTooLarge                       // body over the limit
	kindTimeout                        // request not read in time
	kindBadRequest                     // request not readable at all
	kindNotAuthenticated               // no bearer token
	kindInvalidToken                   // a token that does not verify
	kindRateLimited                    // a client's budget is spent
	kindUnavailable                    // the store failed; the outcome is unknown
	kindStorageFull                    // the store refused a write for memory
	kindCannotOpen                     // a stored secret was sealed under a key this server lacks; left in place
	kindCorrupt                        // a stored secret under this server's key failed to authenticate; consumed
	kindNotReady                       // /ready: the store cannot serve
	kindPanic                          // a handler panicked (logged with its stack where caught)
	kindTooManyConnections             // refused at accept: a client's or the server's connections are all taken
	kindEvicting                       // the store would evict live secrets: creates refused
	kindPassphraseRequired             // a protected secret read without a passphrase; nothing consumed
	kindWrongPassphrase                // a wrong passphrase, counted; the secret is left (or, at the limit, destroyed)
	kindPassphraseBusy                 // every Argon2 slot stayed taken; nothing was tried
	numKinds                           // not a kind: how many there are
)

// outcome is what a kind of failure becomes.
type outcome struct {
	status int
	detail string     // the fixed client message
	retry  bool       // answer with Retry-After
	log    string     // a log line of its own ("" for none: the access log says enough)
	level  slog.Level // of that line
}

// outcomes is the one table of failures.
var outcomes = [numKinds]outcome{
	kindInternal:           {500, "Internal Server Error", false, "internal error", slog.LevelError},
	kindRouteNotFound:      {404, "Not Found", false, "", 0},
	kindMethodNotAllowed:   {405, "Method Not Allowed", false, "", 0},
	kindSecretNotFound:     {404, "Secret not found, expired, or already read", false, "", 0},
	kindReceiptNotFound:    {404, "Receipt not found", false, "", 0},
	kindUnsupportedType:    {415, "Content-Type must be application/json", false, "", 0},
	kindBadBody:            {400, "Request body is not valid JSON", false, "", 0},
	kindInvalid:            {422, "", false, "", 0},
	kindTooLarge:           {413, "Request body too large", false, "", 0},
	kindTimeout:            {408, "Request timeout", false, "", 0},
	kindBadRequest:         {400, "Invalid HTTP request", false, "", 0},
	kindNotAuthenticated:   {401, "Not authenticated", false, "", 0},
	kindInvalidToken:       {401, "Could not validate credentials", false, "", 0},
	kindRateLimited:        {429, "Too many requests, slow down", true, "", 0},
	kindUnavailable:        {503, "Service temporarily unavailable, try again", true, "store unavailable", slog.LevelWarn},
	kindStorageFull:        {503, "storage full", true, "store unavailable", slog.LevelWarn},
	kindCannotOpen:         {503, "Service temporarily unavailable, try again", true, errCannotOpen.Error(), slog.LevelError},
	kindCorrupt:            {500, "Internal Server Error", false, errCorrupt.Error(), slog.LevelError},
	kindNotReady:           {503, "Store unavailable", true, "not ready", slog.LevelWarn},
	kindPanic:              {500, "Internal Server Error", false, "", 0},
	kindTooManyConnections: {503, "Too many connections, try again", true, "", 0},
	kindEvicting:           {503, "Storage would evict secrets; creates are refused", true, "store unavailable", slog.LevelWarn},
	kindPassphraseRequired: {403, "Passphrase required", false, "", 0},
	kindWrongPassphrase:    {403, "Wrong passphrase", false, "", 0},
	kindPassphraseBusy:     {503, "Too many passphrase checks at once, try again", true, "", 0},
}

// apiError is a failure that carries more than its kind.
type apiError struct {
	kind   kind
	detail string        // replaces the table's message: a 400's reason, /ready's fix
	fields []fieldError  // a 422's list
	retry  time.Duration // a 429's wait
	limit  string        // a 429's limit, for metrics
	left   int           // a 403's attempts_left
	cause  error         // what went wrong underneath, for the log only
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.cause.Error()
	}
	return fmt.Sprintf("request failed (%d)", outcomes[e.kind].status)
}

func (e *apiError) Unwrap() error { return e.cause }

// Failures with nothing but a kind.
var (
	errRouteNotFound    = &apiError{kind: kindRouteNotFound}
	errMethodNotAllowed = &apiError{kind: kindMethodNotAllowed}
	errUnsupportedType  = &apiError{kind: kindUnsupportedType}
	errNotAuthenticated = &apiError{kind: kindNotAuthenticated}
	errInvalidToken     = &apiError{kind: kindInvalidToken}
	errTooLarge         = &apiError{kind: kindTooLarge}
	errTimeout          = &apiError{kind: kindTimeout}
	errBadRequest       = &apiError{kind: kindBadRequest}
	errPanic            = &apiError{kind: kindPanic}
)

func statusText(code int) string { return fasthttp.StatusMessage(code) }

// retryAfterSeconds is what 503 answers suggest; Redis blips are short.
const retryAfterSeconds = "1"

// classify finds err's kind, and the apiError that refines it, if any.
func classify(err error) (kind, *apiError) {
	var api *apiError
	var full StoreError
	var why ReadinessError
	var store *storeFailed
	var attempts *attemptsError
	switch {
	case errors.As(err, &api):
		return api.kind, api
	case errors.As(err, &attempts) && attempts.wrong:
		return kindWrongPassphrase, &apiError{kind: kindWrongPassphrase, left: attempts.left}
	case errors.As(err, &attempts):
		return kindPassphraseRequired, &apiError{kind: kindPassphraseRequired, left: attempts.left}
	case errors.Is(err, errPassphraseBusy):
		return kindPassphraseBusy, nil
	case errors.Is(err, errCannotOpen):
		return kindCannotOpen, nil
	case errors.Is(err, errCorrupt):
		return kindCorrupt, nil
	case errors.Is(err, errSecretNotFound):
		return kindSecretNotFound, nil
	case errors.Is(err, errReceiptNotFound):
		return kindReceiptNotFound, nil
	case errors.As(err, &store) && errors.As(err, &full) && full.StorageFull():
		return kindStorageFull, nil
	case errors.As(err, &store) && errors.As(err, &why):
		// e.g. an eviction policy: the answer names what to fix
		return kindEvicting, &apiError{kind: kindEvicting, detail: why.ReadinessDetail(), cause: err}
	case errors.As(err, &store):
		return kindUnavailable, nil
	}
	return kindInternal, nil
}

// fail writes err as the client's answer, logs it and counts it.
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	k, api := classify(err)
	o := outcomes[k]
	h := &ctx.Response.Header
	switch {
	case k == kindRateLimited:
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(max(api.retry, time.Second).Seconds()))))
	case o.retry:
		h.Set("Retry-After", retryAfterSeconds)
	}
	switch k {
	case kindNotAuthenticated:
		h.Set("WWW-Authenticate", "Bearer")
	case kindInvalidToken:
		h.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}

	s.count(k, api, err)
	if o.log != "" {
		attrs := []slog.Attr{slog.String("request_id", requestID(ctx))}
		if op := failedOp(err); op != "" {
			attrs = append(attrs, slog.String("op", op))
		}
		if err.Error() != o.log { // else its message is the line itself
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		s.log.LogAttrs(ctx, o.level, o.log, attrs...)
	}

	detail := o.detail
	if api != nil && api.detail != "" {
		detail = api.detail
	}
	ctx.SetStatusCode(o.status)
	ctx.SetContentType("application/json")
	if k == kindInvalid {
		ctx.SetBody(appendFieldErrors(nil, api.fields))
		return
	}
	b := append([]byte(`{"detail":`), quote(detail)...)
	if k == kindPassphraseRequired || k == kindWrongPassphrase {
		b = strconv.AppendInt(append(b, `,"attempts_left":`...), int64(api.left), 10)
	}
	ctx.SetBody(append(b, '}'))
}

// count feeds the metrics that follow from a failure.
func (s *Server) count(k kind, api *apiError, err error) {
	var store *storeFailed
	switch {
	case k == kindSecretNotFound:
		s.metrics.notFound.Inc()
	case k == kindRateLimited:
		s.metrics.rateLimited.WithLabelValues(api.limit).Inc()
	case k == kindWrongPassphrase:
		s.metrics.wrongPassphrases.Inc()
		if api.left == 0 { // this guess spent the last attempt: the secret is gone
			s.metrics.burned.WithLabelValues("attempts").Inc()
		}
	case k == kindPassphraseBusy:
		s.metrics.passphraseBusy.Inc()
	case errors.As(err, &store):
		s.metrics.storeError(store.op, store.err)
	}
}

// failedOp names the operation a store or internal error came from.
func failedOp(err error) string {
	var store *storeFailed
	var internal *internalFailed
	switch {
	case errors.As(err, &store):
		return store.op
	case errors.As(err, &internal):
		return internal.op
	}
	return ""
}

// appendFieldErrors writes a 422 body: FastAPI's list of {loc, msg, type}.
func appendFieldErrors(b []byte, errs []fieldError) []byte {
	b = append(b, `{"detail":[`...)
	for i, e := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"loc":[`...)
		for j, l := range e.Loc {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendQuote(b, l)
		}
		b = append(b, `],"msg":`...)
		b = appendQuote(b, e.Msg)
		b = append(b, `,"type":`...)
		b = appendQuote(b, e.Type)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func quote(s string) []byte { return appendQuote(nil, s) }

// appendQuote appends s as a JSON string. Content was checked to be valid
// UTF-8 on the way in; anything else here would be a bug, answered with the
// replacement character rather than invalid JSON.
func appendQuote[T ~string | ~[]byte](dst []byte, s T) []byte {
	b, err := jsontext.AppendQuote(dst, s)
	if err != nil {
		b, _ = jsontext.AppendQuote(dst, "\uFFFD")
	}
	return b
}

// panicked is the router's PanicHandler: 500 with a fixed message, and the
// stack in the log. The panic value itself is not logged: it could quote
// request data.
func (s *Server) panicked(ctx *fasthttp.RequestCtx, v any) {
	id := requestID(ctx)
	s.log.Error("panic in handler", "request_id", id, "panic_type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	securityHeaders(ctx)
	ctx.Response.Header.Set(headerRequestID, id)
	s.fail(ctx, errPanic)
}

// transportError is fasthttp's ErrorHandler: the request could not be read
// at all, so no route ran and the access log did not see it. fasthttp's
// default would answer 400 text/plain even for a large body.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	securityHeaders(ctx)
	var t interface{ Timeout() bool }
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.fail(ctx, errTooLarge)
	case errors.As(err, &t) && t.Timeout():
		s.fail(ctx, errTimeout)
	default:
		s.fail(ctx, errBadRequest)
	}
	s.log.Info("request", "route", "", "status", ctx.Response.StatusCode(), "error", "unreadable request")
}
