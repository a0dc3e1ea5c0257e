//go:build !linux

package main

import "errors"

// Docker managed plugins run on Linux only; this lets the driver's unit tests build elsewhere.
func newHostLinks() (Links, error) {
	return nil, errors.New("this network driver needs Linux netlink")
}
