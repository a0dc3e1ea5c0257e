package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-plugins-helpers/authorization"
)

// These tests speak the engine's wire protocol to the real handler over a unix socket, as dockerd does.

type testPlugin struct {
	client     *http.Client
	policyFile string
}

func startPlugin(t *testing.T, envPolicy string) testPlugin {
	t.Helper()
	env, err := ParsePolicy("AUTHZ_POLICY", envPolicy, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.txt")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	handler := authorization.NewHandler(NewAuthorizer(env, NewPolicyFile(policyFile), log))
	sock := filepath.Join(dir, "p.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = handler.Serve(l) }()
	t.Cleanup(func() { l.Close() })
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return testPlugin{client: client, policyFile: policyFile}
}

func (p testPlugin) call(t *testing.T, path string, body interface{}, out interface{}) int {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.client.Post("http://plugin"+path, "application/vnd.docker.plugins.v1.2+json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatalf("%s: decoding answer: %v", path, err)
	}
	return res.StatusCode
}

// authorize sends what the engine sends before handling a request (daemon/authorization: method, URI, headers).
func (p testPlugin) authorize(t *testing.T, method, uri string) authorization.Response {
	t.Helper()
	var res authorization.Response
	code := p.call(t, "/AuthZPlugin.AuthZReq", map[string]interface{}{
		"User":           "",
		"RequestMethod":  method,
		"RequestUri":     uri,
		"RequestHeaders": map[string]string{"Content-Type": "application/json"},
		"RequestBody":    []byte(`{"Name":"v1"}`),
	}, &res)
	if code != http.StatusOK {
		t.Fatalf("AuthZReq %s %s: HTTP %d %+v", method, uri, code, res)
	}
	return res
}

func TestActivateAnnouncesAnAuthorizationPlugin(t *testing.T) {
	p := startPlugin(t, "")
	var manifest struct{ Implements []string }
	p.call(t, "/Plugin.Activate", nil, &manifest)
	if len(manifest.Implements) != 1 || manifest.Implements[0] != "authz" {
		t.Fatalf("Implements = %v", manifest.Implements)
	}
}

func TestRequestsAreAllowedUnlessARuleDenies(t *testing.T) {
	p := startPlugin(t, "deny POST /containers/create")
	writePolicy(t, p.policyFile, "# file rules\ndeny * /volumes\n", time.Hour)

	if res := p.authorize(t, "GET", "/v1.41/version"); !res.Allow || res.Msg != "" {
		t.Fatalf("GET /version: %+v", res)
	}
	res := p.authorize(t, "POST", "/v1.41/containers/create?name=web")
	if res.Allow || res.Msg != `denied by rule "deny POST /containers/create" (AUTHZ_POLICY rule 1)` {
		t.Fatalf("POST /containers/create: %+v", res)
	}
	res = p.authorize(t, "POST", "/v1.41/volumes/create")
	if res.Allow || res.Msg != `denied by rule "deny * /volumes" (`+p.policyFile+` line 2)` {
		t.Fatalf("POST /volumes/create: %+v", res)
	}
}

func TestResponsesAreAllowed(t *testing.T) {
	p := startPlugin(t, "deny * /")
	var res authorization.Response
	p.call(t, "/AuthZPlugin.AuthZRes", map[string]interface{}{
		"RequestMethod": "GET", "RequestUri": "/v1.41/info", "ResponseStatusCode": 200, "ResponseBody": []byte(`{}`),
	}, &res)
	if !res.Allow {
		t.Fatalf("AuthZRes: %+v", res)
	}
}

func TestAPolicyFileChangeAppliesToTheNextRequest(t *testing.T) {
	p := startPlugin(t, "")
	if res := p.authorize(t, "POST", "/v1.41/volumes/create"); !res.Allow {
		t.Fatalf("no policy file yet: %+v", res)
	}
	writePolicy(t, p.policyFile, "deny POST /volumes/create\n", time.Hour)
	if res := p.authorize(t, "POST", "/v1.41/volumes/create"); res.Allow {
		t.Fatalf("after writing the file: %+v", res)
	}
	writePolicy(t, p.policyFile, "deny GET,HEAD /_ping\n", time.Minute)
	if res := p.authorize(t, "POST", "/v1.41/volumes/create"); !res.Allow {
		t.Fatalf("after changing the file: %+v", res)
	}
}

func TestABrokenPolicyFileDeniesEverythingSayingWhy(t *testing.T) {
	p := startPlugin(t, "")
	writePolicy(t, p.policyFile, "deny * /volumes\nforbid GET /info\n", time.Hour)
	res := p.authorize(t, "GET", "/v1.41/version")
	if res.Allow || !strings.Contains(res.Msg, p.policyFile+` line 2: "forbid GET /info": unknown action "forbid"`) ||
		!strings.Contains(res.Msg, "every request is denied until the policy file is fixed") {
		t.Fatalf("broken file: %+v", res)
	}
	writePolicy(t, p.policyFile, "deny * /volumes\n", time.Minute)
	if res := p.authorize(t, "GET", "/v1.41/version"); !res.Allow {
		t.Fatalf("fixed file: %+v", res)
	}
}
