package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// The site's cookies; over HTTPS their names carry the __Host- prefix.
const (
	SessionCookie = "layerwise_session" // the login
	CSRFCookie    = "layerwise_csrf"    // binds the forms of a browser without a session
)

// HTTPSKey (bool) is set by the server when the browser talks HTTPS to it:
// an https base URL (LAYERWISE_BASE_URL), TLS, or X-Forwarded-Proto from a
// trusted proxy.
const HTTPSKey = "layerwise.https"

func overHTTPS(c echo.Context) bool {
	b, _ := c.Get(HTTPSKey).(bool)
	return b || c.IsTLS()
}

// CookieName is a site cookie's name on this request. Over HTTPS it is
// "__Host-" + name: browsers accept such a cookie only with Secure,
// Path=/ and no Domain, so neither plain HTTP nor a sibling subdomain can
// set or shadow it.
func CookieName(c echo.Context, name string) string {
	if overHTTPS(c) {
		return "__Host-" + name
	}
	return name
}

// ReadCookie is the value of a site cookie ("" when absent).
func ReadCookie(c echo.Context, name string) string {
	ck, err := c.Cookie(CookieName(c, name))
	if err != nil {
		return ""
	}
	return ck.Value
}

// SetCookie sets a site cookie: Path=/, HttpOnly, no Domain, and Secure
// with the __Host- prefix over HTTPS. maxAge < 0 deletes it, 0 makes it
// last as long as the browser session.
func SetCookie(c echo.Context, name, value string, maxAge int, sameSite http.SameSite) {
	c.SetCookie(&http.Cookie{Name: CookieName(c, name), Value: value, Path: "/", HttpOnly: true,
		Secure: overHTTPS(c), SameSite: sameSite, MaxAge: maxAge})
}
