package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newTestDriver(t *testing.T) *Driver {
	t.Helper()
	store, err := NewStore(filepath.Join(t.TempDir(), "logs"))
	if err != nil {
		t.Fatal(err)
	}
	d := NewDriver(store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(d.Close)
	return d
}

// engineStream plays the engine's part: it makes a real FIFO, opens its write end the way the engine does
// (concurrently with StartLogging), and writes frames into it.
type engineStream struct {
	t      *testing.T
	d      *Driver
	fifo   string
	writer *os.File
}

func startStream(t *testing.T, d *Driver, containerID string) *engineStream {
	t.Helper()
	s := startStreamWith(t, func(fifo string) {
		if err := d.StartLogging(fifo, Info{ContainerID: containerID, ContainerName: "/" + containerID}); err != nil {
			t.Fatal(err)
		}
	})
	s.d = d
	return s
}

// startStreamWith makes the FIFO and calls startLogging with it while opening the write end.
func startStreamWith(t *testing.T, startLogging func(fifo string)) *engineStream {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the driver opens the read end
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	startLogging(fifo)
	s := &engineStream{t: t, fifo: fifo}
	select {
	case s.writer = <-opened:
	case <-time.After(5 * time.Second):
		t.Fatal("the driver never opened the FIFO")
	}
	return s
}

func (s *engineStream) send(entries ...LogEntry) {
	s.t.Helper()
	var b []byte
	for i := range entries {
		b = appendFrame(b, &entries[i])
	}
	if _, err := s.writer.Write(b); err != nil {
		s.t.Fatal(err)
	}
}

// stop does what the engine does when a container stops: StopLogging first, and only then close the FIFO.
func (s *engineStream) stop() {
	s.t.Helper()
	if err := s.d.StopLogging(s.fifo); err != nil {
		s.t.Fatal(err)
	}
	s.writer.Close()
}

// collected is a FrameWriter that keeps the entries it is given.
type collected struct {
	entries []LogEntry
	flushes int
	onFlush func()
}

func (c *collected) WriteFrame(frame []byte) error {
	var e LogEntry
	msg, err := readFrame(strings.NewReader(string(frame)), nil)
	if err != nil {
		return err
	}
	if err := e.UnmarshalProto(msg); err != nil {
		return err
	}
	c.entries = append(c.entries, e)
	return nil
}

func (c *collected) Flush() error {
	c.flushes++
	if c.onFlush != nil {
		c.onFlush()
	}
	return nil
}

// lines gives the entries' lines (of one source, or all), without the newline ReadLogs ends each one with.
func (c *collected) lines(source string) []string {
	var out []string
	for _, e := range c.entries {
		if source == "" || e.Source == source {
			out = append(out, strings.TrimSuffix(string(e.Line), "\n"))
		}
	}
	return out
}

func readAll(t *testing.T, d *Driver, containerID string, cfg ReadConfig) *collected {
	t.Helper()
	c := &collected{}
	if err := d.ReadLogs(context.Background(), Info{ContainerID: containerID}, cfg, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func entry(source string, n int) LogEntry {
	return LogEntry{Source: source, TimeNano: int64(1_000_000_000 + n), Line: []byte(fmt.Sprintf("%s %d", source, n))}
}

var all = ReadConfig{Tail: -1}

func TestStoredInOrderWithSourcesApart(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "c1")
	s.send(entry("stdout", 1), entry("stderr", 2), entry("stdout", 3))
	s.send(entry("stderr", 4))
	s.stop()

	got := readAll(t, d, "c1", all)
	if want := "stdout 1,stderr 2,stdout 3,stderr 4"; strings.Join(got.lines(""), ",") != want {
		t.Errorf("all: got %q, want %q", got.lines(""), want)
	}
	if want := "stdout 1,stdout 3"; strings.Join(got.lines("stdout"), ",") != want {
		t.Errorf("stdout: got %q", got.lines("stdout"))
	}
	if want := "stderr 2,stderr 4"; strings.Join(got.lines("stderr"), ",") != want {
		t.Errorf("stderr: got %q", got.lines("stderr"))
	}
	if got.entries[0].TimeNano != 1_000_000_001 {
		t.Errorf("timestamp: got %d", got.entries[0].TimeNano)
	}
}

// The engine writes into the FIFO in the container's own pace; a reader that is slow makes the container wait.
// 50,000 lines must go through well inside the time a human would notice, and all of them must be stored.
func TestBurstFlowsAndIsComplete(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "burst")
	const lines = 50_000
	start := time.Now()
	for i := 0; i < lines; i += 100 {
		batch := make([]LogEntry, 0, 100)
		for j := i; j < i+100; j++ {
			batch = append(batch, entry("stdout", j))
		}
		s.send(batch...)
	}
	written := time.Since(start)
	s.stop()
	if written > 10*time.Second {
		t.Errorf("writing %d lines into the FIFO took %s", lines, written)
	}
	got := readAll(t, d, "burst", all)
	if len(got.entries) != lines {
		t.Fatalf("stored %d entries, want %d", len(got.entries), lines)
	}
	for i, e := range got.entries {
		if want := fmt.Sprintf("stdout %d\n", i); string(e.Line) != want {
			t.Fatalf("entry %d: got %q, want %q", i, e.Line, want)
		}
	}
	t.Logf("%d lines written in %s", lines, written)
}

// StopLogging arrives while the engine still holds the FIFO open, so the driver cannot wait for end-of-file: what
// is still in the pipe must be stored before StopLogging returns.
func TestStopLoggingDrainsThePipe(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "drain")
	var batch []LogEntry
	for i := 0; i < 500; i++ {
		batch = append(batch, entry("stderr", i))
	}
	s.send(batch...)
	if err := d.StopLogging(s.fifo); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, d, "drain", all) // before the FIFO is closed
	s.writer.Close()
	if len(got.entries) != 500 {
		t.Errorf("stored %d entries at StopLogging, want 500", len(got.entries))
	}
}

// The engine strips each line's newline before sending it, and hands ReadLogs entries to `docker logs` unchanged:
// ReadLogs puts the newline back, except on the pieces of a split long line that are not its last.
func TestReadLogsEndsLines(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "c1")
	piece := func(line string, ordinal int32, last bool) LogEntry {
		return LogEntry{Source: "stdout", Line: []byte(line), Partial: true,
			PartialMetadata: &PartialMetadata{ID: "long", Ordinal: ordinal, Last: last}}
	}
	s.send(LogEntry{Source: "stdout", Line: []byte("whole")}, piece("aa", 1, false), piece("bb", 2, false), piece("cc", 3, true),
		LogEntry{Source: "stderr", Line: []byte("")}, LogEntry{Source: "stdout", Line: []byte("old engine piece"), Partial: true})
	s.stop()
	var got string
	for _, e := range readAll(t, d, "c1", all).entries {
		got += string(e.Line)
	}
	if want := "whole\naabbcc\n\nold engine piece"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRestartedContainerAppends(t *testing.T) {
	d := newTestDriver(t)
	first := startStream(t, d, "c1")
	first.send(entry("stdout", 1))
	first.stop()
	second := startStream(t, d, "c1")
	second.send(entry("stdout", 2))
	second.stop()
	if got := strings.Join(readAll(t, d, "c1", all).lines(""), ","); got != "stdout 1,stdout 2" {
		t.Errorf("got %q", got)
	}
}

func TestContainersAreKeptApart(t *testing.T) {
	d := newTestDriver(t)
	a, b := startStream(t, d, "a"), startStream(t, d, "b")
	a.send(entry("stdout", 1))
	b.send(entry("stdout", 2))
	a.stop()
	b.stop()
	if got := readAll(t, d, "a", all).lines(""); len(got) != 1 || got[0] != "stdout 1" {
		t.Errorf("a: got %q", got)
	}
	if got := readAll(t, d, "b", all).lines(""); len(got) != 1 || got[0] != "stdout 2" {
		t.Errorf("b: got %q", got)
	}
}

func TestReadConfig(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "c1")
	for i := 1; i <= 5; i++ {
		s.send(entry("stdout", i))
	}
	s.stop()
	at := func(n int) time.Time { return time.Unix(0, int64(1_000_000_000+n)) }
	tests := []struct {
		name string
		cfg  ReadConfig
		want string
	}{
		{"all", ReadConfig{Tail: -1}, "1,2,3,4,5"},
		{"tail 2", ReadConfig{Tail: 2}, "4,5"},
		{"tail 0", ReadConfig{Tail: 0}, ""},
		{"tail over count", ReadConfig{Tail: 10}, "1,2,3,4,5"},
		{"since", ReadConfig{Tail: -1, Since: at(3)}, "3,4,5"},
		{"until", ReadConfig{Tail: -1, Until: at(2)}, "1,2"},
		{"since and until", ReadConfig{Tail: -1, Since: at(2), Until: at(4)}, "2,3,4"},
		{"tail and since", ReadConfig{Tail: 3, Since: at(4)}, "4,5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, line := range readAll(t, d, "c1", tt.cfg).lines("") {
				got = append(got, strings.TrimPrefix(line, "stdout "))
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, ","), tt.want)
			}
		})
	}
}

func TestReadUnknownContainerIsEmpty(t *testing.T) {
	d := newTestDriver(t)
	if got := readAll(t, d, "never-logged", all); len(got.entries) != 0 {
		t.Errorf("got %d entries", len(got.entries))
	}
}

func TestFollowStreamsUntilLoggingStops(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "c1")
	s.send(entry("stdout", 1))

	c := &collected{}
	sent := false
	c.onFlush = func() {
		// The first time the reader has caught up, the container writes more; then it stops.
		if !sent && len(c.entries) == 1 {
			sent = true
			go func() {
				s.send(entry("stderr", 2), entry("stdout", 3))
				time.Sleep(50 * time.Millisecond)
				s.stop()
			}()
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- d.ReadLogs(context.Background(), Info{ContainerID: "c1"}, ReadConfig{Tail: -1, Follow: true}, c)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after StopLogging")
	}
	if got := strings.Join(c.lines(""), ","); got != "stdout 1,stderr 2,stdout 3" {
		t.Errorf("got %q", got)
	}
}

func TestFollowEndsWhenTheReaderGoes(t *testing.T) {
	d := newTestDriver(t)
	s := startStream(t, d, "c1")
	defer s.stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- d.ReadLogs(ctx, Info{ContainerID: "c1"}, ReadConfig{Tail: -1, Follow: true}, &collected{})
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end when its context did")
	}
}

func TestStartLoggingRefuses(t *testing.T) {
	d := newTestDriver(t)
	plain := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, containerID, want string
	}{
		{"no file", "", "c1", "File is empty"},
		{"missing file", filepath.Join(t.TempDir(), "gone"), "c1", "no such file"},
		{"not a FIFO", plain, "c1", "not a FIFO"},
		{"bad container ID", fifo, "../escape", "cannot name a log file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.StartLogging(tt.file, Info{ContainerID: tt.containerID})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// An engine that calls StopLogging without ever opening its end must not leave StopLogging hanging.
func TestStopLoggingBeforeTheEngineOpened(t *testing.T) {
	d := newTestDriver(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.StartLogging(fifo, Info{ContainerID: "c1"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.StopLogging(fifo) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StopLogging hung")
	}
}

func TestStopLoggingUnknownFIFO(t *testing.T) {
	if err := newTestDriver(t).StopLogging("/run/docker/logging/unknown"); err != nil {
		t.Errorf("got %v, want nil: the engine may stop what a restarted plugin never saw", err)
	}
}
