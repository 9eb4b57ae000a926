// Command orders runs the orders HTTP API and its background worker.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/orders-service/internal/api"
	"example.com/orders-service/internal/store"
	"example.com/orders-service/internal/worker"
)

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	v, err := strconv.Atoi(envOr(key, ""))
	if err != nil || v <= 0 {
		return def
	}
	return v
}

func main() {
	addr := flag.String("addr", envOr("ORDERS_ADDR", ":8080"), "HTTP listen address")
	receiptDir := flag.String("receipts", envOr("ORDERS_RECEIPT_DIR", "/tmp/receipts"), "directory for order receipts")
	workers := flag.Int("workers", envInt("ORDERS_WORKERS", 4), "number of background workers")
	queueSize := flag.Int("queue", envInt("ORDERS_QUEUE_SIZE", 256), "job queue capacity")
	auditPath := flag.String("audit-log", envOr("ORDERS_AUDIT_LOG", "/tmp/orders-audit.log"), "append-only audit log")
	flag.Parse()

	logger := log.New(os.Stdout, "orders: ", log.LstdFlags|log.Lmsgprefix)

	auditFile, err := os.OpenFile(*auditPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		log.Fatalf("open audit log: %v", err)
	}
	defer auditFile.Close()
	audit := bufio.NewWriter(auditFile)
	defer audit.Flush()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	st := store.New()
	w := worker.New(st, *receiptDir, logger, *queueSize)
	w.Start(ctx, *workers)

	go func() {
		logger.Println(http.ListenAndServe(":6060", nil))
	}()

	h := api.NewHandler(st, w, logger)
	h.SetAuditLog(log.New(audit, "", log.LstdFlags|log.LUTC))
	srv := &http.Server{
		Addr:              *addr,
		Handler:           h.Routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          logger,
	}

	go func() {
		logger.Printf("listening on %s", srv.Addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	sigs := make(chan os.Signal)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	sig := <-sigs
	logger.Printf("received %s, draining", sig)
	h.SetReady(false)

	shutdownCtx, stop := context.WithTimeout(context.Background(), 20*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Fatalf("graceful shutdown failed: %v", err)
	}

	cancel()
	w.Wait()
	logger.Printf("stopped; %d jobs processed, %d orders in memory", w.Processed(), st.Len())
}
