// Command my-authz is a Docker authorization plugin: Docker authorization plugin: denies engine API requests that match a policy
//
// It serves the engine's AuthZPlugin protocol on a unix socket under /run/docker/plugins, where the engine looks
// for the socket named in config.json. Requests are allowed unless a deny rule matches; the rules come from the
// AUTHZ_POLICY setting and from policyFilePath, which is re-read whenever it changes.
package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/docker/go-plugins-helpers/authorization"
)

// socketPath is absolute: go-plugins-helpers would add ".sock" to a bare name.
const socketPath = "/run/docker/plugins/my-authz.sock"

// policyFilePath is in the "policy" mount of config.json (a host directory, read-only).
const policyFilePath = "/etc/authz/policy.txt"

func main() {
	log := newLogger(os.Getenv("LOG_LEVEL"))
	// A broken AUTHZ_POLICY stops the plugin, so `docker plugin enable` fails right after the `set` that broke it.
	envPolicy, err := ParsePolicy("AUTHZ_POLICY", os.Getenv("AUTHZ_POLICY"), false)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	authorizer := NewAuthorizer(envPolicy, NewPolicyFile(policyFilePath), log)
	handler := authorization.NewHandler(authorizer)
	log.Info("serving", "socket", socketPath, "env_rules", len(envPolicy), "policy_file", policyFilePath)
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
