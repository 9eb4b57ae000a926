package service

import (
	"context"
	"errors"
)

func fetch(ctx context.Context, load func() int) (int, error) {
	result := make(chan int)
	go func() {
		result <- load()
	}()
	select {
	case v := <-result:
		return v, nil
	case <-ctx.Done():
		return 0, errors.New("timed out")
	}
}
