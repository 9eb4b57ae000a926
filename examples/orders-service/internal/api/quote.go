package api

import (
	"context"
	"hash/fnv"
	"net/http"
	"time"
)

// carrierLatency is how long the (simulated) carrier takes to price a parcel.
var carrierLatency = 3 * time.Second

// estimateCents stands in for a call to the shipping carrier's API.
func estimateCents(orderID string) int64 {
	time.Sleep(carrierLatency)
	h := fnv.New32a()
	h.Write([]byte(orderID))
	return 499 + int64(h.Sum32()%1000)
}

// shippingQuote prices the shipping of an order, answering within 2 seconds.
func (h *Handler) shippingQuote(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	result := make(chan int64)
	go func() {
		result <- estimateCents(id)
	}()
	select {
	case cents := <-result:
		writeJSON(w, http.StatusOK, map[string]int64{"shipping_cents": cents})
	case <-ctx.Done():
		writeError(w, http.StatusGatewayTimeout, "carrier did not answer in time")
	}
}
