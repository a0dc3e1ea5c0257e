package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// Store keeps each container's log in one file, <dir>/<container ID>.log, as the same length-prefixed frames the
// engine sends, so reading back means copying frames. A restarted container appends to its file. Files stay after
// the container is removed: the engine does not tell a log driver about that.
type Store struct {
	dir string

	mu     sync.Mutex
	active map[string]*containerLog // by container ID, while at least one writer has it open
}

// containerLog is one container's file while it is being written.
type containerLog struct {
	mu      sync.Mutex
	file    *os.File
	out     *bufio.Writer
	writers int
	// changed is closed (and replaced) whenever frames reach the file or the last writer leaves, so followers wake.
	changed chan struct{}
}

// FrameWriter receives the frames a read selects; Flush is called before the read waits for more.
type FrameWriter interface {
	WriteFrame(frame []byte) error
	Flush() error
}

var containerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// NewStore makes dir if needed.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	return &Store{dir: dir, active: map[string]*containerLog{}}, nil
}

func (s *Store) path(containerID string) (string, error) {
	if !containerIDPattern.MatchString(containerID) {
		return "", fmt.Errorf("container ID %q cannot name a log file", containerID)
	}
	return filepath.Join(s.dir, containerID+".log"), nil
}

// LogWriter appends one log stream's frames to its container's file. Several may write the same container at once
// (the engine starts a second stream to serve `docker logs` on a stopped container); each frame is appended whole.
type LogWriter struct {
	store       *Store
	containerID string
	log         *containerLog
}

// OpenWriter opens containerID's file for appending.
func (s *Store) OpenWriter(containerID string) (*LogWriter, error) {
	path, err := s.path(containerID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.active[containerID]
	if cl == nil {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("opening log file: %w", err)
		}
		cl = &containerLog{file: f, out: bufio.NewWriterSize(f, 256<<10), changed: make(chan struct{})}
		s.active[containerID] = cl
	}
	cl.mu.Lock()
	cl.writers++
	cl.mu.Unlock()
	return &LogWriter{store: s, containerID: containerID, log: cl}, nil
}

// Append buffers one frame's protobuf message; Flush makes it visible to readers.
func (w *LogWriter) Append(msg []byte) error {
	cl := w.log
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var header [4]byte
	binary.BigEndian.PutUint32(header[:], uint32(len(msg)))
	if _, err := cl.out.Write(header[:]); err != nil {
		return fmt.Errorf("writing log file: %w", err)
	}
	if _, err := cl.out.Write(msg); err != nil {
		return fmt.Errorf("writing log file: %w", err)
	}
	return nil
}

// Flush writes buffered frames to the file and wakes followers.
func (w *LogWriter) Flush() error {
	cl := w.log
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.flushLocked()
}

func (cl *containerLog) flushLocked() error {
	if cl.out.Buffered() == 0 {
		return nil
	}
	err := cl.out.Flush()
	close(cl.changed)
	cl.changed = make(chan struct{})
	if err != nil {
		return fmt.Errorf("writing log file: %w", err)
	}
	return nil
}

// Close flushes, and closes the file when no other writer has it.
func (w *LogWriter) Close() error {
	s, cl := w.store, w.log
	s.mu.Lock()
	defer s.mu.Unlock()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	err := cl.flushLocked()
	cl.writers--
	if cl.writers > 0 {
		return err
	}
	delete(s.active, w.containerID)
	if cerr := cl.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing log file: %w", cerr)
	}
	close(cl.changed) // followers see there is no writer left
	cl.changed = make(chan struct{})
	return err
}

// watch returns a channel closed at the next change of containerID's file, and whether anyone is writing it.
func (s *Store) watch(containerID string) (<-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.active[containerID]
	if cl == nil {
		return nil, false
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.changed, true
}

// Read sends containerID's stored entries to out, oldest first: the last cfg.Tail of them (all when Tail < 0),
// without those before cfg.Since or after cfg.Until. With cfg.Follow it then sends new frames as they are flushed,
// until ctx ends, an entry after cfg.Until arrives, or nobody writes the container's log any more.
func (s *Store) Read(ctx context.Context, containerID string, cfg ReadConfig, out FrameWriter) error {
	path, err := s.path(containerID)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing logged yet
	}
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	defer f.Close()

	start := int64(0)
	if cfg.Tail >= 0 {
		if start, err = tailOffset(f, cfg.Tail); err != nil {
			return err
		}
	}
	var since, until int64
	if !cfg.Since.IsZero() {
		since = cfg.Since.UnixNano()
	}
	if !cfg.Until.IsZero() {
		until = cfg.Until.UnixNano()
	}

	offset := start // of the first frame not yet sent
	var entry LogEntry
	buf := make([]byte, 0, 64<<10)
	for {
		// Watch before reading, so a flush between reaching the end and waiting is not missed.
		changed, writing := s.watch(containerID)
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return fmt.Errorf("reading log file: %w", err)
		}
		in := bufio.NewReaderSize(f, 256<<10)
		for {
			msg, err := readFrame(in, buf)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break // the end, or a frame still being written: read it again after the next change
			}
			if err != nil {
				return fmt.Errorf("log file %s at byte %d: %w", path, offset, err)
			}
			buf = msg[:0]
			frameSize := int64(4 + len(msg))
			if err := entry.UnmarshalProto(msg); err != nil {
				return fmt.Errorf("log file %s at byte %d: %w", path, offset, err)
			}
			if until != 0 && entry.TimeNano > until {
				return out.Flush()
			}
			if entry.TimeNano >= since {
				if err := out.WriteFrame(readBackFrame(&entry)); err != nil {
					return err
				}
			}
			offset += frameSize
		}
		if err := out.Flush(); err != nil {
			return err
		}
		if !cfg.Follow || !writing {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// readBackFrame encodes e for ReadLogs. The engine passes ReadLogs entries to `docker logs` as they are, and its
// own drivers end every line that is not the start or middle of a split long line with a newline there, so this
// does too (the engine took the newline off before sending the line to the plugin).
func readBackFrame(e *LogEntry) []byte {
	endsLine := !e.Partial || (e.PartialMetadata != nil && e.PartialMetadata.Last)
	if endsLine {
		e.Line = append(e.Line, '\n')
	}
	return appendFrame(nil, e)
}

// tailOffset finds where the last n complete frames of f begin, reading only the length prefixes.
func tailOffset(f *os.File, n int) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	in := bufio.NewReaderSize(f, 256<<10)
	ring := make([]int64, n+1) // offsets of the last n+1 frame starts seen
	count, offset := 0, int64(0)
	var header [4]byte
	for {
		if _, err := io.ReadFull(in, header[:]); err != nil {
			break // the end, or a frame still being written
		}
		size := int64(binary.BigEndian.Uint32(header[:]))
		if skipped, err := in.Discard(int(size)); err != nil || int64(skipped) != size {
			break
		}
		ring[count%(n+1)] = offset
		count++
		offset += 4 + size
	}
	switch {
	case n == 0:
		return offset, nil // after the last complete frame
	case count <= n:
		return 0, nil
	}
	return ring[(count-n)%(n+1)], nil
}
