// Command baseline is the one-time secret server a competent engineer writes
// in an afternoon: fasthttp and go-redis, SET EX to create and GETDEL to
// reveal, one Redis round trip per request, and nothing else — no
// validation beyond JSON, no sealing, no logging, no metrics. It speaks the
// same v1 API as readonce so the bench can compare the two.
//
//	REDIS_URL=redis://127.0.0.1:6379 PORT=8001 go run ./bench/baseline
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"
)

func main() {
	opts, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline: REDIS_URL:", err)
		os.Exit(1)
	}
	rdb := redis.NewClient(opts)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8001"
	}
	h := func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		switch {
		case ctx.IsPost() && (path == "/api/v1/secrets/" || path == "/api/v1/secrets"):
			var req struct {
				Content  string `json:"content"`
				TTLHours int    `json:"ttl_hours"`
			}
			if json.Unmarshal(ctx.PostBody(), &req) != nil || req.Content == "" {
				ctx.Error(`{"detail":"bad request"}`, 422)
				return
			}
			if req.TTLHours == 0 {
				req.TTLHours = 24
			}
			var k [32]byte
			_, _ = rand.Read(k[:])
			key := base64.RawURLEncoding.EncodeToString(k[:])
			ttl := time.Duration(req.TTLHours) * time.Hour
			if err := rdb.Set(context.Background(), "secret:"+key, req.Content, ttl).Err(); err != nil {
				ctx.Error(`{"detail":"unavailable"}`, 503)
				return
			}
			out, _ := json.Marshal(map[string]string{
				"access_key": key,
				"expires_at": time.Now().Add(ttl).UTC().Format("2006-01-02T15:04:05.000000Z"),
				"secret_url": "http://localhost:" + port + "/api/v1/secrets/" + key,
			})
			ctx.SetStatusCode(201)
			ctx.SetContentType("application/json")
			ctx.SetBody(out)
		case ctx.IsGet() && len(path) > len("/api/v1/secrets/") && path[:len("/api/v1/secrets/")] == "/api/v1/secrets/":
			content, err := rdb.GetDel(context.Background(), "secret:"+path[len("/api/v1/secrets/"):]).Result()
			if errors.Is(err, redis.Nil) {
				ctx.SetStatusCode(404)
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"detail":"Secret not found"}`)
				return
			}
			if err != nil {
				ctx.Error(`{"detail":"unavailable"}`, 503)
				return
			}
			out, _ := json.Marshal(map[string]string{"content": content, "created_at": time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")})
			ctx.SetContentType("application/json")
			ctx.SetBody(out)
		default:
			ctx.Error(`{"detail":"Not Found"}`, 404)
		}
	}
	if err := fasthttp.ListenAndServe("127.0.0.1:"+port, h); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
