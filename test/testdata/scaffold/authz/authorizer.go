package main

import (
	"fmt"
	"log/slog"

	"github.com/docker/go-plugins-helpers/authorization"
)

// Authorizer answers the engine's authorization calls: every API request is checked against the rules of
// AUTHZ_POLICY followed by those of the policy file; the first matching rule decides, and no match allows.
type Authorizer struct {
	env  Policy
	file *PolicyFile
	log  *slog.Logger
}

func NewAuthorizer(env Policy, file *PolicyFile, log *slog.Logger) *Authorizer {
	return &Authorizer{env: env, file: file, log: log}
}

// AuthZReq is called before the engine handles a request. A policy file that cannot be read or parsed denies
// every request (saying why) until it is fixed: an authorization plugin that silently allowed everything on a
// typo would be worse than one that stops and says so.
func (a *Authorizer) AuthZReq(req authorization.Request) authorization.Response {
	path, err := RequestPath(req.RequestURI)
	if err != nil {
		a.log.Warn("denied", "method", req.RequestMethod, "uri", req.RequestURI, "err", err)
		return authorization.Response{Allow: false, Msg: "denied: " + err.Error()}
	}
	filePolicy, changed, err := a.file.Current()
	if changed {
		a.logFileChange(filePolicy, err)
	}
	if err != nil {
		return authorization.Response{Allow: false, Msg: fmt.Sprintf("denied: %v (every request is denied until the policy file is fixed)", err)}
	}
	rule := a.env.Decide(req.RequestMethod, path)
	if rule == nil {
		rule = filePolicy.Decide(req.RequestMethod, path)
	}
	switch {
	case rule == nil:
		a.log.Debug("allowed", "method", req.RequestMethod, "path", path, "user", req.User)
		return authorization.Response{Allow: true}
	case rule.Allow:
		a.log.Debug("allowed", "method", req.RequestMethod, "path", path, "user", req.User, "rule", rule.Text, "where", rule.Where)
		return authorization.Response{Allow: true}
	default:
		a.log.Info("denied", "method", req.RequestMethod, "path", path, "user", req.User, "rule", rule.Text, "where", rule.Where)
		return authorization.Response{Allow: false, Msg: fmt.Sprintf("denied by rule %q (%s)", rule.Text, rule.Where)}
	}
}

// AuthZRes is called with the engine's response before it reaches the client; this policy judges requests only.
func (a *Authorizer) AuthZRes(authorization.Request) authorization.Response {
	return authorization.Response{Allow: true}
}

func (a *Authorizer) logFileChange(policy Policy, err error) {
	switch {
	case err != nil:
		a.log.Error("policy file unusable: denying every request until it is fixed", "file", a.file.Path(), "err", err)
	case policy == nil:
		a.log.Info("no policy rules in file", "file", a.file.Path())
	default:
		a.log.Info("policy file loaded", "file", a.file.Path(), "rules", len(policy))
	}
}
