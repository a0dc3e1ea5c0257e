package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve runs the plugin's HTTP handler on a unix socket, as the engine reaches it, and returns a client for it.
func serve(t *testing.T, d *Driver) *http.Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "logdrv") // short: a unix socket path has a 108-byte limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	socket := filepath.Join(dir, "plugin.sock")
	listener, err := listenUnix(socket)
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: NewHandler(d, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	go server.Serve(listener)
	t.Cleanup(func() { server.Close() })
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
}

func post(t *testing.T, c *http.Client, route, body string) *http.Response {
	t.Helper()
	resp, err := c.Post("http://plugin/"+route, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func postJSON(t *testing.T, c *http.Client, route, body string) (int, map[string]any) {
	t.Helper()
	resp := post(t, c, route, body)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != contentType {
		t.Errorf("%s: Content-Type %q", route, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: %v", route, err)
	}
	return resp.StatusCode, out
}

func TestHandshake(t *testing.T) {
	c := serve(t, newTestDriver(t))
	tests := []struct{ route, body, want string }{
		{"Plugin.Activate", "", `{"Implements":["LogDriver"]}`},
		{"LogDriver.Capabilities", "null", `{"Cap":{"ReadLogs":true}}`}, // the engine sends a null body
		{"LogDriver.Capabilities", "", `{"Cap":{"ReadLogs":true}}`},
	}
	for _, tt := range tests {
		status, got := postJSON(t, c, tt.route, tt.body)
		b, _ := json.Marshal(got)
		if status != http.StatusOK || string(b) != tt.want {
			t.Errorf("%s: got %d %s, want 200 %s", tt.route, status, b, tt.want)
		}
	}
}

func TestLoggingOverHTTP(t *testing.T) {
	d := newTestDriver(t)
	c := serve(t, d)
	s := startStreamWith(t, func(fifo string) {
		status, body := postJSON(t, c, "LogDriver.StartLogging",
			`{"File":"`+fifo+`","Info":{"ContainerID":"c1","ContainerName":"/web","Config":{"tag":"x"}}}`)
		if status != http.StatusOK || len(body) != 0 {
			t.Fatalf("StartLogging: %d %v", status, body)
		}
	})
	s.d = d
	s.send(entry("stdout", 1), entry("stderr", 2), entry("stdout", 3))
	if status, body := postJSON(t, c, "LogDriver.StopLogging", `{"File":"`+s.fifo+`"}`); status != http.StatusOK || len(body) != 0 {
		t.Fatalf("StopLogging: %d %v", status, body)
	}
	s.writer.Close()

	// What the engine sends for `docker logs --tail 2`, times as JSON like the engine's zero time.Time.
	resp := post(t, c, "LogDriver.ReadLogs",
		`{"Info":{"ContainerID":"c1"},"Config":{"Since":"0001-01-01T00:00:00Z","Until":"0001-01-01T00:00:00Z","Tail":2,"Follow":false}}`)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ReadLogs: %d", resp.StatusCode)
	}
	in := bufio.NewReader(resp.Body)
	var got []string
	for {
		msg, err := readFrame(in, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var e LogEntry
		if err := e.UnmarshalProto(msg); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Source+":"+string(e.Line))
	}
	if strings.Join(got, ",") != "stderr:stderr 2\n,stdout:stdout 3\n" {
		t.Errorf("ReadLogs: got %q", got)
	}
}

func TestFollowOverHTTP(t *testing.T) {
	d := newTestDriver(t)
	c := serve(t, d)
	s := startStream(t, d, "c1")
	defer s.stop()
	s.send(entry("stdout", 1))
	resp := post(t, c, "LogDriver.ReadLogs", `{"Info":{"ContainerID":"c1"},"Config":{"Tail":-1,"Follow":true}}`)
	in := bufio.NewReader(resp.Body)
	if _, err := readFrame(in, nil); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	s.send(entry("stdout", 2))
	msg, err := readFrame(in, nil)
	if err != nil {
		t.Fatalf("followed entry: %v", err)
	}
	var e LogEntry
	if err := e.UnmarshalProto(msg); err != nil || string(e.Line) != "stdout 2\n" {
		t.Fatalf("followed entry: %q %v", e.Line, err)
	}
	resp.Body.Close()
}

func TestErrorsOverHTTP(t *testing.T) {
	c := serve(t, newTestDriver(t))
	tests := []struct {
		route, body string
		status      int
		want        string
	}{
		{"LogDriver.StartLogging", `{"File":"/nonexistent/fifo","Info":{"ContainerID":"c1"}}`, 500, "no such file"},
		{"LogDriver.StartLogging", `{"File":`, 400, "decoding /LogDriver.StartLogging request"},
		{"LogDriver.ReadLogs", `{"Info":{"ContainerID":"../x"},"Config":{"Tail":-1}}`, 500, "cannot name a log file"},
	}
	for _, tt := range tests {
		status, body := postJSON(t, c, tt.route, tt.body)
		msg, _ := body["Err"].(string)
		if status != tt.status || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %s: got %d %q, want %d and Err containing %q", tt.route, tt.body, status, msg, tt.status, tt.want)
		}
	}
	resp, err := c.Get("http://plugin/LogDriver.Capabilities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: got %d, want 405 (the engine only POSTs)", resp.StatusCode)
	}
}
