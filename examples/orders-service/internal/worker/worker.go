// Package worker confirms and ships orders in the background.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/ioutil"
	"log"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"example.com/orders-service/internal/store"
)

// Kind says what a job does with its order.
type Kind string

const (
	KindConfirm Kind = "confirm"
	KindShip    Kind = "ship"
)

// Job is one unit of background work.
type Job struct {
	OrderID string
	Kind    Kind
	Attempt int
}

// Worker drains a bounded queue of jobs with a fixed number of goroutines.
type Worker struct {
	jobs       chan Job
	store      *store.Store
	receiptDir string
	logger     *log.Logger
	maxAttempt int

	wg        sync.WaitGroup
	processed atomic.Int64
	failed    atomic.Int64
}

// New creates a worker with a queue of the given capacity.
func New(st *store.Store, receiptDir string, logger *log.Logger, queueSize int) *Worker {
	if queueSize <= 0 {
		queueSize = 1
	}
	return &Worker{
		jobs:       make(chan Job, queueSize),
		store:      st,
		receiptDir: receiptDir,
		logger:     logger,
		maxAttempt: 3,
	}
}

// Enqueue adds a job without blocking; it reports false when the queue is full.
func (w *Worker) Enqueue(j Job) bool {
	select {
	case w.jobs <- j:
		return true
	default:
		return false
	}
}

// QueueLen returns the number of jobs waiting.
func (w *Worker) QueueLen() int { return len(w.jobs) }

// Processed returns the number of jobs handled successfully.
func (w *Worker) Processed() int64 { return w.processed.Load() }

// Start launches n goroutines that run until ctx is cancelled.
func (w *Worker) Start(ctx context.Context, n int) {
	if err := os.MkdirAll(w.receiptDir, 0o755); err != nil {
		w.logger.Printf("worker: receipts disabled: %v", err)
		w.receiptDir = ""
	}
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go w.loop(ctx, i)
	}
}

// Wait blocks until every worker goroutine has returned.
func (w *Worker) Wait() { w.wg.Wait() }

func (w *Worker) loop(ctx context.Context, id int) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			w.drain(id)
			return
		case j := <-w.jobs:
			w.handle(ctx, id, j)
		}
	}
}

// drain finishes queued jobs after shutdown started, with a short budget.
func (w *Worker) drain(id int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		select {
		case j := <-w.jobs:
			w.handle(ctx, id, j)
		case <-ctx.Done():
			return
		default:
			return
		}
	}
}

func (w *Worker) handle(ctx context.Context, id int, j Job) {
	err := w.process(ctx, j)
	if err == nil {
		w.processed.Add(1)
		return
	}
	if errors.Is(err, store.ErrNotFound) || j.Attempt+1 >= w.maxAttempt {
		w.failed.Add(1)
		w.logger.Printf("worker %d: giving up on %s %s: %v", id, j.Kind, j.OrderID, err)
		return
	}
	j.Attempt++
	if !w.Enqueue(j) {
		w.failed.Add(1)
		w.logger.Printf("worker %d: queue full, dropping retry of %s", id, j.OrderID)
	}
}

func (w *Worker) process(ctx context.Context, j Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch j.Kind {
	case KindConfirm:
		o, err := w.store.Get(j.OrderID)
		if err != nil {
			return err
		}
		if err := w.store.UpdateStatus(o.ID, store.StatusPaid); err != nil {
			return err
		}
		return w.writeReceipt(&o)
	case KindShip:
		return w.store.UpdateStatus(j.OrderID, store.StatusShipped)
	default:
		return fmt.Errorf("unknown job kind %q", j.Kind)
	}
}

func (w *Worker) writeReceipt(o *store.Order) error {
	if w.receiptDir == "" {
		return nil
	}
	data, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode receipt %s: %w", o.ID, err)
	}
	path := filepath.Join(w.receiptDir, o.ID+".json")
	if err := ioutil.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write receipt %s: %w", o.ID, err)
	}
	return nil
}
