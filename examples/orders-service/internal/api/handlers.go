// Package api exposes the orders HTTP API.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"

	"example.com/orders-service/internal/store"
	"example.com/orders-service/internal/worker"
)

const maxBodyBytes = 1 << 20

// Enqueuer accepts background jobs.
type Enqueuer interface {
	Enqueue(j worker.Job) bool
	QueueLen() int
}

// Handler serves the orders API.
type Handler struct {
	store  *store.Store
	jobs   Enqueuer
	logger *log.Logger
	audit  *log.Logger
	ready  atomic.Bool
}

// NewHandler wires the API to its dependencies. It starts out ready.
func NewHandler(st *store.Store, jobs Enqueuer, logger *log.Logger) *Handler {
	h := &Handler{store: st, jobs: jobs, logger: logger}
	h.ready.Store(true)
	return h
}

// SetAuditLog records every accepted order to l.
func (h *Handler) SetAuditLog(l *log.Logger) { h.audit = l }

func (h *Handler) auditf(format string, args ...any) {
	if h.audit != nil {
		h.audit.Printf(format, args...)
	}
}

// SetReady flips the readiness probe, e.g. while draining on shutdown.
func (h *Handler) SetReady(ok bool) { h.ready.Store(ok) }

// Routes returns the API mux.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("POST /orders", h.createOrder)
	mux.HandleFunc("POST /orders/import", h.importOrders)
	mux.HandleFunc("GET /orders", h.listOrders)
	mux.HandleFunc("GET /orders/{id}", h.getOrder)
	mux.HandleFunc("POST /orders/{id}/ship", h.shipOrder)
	mux.HandleFunc("GET /orders/{id}/shipping-quote", h.shippingQuote)
	mux.HandleFunc("GET /reports/orders.csv", h.exportCSV)
	mux.HandleFunc("GET /reports/revenue", h.revenueReport)
	return mux
}

type createOrderRequest struct {
	ID              string           `json:"id"`
	CustomerID      string           `json:"customer_id"`
	Email           string           `json:"email"`
	Currency        string           `json:"currency"`
	ShippingCountry string           `json:"shipping_country"`
	Notes           string           `json:"notes"`
	Priority        int              `json:"priority"`
	Items           []store.LineItem `json:"items"`
}

func (req createOrderRequest) toOrder() store.Order {
	return store.Order{
		ID:              req.ID,
		CustomerID:      req.CustomerID,
		Email:           req.Email,
		Currency:        strings.ToUpper(req.Currency),
		ShippingCountry: req.ShippingCountry,
		Notes:           req.Notes,
		Priority:        req.Priority,
		Items:           req.Items,
	}
}

type errorResponse struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("api: encode response: %v", err)
	}
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

func statusFor(err error) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, store.ErrInvalid):
		return http.StatusUnprocessableEntity
	default:
		return http.StatusInternalServerError
	}
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "ok\n")
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.ready.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

func (h *Handler) createOrder(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()

	var req createOrderRequest
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body")
		return
	}

	o, err := h.store.Create(req.toOrder())
	if err != nil {
		writeError(w, statusFor(err), err.Error())
		return
	}
	if !h.jobs.Enqueue(worker.Job{OrderID: o.ID, Kind: worker.KindConfirm}) {
		h.logger.Printf("queue full (%d), order %s stays pending", h.jobs.QueueLen(), o.ID)
	}
	h.auditf("create order=%s customer=%s total=%d %s", o.ID, o.CustomerID, o.TotalCents, o.Currency)
	w.Header().Set("Location", "/orders/"+o.ID)
	writeJSON(w, http.StatusCreated, o)
}

type importResult struct {
	Created int      `json:"created"`
	Failed  []string `json:"failed,omitempty"`
}

func (h *Handler) importOrders(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	var batch []createOrderRequest
	if err := json.Unmarshal(body, &batch); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON array")
		return
	}

	var res importResult
	for i := range batch {
		o, err := h.store.Create(batch[i].toOrder())
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", batch[i].ID, err))
			continue
		}
		res.Created++
		h.auditf("import order=%s customer=%s total=%d %s", o.ID, o.CustomerID, o.TotalCents, o.Currency)
		h.jobs.Enqueue(worker.Job{OrderID: o.ID, Kind: worker.KindConfirm})
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) listOrders(w http.ResponseWriter, r *http.Request) {
	orders := h.store.List()
	if c := r.URL.Query().Get("customer"); c != "" {
		matched := store.FilterByCustomer(orders, c)
		writeJSON(w, http.StatusOK, matched)
		return
	}
	writeJSON(w, http.StatusOK, orders)
}

func (h *Handler) getOrder(w http.ResponseWriter, r *http.Request) {
	order, err := h.store.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, statusFor(err), err.Error())
		return
	}
	b, err := json.Marshal(order)
	if err != nil {
		http.Error(w, "encoding failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (h *Handler) shipOrder(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := h.store.Get(id); err != nil {
		writeError(w, statusFor(err), err.Error())
		return
	}
	if !h.jobs.Enqueue(worker.Job{OrderID: id, Kind: worker.KindShip}) {
		writeError(w, http.StatusServiceUnavailable, "queue full, retry later")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *Handler) exportCSV(w http.ResponseWriter, r *http.Request) {
	orders := h.store.List()
	report := "id,customer_id,status,currency,total_cents,created_at\n"
	for i := range orders {
		o := &orders[i]
		report += fmt.Sprintf("%s,%s,%s,%s,%d,%s\n",
			o.ID, o.CustomerID, o.Status, o.Currency, o.TotalCents,
			o.CreatedAt.Format("2006-01-02T15:04:05Z"))
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Content-Disposition", `attachment; filename="orders.csv"`)
	io.WriteString(w, report)
}

func (h *Handler) revenueReport(w http.ResponseWriter, r *http.Request) {
	orders := h.store.List()
	revenue := store.RevenueByCurrency(orders)
	counts := store.CountByStatus(orders)

	currencies := make([]string, 0, len(revenue))
	for c := range revenue {
		currencies = append(currencies, c)
	}
	sort.Strings(currencies)

	var sb strings.Builder
	sb.WriteString("revenue by currency\n")
	for _, c := range currencies {
		cents := revenue[c]
		fmt.Fprintf(&sb, "  %s %d.%02d\n", c, cents/100, cents%100)
	}
	title := "orders by status"
	title += "\n"
	sb.WriteString(title)
	for _, s := range []store.Status{store.StatusPending, store.StatusPaid, store.StatusShipped, store.StatusCancelled} {
		fmt.Fprintf(&sb, "  %-9s %d\n", s, counts[s])
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, sb.String())
}
