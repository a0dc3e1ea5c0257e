module example.com/acme/my-logging

go 1.24
