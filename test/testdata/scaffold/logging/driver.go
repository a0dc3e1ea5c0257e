package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// drainQuiet is how long a stopping stream waits for more bytes before it counts the FIFO as drained. By the time
// the engine sends StopLogging it has written everything (it waits for its copier first), so the rest is already
// in the pipe and arrives at once; the quiet period only ends the wait.
const drainQuiet = 200 * time.Millisecond

// stopTimeout bounds how long StopLogging waits for a stream, so a stuck FIFO cannot hang the engine.
const stopTimeout = 30 * time.Second

// Driver copies each container's log stream from the engine's FIFO into the Store, and reads it back.
type Driver struct {
	store *Store
	log   *slog.Logger

	mu      sync.Mutex
	streams map[string]*stream // by FIFO path, as the engine names it in StartLogging and StopLogging
}

// stream is one FIFO being copied.
type stream struct {
	fifo        string
	containerID string
	stopping    atomic.Bool
	opened      chan struct{} // closed once the FIFO's open has returned
	file        *os.File      // the open FIFO (nil if the open failed), set before opened is closed
	done        chan struct{} // closed once everything read is stored
	err         error         // why the copy ended early, read after done
}

// NewDriver serves logs kept in store.
func NewDriver(store *Store, log *slog.Logger) *Driver {
	return &Driver{store: store, log: log, streams: map[string]*stream{}}
}

// StartLogging begins copying the FIFO at fifo (written by the engine) into the container's log. It returns at
// once: the copy runs until StopLogging, and reads as fast as the engine writes so the container never waits.
func (d *Driver) StartLogging(fifo string, info Info) error {
	if fifo == "" {
		return errors.New("StartLogging: File is empty")
	}
	if st, err := os.Stat(fifo); err != nil {
		return fmt.Errorf("StartLogging: %w", err)
	} else if st.Mode()&os.ModeNamedPipe == 0 {
		return fmt.Errorf("StartLogging: %s is not a FIFO", fifo)
	}
	w, err := d.store.OpenWriter(info.ContainerID)
	if err != nil {
		return fmt.Errorf("StartLogging: %w", err)
	}
	d.mu.Lock()
	if _, dup := d.streams[fifo]; dup {
		d.mu.Unlock()
		w.Close()
		return fmt.Errorf("StartLogging: %s is already being read", fifo)
	}
	s := &stream{fifo: fifo, containerID: info.ContainerID, opened: make(chan struct{}), done: make(chan struct{})}
	d.streams[fifo] = s
	d.mu.Unlock()

	d.log.Info("logging started", "container", info.ContainerID, "name", info.ContainerName, "fifo", fifo)
	go d.copy(s, w)
	return nil
}

// copy reads frames from the FIFO and appends them to w until the engine closes the FIFO or, after StopLogging,
// it has been drained.
func (d *Driver) copy(s *stream, w *LogWriter) {
	defer close(s.done)
	defer func() {
		if err := w.Close(); err != nil && s.err == nil {
			s.err = err
		}
	}()
	// A blocking open for reading meets the engine's open for writing; a non-blocking one could see end-of-file
	// before the engine has the FIFO open.
	f, err := os.OpenFile(s.fifo, os.O_RDONLY, 0)
	s.file = f
	close(s.opened)
	if err != nil {
		s.err = fmt.Errorf("opening %s: %w", s.fifo, err)
		return
	}
	defer f.Close()

	in := bufio.NewReaderSize(&drainingReader{file: f, stopping: &s.stopping}, 256<<10)
	var entry LogEntry
	buf := make([]byte, 0, 64<<10)
	count := 0
	for {
		if in.Buffered() == 0 {
			// Nothing more to hand: store what we have before a read that may wait.
			if err := w.Flush(); err != nil {
				s.err = err
				return
			}
		}
		msg, err := readFrame(in, buf)
		if err != nil {
			if errors.Is(err, io.EOF) || (s.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded)) {
				d.log.Debug("log stream ended", "container", s.containerID, "entries", count)
				return
			}
			s.err = fmt.Errorf("reading %s: %w", s.fifo, err)
			return
		}
		buf = msg[:0]
		if err := entry.UnmarshalProto(msg); err != nil {
			s.err = fmt.Errorf("reading %s: %w", s.fifo, err)
			return
		}
		if err := w.Append(msg); err != nil {
			s.err = err
			return
		}
		count++
	}
}

// drainingReader reads the FIFO; once the stream is stopping, each read waits at most drainQuiet for data.
type drainingReader struct {
	file     *os.File
	stopping *atomic.Bool
}

func (r *drainingReader) Read(p []byte) (int, error) {
	if r.stopping.Load() {
		if err := r.file.SetReadDeadline(time.Now().Add(drainQuiet)); err != nil {
			return 0, err
		}
	}
	return r.file.Read(p)
}

// StopLogging drains the FIFO into the store and only then returns: the engine removes the FIFO after the reply.
func (d *Driver) StopLogging(fifo string) error {
	d.mu.Lock()
	s := d.streams[fifo]
	delete(d.streams, fifo)
	d.mu.Unlock()
	if s == nil {
		d.log.Warn("StopLogging for a FIFO not being read", "fifo", fifo)
		return nil
	}
	err := d.stop(s)
	d.log.Info("logging stopped", "container", s.containerID, "fifo", fifo)
	return err
}

func (d *Driver) stop(s *stream) error {
	s.stopping.Store(true)
	deadline := time.After(stopTimeout)
	for opened := false; !opened; {
		select {
		case <-s.opened:
			opened = true
		case <-deadline:
			return fmt.Errorf("StopLogging: %s was never opened", s.fifo)
		case <-time.After(10 * time.Millisecond):
			// The engine never opened its end: open it briefly ourselves so the blocked open returns and the read
			// sees end-of-file. This fails (ENXIO) until the copy goroutine is waiting in its open, hence the loop.
			if f, err := os.OpenFile(s.fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		}
	}
	if s.file != nil {
		// A read already waiting has no deadline yet: give it one, later reads set their own.
		_ = s.file.SetReadDeadline(time.Now().Add(drainQuiet))
	}
	select {
	case <-s.done:
	case <-deadline:
		return fmt.Errorf("StopLogging: %s not drained after %s", s.fifo, stopTimeout)
	}
	if s.err != nil {
		return fmt.Errorf("StopLogging: %w", s.err)
	}
	return nil
}

// ReadLogs writes the container's stored entries to out, as ReadConfig asks.
func (d *Driver) ReadLogs(ctx context.Context, info Info, cfg ReadConfig, out FrameWriter) error {
	d.log.Debug("reading logs", "container", info.ContainerID, "tail", cfg.Tail, "follow", cfg.Follow)
	return d.store.Read(ctx, info.ContainerID, cfg, out)
}

// Close stops every stream, storing what the FIFOs still hold; for a clean exit.
func (d *Driver) Close() {
	d.mu.Lock()
	streams := d.streams
	d.streams = map[string]*stream{}
	d.mu.Unlock()
	for _, s := range streams {
		if err := d.stop(s); err != nil {
			d.log.Error("closing", "container", s.containerID, "err", err)
		}
	}
}
