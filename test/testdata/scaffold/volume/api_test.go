package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/docker/go-plugins-helpers/volume"
)

// These tests speak the engine's wire protocol to the real handler over a unix socket, as dockerd does.

func startHandler(t *testing.T) (*http.Client, string) {
	t.Helper()
	d, root := newTestDriver(t)
	sock := filepath.Join(t.TempDir(), "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = volume.NewHandler(d).Serve(l) }()
	t.Cleanup(func() { l.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return client, root
}

// call posts body as the engine does and decodes the answer into out; it returns the HTTP status.
func call(t *testing.T, c *http.Client, path string, body interface{}, out interface{}) int {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Post("http://plugin"+path, "application/vnd.docker.plugins.v1.2+json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%s: decoding answer: %v", path, err)
	}
	return res.StatusCode
}

func TestActivateAnnouncesAVolumeDriver(t *testing.T) {
	c, _ := startHandler(t)
	var manifest struct{ Implements []string }
	call(t, c, "/Plugin.Activate", nil, &manifest)
	if len(manifest.Implements) != 1 || manifest.Implements[0] != "VolumeDriver" {
		t.Fatalf("Implements = %v", manifest.Implements)
	}
}

func TestAVolumeLifeOnTheWire(t *testing.T) {
	c, root := startHandler(t)
	want := filepath.Join(root, "volumes", "v1")
	var errRes struct{ Err string }

	// The engine sends options as "Opts".
	if code := call(t, c, "/VolumeDriver.Create", map[string]interface{}{"Name": "v1", "Opts": map[string]string{"mode": "0750"}}, &errRes); code != http.StatusOK || errRes.Err != "" {
		t.Fatalf("Create: HTTP %d %q", code, errRes.Err)
	}
	var mount struct{ Mountpoint, Err string }
	if code := call(t, c, "/VolumeDriver.Mount", map[string]string{"Name": "v1", "ID": "c1"}, &mount); code != http.StatusOK || mount.Mountpoint != want {
		t.Fatalf("Mount: HTTP %d %+v", code, mount)
	}
	var path struct{ Mountpoint string }
	if call(t, c, "/VolumeDriver.Path", map[string]string{"Name": "v1"}, &path); path.Mountpoint != want {
		t.Fatalf("Path = %+v", path)
	}
	var get struct {
		Volume struct {
			Name, Mountpoint, CreatedAt string
			Status                      map[string]interface{}
		}
	}
	if call(t, c, "/VolumeDriver.Get", map[string]string{"Name": "v1"}, &get); get.Volume.Name != "v1" || get.Volume.Status["mounts"] != 1.0 || get.Volume.CreatedAt == "" {
		t.Fatalf("Get = %+v", get)
	}
	var list struct {
		Volumes []struct{ Name, Mountpoint string }
	}
	if call(t, c, "/VolumeDriver.List", nil, &list); len(list.Volumes) != 1 || list.Volumes[0].Mountpoint != want {
		t.Fatalf("List = %+v", list)
	}
	if code := call(t, c, "/VolumeDriver.Remove", map[string]string{"Name": "v1"}, &errRes); code != http.StatusInternalServerError || errRes.Err == "" {
		t.Fatalf("Remove while mounted: HTTP %d %q", code, errRes.Err)
	}
	errRes.Err = ""
	if code := call(t, c, "/VolumeDriver.Unmount", map[string]string{"Name": "v1", "ID": "c1"}, &errRes); code != http.StatusOK || errRes.Err != "" {
		t.Fatalf("Unmount: HTTP %d %q", code, errRes.Err)
	}
	if code := call(t, c, "/VolumeDriver.Remove", map[string]string{"Name": "v1"}, &errRes); code != http.StatusOK || errRes.Err != "" {
		t.Fatalf("Remove: HTTP %d %q", code, errRes.Err)
	}
}

func TestCapabilitiesOnTheWire(t *testing.T) {
	c, _ := startHandler(t)
	var caps struct{ Capabilities struct{ Scope string } }
	if call(t, c, "/VolumeDriver.Capabilities", nil, &caps); caps.Capabilities.Scope != "local" {
		t.Fatalf("Capabilities = %+v", caps)
	}
}

func TestErrorsReachTheEngineAsErr(t *testing.T) {
	c, _ := startHandler(t)
	var res struct{ Err string }
	code := call(t, c, "/VolumeDriver.Create", map[string]interface{}{"Name": "v1", "Opts": map[string]string{"size": "1G"}}, &res)
	if code != http.StatusInternalServerError || res.Err != `volume v1: unknown option "size": this driver accepts gid, mode, uid` {
		t.Fatalf("Create with an unknown option: HTTP %d, Err %q", code, res.Err)
	}
}
