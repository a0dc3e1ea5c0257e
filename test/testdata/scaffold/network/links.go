package main

import (
	"errors"
	"fmt"
)

// Links is the handful of link operations the driver needs from the host's network stack. The real one
// (netlinkLinks) talks netlink; the tests use an in-memory one, so the driver's logic is tested without root.
type Links interface {
	// EnsureBridge creates the bridge unless one of that name exists, and sets it up.
	EnsureBridge(name string) error
	// AddVethPair creates a veth pair; both ends are left down.
	AddVethPair(hostName, peerName string) error
	// SetMaster attaches a link to a bridge.
	SetMaster(name, bridge string) error
	// SetUp brings a link up.
	SetUp(name string) error
	// DeleteLink removes a link (a veth takes its peer with it). A link that does not exist is not an error,
	// so cleanup can be repeated.
	DeleteLink(name string) error
}

// Linux interface names are at most 15 bytes (IFNAMSIZ - 1). Every name is a short prefix plus the start of
// the engine's 64-hex ID, so the driver keeps no state of its own: after a plugin restart it finds its links
// again by name.
const (
	maxLinkName           = 15
	bridgePrefix          = "plbr"
	hostVethPrefix        = "plh"
	containerPrefix       = "plc"
	containerIfnamePrefix = "eth"
)

// bridgeName is the Linux bridge that joins every endpoint of one network.
func bridgeName(networkID string) (string, error) {
	return linkName(bridgePrefix, networkID, "network")
}

// vethNames are the two ends of an endpoint's veth pair: the host end stays on the bridge, the other end is
// handed to the engine, which moves it into the container and renames it eth0, eth1, ...
func vethNames(endpointID string) (host, container string, err error) {
	if host, err = linkName(hostVethPrefix, endpointID, "endpoint"); err != nil {
		return "", "", err
	}
	container, err = linkName(containerPrefix, endpointID, "endpoint")
	return host, container, err
}

var errBadID = errors.New("IDs from the engine are hex strings of at least 12 characters")

func linkName(prefix, id, what string) (string, error) {
	n := maxLinkName - len(prefix)
	if len(id) < n {
		return "", fmt.Errorf("%s ID %q: %w", what, id, errBadID)
	}
	for _, c := range id[:n] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("%s ID %q: %w", what, id, errBadID)
		}
	}
	return prefix + id[:n], nil
}
