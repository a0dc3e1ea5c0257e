package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-plugins-helpers/volume"
)

// Layout under the driver's root (the plugin's PropagatedMount, kept by the engine across plugin restarts):
//
//	state.json        what the driver knows about each volume (options, creation time, who has it mounted)
//	volumes/<name>/   the volume's data: the directory containers see
//	tmp/              volumes being created or removed; emptied at start
const (
	stateFileName = "state.json"
	volumesDir    = "volumes"
	tmpDir        = "tmp"
)

// Create accepts only these options (docker volume create -o KEY=VALUE); anything else is refused by name.
var knownOptions = []string{"gid", "mode", "uid"}

// validName keeps a volume inside volumes/: no separators, no "." or "..". The engine's own rule is narrower still.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$`)

// volumeState is one volume's entry in state.json.
type volumeState struct {
	CreatedAt time.Time         `json:"createdAt"`
	Options   map[string]string `json:"options,omitempty"`
	// Mounts holds the engine's caller IDs (one per container using the volume), sorted. It is persisted so that a
	// restarted plugin still refuses to remove a volume that running containers use.
	Mounts []string `json:"mounts,omitempty"`
}

type stateFile struct {
	Volumes map[string]*volumeState `json:"volumes"`
}

// Driver keeps volumes as plain directories under root. One mutex serialises all calls: they are rare and fast.
type Driver struct {
	mu      sync.Mutex
	root    string
	log     *slog.Logger
	volumes map[string]*volumeState
}

// NewDriver opens the driver's state under root, creating it on first start. Directories found under volumes/
// without a state entry (state.json lost or written by hand) are adopted; entries whose directory has gone are
// dropped. Either is logged.
func NewDriver(root string, log *slog.Logger) (*Driver, error) {
	d := &Driver{root: root, log: log, volumes: map[string]*volumeState{}}
	for _, dir := range []string{d.volumesRoot(), d.tmpRoot()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("preparing %s: %w", dir, err)
		}
	}
	// Left over from a create or remove that was interrupted: never visible as a volume.
	if err := emptyDir(d.tmpRoot()); err != nil {
		return nil, err
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	changed, err := d.reconcile()
	if err != nil {
		return nil, err
	}
	if changed {
		if err := d.save(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Driver) volumesRoot() string { return filepath.Join(d.root, volumesDir) }
func (d *Driver) tmpRoot() string     { return filepath.Join(d.root, tmpDir) }
func (d *Driver) statePath() string   { return filepath.Join(d.root, stateFileName) }

// mountpoint is the volume's directory as the plugin sees it; the engine maps it to the host path itself.
func (d *Driver) mountpoint(name string) string { return filepath.Join(d.volumesRoot(), name) }

// Create makes the volume's directory with the requested owner and mode. Creating an existing volume again
// succeeds when it asks for no options or the same ones (the engine may repeat a create).
func (d *Driver) Create(req *volume.CreateRequest) error {
	if err := checkName(req.Name); err != nil {
		return err
	}
	opts, err := parseOptions(req.Options)
	if err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, ok := d.volumes[req.Name]; ok {
		if len(req.Options) == 0 || equalOptions(v.Options, req.Options) {
			d.log.Debug("create of an existing volume", "name", req.Name)
			return nil
		}
		return fmt.Errorf("volume %s already exists with options %s", req.Name, formatOptions(v.Options))
	}

	// Build the directory aside and rename it into place, so a failure leaves no half-made volume behind.
	staging, err := os.MkdirTemp(d.tmpRoot(), "create-")
	if err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	defer os.RemoveAll(staging)
	data := filepath.Join(staging, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	if err := opts.apply(data); err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	target := d.mountpoint(req.Name)
	if err := os.Rename(data, target); err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	d.volumes[req.Name] = &volumeState{CreatedAt: time.Now().UTC().Truncate(time.Second), Options: copyOptions(req.Options)}
	if err := d.save(); err != nil {
		delete(d.volumes, req.Name)
		_ = os.RemoveAll(target)
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	d.log.Info("created volume", "name", req.Name, "options", formatOptions(req.Options))
	return nil
}

// Remove deletes the volume and its data, unless a container has it mounted.
func (d *Driver) Remove(req *volume.RemoveRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.lookup(req.Name)
	if err != nil {
		return err
	}
	if n := len(v.Mounts); n > 0 {
		return fmt.Errorf("volume %s is in use (mounted %d time(s)): stop the containers using it first", req.Name, n)
	}
	// Move the data out of volumes/ first: once the state is saved the volume is gone, whatever the deletion does.
	trash, err := os.MkdirTemp(d.tmpRoot(), "remove-")
	if err != nil {
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	if err := os.Rename(d.mountpoint(req.Name), filepath.Join(trash, "data")); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = os.Remove(trash)
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	delete(d.volumes, req.Name)
	if err := d.save(); err != nil {
		d.volumes[req.Name] = v
		_ = os.Rename(filepath.Join(trash, "data"), d.mountpoint(req.Name))
		_ = os.RemoveAll(trash)
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		// The volume is gone for the engine; what is left in tmp/ goes at the next start.
		d.log.Warn("could not delete a removed volume's data", "name", req.Name, "err", err)
	}
	d.log.Info("removed volume", "name", req.Name)
	return nil
}

// Mount records that caller req.ID uses the volume. The same ID mounting twice counts once.
func (d *Driver) Mount(req *volume.MountRequest) (*volume.MountResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.lookup(req.Name)
	if err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, fmt.Errorf("volume %s: mount request without a caller ID", req.Name)
	}
	if i, found := slices.BinarySearch(v.Mounts, req.ID); !found {
		v.Mounts = slices.Insert(v.Mounts, i, req.ID)
		if err := d.save(); err != nil {
			v.Mounts = slices.Delete(v.Mounts, i, i+1)
			return nil, fmt.Errorf("volume %s: %w", req.Name, err)
		}
	}
	d.log.Info("mounted volume", "name", req.Name, "id", req.ID, "mounts", len(v.Mounts))
	return &volume.MountResponse{Mountpoint: d.mountpoint(req.Name)}, nil
}

// Unmount forgets caller req.ID. An ID that never mounted is logged, not refused: the caller is done either way.
func (d *Driver) Unmount(req *volume.UnmountRequest) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.lookup(req.Name)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearch(v.Mounts, req.ID)
	if !found {
		d.log.Warn("unmount by a caller that had not mounted", "name", req.Name, "id", req.ID)
		return nil
	}
	v.Mounts = slices.Delete(v.Mounts, i, i+1)
	if err := d.save(); err != nil {
		v.Mounts = slices.Insert(v.Mounts, i, req.ID)
		return fmt.Errorf("volume %s: %w", req.Name, err)
	}
	d.log.Info("unmounted volume", "name", req.Name, "id", req.ID, "mounts", len(v.Mounts))
	return nil
}

// Path answers where the volume's data is. A directory is always available, mounted or not.
func (d *Driver) Path(req *volume.PathRequest) (*volume.PathResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.lookup(req.Name); err != nil {
		return nil, err
	}
	d.log.Debug("path", "name", req.Name)
	return &volume.PathResponse{Mountpoint: d.mountpoint(req.Name)}, nil
}

// Get describes one volume; Status shows up under `docker volume inspect`.
func (d *Driver) Get(req *volume.GetRequest) (*volume.GetResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.lookup(req.Name)
	if err != nil {
		return nil, err
	}
	d.log.Debug("get", "name", req.Name, "mounts", len(v.Mounts))
	return &volume.GetResponse{Volume: d.describe(req.Name, v)}, nil
}

// List describes every volume, sorted by name.
func (d *Driver) List() (*volume.ListResponse, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.volumes))
	for name := range d.volumes {
		names = append(names, name)
	}
	sort.Strings(names)
	d.log.Debug("list", "volumes", len(names))
	res := &volume.ListResponse{Volumes: make([]*volume.Volume, 0, len(names))}
	for _, name := range names {
		res.Volumes = append(res.Volumes, d.describe(name, d.volumes[name]))
	}
	return res, nil
}

// Capabilities: the data lives on this host only, so the engine (and swarm) must not treat it as cluster-wide.
func (d *Driver) Capabilities() *volume.CapabilitiesResponse {
	return &volume.CapabilitiesResponse{Capabilities: volume.Capability{Scope: "local"}}
}

func (d *Driver) describe(name string, v *volumeState) *volume.Volume {
	status := map[string]interface{}{"mounts": len(v.Mounts)}
	if len(v.Options) > 0 {
		status["options"] = copyOptions(v.Options)
	}
	return &volume.Volume{
		Name:       name,
		Mountpoint: d.mountpoint(name),
		CreatedAt:  v.CreatedAt.Format(time.RFC3339),
		Status:     status,
	}
}

func (d *Driver) lookup(name string) (*volumeState, error) {
	v, ok := d.volumes[name]
	if !ok {
		return nil, fmt.Errorf("volume %s not found", name)
	}
	return v, nil
}

func checkName(name string) error {
	if !validName.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid volume name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// load reads state.json; a missing file is a first start.
func (d *Driver) load() error {
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading state: %w", err)
	}
	var s stateFile
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("state file %s is damaged (%v): fix or delete it; volumes under %s are adopted again without it", d.statePath(), err, d.volumesRoot())
	}
	for name, v := range s.Volumes {
		if v == nil || checkName(name) != nil {
			return fmt.Errorf("state file %s: bad entry %q: fix or delete the file", d.statePath(), name)
		}
		sort.Strings(v.Mounts)
		d.volumes[name] = v
	}
	return nil
}

// reconcile makes the state agree with the directories under volumes/, which are what containers actually see.
func (d *Driver) reconcile() (changed bool, err error) {
	entries, err := os.ReadDir(d.volumesRoot())
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", d.volumesRoot(), err)
	}
	onDisk := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() || checkName(e.Name()) != nil {
			d.log.Warn("ignoring an entry that is not a volume", "path", filepath.Join(d.volumesRoot(), e.Name()))
			continue
		}
		onDisk[e.Name()] = true
		if _, known := d.volumes[e.Name()]; known {
			continue
		}
		created := time.Now().UTC()
		if info, err := e.Info(); err == nil {
			created = info.ModTime().UTC()
		}
		d.volumes[e.Name()] = &volumeState{CreatedAt: created.Truncate(time.Second)}
		d.log.Warn("adopted a volume directory missing from the state", "name", e.Name())
		changed = true
	}
	for name := range d.volumes {
		if !onDisk[name] {
			delete(d.volumes, name)
			d.log.Warn("dropped a volume whose directory is gone", "name", name)
			changed = true
		}
	}
	return changed, nil
}

// save writes state.json atomically: a new file beside it, flushed, then renamed over the old one.
func (d *Driver) save() error {
	data, err := json.MarshalIndent(stateFile{Volumes: d.volumes}, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	tmp, err := os.CreateTemp(d.root, ".state-*.json")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := os.Rename(tmp.Name(), d.statePath()); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return syncDir(d.root)
}

func syncDir(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

func emptyDir(path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(path, e.Name())); err != nil {
			return fmt.Errorf("clearing %s: %w", path, err)
		}
	}
	return nil
}

// volumeOptions are Create's options, parsed. uid and gid are -1 when not given (owner stays root).
type volumeOptions struct {
	uid, gid int
	mode     os.FileMode
}

// parseOptions accepts uid and gid (numbers) and mode (octal permission bits, default 0755).
func parseOptions(opts map[string]string) (volumeOptions, error) {
	parsed := volumeOptions{uid: -1, gid: -1, mode: 0o755}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad option named is the same every time
	for _, key := range keys {
		value := opts[key]
		switch key {
		case "uid", "gid":
			id, err := strconv.ParseUint(value, 10, 31)
			if err != nil {
				return parsed, fmt.Errorf("option %s=%q: want a number such as 1000", key, value)
			}
			if key == "uid" {
				parsed.uid = int(id)
			} else {
				parsed.gid = int(id)
			}
		case "mode":
			mode, err := strconv.ParseUint(value, 8, 32)
			if err != nil || mode > 0o777 {
				return parsed, fmt.Errorf("option mode=%q: want octal permissions from 0 to 0777, such as 0750", value)
			}
			parsed.mode = os.FileMode(mode)
		default:
			return parsed, fmt.Errorf("unknown option %q: this driver accepts %s", key, strings.Join(knownOptions, ", "))
		}
	}
	return parsed, nil
}

// apply sets the mode explicitly (mkdir's is cut by the umask) and the owner if one was asked for.
func (o volumeOptions) apply(dir string) error {
	if err := os.Chmod(dir, o.mode); err != nil {
		return err
	}
	if o.uid >= 0 || o.gid >= 0 {
		if err := os.Chown(dir, o.uid, o.gid); err != nil {
			return err
		}
	}
	return nil
}

func equalOptions(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func copyOptions(opts map[string]string) map[string]string {
	if len(opts) == 0 {
		return nil
	}
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		out[k] = v
	}
	return out
}

// formatOptions gives options as "k=v,k=v" in a stable order, "none" when empty.
func formatOptions(opts map[string]string) string {
	if len(opts) == 0 {
		return "none"
	}
	pairs := make([]string, 0, len(opts))
	for k, v := range opts {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}
