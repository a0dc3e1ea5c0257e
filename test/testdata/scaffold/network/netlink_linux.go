package main

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// netlinkLinks changes links in one network namespace through netlink. The plugin runs in the host's
// namespace (config.json: network type host), so that is where its bridges and veth pairs appear.
type netlinkLinks struct {
	h *netlink.Handle
}

// newHostLinks works in the namespace the plugin runs in.
func newHostLinks() (*netlinkLinks, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	return &netlinkLinks{h: h}, nil
}

// newLinksAt works in the namespace ns (the tests use a namespace of their own).
func newLinksAt(ns netns.NsHandle) (*netlinkLinks, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink in namespace %s: %w", ns, err)
	}
	return &netlinkLinks{h: h}, nil
}

func (n *netlinkLinks) Close() { n.h.Close() }

func (n *netlinkLinks) EnsureBridge(name string) error {
	link, err := n.h.LinkByName(name)
	switch {
	case err == nil:
		if link.Type() != "bridge" {
			return fmt.Errorf("link %s exists and is a %s, not a bridge", name, link.Type())
		}
	case isNotFound(err):
		link = &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := n.h.LinkAdd(link); err != nil {
			return fmt.Errorf("adding bridge %s: %w", name, err)
		}
	default:
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", name, err)
	}
	return nil
}

func (n *netlinkLinks) AddVethPair(hostName, peerName string) error {
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostName}, PeerName: peerName}
	if err := n.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("adding veth pair %s/%s: %w", hostName, peerName, err)
	}
	return nil
}

func (n *netlinkLinks) SetMaster(name, bridge string) error {
	link, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	master, err := n.h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", bridge, err)
	}
	return n.h.LinkSetMaster(link, master)
}

func (n *netlinkLinks) SetUp(name string) error {
	link, err := n.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	return n.h.LinkSetUp(link)
}

func (n *netlinkLinks) DeleteLink(name string) error {
	link, err := n.h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	return n.h.LinkDel(link)
}

func isNotFound(err error) bool {
	var notFound netlink.LinkNotFoundError
	return errors.As(err, &notFound)
}
