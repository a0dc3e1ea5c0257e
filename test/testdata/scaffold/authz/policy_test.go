package main

import (
	"strings"
	"testing"
)

func TestParsePolicyReadsRulesCommentsAndSeparators(t *testing.T) {
	text := strings.Join([]string{
		"# no volumes for anyone",
		"deny * /volumes",
		"",
		"allow GET /containers/json   # listing is fine",
		"deny post,PUT ~^/containers/[^/]+/(exec|attach)$ ; DENY DELETE /images/",
	}, "\n")
	policy, err := ParsePolicy("/etc/authz/policy.txt", text, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		allow   bool
		methods string
		prefix  string
		pattern string
		where   string
	}{
		{false, "", "/volumes", "", "/etc/authz/policy.txt line 2"},
		{true, "GET", "/containers/json", "", "/etc/authz/policy.txt line 4"},
		{false, "POST,PUT", "", "^/containers/[^/]+/(exec|attach)$", "/etc/authz/policy.txt line 5"},
		{false, "DELETE", "/images", "", "/etc/authz/policy.txt line 5"},
	}
	if len(policy) != len(want) {
		t.Fatalf("got %d rules, want %d: %+v", len(policy), len(want), policy)
	}
	for i, w := range want {
		r := policy[i]
		pattern := ""
		if r.Pattern != nil {
			pattern = r.Pattern.String()
		}
		if r.Allow != w.allow || strings.Join(r.Methods, ",") != w.methods || r.Prefix != w.prefix || pattern != w.pattern || r.Where != w.where {
			t.Errorf("rule %d = %+v, want %+v", i, r, w)
		}
	}
}

func TestParsePolicyFromAnEnvironmentValueCountsRules(t *testing.T) {
	policy, err := ParsePolicy("AUTHZ_POLICY", "deny POST /containers/create; deny * /volumes", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(policy) != 2 || policy[1].Where != "AUTHZ_POLICY rule 2" || policy[1].Text != "deny * /volumes" {
		t.Fatalf("policy = %+v", policy)
	}
	empty, err := ParsePolicy("AUTHZ_POLICY", "  ", false)
	if err != nil || len(empty) != 0 {
		t.Fatalf("blank policy: %v, %v", empty, err)
	}
}

func TestParsePolicyErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown action", "deny * /volumes\n\npermit GET /info", `policy.txt line 3: "permit GET /info": unknown action "permit"`},
		{"too few words", "# header\ndeny /volumes", `policy.txt line 2: "deny /volumes": want 3 words`},
		{"too many words", "deny GET /a /b", `policy.txt line 1: "deny GET /a /b": want 3 words`},
		{"unknown method", "deny GET,FETCH /info", `policy.txt line 1: "deny GET,FETCH /info": unknown method "FETCH"`},
		{"relative path", "deny GET containers", `policy.txt line 1: "deny GET containers": path "containers" must start with /`},
		{"query in prefix", "deny GET /containers/json?all=1", `policy.txt line 1: "deny GET /containers/json?all=1": a path prefix has no query`},
		{"bad regexp", "allow * /\ndeny * ~/containers/(", `policy.txt line 2: "deny * ~/containers/(": bad regular expression`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePolicy("policy.txt", c.text, true)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to start with %s", err, c.want)
			}
		})
	}
	_, err := ParsePolicy("AUTHZ_POLICY", "deny * /volumes; deny", false)
	if err == nil || !strings.HasPrefix(err.Error(), `AUTHZ_POLICY rule 2: "deny"`) {
		t.Fatalf("env error = %v", err)
	}
}

func TestRequestPath(t *testing.T) {
	cases := map[string]string{
		"/v1.41/containers/create?name=web": "/containers/create",
		"/v1.41":                            "/",
		"/containers/json":                  "/containers/json",
		"/_ping":                            "/_ping",
		"/v1.41//volumes/./create":          "/volumes/create",
		"/v1.41/volumes%2Fcreate":           "/volumes/create",
		"/v1.41/containers/../volumes":      "/volumes",
		"/version":                          "/version",
		"/volumes/v1.41":                    "/volumes/v1.41",
	}
	for uri, want := range cases {
		got, err := RequestPath(uri)
		if err != nil || got != want {
			t.Errorf("RequestPath(%q) = %q, %v; want %q", uri, got, err, want)
		}
	}
	if _, err := RequestPath("not a uri"); err == nil {
		t.Error("RequestPath accepted a relative URI")
	}
}

func TestRuleMatching(t *testing.T) {
	policy, err := ParsePolicy("p", strings.Join([]string{
		"allow GET /volumes/keep",
		"deny * /volumes",
		"deny POST /containers/create",
		"deny POST,DELETE ~^/containers/[^/]+/exec$",
		"deny GET /",
	}, "\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path string
		want         string // the rule's text, "" when none matches
	}{
		{"GET", "/volumes", "deny * /volumes"},
		{"POST", "/volumes/create", "deny * /volumes"},
		{"get", "/volumes/keep", "allow GET /volumes/keep"},
		{"DELETE", "/volumes/keep", "deny * /volumes"},
		{"POST", "/volumesx", ""}, // a prefix ends at a "/" boundary
		{"POST", "/containers/create", "deny POST /containers/create"},
		{"GET", "/containers/create", "deny GET /"},
		{"POST", "/containers/abc/exec", "deny POST,DELETE ~^/containers/[^/]+/exec$"},
		{"POST", "/containers/abc/exec/more", ""},
		{"POST", "/containers/abc/start", ""},
		{"HEAD", "/_ping", ""},
		{"GET", "/_ping", "deny GET /"},
	}
	for _, c := range cases {
		got := ""
		if rule := policy.Decide(c.method, c.path); rule != nil {
			got = rule.Text
		}
		if got != c.want {
			t.Errorf("%s %s matched %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
