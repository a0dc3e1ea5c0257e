package main

import (
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/docker/go-plugins-helpers/network"
)

// fakeLinks is an in-memory Links: a set of links with their kind, master and state, plus optional failures.
type fakeLinks struct {
	links map[string]*fakeLink
	fail  map[string]error // operation name -> error to return
}

type fakeLink struct {
	kind   string // "bridge" or "veth"
	peer   string
	master string
	up     bool
}

func newFakeLinks() *fakeLinks {
	return &fakeLinks{links: map[string]*fakeLink{}, fail: map[string]error{}}
}

func (f *fakeLinks) EnsureBridge(name string) error {
	if err := f.fail["EnsureBridge"]; err != nil {
		return err
	}
	if l, ok := f.links[name]; ok {
		if l.kind != "bridge" {
			return errors.New(name + " is not a bridge")
		}
		l.up = true
		return nil
	}
	f.links[name] = &fakeLink{kind: "bridge", up: true}
	return nil
}

func (f *fakeLinks) AddVethPair(host, peer string) error {
	if err := f.fail["AddVethPair"]; err != nil {
		return err
	}
	if f.links[host] != nil || f.links[peer] != nil {
		return errors.New("file exists")
	}
	f.links[host] = &fakeLink{kind: "veth", peer: peer}
	f.links[peer] = &fakeLink{kind: "veth", peer: host}
	return nil
}

func (f *fakeLinks) SetMaster(name, bridge string) error {
	if err := f.fail["SetMaster"]; err != nil {
		return err
	}
	l, b := f.links[name], f.links[bridge]
	if l == nil || b == nil || b.kind != "bridge" {
		return errors.New("no such link or bridge")
	}
	l.master = bridge
	return nil
}

func (f *fakeLinks) SetUp(name string) error {
	if err := f.fail["SetUp"]; err != nil {
		return err
	}
	l := f.links[name]
	if l == nil {
		return errors.New("no such link")
	}
	l.up = true
	return nil
}

func (f *fakeLinks) DeleteLink(name string) error {
	if err := f.fail["DeleteLink"]; err != nil {
		return err
	}
	l := f.links[name]
	if l == nil {
		return nil
	}
	delete(f.links, name)
	if l.kind == "veth" {
		delete(f.links, l.peer)
	}
	if l.kind == "bridge" { // the kernel detaches the bridge's ports
		for _, other := range f.links {
			if other.master == name {
				other.master = ""
			}
		}
	}
	return nil
}

func (f *fakeLinks) names() string {
	names := make([]string, 0, len(f.links))
	for n := range f.links {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

const (
	netID = "5d2e0f4c9a1b7e3d8c6f2a0b4e1d9c7a5f3b8e2d6c0a4f1e9b7d3c5a8e2f6b0d"
	epID  = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	epID2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestDriver(t *testing.T) (*Driver, *fakeLinks) {
	t.Helper()
	links := newFakeLinks()
	return NewDriver(links, quietLog()), links
}

func mustCreateNetwork(t *testing.T, d *Driver) {
	t.Helper()
	if err := d.CreateNetwork(&network.CreateNetworkRequest{NetworkID: netID}); err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
}

func mustJoin(t *testing.T, d *Driver, endpointID string) *network.JoinResponse {
	t.Helper()
	create := &network.CreateEndpointRequest{NetworkID: netID, EndpointID: endpointID,
		Interface: &network.EndpointInterface{Address: "10.99.0.2/24"}}
	res, err := d.CreateEndpoint(create)
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	if res.Interface != nil {
		t.Fatalf("CreateEndpoint answered interface %+v; the engine refuses changes to what its IPAM assigned", res.Interface)
	}
	join, err := d.Join(&network.JoinRequest{NetworkID: netID, EndpointID: endpointID, SandboxKey: "/var/run/docker/netns/x"})
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	return join
}

func TestLinkNamesFitTheKernelLimit(t *testing.T) {
	bridge, err := bridgeName(netID)
	if err != nil {
		t.Fatal(err)
	}
	host, container, err := vethNames(epID)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bridge, host, container} {
		if len(name) > maxLinkName {
			t.Errorf("%s is %d bytes; Linux allows %d", name, len(name), maxLinkName)
		}
	}
	if host == container {
		t.Errorf("both veth ends are named %s", host)
	}
}

func TestLinkNamesRefuseIDsThatAreNotEngineIDs(t *testing.T) {
	for _, id := range []string{"", "abc", "../../etc/passwd/xx", "ABCDEF0123456789", "a1b2c3 d4e5f6071"} {
		if _, err := bridgeName(id); !errors.Is(err, errBadID) {
			t.Errorf("bridgeName(%q) = %v, want errBadID", id, err)
		}
		if _, _, err := vethNames(id); !errors.Is(err, errBadID) {
			t.Errorf("vethNames(%q) = %v, want errBadID", id, err)
		}
	}
}

func TestCapabilitiesAreLocal(t *testing.T) {
	d, _ := newTestDriver(t)
	caps, err := d.GetCapabilities()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Scope != network.LocalScope || caps.ConnectivityScope != network.LocalScope {
		t.Errorf("capabilities %+v, want local scope", caps)
	}
}

func TestCreateNetworkMakesABridge(t *testing.T) {
	d, links := newTestDriver(t)
	mustCreateNetwork(t, d)
	bridge, _ := bridgeName(netID)
	if l := links.links[bridge]; l == nil || l.kind != "bridge" || !l.up {
		t.Fatalf("links after CreateNetwork: %s; want bridge %s up", links.names(), bridge)
	}
	// The engine may repeat a create after a failed attempt; a second one must not fail.
	mustCreateNetwork(t, d)
}

func TestCreateNetworkRefusesDriverOptions(t *testing.T) {
	d, links := newTestDriver(t)
	err := d.CreateNetwork(&network.CreateNetworkRequest{NetworkID: netID, Options: map[string]interface{}{
		genericOptionsKey: map[string]interface{}{"mtu": "9000", "bridge": "x"},
	}})
	if err == nil || !strings.Contains(err.Error(), "bridge, mtu") {
		t.Fatalf("CreateNetwork with -o options: err = %v, want it to name both options", err)
	}
	if len(links.links) != 0 {
		t.Errorf("a refused network left links behind: %s", links.names())
	}
	// Options the engine sets itself are not driver options.
	err = d.CreateNetwork(&network.CreateNetworkRequest{NetworkID: netID, Options: map[string]interface{}{
		"com.docker.network.enable_ipv6": false, genericOptionsKey: map[string]interface{}{},
	}})
	if err != nil {
		t.Fatalf("CreateNetwork without -o options: %v", err)
	}
}

func TestJoinHandsTheContainerEndToTheEngine(t *testing.T) {
	d, links := newTestDriver(t)
	mustCreateNetwork(t, d)
	join := mustJoin(t, d, epID)

	host, container, _ := vethNames(epID)
	bridge, _ := bridgeName(netID)
	if join.InterfaceName.SrcName != container || join.InterfaceName.DstPrefix != "eth" {
		t.Errorf("Join interface %+v, want SrcName %s DstPrefix eth", join.InterfaceName, container)
	}
	if !join.DisableGatewayService || join.Gateway != "" {
		t.Errorf("Join promises a gateway (%+v); the driver has none", join)
	}
	h := links.links[host]
	if h == nil || h.master != bridge || !h.up || h.peer != container {
		t.Fatalf("host end %s = %+v, want up on %s, peer %s", host, h, bridge, container)
	}
	if c := links.links[container]; c == nil || c.master != "" {
		t.Fatalf("container end %s = %+v, want it present and on no bridge", container, c)
	}
}

func TestTwoEndpointsShareTheNetworkBridge(t *testing.T) {
	d, links := newTestDriver(t)
	mustCreateNetwork(t, d)
	mustJoin(t, d, epID)
	mustJoin(t, d, epID2)
	bridge, _ := bridgeName(netID)
	for _, ep := range []string{epID, epID2} {
		host, _, _ := vethNames(ep)
		if links.links[host] == nil || links.links[host].master != bridge {
			t.Errorf("endpoint %s: host end not on %s (links: %s)", short(ep), bridge, links.names())
		}
	}
}

func TestJoinRecreatesAMissingBridge(t *testing.T) {
	// After a host reboot the engine joins endpoints of networks whose bridge is gone.
	d, links := newTestDriver(t)
	mustJoin(t, d, epID)
	bridge, _ := bridgeName(netID)
	if links.links[bridge] == nil {
		t.Fatalf("links %s: Join did not recreate bridge %s", links.names(), bridge)
	}
}

func TestJoinReplacesAStalePair(t *testing.T) {
	d, links := newTestDriver(t)
	mustCreateNetwork(t, d)
	host, container, _ := vethNames(epID)
	if err := links.AddVethPair(host, container); err != nil {
		t.Fatal(err)
	}
	mustJoin(t, d, epID)
	if links.links[host] == nil || !links.links[host].up {
		t.Fatalf("links after Join over a stale pair: %s", links.names())
	}
}

func TestFailedJoinLeavesNoVeth(t *testing.T) {
	for _, op := range []string{"SetMaster", "SetUp", "AddVethPair"} {
		t.Run(op, func(t *testing.T) {
			d, links := newTestDriver(t)
			mustCreateNetwork(t, d)
			links.fail[op] = errors.New("operation not permitted")
			_, err := d.Join(&network.JoinRequest{NetworkID: netID, EndpointID: epID})
			if err == nil || !strings.Contains(err.Error(), "operation not permitted") {
				t.Fatalf("Join with failing %s: err = %v", op, err)
			}
			bridge, _ := bridgeName(netID)
			if links.names() != bridge {
				t.Errorf("links after failed Join: %s, want only %s", links.names(), bridge)
			}
		})
	}
}

func TestCleanup(t *testing.T) {
	tests := []struct {
		name string
		run  func(d *Driver) error
	}{
		{"Leave", func(d *Driver) error { return d.Leave(&network.LeaveRequest{NetworkID: netID, EndpointID: epID}) }},
		{"DeleteEndpoint without Leave", func(d *Driver) error {
			return d.DeleteEndpoint(&network.DeleteEndpointRequest{NetworkID: netID, EndpointID: epID})
		}},
		{"Leave then DeleteEndpoint", func(d *Driver) error {
			if err := d.Leave(&network.LeaveRequest{NetworkID: netID, EndpointID: epID}); err != nil {
				return err
			}
			return d.DeleteEndpoint(&network.DeleteEndpointRequest{NetworkID: netID, EndpointID: epID})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, links := newTestDriver(t)
			mustCreateNetwork(t, d)
			mustJoin(t, d, epID)
			if err := tc.run(d); err != nil {
				t.Fatal(err)
			}
			bridge, _ := bridgeName(netID)
			if links.names() != bridge {
				t.Fatalf("links: %s, want only %s", links.names(), bridge)
			}
			if err := d.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: netID}); err != nil {
				t.Fatal(err)
			}
			if len(links.links) != 0 {
				t.Fatalf("links after DeleteNetwork: %s", links.names())
			}
			// Repeating a delete (the engine retries after errors) is harmless.
			if err := d.DeleteNetwork(&network.DeleteNetworkRequest{NetworkID: netID}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEndpointInfoNamesTheHostLinks(t *testing.T) {
	d, _ := newTestDriver(t)
	info, err := d.EndpointInfo(&network.InfoRequest{NetworkID: netID, EndpointID: epID})
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := vethNames(epID)
	bridge, _ := bridgeName(netID)
	if info.Value["hostInterface"] != host || info.Value["bridge"] != bridge {
		t.Errorf("EndpointInfo = %v", info.Value)
	}
}
