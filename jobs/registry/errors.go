package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
)

// The reasons an import failure records in a tag's ImportSuccess condition.
const (
	ReasonNotFound         = "NotFound"
	ReasonUnauthorized     = "Unauthorized"
	ReasonUnreachable      = "Unreachable"
	ReasonTimeout          = "Timeout"
	ReasonInvalidReference = "InvalidReference"
	ReasonInvalidManifest  = "InvalidManifest"
	ReasonInternalError    = "InternalError"
)

// Error is a failed fetch, in words a person can act on.
type Error struct {
	Reason string // one of the Reason constants
	Msg    string
	kind   error
}

func (e *Error) Error() string { return e.Msg }

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
	switch {
	case errors.Is(f.ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &Error{Reason: ReasonTimeout, kind: ErrTimeout,
			Msg: fmt.Sprintf("registry %s did not answer within %s while reading %s", host, f.timeout, f.ref)}
	case f.parent.Err() != nil:
		return fmt.Errorf("reading %s from %s: %w", f.ref, host, f.parent.Err())
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return f.httpError(te)
	}
	if msg, ok := tlsProblem(err); ok {
		hint := "; if it serves plain HTTP or a self-signed certificate, import with --insecure"
		if f.insecure {
			hint = ""
		}
		return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable,
			Msg: fmt.Sprintf("cannot talk TLS to registry %s: %s%s", host, msg, hint)}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable,
			Msg: fmt.Sprintf("registry %s is unreachable: %s", host, rootCause(err))}
	}
	return &Error{Reason: ReasonInvalidManifest, kind: ErrMalformed,
		Msg: fmt.Sprintf("registry %s sent something unreadable for %s: %v", host, f.ref, err)}
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
	case te.StatusCode == http.StatusBadRequest && strings.Contains(detail, "HTTP request to an HTTPS server"):
		// A loopback or private address is tried over plain HTTP when
		// HTTPS fails: what failed is the certificate.
		return &Error{Reason: ReasonUnreachable, kind: ErrUnreachable,
			Msg: fmt.Sprintf("cannot talk TLS to registry %s: its certificate does not verify; import with --insecure if you trust it", host)}
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsProblem says whether err is about TLS: a certificate that does not
// verify, or a server that does not speak TLS.
func tlsProblem(err error) (string, bool) {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci), errors.As(err, &cv):
		return "its certificate does not verify: " + rootCause(err), true
	case errors.As(err, &rh), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "it does not answer HTTPS", true
	}
	return "", false
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
