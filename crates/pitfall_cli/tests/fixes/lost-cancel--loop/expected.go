package service

import (
	"context"
	"time"
)

// In a loop, a deferred cancel runs only when the function returns: every
// iteration's timer stays until then, so the fix is only offered as unsafe.
func poll(parent context.Context, ready func(context.Context) bool) {
	for {
		ctx, cancel := context.WithTimeout(parent, time.Second)
		defer cancel()
		if ready(ctx) {
			return
		}
		cancel()
	}
}
