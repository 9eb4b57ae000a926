// Package stock is the stock service: a gRPC service over an in-memory
// inventory. Its messages are protobuf well-known types, so the service needs
// no generated code of its own.
package stock

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Inventory holds the stock level of each SKU.
type Inventory struct {
	mu     sync.Mutex
	counts map[string]int64
}

// NewInventory starts with the given levels.
func NewInventory(counts map[string]int64) *Inventory {
	return &Inventory{counts: counts}
}

// Level returns the stock of one SKU.
func (inv *Inventory) Level(sku string) (int64, bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	n, ok := inv.counts[sku]
	return n, ok
}

// Total is the number of items in stock.
func (inv Inventory) Total() int64 {
	var sum int64
	for _, n := range inv.counts {
		sum += n
	}
	return sum
}

// server implements the shop.stock.v1.Stock service.
type server struct {
	inv     *Inventory
	lastSKU wrapperspb.StringValue
}

// Get answers the stock level of the SKU in the request.
func (s *server) Get(_ context.Context, req *wrapperspb.StringValue) (*wrapperspb.Int64Value, error) {
	s.lastSKU = *req
	n, ok := s.inv.Level(req.GetValue())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown SKU %q", req.GetValue())
	}
	return wrapperspb.Int64(n), nil
}

func getHandler(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.StringValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	return srv.(*server).Get(ctx, in)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "shop.stock.v1.Stock",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Get", Handler: getHandler}},
	Metadata:    "shop/stock/v1/stock.proto",
}

// Register adds the stock service to a gRPC server.
func Register(s *grpc.Server, inv *Inventory) {
	s.RegisterService(&serviceDesc, &server{inv: inv})
}
