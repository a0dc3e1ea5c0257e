// Command my-volume is a Docker volume driver plugin: Docker volume driver: each volume is a directory on the host
//
// It serves the engine's VolumeDriver protocol on a unix socket under /run/docker/plugins, where the engine
// looks for the socket named in config.json. Volumes are directories under the plugin's propagated mount.
package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/docker/go-plugins-helpers/volume"
)

// socketPath is absolute: go-plugins-helpers would add ".sock" to a bare name.
const socketPath = "/run/docker/plugins/my-volume.sock"

// dataRoot is config.json's PropagatedMount: the engine bind-mounts a directory of its own there
// (<data-root>/plugins/<plugin ID>/propagated-mount), kept while the plugin is installed, and finds the volume
// directories the driver returns through it.
const dataRoot = "/data"

func main() {
	log := newLogger(os.Getenv("LOG_LEVEL"))
	driver, err := NewDriver(dataRoot, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	handler := volume.NewHandler(driver)
	log.Info("serving", "socket", socketPath, "volumes", len(driver.volumes))
	if err := handler.ServeUnix(socketPath, 0); err != nil {
		log.Error("serving "+socketPath, "err", err)
		os.Exit(1)
	}
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
