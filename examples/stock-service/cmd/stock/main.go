// Command stock serves the stock levels of the shop over gRPC.
package main

import (
	"fmt"
	"log"
	"net"
	"os"

	"example.com/stock-service/internal/stock"
	"google.golang.org/grpc"
)

const defaultPort = "9090"

func main() {
	port := defaultPort
	if os.Getenv("GRPC_PORT") != "" {
		port = os.Getenv("GRPC_PORT")
	}
	lis, err := net.Listen("tcp", fmt.Sprintf(":%s", port))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer()
	defer srv.GracefulStop()
	stock.Register(srv, stock.NewInventory(map[string]int64{"espresso-beans": 40, "filter-papers": 300}))
	log.Printf("stock: serving gRPC on :%s", port)
	if err := srv.Serve(lis); err != nil {
		log.Printf("serve: %v", err)
	}
}
