package api

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/orders-service/internal/store"
	"example.com/orders-service/internal/worker"
)

type fakeQueue struct{ jobs []worker.Job }

func (q *fakeQueue) Enqueue(j worker.Job) bool { q.jobs = append(q.jobs, j); return true }
func (q *fakeQueue) QueueLen() int             { return len(q.jobs) }

func newTestHandler() (*Handler, *fakeQueue) {
	q := &fakeQueue{}
	return NewHandler(store.New(), q, log.New(io.Discard, "", 0)), q
}

func TestCreateAndGetOrder(t *testing.T) {
	h, q := newTestHandler()
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()

	body := `{"id":"o-7","customer_id":"c-3","currency":"usd","items":[{"sku":"a","quantity":1,"price_cents":999}]}`
	resp, err := http.Post(srv.URL+"/orders", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d", resp.StatusCode)
	}
	if len(q.jobs) != 1 || q.jobs[0].Kind != worker.KindConfirm {
		t.Fatalf("expected one confirm job, got %+v", q.jobs)
	}

	resp, err = http.Get(srv.URL + "/orders/o-7")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"total_cents":999`) {
		t.Fatalf("unexpected body %s", got)
	}
}

func TestCreateRejectsHugeBody(t *testing.T) {
	h, _ := newTestHandler()
	big := `{"notes":"` + strings.Repeat("x", maxBodyBytes+1) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(big))
	rec := httptest.NewRecorder()
	h.Routes().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestReadyzFlipsOnShutdown(t *testing.T) {
	h, _ := newTestHandler()
	h.SetReady(false)
	rec := httptest.NewRecorder()
	h.Routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", rec.Code)
	}
}
