package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// PolicyFile is a policy file that is re-read when it changes. The engine keeps asking the same plugin process for
// as long as it runs, and `docker plugin set` takes the plugin out of the engine's authorization chain until the
// engine restarts, so a file on a mount is the way to change the policy of a running engine.
//
// There is no watcher: every Current call stats the file (cheap next to an API request) and re-reads it when its
// size, modification time or identity (a new file renamed over it) differ from what was read last.
type PolicyFile struct {
	path string

	mu      sync.Mutex
	checked bool
	stamp   fileStamp
	policy  Policy
	err     error
}

// fileStamp is what tells that a file changed; exists is false when there is no file.
type fileStamp struct {
	exists bool
	info   fs.FileInfo
}

func (s fileStamp) same(o fileStamp) bool {
	if s.exists != o.exists {
		return false
	}
	if !s.exists {
		return true
	}
	return os.SameFile(s.info, o.info) && s.info.Size() == o.info.Size() && s.info.ModTime().Equal(o.info.ModTime())
}

func NewPolicyFile(path string) *PolicyFile {
	return &PolicyFile{path: path}
}

func (f *PolicyFile) Path() string { return f.path }

// Current returns the file's policy as it is now: empty when there is no file, an error naming the file and line
// when it cannot be read or parsed. changed reports that this call (re)loaded it, so the caller can log that once.
func (f *PolicyFile) Current() (policy Policy, changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stamp, statErr := f.statNow()
	if statErr == nil && f.checked && stamp.same(f.stamp) {
		return f.policy, false, f.err
	}
	// The stamp is taken before reading: a write that lands during the read changes the file's stamp again, and
	// the next call reads it once more.
	f.checked, f.stamp = true, stamp
	switch {
	case statErr != nil:
		f.checked = false // stat again next time
		f.policy, f.err = nil, statErr
	case !stamp.exists:
		f.policy, f.err = nil, nil
	default:
		f.policy, f.err = f.read()
	}
	return f.policy, true, f.err
}

func (f *PolicyFile) statNow() (fileStamp, error) {
	info, err := os.Stat(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, fmt.Errorf("policy file: %w", err)
	}
	return fileStamp{exists: true, info: info}, nil
}

func (f *PolicyFile) read() (Policy, error) {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("reading policy file: %w", err)
	}
	return ParsePolicy(f.path, string(data), true)
}
