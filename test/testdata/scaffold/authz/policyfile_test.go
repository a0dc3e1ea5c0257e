package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePolicy writes text and sets a distinct modification time, so a rewrite of the same size within the file
// system's timestamp granularity still counts as a change (as it would a moment later in real use).
func writePolicy(t *testing.T, path, text string, age time.Duration) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

func current(t *testing.T, f *PolicyFile) (Policy, bool) {
	t.Helper()
	policy, changed, err := f.Current()
	if err != nil {
		t.Fatal(err)
	}
	return policy, changed
}

func TestPolicyFileMissingMeansNoRules(t *testing.T) {
	f := NewPolicyFile(filepath.Join(t.TempDir(), "policy.txt"))
	policy, changed := current(t, f)
	if policy != nil || !changed {
		t.Fatalf("first look: %v, changed %v", policy, changed)
	}
	if _, changed := current(t, f); changed {
		t.Fatal("a file still missing counted as a change")
	}
}

func TestPolicyFileIsReReadWhenItChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	f := NewPolicyFile(path)
	writePolicy(t, path, "deny * /volumes\n", time.Hour)
	policy, changed := current(t, f)
	if len(policy) != 1 || !changed || policy[0].Where != path+" line 1" {
		t.Fatalf("first read: %+v, changed %v", policy, changed)
	}
	if _, changed := current(t, f); changed {
		t.Fatal("an unchanged file was read again")
	}

	writePolicy(t, path, "deny * /images\n", time.Minute) // same size, newer time
	policy, changed = current(t, f)
	if !changed || len(policy) != 1 || policy[0].Prefix != "/images" {
		t.Fatalf("after rewrite: %+v, changed %v", policy, changed)
	}

	// Editors and `mv` replace the file: a new inode with an old timestamp must be noticed too.
	replacement := filepath.Join(filepath.Dir(path), "policy.new")
	writePolicy(t, replacement, "deny * /networks\n", time.Hour)
	if err := os.Rename(replacement, path); err != nil {
		t.Fatal(err)
	}
	policy, changed = current(t, f)
	if !changed || len(policy) != 1 || policy[0].Prefix != "/networks" {
		t.Fatalf("after rename: %+v, changed %v", policy, changed)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	policy, changed = current(t, f)
	if !changed || policy != nil {
		t.Fatalf("after remove: %+v, changed %v", policy, changed)
	}
}

func TestPolicyFileBrokenThenFixed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	f := NewPolicyFile(path)
	writePolicy(t, path, "deny * /volumes\ndeny everything\n", time.Hour)
	_, changed, err := f.Current()
	if err == nil || !changed || !strings.Contains(err.Error(), path+" line 2") {
		t.Fatalf("broken file: err %v, changed %v", err, changed)
	}
	if _, changed, err := f.Current(); err == nil || changed {
		t.Fatalf("broken file, second look: err %v, changed %v", err, changed)
	}
	writePolicy(t, path, "deny * /volumes\n", time.Minute)
	if policy, _ := current(t, f); len(policy) != 1 {
		t.Fatalf("fixed file: %+v", policy)
	}
}

func TestPolicyFileThatIsADirectoryIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewPolicyFile(path).Current(); err == nil {
		t.Fatal("a directory was read as a policy")
	}
}

// The engine sends requests concurrently; run with -race to check the reloads are safe.
func TestPolicyFileUnderConcurrentRequestsAndRewrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.txt")
	f := NewPolicyFile(path)
	done := make(chan struct{})
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if policy, _, err := f.Current(); err != nil || len(policy) > 1 {
					errs <- fmt.Errorf("policy %+v, err %v", policy, err)
					return
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		replacement := path + ".new"
		writePolicy(t, replacement, fmt.Sprintf("deny * /volumes/v%d\n", i), time.Duration(i)*time.Second)
		if err := os.Rename(replacement, path); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if policy, _ := current(t, f); len(policy) != 1 || policy[0].Prefix != "/volumes/v49" {
		t.Fatalf("last policy: %+v", policy)
	}
}
