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
// so no goroutine outlives it. A notifier that panics yields an error in its
// Result instead of taking the caller down.
func Fanout(ctx context.Context, e Event, targets map[string]Notifier) []Result {
	results := make([]Result, 0, len(targets))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, n := range targets {
		wg.Go(func() {
			r := sendOne(ctx, name, n, e)
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Name < results[j].Name })
	return results
}

func sendOne(ctx context.Context, name string, n Notifier, e Event) (r Result) {
	start := time.Now()
	r.Name = name
	defer func() {
		if p := recover(); p != nil {
			r.Err = fmt.Errorf("notify: %s panicked: %v", name, p)
		}
		r.Duration = time.Since(start)
	}()
	if n == nil {
		r.Err = fmt.Errorf("notify: %s: no notifier", name)
		return r
	}
	r.Receipt, r.Err = n.Send(ctx, e)
	return r
}
