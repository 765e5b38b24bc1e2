// Command floor is the HTTP floor of this machine: a fasthttp server that
// answers every request with one constant JSON body (201 to a POST, 200
// otherwise), touching no store. What a request costs readonce beyond what
// it costs floor is readonce's own work; the bench runs it beside readonce
// and the baseline and states results as ratios to it.
//
//	PORT=8002 go run ./bench/floor
package main

import (
	"fmt"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8002"
	}
	// The shape of a create answer, so the harness finds an access key in it.
	body := []byte(`{"access_key":"floorfloorfloorfloorfloorfloorfloorfloor123","content":"floor","created_at":"2026-12-01T00:00:00.000000Z"}`)
	h := func(ctx *fasthttp.RequestCtx) {
		status := fasthttp.StatusOK
		if ctx.IsPost() {
			status = fasthttp.StatusCreated
		}
		ctx.SetStatusCode(status)
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}
	if err := fasthttp.ListenAndServe("127.0.0.1:"+port, h); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
