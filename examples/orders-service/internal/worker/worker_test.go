package worker

import (
	"context"
	"io"
	"log"
	"runtime"
	"testing"
	"time"

	"example.com/orders-service/internal/store"
)

func newTestOrder(id string) store.Order {
	return store.Order{
		ID:         id,
		CustomerID: "c-1",
		Currency:   "EUR",
		Items:      []store.LineItem{{SKU: "sku-1", Quantity: 2, PriceCents: 1250}},
	}
}

func TestConfirmMarksOrderPaid(t *testing.T) {
	st := store.New()
	if _, err := st.Create(newTestOrder("o-1")); err != nil {
		t.Fatal(err)
	}
	w := New(st, t.TempDir(), log.New(io.Discard, "", 0), 8)
	ctx, cancel := context.WithCancel(context.Background())
	w.Start(ctx, 1)
	if !w.Enqueue(Job{OrderID: "o-1", Kind: KindConfirm}) {
		t.Fatal("queue unexpectedly full")
	}

	deadline := time.After(2 * time.Second)
	for w.Processed() < 1 {
		select {
		case <-deadline:
			t.Fatal("job was not processed in time")
		default:
			runtime.Gosched()
		}
	}
	cancel()
	w.Wait()

	got, err := st.Get("o-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.StatusPaid {
		t.Fatalf("status = %s, want %s", got.Status, store.StatusPaid)
	}
}

func TestEnqueueReportsFullQueue(t *testing.T) {
	w := New(store.New(), t.TempDir(), log.New(io.Discard, "", 0), 1)
	if !w.Enqueue(Job{OrderID: "a", Kind: KindShip}) {
		t.Fatal("first enqueue failed")
	}
	if w.Enqueue(Job{OrderID: "b", Kind: KindShip}) {
		t.Fatal("second enqueue should report a full queue")
	}
}

func TestWorkersExitOnCancel(t *testing.T) {
	before := runtime.NumGoroutine()

	w := New(store.New(), t.TempDir(), log.New(io.Discard, "", 0), 16)
	ctx, cancel := context.WithCancel(context.Background())
	w.Start(ctx, 4)
	cancel()

	time.Sleep(100 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines leaked: before=%d after=%d", before, after)
	}
}
