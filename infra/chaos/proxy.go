// Package chaos runs Sunset's real handlers against the local stack through a proxy that
// injects faults, from a seed, and checks what must hold whatever happens: nothing sent twice,
// nothing lost, no lease left held (docs/reliability.md). `make chaos SEEDS=n` runs it for n
// seeds; `make test` runs one short seed.
package chaos

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Fault is one kind of injected failure.
type Fault string

// The faults. Resets and timeouts are the network's; the rest are answers the service could give.
const (
	Latency     Fault = "latency"      // the request waits up to MaxLatency, then goes through
	ResetBefore Fault = "reset-before" // the connection drops before the service sees the request
	ResetAfter  Fault = "reset-after"  // the service answers, then the connection drops: done, but the caller cannot know
	ServerError Fault = "500"          // the service answers 500 without doing anything
	Throttle    Fault = "throttle"     // DynamoDB's ProvisionedThroughputExceeded or ThrottlingException; SES's TooManyRequests; S3's SlowDown
	Timeout     Fault = "timeout"      // the request hangs past the client's timeout (after the service did it, half the time)
)

// Faults are every fault, in the order reports list them.
var Faults = []Fault{Latency, ResetBefore, ResetAfter, ServerError, Throttle, Timeout}

// Rates are the share of requests that get each fault (the rest go through untouched).
type Rates map[Fault]float64

// Proxy is an HTTP proxy in front of one local service that injects faults at Rates, drawn from
// its own seeded source: the same seed and the same order of requests give the same faults.
type Proxy struct {
	Service    string // "dynamodb", "ses" or "s3": how a throttle or a 500 is spelt
	Target     *url.URL
	Rates      Rates
	MaxLatency time.Duration
	// Hang is how long a Timeout holds the request: longer than the clients' timeout.
	Hang time.Duration

	mu       sync.Mutex
	rng      *rand.Rand
	counts   map[Fault]int
	requests int
	off      bool
	rp       *httputil.ReverseProxy
}

// NewProxy is a proxy to target for service, its faults drawn from seed.
func NewProxy(service, target string, rates Rates, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Service: service, Target: u, Rates: rates, MaxLatency: 50 * time.Millisecond, Hang: 3 * time.Second,
		rng: rand.New(rand.NewPCG(seed, uint64(len(service)))), counts: map[Fault]int{}}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // a killed process's requests end mid-way
	return p, nil
}

// Off stops injecting faults (the settling phase of a run); On starts again.
func (p *Proxy) Off() { p.mu.Lock(); p.off = true; p.mu.Unlock() }

// On injects faults again.
func (p *Proxy) On() { p.mu.Lock(); p.off = false; p.mu.Unlock() }

// Counts are the faults injected so far, and how many requests came.
func (p *Proxy) Counts() (map[Fault]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[Fault]int{}
	for k, v := range p.counts {
		out[k] = v
	}
	return out, p.requests
}

// draw picks this request's fault ("" for none), and a number for its details.
func (p *Proxy) draw() (Fault, float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if p.off {
		return "", 0
	}
	x, y := p.rng.Float64(), p.rng.Float64()
	for _, f := range Faults {
		if x < p.Rates[f] {
			p.counts[f]++
			return f, y
		}
		x -= p.Rates[f]
	}
	return "", y
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, y := p.draw()
	switch f {
	case Latency:
		time.Sleep(time.Duration(y * float64(p.MaxLatency)))
	case ResetBefore:
		reset(w)
		return
	case ResetAfter:
		p.forward(r)
		reset(w)
		return
	case ServerError:
		if p.Service == "s3" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>injected by chaos</Message></Error>`)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"__type":"InternalServerError","message":"injected by chaos"}`)
		return
	case Throttle:
		p.throttle(w, y)
		return
	case Timeout:
		if y < 0.5 {
			p.forward(r)
		}
		time.Sleep(p.Hang)
		reset(w)
		return
	}
	p.rp.ServeHTTP(w, r)
}

// throttle answers as the service does when it throttles.
func (p *Proxy) throttle(w http.ResponseWriter, y float64) {
	if p.Service == "s3" {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<Error><Code>SlowDown</Code><Message>injected by chaos: reduce your request rate</Message></Error>`)
		return
	}
	if p.Service == "ses" {
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"message":"injected by chaos: too many requests"}`)
		return
	}
	kind := "ProvisionedThroughputExceededException"
	if y < 0.5 {
		kind = "ThrottlingException"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by chaos"}`, kind)
}

// forward lets the service do the request; its answer is thrown away.
func (p *Proxy) forward(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.Target.ResolveReference(&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String(), bytes.NewReader(body))
	if err == nil {
		req.Header = r.Header.Clone()
		if resp, err := http.DefaultTransport.RoundTrip(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// reset drops the client's connection without an answer.
func reset(w http.ResponseWriter) {
	if h, ok := w.(http.Hijacker); ok {
		if c, _, err := h.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
