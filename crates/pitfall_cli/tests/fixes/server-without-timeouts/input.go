package main

import (
	"log"
	"net/http"
)

func main() {
	srv := &http.Server{
		Addr:    ":8080",
		Handler: http.DefaultServeMux,
	}
	log.Fatal(srv.ListenAndServe())
}

func admin() {
	srv := &http.Server{Addr: ":9090"}
	log.Fatal(srv.ListenAndServe())
}
