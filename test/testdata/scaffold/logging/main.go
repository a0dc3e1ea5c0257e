// Command my-logging is a Docker log driver plugin: Docker logging driver: keeps each container's log so docker logs can read it
//
// It serves the engine's LogDriver protocol on a unix socket under /run/docker/plugins, where the engine looks for
// the socket named in config.json, and keeps every container's log in a file under logDir so `docker logs` works.
package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// socketPath is where the engine looks for the socket named in config.json.
const socketPath = "/run/docker/plugins/my-logging.sock"

// logDir is inside the plugin's own root filesystem: it lives as long as the plugin is installed.
const logDir = "/var/log/my-logging"

func main() {
	log := newLogger(os.Getenv("LOG_LEVEL"))
	if err := run(log); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	store, err := NewStore(logDir)
	if err != nil {
		return err
	}
	driver := NewDriver(store, log)
	listener, err := listenUnix(socketPath)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: NewHandler(driver, log)}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		log.Info("shutting down", "signal", sig.String())
		driver.Close() // store what the FIFOs still hold
		server.Close()
	}()

	log.Info("serving", "socket", socketPath, "logs", logDir)
	if err := server.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// listenUnix listens on path, replacing a socket file left by an earlier run.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

// newLogger writes to stdout, which the engine copies into its own log at level info, one line per message,
// tagged with plugin=<plugin ID> (stderr would show up there as level=error). level is LOG_LEVEL from
// config.json: debug, info, warn or error.
func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(level))); err != nil {
		l = slog.LevelInfo
	}
	dropTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey { // the engine stamps each line itself
			return slog.Attr{}
		}
		return a
	}
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: l, ReplaceAttr: dropTime}))
}
