package main

import (
	"os"
	"runtime"
	"testing"

	"github.com/docker/go-plugins-helpers/network"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// linksInNewNamespace returns real netlink Links working in a network namespace of the test's own, so the test
// never touches the host's links. It needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); elsewhere the test skips.
func linksInNewNamespace(t *testing.T) (*netlinkLinks, *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	// netns.New switches the calling thread into the new namespace; keep this goroutine on that thread until
	// it is switched back.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	origin, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer origin.Close()
	ns, err := netns.New()
	if err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	if err := netns.Set(origin); err != nil {
		t.Fatalf("returning to the original namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() }) // the namespace and its links go when the last handle is closed

	links, err := newLinksAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(links.Close)
	probe, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(probe.Close)
	return links, probe
}

func TestNetlinkLifecycle(t *testing.T) {
	links, probe := linksInNewNamespace(t)
	d := NewDriver(links, quietLog())
	bridge, _ := bridgeName(netID)
	host, container, _ := vethNames(epID)

	if err := d.CreateNetwork(&network.CreateNetworkRequest{NetworkID: netID}); err != nil {
		t.Fatal(err)
	}
	br, err := probe.LinkByName(bridge)
	if err != nil || br.Type() != "bridge" {
		t.Fatalf("bridge %s: %v %v", bridge, br, err)
	}

	if _, err := d.Join(&network.JoinRequest{NetworkID: netID, EndpointID: epID}); err != nil {
		t.Fatal(err)
	}
	h, err := probe.LinkByName(host)
	if err != nil {
		t.Fatalf("host end %s: %v", host, err)
	}
	if h.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("host end %s has master index %d, want bridge %d", host, h.Attrs().MasterIndex, br.Attrs().Index)
	}
	if h.Attrs().Flags&(1<<0) == 0 { // net.FlagUp
		t.Errorf("host end %s is down", host)
	}
	if c, err := probe.LinkByName(container); err != nil || c.Type() != "veth" {
		t.Fatalf("container end %s: %v %v", container, c, err)
	}

	if err := d.Leave(&network.LeaveRequest{NetworkID: netID, EndpointID: epID}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{host, container} {
		if _, err := probe.LinkByName(name); !isNotFound(err) {
			t.Errorf("%s after Leave: err = %v, want not found", name, err)
		}
	}
	if err := d.DeleteEndpoint(&network.DeleteEndpointRequest{NetworkID: netID, EndpointID: epID}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: netID}); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.LinkByName(bridge); !isNotFound(err) {
		t.Errorf("bridge after DeleteNetwork: err = %v, want not found", err)
	}
}

func TestNetlinkRefusesANonBridgeOfTheBridgeName(t *testing.T) {
	links, _ := linksInNewNamespace(t)
	bridge, _ := bridgeName(netID)
	if err := links.AddVethPair(bridge, "other0"); err != nil {
		t.Fatal(err)
	}
	if err := links.EnsureBridge(bridge); err == nil {
		t.Fatal("EnsureBridge accepted a veth as the network's bridge")
	}
}
