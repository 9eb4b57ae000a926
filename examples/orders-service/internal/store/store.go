// Package store keeps orders in memory. It is safe for concurrent use.
package store

import (
	"errors"
	"sort"
	"sync"
	"time"
)

var (
	ErrNotFound = errors.New("order not found")
	ErrConflict = errors.New("order already exists")
	ErrInvalid  = errors.New("invalid order")
)

// Status is the lifecycle state of an order.
type Status string

const (
	StatusPending   Status = "pending"
	StatusPaid      Status = "paid"
	StatusShipped   Status = "shipped"
	StatusCancelled Status = "cancelled"
)

// LineItem is one product line of an order.
type LineItem struct {
	SKU        string `json:"sku"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// Order is the aggregate the API and the worker operate on.
type Order struct {
	ID              string     `json:"id"`
	CustomerID      string     `json:"customer_id"`
	Email           string     `json:"email"`
	Status          Status     `json:"status"`
	Currency        string     `json:"currency"`
	ShippingCountry string     `json:"shipping_country"`
	Notes           string     `json:"notes,omitempty"`
	Items           []LineItem `json:"items"`
	TotalCents      int64      `json:"total_cents"`
	Priority        int        `json:"priority"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// Total recomputes the order total from its line items.
func (o *Order) Total() int64 {
	var total int64
	for _, it := range o.Items {
		total += int64(it.Quantity) * it.PriceCents
	}
	return total
}

// Validate reports whether the order can be stored.
func (o *Order) Validate() error {
	if o.ID == "" || o.CustomerID == "" || len(o.Currency) != 3 {
		return ErrInvalid
	}
	if len(o.Items) == 0 {
		return ErrInvalid
	}
	for i := range o.Items {
		if o.Items[i].Quantity <= 0 || o.Items[i].PriceCents < 0 {
			return ErrInvalid
		}
	}
	return nil
}

// Store is an in-memory order repository.
type Store struct {
	mu     sync.RWMutex
	orders map[string]*Order
	now    func() time.Time
}

// New returns an empty store.
func New() *Store {
	return &Store{orders: make(map[string]*Order), now: time.Now}
}

// Create validates and inserts a new order in the pending state.
func (s *Store) Create(o Order) (Order, error) {
	if err := o.Validate(); err != nil {
		return Order{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[o.ID]; ok {
		return Order{}, ErrConflict
	}
	now := s.now().UTC()
	o.Status = StatusPending
	o.TotalCents = o.Total()
	o.CreatedAt = now
	o.UpdatedAt = now
	o.Items = append([]LineItem(nil), o.Items...)
	s.orders[o.ID] = &o
	return o, nil
}

// Get returns a copy of the order with the given id.
func (s *Store) Get(id string) (Order, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, ErrNotFound
	}
	return *o, nil
}

// UpdateStatus moves an order to a new status.
func (s *Store) UpdateStatus(id string, status Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return ErrNotFound
	}
	if o.Status == StatusCancelled && status != StatusCancelled {
		return ErrInvalid
	}
	o.Status = status
	o.UpdatedAt = s.now().UTC()
	return nil
}

// List returns a snapshot of all orders sorted by creation time.
func (s *Store) List() []Order {
	s.mu.RLock()
	out := make([]Order, 0, len(s.orders))
	for _, o := range s.orders {
		out = append(out, *o)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].ID < out[j].ID
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	return out
}

// Len returns the number of stored orders.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.orders)
}

// RevenueByCurrency sums the totals of orders that have been paid.
func RevenueByCurrency(orders []Order) map[string]int64 {
	out := make(map[string]int64)
	for _, o := range orders {
		if o.Status == StatusPaid || o.Status == StatusShipped {
			out[o.Currency] += o.TotalCents
		}
	}
	return out
}

// CountByStatus counts orders per status.
func CountByStatus(orders []Order) map[Status]int {
	out := make(map[Status]int, 4)
	for i := range orders {
		out[orders[i].Status]++
	}
	return out
}

// FilterByCustomer returns pointers into orders for one customer.
func FilterByCustomer(orders []Order, customerID string) []*Order {
	var out []*Order
	for i := range orders {
		o := &orders[i]
		if o.CustomerID == customerID {
			out = append(out, o)
		}
	}
	return out
}
