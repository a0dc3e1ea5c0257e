package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newTestDriver opens a driver on a fresh temporary root, as the plugin does on /data.
func newTestDriver(t *testing.T) (*Driver, string) {
	t.Helper()
	root := t.TempDir()
	d, err := NewDriver(root, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return d, root
}

// restart opens a second driver on the same root: what a plugin restart does.
func restart(t *testing.T, root string) *Driver {
	t.Helper()
	d, err := NewDriver(root, quietLog())
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	return d
}

func mustCreate(t *testing.T, d *Driver, name string, opts map[string]string) {
	t.Helper()
	if err := d.Create(&volume.CreateRequest{Name: name, Options: opts}); err != nil {
		t.Fatalf("Create %s: %v", name, err)
	}
}

func mustMount(t *testing.T, d *Driver, name, id string) string {
	t.Helper()
	res, err := d.Mount(&volume.MountRequest{Name: name, ID: id})
	if err != nil {
		t.Fatalf("Mount %s by %s: %v", name, id, err)
	}
	return res.Mountpoint
}

func listNames(t *testing.T, d *Driver) string {
	t.Helper()
	res, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, v := range res.Volumes {
		names = append(names, v.Name)
	}
	return strings.Join(names, ",")
}

func TestCreateMakesADirectoryThatListGetAndPathShow(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "v2", nil)
	mustCreate(t, d, "v1", nil)
	want := filepath.Join(root, "volumes", "v1")
	if info, err := os.Stat(want); err != nil || !info.IsDir() || info.Mode().Perm() != 0o755 {
		t.Fatalf("volume directory %s: %v %v", want, info, err)
	}
	if got := listNames(t, d); got != "v1,v2" {
		t.Fatalf("List = %s, want v1,v2 (sorted)", got)
	}
	got, err := d.Get(&volume.GetRequest{Name: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Volume.Name != "v1" || got.Volume.Mountpoint != want || got.Volume.CreatedAt == "" || got.Volume.Status["mounts"] != 0 {
		t.Fatalf("Get = %+v", got.Volume)
	}
	path, err := d.Path(&volume.PathRequest{Name: "v1"})
	if err != nil || path.Mountpoint != want {
		t.Fatalf("Path = %v, %v", path, err)
	}
	if caps := d.Capabilities(); caps.Capabilities.Scope != "local" {
		t.Fatalf("Scope = %q", caps.Capabilities.Scope)
	}
}

func TestUnknownVolumesAreErrorsNamingThem(t *testing.T) {
	d, _ := newTestDriver(t)
	calls := map[string]func() error{
		"Get":     func() error { _, err := d.Get(&volume.GetRequest{Name: "nope"}); return err },
		"Path":    func() error { _, err := d.Path(&volume.PathRequest{Name: "nope"}); return err },
		"Mount":   func() error { _, err := d.Mount(&volume.MountRequest{Name: "nope", ID: "c1"}); return err },
		"Unmount": func() error { return d.Unmount(&volume.UnmountRequest{Name: "nope", ID: "c1"}) },
		"Remove":  func() error { return d.Remove(&volume.RemoveRequest{Name: "nope"}) },
	}
	for name, call := range calls {
		if err := call(); err == nil || !strings.Contains(err.Error(), "volume nope not found") {
			t.Errorf("%s of an unknown volume: %v", name, err)
		}
	}
}

func TestCreateOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		mode    os.FileMode
		wantErr string
	}{
		{name: "none", opts: nil, mode: 0o755},
		{name: "mode", opts: map[string]string{"mode": "0750"}, mode: 0o750},
		{name: "mode without leading zero", opts: map[string]string{"mode": "700"}, mode: 0o700},
		{name: "unknown option", opts: map[string]string{"size": "1G"}, wantErr: `unknown option "size": this driver accepts gid, mode, uid`},
		{name: "unknown named before a good one", opts: map[string]string{"mode": "0700", "Mode": "1"}, wantErr: `unknown option "Mode"`},
		{name: "mode not octal", opts: map[string]string{"mode": "rwx"}, wantErr: `option mode="rwx": want octal permissions`},
		{name: "mode with special bits", opts: map[string]string{"mode": "4755"}, wantErr: `option mode="4755"`},
		{name: "negative uid", opts: map[string]string{"uid": "-1"}, wantErr: `option uid="-1": want a number`},
		{name: "gid not a number", opts: map[string]string{"gid": "staff"}, wantErr: `option gid="staff": want a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, root := newTestDriver(t)
			err := d.Create(&volume.CreateRequest{Name: "v", Options: tt.opts})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Create error = %v, want one containing %q", err, tt.wantErr)
				}
				if got := listNames(t, d); got != "" {
					t.Fatalf("a refused create left volumes: %s", got)
				}
				assertEmpty(t, filepath.Join(root, "volumes"))
				assertEmpty(t, filepath.Join(root, "tmp"))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(filepath.Join(root, "volumes", "v"))
			if err != nil || info.Mode().Perm() != tt.mode {
				t.Fatalf("mode = %v (%v), want %v", info.Mode().Perm(), err, tt.mode)
			}
		})
	}
}

func TestUIDAndGIDOwnTheDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	d, root := newTestDriver(t)
	mustCreate(t, d, "owned", map[string]string{"uid": "1000", "gid": "1001", "mode": "0770"})
	info, err := os.Stat(filepath.Join(root, "volumes", "owned"))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := ownerOf(info)
	if uid != 1000 || gid != 1001 || info.Mode().Perm() != 0o770 {
		t.Fatalf("owner %d:%d mode %v, want 1000:1001 0770", uid, gid, info.Mode().Perm())
	}
}

func TestCreateAgain(t *testing.T) {
	d, _ := newTestDriver(t)
	mustCreate(t, d, "v", map[string]string{"mode": "0700"})
	mustCreate(t, d, "v", nil)                               // the engine repeating a create without options
	mustCreate(t, d, "v", map[string]string{"mode": "0700"}) // same options
	err := d.Create(&volume.CreateRequest{Name: "v", Options: map[string]string{"mode": "0777"}})
	if err == nil || !strings.Contains(err.Error(), "already exists with options mode=0700") {
		t.Fatalf("Create with other options = %v", err)
	}
}

func TestNamesThatWouldLeaveTheVolumesDirectoryAreRefused(t *testing.T) {
	d, root := newTestDriver(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", "/abs", ".hidden", "-dash", strings.Repeat("a", 256)} {
		if err := d.Create(&volume.CreateRequest{Name: name}); err == nil || !strings.Contains(err.Error(), "invalid volume name") {
			t.Errorf("Create(%q) = %v", name, err)
		}
	}
	assertEmpty(t, filepath.Join(root, "volumes"))
}

func TestMountsAreCountedPerCallerAndGuardRemove(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "v", nil)
	if mp := mustMount(t, d, "v", "c1"); mp != filepath.Join(root, "volumes", "v") {
		t.Fatalf("Mountpoint = %s", mp)
	}
	mustMount(t, d, "v", "c1") // same caller again: still one mount
	mustMount(t, d, "v", "c2")
	if got := mountCount(t, d, "v"); got != 2 {
		t.Fatalf("mounts = %d, want 2", got)
	}

	err := d.Remove(&volume.RemoveRequest{Name: "v"})
	if err == nil || !strings.Contains(err.Error(), "in use (mounted 2 time(s))") {
		t.Fatalf("Remove while mounted = %v", err)
	}
	if err := d.Unmount(&volume.UnmountRequest{Name: "v", ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Unmount(&volume.UnmountRequest{Name: "v", ID: "c1"}); err != nil { // already gone: not an error
		t.Fatal(err)
	}
	if err := d.Remove(&volume.RemoveRequest{Name: "v"}); err == nil {
		t.Fatal("Remove succeeded while c2 still has the volume mounted")
	}
	if err := d.Unmount(&volume.UnmountRequest{Name: "v", ID: "c2"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(&volume.RemoveRequest{Name: "v"}); err != nil {
		t.Fatalf("Remove after the last unmount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "volumes", "v")); !os.IsNotExist(err) {
		t.Fatalf("volume directory still there: %v", err)
	}
	assertEmpty(t, filepath.Join(root, "tmp"))
}

func TestConcurrentMountsAreAllCounted(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "v", nil)
	const callers = 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, err := d.Mount(&volume.MountRequest{Name: "v", ID: id})
			errs <- err
		}(fmt.Sprintf("c%02d", i))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := mountCount(t, d, "v"); got != callers {
		t.Fatalf("mounts = %d, want %d", got, callers)
	}
	if got := mountCount(t, restart(t, root), "v"); got != callers {
		t.Fatalf("after restart mounts = %d, want %d", got, callers)
	}
}

func TestMountWithoutCallerIDIsRefused(t *testing.T) {
	d, _ := newTestDriver(t)
	mustCreate(t, d, "v", nil)
	if _, err := d.Mount(&volume.MountRequest{Name: "v"}); err == nil {
		t.Fatal("Mount without an ID succeeded")
	}
}

func TestRemoveDeletesTheDataAndCreateStartsEmpty(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "v", nil)
	if err := os.MkdirAll(filepath.Join(root, "volumes", "v", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "volumes", "v", "sub", "file"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(&volume.RemoveRequest{Name: "v"}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, d, "v", nil)
	assertEmpty(t, filepath.Join(root, "volumes", "v"))
}

func TestStateSurvivesARestart(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "kept", map[string]string{"mode": "0700"})
	mustCreate(t, d, "gone", nil)
	mustMount(t, d, "kept", "c1")
	if err := d.Remove(&volume.RemoveRequest{Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	before, err := d.Get(&volume.GetRequest{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}

	d2 := restart(t, root)
	if got := listNames(t, d2); got != "kept" {
		t.Fatalf("after restart List = %s, want kept", got)
	}
	after, err := d2.Get(&volume.GetRequest{Name: "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if after.Volume.CreatedAt != before.Volume.CreatedAt || after.Volume.Status["options"].(map[string]string)["mode"] != "0700" {
		t.Fatalf("after restart Get = %+v, before %+v", after.Volume, before.Volume)
	}
	// The mount by c1 is remembered: the restarted plugin still protects the data of a running container.
	if err := d2.Remove(&volume.RemoveRequest{Name: "kept"}); err == nil {
		t.Fatal("Remove after restart succeeded while c1 has the volume mounted")
	}
	if err := d2.Unmount(&volume.UnmountRequest{Name: "kept", ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := d2.Remove(&volume.RemoveRequest{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
}

func TestStateFileIsWrittenWholeWithNoLeftovers(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "v", map[string]string{"uid": "0"})
	mustMount(t, d, "v", "c1")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "state.json,tmp,volumes" {
		t.Fatalf("root holds %v, want state.json, tmp, volumes (no temporary state files)", names)
	}
	var s stateFile
	data, err := os.ReadFile(filepath.Join(root, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if v := s.Volumes["v"]; v == nil || v.Options["uid"] != "0" || strings.Join(v.Mounts, ",") != "c1" {
		t.Fatalf("state.json = %s", data)
	}
}

func TestRestartReconcilesStateWithTheDirectories(t *testing.T) {
	d, root := newTestDriver(t)
	mustCreate(t, d, "lost", nil)
	mustCreate(t, d, "kept", nil)
	if err := os.RemoveAll(filepath.Join(root, "volumes", "lost")); err != nil {
		t.Fatal(err)
	}
	// A directory made by hand (or whose state entry was lost) becomes a volume.
	if err := os.Mkdir(filepath.Join(root, "volumes", "found"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Leftovers of an interrupted create or remove are cleared, never listed.
	if err := os.MkdirAll(filepath.Join(root, "tmp", "create-123", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	d2 := restart(t, root)
	if got := listNames(t, d2); got != "found,kept" {
		t.Fatalf("List = %s, want found,kept", got)
	}
	assertEmpty(t, filepath.Join(root, "tmp"))
	if got := listNames(t, restart(t, root)); got != "found,kept" {
		t.Fatalf("the reconciled state was not saved: List = %s", got)
	}
}

func TestADamagedStateFileStopsTheStartWithAMessage(t *testing.T) {
	_, root := newTestDriver(t)
	if err := os.WriteFile(filepath.Join(root, "state.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewDriver(root, quietLog())
	if err == nil || !strings.Contains(err.Error(), "state.json is damaged") || !strings.Contains(err.Error(), "fix or delete it") {
		t.Fatalf("NewDriver with a damaged state = %v", err)
	}
}

func mountCount(t *testing.T, d *Driver, name string) int {
	t.Helper()
	res, err := d.Get(&volume.GetRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return res.Volume.Status["mounts"].(int)
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%s is not empty: %v", dir, entries)
	}
}

func ownerOf(info os.FileInfo) (uid, gid int) {
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
