package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"layerwise/handlers"
)

// OIDCConfig is the OpenID Connect login (LAYERWISE_OIDC_*).
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // read from LAYERWISE_OIDC_CLIENT_SECRET_FILE
	// RedirectURL is BaseURL + "/auth/oidc/callback".
	RedirectURL string
}

// oidcLogin talks to the provider; discovery happens on first use so a
// provider that is down at start-up does not keep the dashboard down.
type oidcLogin struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider
}

func (o *oidcLogin) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OpenID provider %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *oidcLogin) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

const oidcCookie = "layerwise_oidc"

// start sends the browser to the provider with a state, a nonce and a
// PKCE verifier remembered in a short-lived HttpOnly cookie (site-wide, so
// that over HTTPS it can carry the __Host- prefix).
func (srv *Server) oidcStart(c echo.Context) error {
	p, err := srv.oidc.discover(c.Request().Context())
	if err != nil {
		srv.log.Error("oidc discovery failed", "err", err)
		return c.String(http.StatusBadGateway, "The single sign-on provider cannot be reached; try again later.\n")
	}
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	next := c.QueryParam("next")
	handlers.SetCookie(c, oidcCookie, state+"."+nonce+"."+verifier+"."+base64.RawURLEncoding.EncodeToString([]byte(next)), 600, http.SameSiteLaxMode)
	url := srv.oidc.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return c.Redirect(http.StatusFound, url)
}

// callback checks state and nonce, exchanges the code, verifies the ID
// token and starts a session for the user it names.
func (srv *Server) oidcCallback(c echo.Context) error {
	ctx := c.Request().Context()
	fail := func(status int, msg string, err error) error {
		srv.log.Warn("oidc login refused", "reason", msg, "err", err)
		return c.String(status, "Single sign-on failed: "+msg+". Start again from the login page.\n")
	}
	ck := handlers.ReadCookie(c, oidcCookie)
	if ck == "" {
		return fail(http.StatusBadRequest, "the login took too long or cookies are blocked", nil)
	}
	handlers.SetCookie(c, oidcCookie, "", -1, http.SameSiteLaxMode)
	parts := strings.SplitN(ck, ".", 4)
	if len(parts) != 4 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(c.QueryParam("state"))) != 1 {
		return fail(http.StatusBadRequest, "the state does not match", nil)
	}
	if e := c.QueryParam("error"); e != "" {
		return fail(http.StatusUnauthorized, "the provider said "+e, nil)
	}
	p, err := srv.oidc.discover(ctx)
	if err != nil {
		return fail(http.StatusBadGateway, "the provider cannot be reached", err)
	}
	tok, err := srv.oidc.oauth(p).Exchange(ctx, c.QueryParam("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		return fail(http.StatusUnauthorized, "the code was refused", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return fail(http.StatusUnauthorized, "no ID token came back", nil)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: srv.oidc.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return fail(http.StatusUnauthorized, "the ID token is not valid", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(parts[1])) != 1 {
		return fail(http.StatusUnauthorized, "the nonce does not match", nil)
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		return fail(http.StatusUnauthorized, "the ID token's claims are unreadable", err)
	}
	name := claims.PreferredUsername
	if name == "" {
		name = claims.Email
	}
	if name == "" {
		name = idt.Subject
	}
	u, err := srv.store.EnsureUser(ctx, name)
	if err != nil {
		return fail(http.StatusForbidden, "the user name "+name+" cannot be used", err)
	}
	if err := u.CheckActive(); err != nil {
		return fail(http.StatusForbidden, "the account "+name+" is disabled; ask a platform admin to enable it again", err)
	}
	token, err := srv.store.CreateSession(ctx, u.ID, handlers.SessionTTL)
	if err != nil {
		return err
	}
	if old := handlers.ReadCookie(c, handlers.SessionCookie); old != "" {
		_ = srv.store.DeleteSession(ctx, old)
	}
	handlers.SetCookie(c, handlers.SessionCookie, token, int(handlers.SessionTTL.Seconds()), http.SameSiteLaxMode)
	srv.log.Info("login", "user", u.Name, "via", "oidc")
	next := "/"
	if b, err := base64.RawURLEncoding.DecodeString(parts[3]); err == nil {
		next = handlers.SafeNext(string(b))
	}
	return c.Redirect(http.StatusSeeOther, next)
}
