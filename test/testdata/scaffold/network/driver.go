package main

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/docker/go-plugins-helpers/network"
)

// genericOptionsKey is where the engine puts the `-o key=value` options of `docker network create`.
const genericOptionsKey = "com.docker.network.generic"

// Driver is a local-scope network driver. Each network is a Linux bridge on the host; each endpoint is a veth
// pair whose host end is attached to that bridge and whose other end becomes the container's interface. The
// engine's IPAM picks the addresses and the engine configures them inside the container, so containers on one
// network reach each other over the bridge. There is no gateway: traffic leaves the network only if you add
// routing yourself (see README.md).
type Driver struct {
	// mu serialises link changes: the engine may call for several containers at once, and a Join must not
	// race the DeleteNetwork that removes its bridge.
	mu    sync.Mutex
	links Links
	log   *slog.Logger
}

// NewDriver returns a driver that changes links through links and reports what it does to log.
func NewDriver(links Links, log *slog.Logger) *Driver {
	return &Driver{links: links, log: log}
}

var _ network.Driver = (*Driver)(nil)

// GetCapabilities says the driver's networks exist on this host only.
func (d *Driver) GetCapabilities() (*network.CapabilitiesResponse, error) {
	return &network.CapabilitiesResponse{Scope: network.LocalScope, ConnectivityScope: network.LocalScope}, nil
}

// CreateNetwork creates the network's bridge.
func (d *Driver) CreateNetwork(r *network.CreateNetworkRequest) error {
	if err := checkOptions(r.Options); err != nil {
		return err
	}
	bridge, err := bridgeName(r.NetworkID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.links.EnsureBridge(bridge); err != nil {
		return fmt.Errorf("creating bridge %s for network %s: %w", bridge, short(r.NetworkID), err)
	}
	d.log.Info("network created", "network", short(r.NetworkID), "bridge", bridge)
	return nil
}

// DeleteNetwork removes the network's bridge. The engine deletes every endpoint first.
func (d *Driver) DeleteNetwork(r *network.DeleteNetworkRequest) error {
	bridge, err := bridgeName(r.NetworkID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.links.DeleteLink(bridge); err != nil {
		return fmt.Errorf("deleting bridge %s of network %s: %w", bridge, short(r.NetworkID), err)
	}
	d.log.Info("network deleted", "network", short(r.NetworkID), "bridge", bridge)
	return nil
}

// CreateEndpoint accepts the address the engine's IPAM chose. It answers with no interface fields: the engine
// refuses a driver that changes an address or MAC it already assigned. The veth pair is made on Join.
func (d *Driver) CreateEndpoint(r *network.CreateEndpointRequest) (*network.CreateEndpointResponse, error) {
	if _, _, err := vethNames(r.EndpointID); err != nil {
		return nil, err
	}
	if _, err := bridgeName(r.NetworkID); err != nil {
		return nil, err
	}
	address := ""
	if r.Interface != nil {
		address = r.Interface.Address
	}
	d.log.Debug("endpoint created", "network", short(r.NetworkID), "endpoint", short(r.EndpointID), "address", address)
	return &network.CreateEndpointResponse{}, nil
}

// DeleteEndpoint removes the endpoint's veth pair if Leave did not (for example after a plugin crash).
func (d *Driver) DeleteEndpoint(r *network.DeleteEndpointRequest) error {
	host, _, err := vethNames(r.EndpointID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.links.DeleteLink(host); err != nil {
		return fmt.Errorf("deleting veth %s of endpoint %s: %w", host, short(r.EndpointID), err)
	}
	d.log.Debug("endpoint deleted", "endpoint", short(r.EndpointID))
	return nil
}

// EndpointInfo tells `docker inspect` which host links serve the endpoint.
func (d *Driver) EndpointInfo(r *network.InfoRequest) (*network.InfoResponse, error) {
	host, _, err := vethNames(r.EndpointID)
	if err != nil {
		return nil, err
	}
	bridge, err := bridgeName(r.NetworkID)
	if err != nil {
		return nil, err
	}
	return &network.InfoResponse{Value: map[string]string{"hostInterface": host, "bridge": bridge}}, nil
}

// Join creates the endpoint's veth pair, attaches the host end to the network's bridge and hands the other end
// to the engine, which moves it into the container as eth<N> and gives it the endpoint's address.
func (d *Driver) Join(r *network.JoinRequest) (*network.JoinResponse, error) {
	host, container, err := vethNames(r.EndpointID)
	if err != nil {
		return nil, err
	}
	bridge, err := bridgeName(r.NetworkID)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// The engine does not call CreateNetwork again after a host reboot, so the bridge may be gone.
	if err := d.links.EnsureBridge(bridge); err != nil {
		return nil, fmt.Errorf("bridge %s of network %s: %w", bridge, short(r.NetworkID), err)
	}
	// A pair left over from a Join that never saw its Leave would make the new pair fail with "file exists".
	if err := d.links.DeleteLink(host); err != nil {
		return nil, fmt.Errorf("removing stale veth %s: %w", host, err)
	}
	if err := d.links.AddVethPair(host, container); err != nil {
		return nil, fmt.Errorf("creating veth pair %s/%s: %w", host, container, err)
	}
	if err := d.attach(host, bridge); err != nil {
		if cleanupErr := d.links.DeleteLink(host); cleanupErr != nil {
			d.log.Warn("cleanup after failed join", "veth", host, "err", cleanupErr)
		}
		return nil, err
	}
	d.log.Info("endpoint joined", "network", short(r.NetworkID), "endpoint", short(r.EndpointID),
		"veth", host, "bridge", bridge, "sandbox", r.SandboxKey)
	return &network.JoinResponse{
		InterfaceName: network.InterfaceName{SrcName: container, DstPrefix: containerIfnamePrefix},
		// No gateway and no default route: without this the engine would also attach the container to its
		// docker_gwbridge network to give it one.
		DisableGatewayService: true,
	}, nil
}

func (d *Driver) attach(host, bridge string) error {
	if err := d.links.SetMaster(host, bridge); err != nil {
		return fmt.Errorf("attaching %s to bridge %s: %w", host, bridge, err)
	}
	if err := d.links.SetUp(host); err != nil {
		return fmt.Errorf("setting %s up: %w", host, err)
	}
	return nil
}

// Leave deletes the endpoint's veth pair; the container's end goes with it.
func (d *Driver) Leave(r *network.LeaveRequest) error {
	host, _, err := vethNames(r.EndpointID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.links.DeleteLink(host); err != nil {
		return fmt.Errorf("deleting veth %s of endpoint %s: %w", host, short(r.EndpointID), err)
	}
	d.log.Info("endpoint left", "network", short(r.NetworkID), "endpoint", short(r.EndpointID))
	return nil
}

// AllocateNetwork and FreeNetwork are called in swarm mode only; a local-scope driver has nothing to do.
func (d *Driver) AllocateNetwork(*network.AllocateNetworkRequest) (*network.AllocateNetworkResponse, error) {
	return &network.AllocateNetworkResponse{}, nil
}

// FreeNetwork: see AllocateNetwork.
func (d *Driver) FreeNetwork(*network.FreeNetworkRequest) error { return nil }

// DiscoverNew is a swarm node-discovery notification; nothing to do.
func (d *Driver) DiscoverNew(*network.DiscoveryNotification) error { return nil }

// DiscoverDelete: see DiscoverNew.
func (d *Driver) DiscoverDelete(*network.DiscoveryNotification) error { return nil }

// ProgramExternalConnectivity would publish ports (-p); this driver has no way out of the network, so ports
// are not published.
func (d *Driver) ProgramExternalConnectivity(*network.ProgramExternalConnectivityRequest) error {
	return nil
}

// RevokeExternalConnectivity: see ProgramExternalConnectivity.
func (d *Driver) RevokeExternalConnectivity(*network.RevokeExternalConnectivityRequest) error {
	return nil
}

// checkOptions refuses `-o` options: the driver takes none, and a silently ignored option is a typo nobody
// notices.
func checkOptions(options map[string]interface{}) error {
	generic, ok := options[genericOptionsKey].(map[string]interface{})
	if !ok || len(generic) == 0 {
		return nil
	}
	keys := make([]string, 0, len(generic))
	for k := range generic {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Errorf("unknown driver option %s: this driver takes no -o options", strings.Join(keys, ", "))
}

// short is the 12-character form of an engine ID, as the docker CLI shows it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
