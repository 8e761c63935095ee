package notify

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Result is what one destination of a Fanout did with the event.
type Result struct {
	Name     string
	Receipt  Receipt
	Err      error
	Duration time.Duration
}

// Fanout sends e to every notifier in targets at once, keyed by name, and
// returns one Result per name, sorted by name. One slow or failing
// destination delays no other; Fanout returns when every Send has returned,
// so no goroutine outlives it. A notifier that panics, or ends its goroutine
// with runtime.Goexit, yields an error in its Result instead of taking the
// caller down or losing the Result.
func Fanout(ctx context.Context, e Event, targets map[string]Notifier) []Result {
	results := make([]Result, 0, len(targets))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, n := range targets {
		wg.Go(func() {
			sendOne(ctx, name, n, e, func(r Result) {
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
		})
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	return results
}

// sendOne sends e with n and hands the Result to done from a deferred call,
// so that done runs however Send ends: a return, a panic or runtime.Goexit
// (which runs deferred calls but skips everything after Send).
func sendOne(ctx context.Context, name string, n Notifier, e Event, done func(Result)) {
	start := time.Now()
	r := Result{Name: name}
	returned := false
	defer func() {
		if p := recover(); p != nil {
			r.Err = fmt.Errorf("notify: %s panicked: %v", name, p)
		} else if !returned {
			r.Err = fmt.Errorf("notify: %s: Send ended its goroutine (runtime.Goexit) without returning", name)
		}
		r.Duration = time.Since(start)
		done(r)
	}()
	if n == nil {
		r.Err = fmt.Errorf("notify: %s: no notifier", name)
		returned = true
		return
	}
	r.Receipt, r.Err = n.Send(ctx, e)
	returned = true
}
