package service

import (
	"context"
	"time"
)

func call(parent context.Context, do func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, time.Second)
	defer cancel()
	if err := do(ctx); err != nil {
		return err
	}
	cancel()
	return nil
}
