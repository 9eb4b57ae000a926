package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal)
	signal.Notify(stop, syscall.SIGTERM)
	<-stop
}

func other() {
	quit := make(chan os.Signal, 0)
	signal.Notify(quit, os.Interrupt)
	<-quit
}
