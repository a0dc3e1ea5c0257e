package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/docker/go-plugins-helpers/network"
)

// These tests speak the engine's wire protocol to the real handler over a unix socket, as dockerd does.

func startHandler(t *testing.T) (*http.Client, *fakeLinks) {
	t.Helper()
	d, links := newTestDriver(t)
	sock := filepath.Join(t.TempDir(), "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = network.NewHandler(d).Serve(l) }()
	t.Cleanup(func() { l.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return client, links
}

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

func TestActivateAnnouncesANetworkDriver(t *testing.T) {
	c, _ := startHandler(t)
	var manifest struct{ Implements []string }
	call(t, c, "/Plugin.Activate", nil, &manifest)
	if len(manifest.Implements) != 1 || manifest.Implements[0] != "NetworkDriver" {
		t.Fatalf("Implements = %v", manifest.Implements)
	}
}

func TestJoinOnTheWire(t *testing.T) {
	c, _ := startHandler(t)
	var empty map[string]interface{}
	if code := call(t, c, "/NetworkDriver.CreateNetwork", map[string]interface{}{
		"NetworkID": netID,
		"IPv4Data": []interface{}{
			map[string]interface{}{"AddressSpace": "LocalDefault", "Pool": "10.99.0.0/24", "Gateway": "10.99.0.1/24"},
		},
		"Options": map[string]interface{}{genericOptionsKey: map[string]interface{}{}},
	}, &empty); code != http.StatusOK {
		t.Fatalf("CreateNetwork: HTTP %d %v", code, empty)
	}
	var join map[string]interface{}
	if code := call(t, c, "/NetworkDriver.Join", map[string]interface{}{
		"NetworkID": netID, "EndpointID": epID, "SandboxKey": "/var/run/docker/netns/1", "Options": map[string]interface{}{},
	}, &join); code != http.StatusOK {
		t.Fatalf("Join: HTTP %d %v", code, join)
	}
	_, container, _ := vethNames(epID)
	iface, _ := join["InterfaceName"].(map[string]interface{})
	if iface["SrcName"] != container || iface["DstPrefix"] != "eth" || join["DisableGatewayService"] != true {
		t.Fatalf("Join answered %v", join)
	}
}

func TestErrorsReachTheEngineAsErr(t *testing.T) {
	c, _ := startHandler(t)
	var res struct{ Err string }
	code := call(t, c, "/NetworkDriver.CreateNetwork", map[string]interface{}{
		"NetworkID": netID, "Options": map[string]interface{}{genericOptionsKey: map[string]interface{}{"mtu": "1"}},
	}, &res)
	if code != http.StatusInternalServerError || res.Err == "" {
		t.Fatalf("CreateNetwork with an option: HTTP %d, Err %q", code, res.Err)
	}
}
