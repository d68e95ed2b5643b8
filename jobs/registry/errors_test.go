package registry

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNetworkFailuresLookAlike: whatever keeps a registry from answering —
// a closed port, a reset, silence, TLS, a web server that is not a
// registry — the user reads one message (so an import cannot map a host's
// ports and services); the server log keeps what it was.
func TestNetworkFailuresLookAlike(t *testing.T) {
	t.Parallel()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedHost := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()

	reset, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reset.Close()
	go func() {
		for {
			conn, err := reset.Accept()
			if err != nil {
				return
			}
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}()

	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	web404 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<h1>Not Found</h1>", http.StatusNotFound)
	}))
	defer web404.Close()
	web200 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html>welcome</html>")
	}))
	defer web200.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "oops", http.StatusInternalServerError)
	}))
	defer broken.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	defer tlsSrv.Close()
	// A name (no plain-HTTP fallback) dialled to the TLS server.
	byName := &Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, tlsSrv.Listener.Addr().String())
	}}}

	host := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") }
	plain, slow := NewFetcher(""), &Client{Timeout: 300 * time.Millisecond}
	var want string
	for _, tc := range []struct {
		name, host string
		c          *Client
		detail     string
	}{
		{"connection refused", closedHost, plain, "connection refused"},
		{"connection reset", reset.Addr().String(), slow, ""}, // (go-containerregistry retries a reset)
		{"no answer", host(hang.URL), slow, ""},
		{"a web server's 404", host(web404.URL), plain, "404"},
		{"a web server's pages", host(web200.URL), plain, "text/html"},
		{"a server error", host(broken.URL), slow, ""}, // (retried too)
		{"TLS on a loopback address", host(tlsSrv.URL), plain, ""},
		{"TLS by name", "registry.test", byName, "certificate"},
	} {
		_, err := tc.c.Fetch(ctx, tc.host+"/payments/api:1.0", FetchOptions{})
		wantErr(t, err, ErrUnreachable, "cannot read from registry "+tc.host+":", "import as insecure")
		if Reason(err) != ReasonUnreachable {
			t.Errorf("%s: reason %q", tc.name, Reason(err))
		}
		msg := strings.ReplaceAll(err.Error(), tc.host, "HOST")
		if want == "" {
			want = msg
		} else if msg != want {
			t.Errorf("%s: %q\ndiffers from %q", tc.name, msg, want)
		}
		e := err.(*Error)
		if e.Detail() == "" || !strings.Contains(e.Detail(), tc.detail) {
			t.Errorf("%s: detail %q, want %q in it", tc.name, e.Detail(), tc.detail)
		}
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Warn("import failed", "err", err)
		if !strings.Contains(strings.ReplaceAll(logged.String(), `\"`, `"`), e.Detail()) {
			t.Errorf("%s: the log %q lacks the detail", tc.name, logged.String())
		}
	}
}
