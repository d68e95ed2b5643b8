package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"layerwise/store"
)

// The kinds of failure, for errors.Is. A not-found error also matches
// store.ErrNotFound, an invalid reference store.ErrInvalid.
var (
	ErrNotFound         = errors.New("image not found in the registry")
	ErrUnauthorized     = errors.New("the registry refused access")
	ErrUnreachable      = errors.New("the registry is unreachable")
	ErrTimeout          = errors.New("the registry did not answer in time")
	ErrInvalidReference = errors.New("invalid image reference")
	ErrMalformed        = errors.New("malformed or unsupported manifest")
	ErrForbidden        = errors.New("the registry's address is not allowed for imports")
)

// The reasons an import failure records in a tag's ImportSuccess condition.
const (
	ReasonNotFound         = "NotFound"
	ReasonUnauthorized     = "Unauthorized"
	ReasonUnreachable      = "Unreachable"
	ReasonTimeout          = "Timeout"
	ReasonInvalidReference = "InvalidReference"
	ReasonInvalidManifest  = "InvalidManifest"
	ReasonForbidden        = "Forbidden"
	ReasonInternalError    = "InternalError"
)

// Error is a failed fetch, in words a person can act on.
type Error struct {
	Reason string // one of the Reason constants
	Msg    string
	kind   error
	// detail is the network failure under an Unreachable error, for the
	// server log only: the user's message does not tell one kind from
	// another.
	detail string
}

func (e *Error) Error() string { return e.Msg }

// LogValue is what the server log shows: the message and, for a network
// failure, what exactly failed.
func (e *Error) LogValue() slog.Value {
	if e.detail == "" {
		return slog.StringValue(e.Msg)
	}
	return slog.StringValue(e.Msg + " [" + e.detail + "]")
}

// Detail is what exactly failed under an Unreachable error ("" otherwise),
// for an operator: the message a user sees does not say.
func (e *Error) Detail() string { return e.detail }

// Is matches the kind, and store.ErrNotFound / store.ErrInvalid for the
// kinds that mean the same.
func (e *Error) Is(target error) bool {
	switch {
	case target == e.kind:
		return true
	case target == store.ErrNotFound:
		return e.kind == ErrNotFound
	case target == store.ErrInvalid:
		return e.kind == ErrInvalidReference
	}
	return false
}

// Reason is the condition reason of an import error.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonInternalError
}

// fail turns what go-containerregistry returned into an *Error.
func (f *fetch) fail(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	host := f.host()
	var refused *refusedError
	switch {
	case errors.As(err, &refused):
		return &Error{Reason: ReasonForbidden, kind: ErrForbidden,
			Msg: fmt.Sprintf("imports may not read from registry %s: its address is not public (loopback, link-local, private or reserved); "+
				"an administrator can allow it in LAYERWISE_IMPORT_ALLOW", host)}
	case f.parent.Err() != nil && !errors.Is(f.ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("reading %s from %s: %w", f.ref, host, f.parent.Err())
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return f.httpError(te)
	}
	var ue *url.Error
	var ne net.Error
	if tlsProblem(err) || errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return f.unreachable(rootCause(err))
	}
	return &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
		Msg: fmt.Sprintf("registry %s sent something unreadable for %s: %v", host, f.ref, err)}
}

// unreachable is every failure to talk to a registry at all — refused,
// reset, timed out, TLS, an HTTP server that is not a registry — in one
// message: which of them it was would tell a user about a host's ports
// and services (a closed port from an open web server), and imports may
// name any host. The server log keeps the detail.
func (f *fetch) unreachable(detail string) error {
	return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable, detail: detail,
		Msg: fmt.Sprintf("cannot read from registry %s: no registry answered (the connection was refused, reset or timed out, TLS failed, "+
			"or the server there is not a registry); check the host and port, and import as insecure if it serves plain HTTP or a self-signed certificate", f.host())}
}

func (f *fetch) httpError(te *transport.Error) error {
	host := f.host()
	has := func(codes ...transport.ErrorCode) bool {
		for _, d := range te.Errors {
			for _, c := range codes {
				if d.Code == c {
					return true
				}
			}
		}
		return false
	}
	detail := strings.TrimSpace(strings.TrimPrefix(te.Error(), requestPrefix(te)))
	if te.Request != nil && te.Request.URL.Path == "/v2/" || te.StatusCode == http.StatusBadRequest && strings.Contains(detail, "HTTP request to an HTTPS server") {
		// A registry answers its base endpoint with 200 or 401; anything
		// else there is not a registry. The 400 is a loopback or private
		// address tried over plain HTTP after HTTPS failed.
		return f.unreachable(requestPrefix(te) + detail)
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden ||
		has(transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
		why := "refused the credentials in LAYERWISE_REGISTRY_AUTH_FILE (" + f.authFile + ")"
		if !f.hasCreds {
			why = "wants credentials and none are configured for it"
			if f.authFile != "" {
				why = "wants credentials and LAYERWISE_REGISTRY_AUTH_FILE (" + f.authFile + ") has none for it"
			}
		}
		msg := fmt.Sprintf("unauthorized: registry %s %s (%d %s reading %s); check LAYERWISE_REGISTRY_AUTH_FILE",
			host, why, te.StatusCode, http.StatusText(te.StatusCode), f.ref)
		if host == "docker.io" {
			msg += " (Docker Hub also answers this for a repository that does not exist)"
		}
		return &Error{Reason: ReasonUnauthorized, kind: ErrUnauthorized, Msg: msg}
	case te.StatusCode == http.StatusNotFound ||
		has(transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode):
		return &Error{Reason: ReasonNotFound, kind: ErrNotFound,
			Msg: fmt.Sprintf("%s not found in %s: %s", f.ref, host, detail)}
	case te.StatusCode == http.StatusTooManyRequests || has(transport.TooManyRequestsErrorCode):
		return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable,
			Msg: fmt.Sprintf("registry %s refuses more requests for now (429 Too Many Requests); try again later", host)}
	case te.StatusCode >= 500:
		return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable,
			Msg: fmt.Sprintf("registry %s failed while reading %s: %s", host, f.ref, detail)}
	}
	return &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
		Msg: fmt.Sprintf("registry %s refused to serve %s: %s", host, f.ref, detail)}
}

func requestPrefix(te *transport.Error) string {
	if te.Request == nil {
		return ""
	}
	return fmt.Sprintf("%s %s: ", te.Request.Method, te.Request.URL.Redacted())
}

// tlsProblem says whether err is about TLS: a certificate that does not
// verify, or a server that does not speak TLS.
func tlsProblem(err error) bool {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &cv) || errors.As(err, &rh) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// rootCause is the innermost message of a chain of wrapped errors (the
// "connection refused" under "Get https://…: dial tcp …:").
func rootCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Error()
	}
	return err.Error()
}
