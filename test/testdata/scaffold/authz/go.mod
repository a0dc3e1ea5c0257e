module example.com/acme/my-authz

go 1.24

require github.com/docker/go-plugins-helpers v0.0.0-20240701071450-45e2431495c8

require (
	github.com/Microsoft/go-winio v0.6.2 // indirect
	github.com/coreos/go-systemd v0.0.0-20191104093116-d3cd4ed1dbcf // indirect
	github.com/docker/go-connections v0.6.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sys v0.10.0 // indirect
)
