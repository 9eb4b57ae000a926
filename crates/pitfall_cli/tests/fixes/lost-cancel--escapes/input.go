package service

import (
	"context"
	"time"
)

// The context outlives the call in a goroutine: `defer cancel()` would end
// it early, so the fix is only offered as unsafe.
func start(parent context.Context, work func(context.Context)) {
	ctx, cancel := context.WithTimeout(parent, time.Minute)
	go work(ctx)
	if parent.Err() != nil {
		return
	}
	cancel()
}
