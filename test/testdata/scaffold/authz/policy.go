package main

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// A Rule is one line of a policy: `allow|deny METHODS PATH`.
type Rule struct {
	Allow   bool
	Methods []string       // upper case; nil means any method ("*")
	Prefix  string         // a path prefix, matched at "/" boundaries; empty when Pattern is set
	Pattern *regexp.Regexp // a regular expression ("~..."), searched in the path
	Text    string         // the rule as written, for messages
	Where   string         // where it was written: "/etc/authz/policy.txt line 3", "AUTHZ_POLICY rule 1"
}

// A Policy is a list of rules; the first rule that matches a request decides, and a request no rule matches is
// allowed.
type Policy []Rule

// knownMethods are the HTTP methods the engine's API uses; anything else in a rule is most likely a typo.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true}

// ParsePolicy reads rules, one per line; ";" also ends a rule, so a policy fits in a single environment value.
// Blank lines and "#" comments are skipped. source names the text in errors and messages: a file path gets
// "line N", anything else (an environment variable) "rule N".
func ParsePolicy(source, text string, file bool) (Policy, error) {
	var policy Policy
	count := 0
	for lineNo, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, part := range strings.Split(line, ";") {
			fields := strings.Fields(part)
			if len(fields) == 0 {
				continue
			}
			count++
			where := fmt.Sprintf("%s rule %d", source, count)
			if file {
				where = fmt.Sprintf("%s line %d", source, lineNo+1)
			}
			rule, err := parseRule(fields)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", where, strings.Join(fields, " "), err)
			}
			rule.Where = where
			policy = append(policy, rule)
		}
	}
	return policy, nil
}

func parseRule(fields []string) (Rule, error) {
	if len(fields) != 3 {
		return Rule{}, fmt.Errorf("want 3 words, ACTION METHODS PATH (e.g. \"deny POST /containers/create\"), found %d", len(fields))
	}
	rule := Rule{Text: strings.Join(fields, " ")}
	switch strings.ToLower(fields[0]) {
	case "allow":
		rule.Allow = true
	case "deny":
	default:
		return Rule{}, fmt.Errorf("unknown action %q: write allow or deny", fields[0])
	}
	if fields[1] != "*" {
		for _, m := range strings.Split(fields[1], ",") {
			m = strings.ToUpper(m)
			if !knownMethods[m] {
				return Rule{}, fmt.Errorf("unknown method %q: write * or a comma-separated list of GET, HEAD, POST, PUT, DELETE", m)
			}
			rule.Methods = append(rule.Methods, m)
		}
	}
	target := fields[2]
	switch {
	case strings.HasPrefix(target, "~"):
		re, err := regexp.Compile(target[1:])
		if err != nil {
			return Rule{}, fmt.Errorf("bad regular expression: %w", err)
		}
		rule.Pattern = re
	case strings.HasPrefix(target, "/"):
		if strings.Contains(target, "?") {
			return Rule{}, fmt.Errorf("a path prefix has no query (%q): rules match the path only", target)
		}
		rule.Prefix = path.Clean(target)
	default:
		return Rule{}, fmt.Errorf("path %q must start with / (a prefix) or ~ (a regular expression)", target)
	}
	return rule, nil
}

// apiVersion is the version prefix the engine accepts before every path (/v1.41/containers/json).
var apiVersion = regexp.MustCompile(`^/v[0-9][0-9.]*(/|$)`)

// RequestPath turns the engine's RequestUri into the path rules match: query dropped, percent-escapes decoded,
// "//" and "/./" collapsed (spellings the engine routes to the same handler must not slip past a rule), and the
// /v1.xx version prefix removed.
func RequestPath(requestURI string) (string, error) {
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return "", fmt.Errorf("request URI %q: %w", requestURI, err)
	}
	p := path.Clean("/" + u.Path)
	if loc := apiVersion.FindStringIndex(p); loc != nil {
		p = "/" + p[loc[1]:]
	}
	return p, nil
}

// Matches tells whether the rule applies to a request with this method and path (as RequestPath gives it).
func (r Rule) Matches(method, requestPath string) bool {
	if r.Methods != nil {
		found := false
		for _, m := range r.Methods {
			found = found || m == strings.ToUpper(method)
		}
		if !found {
			return false
		}
	}
	if r.Pattern != nil {
		return r.Pattern.MatchString(requestPath)
	}
	return r.Prefix == "/" || requestPath == r.Prefix || strings.HasPrefix(requestPath, r.Prefix+"/")
}

// Decide returns the first rule matching the request, or nil when none does (the request is then allowed).
func (p Policy) Decide(method, requestPath string) *Rule {
	for i := range p {
		if p[i].Matches(method, requestPath) {
			return &p[i]
		}
	}
	return nil
}
