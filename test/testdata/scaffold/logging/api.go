package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// The engine's LogDriver protocol (moby daemon/logger/proxy.go): JSON over HTTP POST, one route per call.
// go-plugins-helpers has no log driver helper, so the routes are served here with net/http.

// contentType is what the engine's plugin client sends and expects.
const contentType = "application/vnd.docker.plugins.v1+json"

// Info describes the container whose log a call is about (the engine's logger.Info; only what this driver uses).
type Info struct {
	Config             map[string]string // --log-opt key=value
	ContainerID        string
	ContainerName      string
	ContainerImageName string
}

// ReadConfig is what `docker logs` asked for.
type ReadConfig struct {
	Since  time.Time // zero: from the start
	Until  time.Time // zero: to the end
	Tail   int       // how many of the last entries; negative: all
	Follow bool      // keep sending new entries
}

type startLoggingRequest struct {
	File string
	Info Info
}

type stopLoggingRequest struct {
	File string
}

type readLogsRequest struct {
	Info   Info
	Config ReadConfig
}

type errorResponse struct {
	Err string
}

// NewHandler routes the engine's calls to d.
func NewHandler(d *Driver, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string][]string{"Implements": {"LogDriver"}})
	})
	mux.HandleFunc("POST /LogDriver.Capabilities", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]map[string]bool{"Cap": {"ReadLogs": true}})
	})
	mux.HandleFunc("POST /LogDriver.StartLogging", func(w http.ResponseWriter, r *http.Request) {
		var req startLoggingRequest
		if !decode(w, r, &req) {
			return
		}
		if err := d.StartLogging(req.File, req.Info); err != nil {
			log.Error("StartLogging", "container", req.Info.ContainerID, "err", err)
			replyError(w, http.StatusInternalServerError, err)
			return
		}
		reply(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /LogDriver.StopLogging", func(w http.ResponseWriter, r *http.Request) {
		var req stopLoggingRequest
		if !decode(w, r, &req) {
			return
		}
		if err := d.StopLogging(req.File); err != nil {
			log.Error("StopLogging", "file", req.File, "err", err)
			replyError(w, http.StatusInternalServerError, err)
			return
		}
		reply(w, http.StatusOK, struct{}{})
	})
	mux.HandleFunc("POST /LogDriver.ReadLogs", func(w http.ResponseWriter, r *http.Request) {
		var req readLogsRequest
		if !decode(w, r, &req) {
			return
		}
		out := &httpFrameWriter{w: w, buf: bufio.NewWriterSize(w, 64<<10)}
		err := d.ReadLogs(r.Context(), req.Info, req.Config, out)
		switch {
		case err == nil:
			_ = out.Flush()
		case !out.started:
			log.Error("ReadLogs", "container", req.Info.ContainerID, "err", err)
			replyError(w, http.StatusInternalServerError, err)
		default:
			// Frames are on their way, so the status is sent: ending the stream is all that is left. This is also how
			// a follow ends when the engine hangs up (docker logs -f stopped, or the engine's plugin timeout).
			log.Debug("ReadLogs ended early", "container", req.Info.ContainerID, "err", err)
		}
	})
	return mux
}

// httpFrameWriter streams frames as the ReadLogs response body, flushing to the engine whenever a read waits.
type httpFrameWriter struct {
	w       http.ResponseWriter
	buf     *bufio.Writer
	started bool
}

func (o *httpFrameWriter) start() {
	if !o.started {
		o.started = true
		o.w.Header().Set("Content-Type", contentType)
		o.w.WriteHeader(http.StatusOK)
	}
}

func (o *httpFrameWriter) WriteFrame(frame []byte) error {
	o.start()
	_, err := o.buf.Write(frame)
	return err
}

func (o *httpFrameWriter) Flush() error {
	o.start()
	if err := o.buf.Flush(); err != nil {
		return err
	}
	return http.NewResponseController(o.w).Flush()
}

// decode reads a JSON request body; an empty body (or "null", which the engine sends for Capabilities) is fine.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return true
	}
	replyError(w, http.StatusBadRequest, fmt.Errorf("decoding %s request: %w", r.URL.Path, err))
	return false
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// replyError answers in the plugin protocol's error shape; the engine shows Err to the user.
func replyError(w http.ResponseWriter, status int, err error) {
	reply(w, status, errorResponse{Err: err.Error()})
}
