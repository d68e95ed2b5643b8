package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The README's screenshots, taken from `serve --demo` in headless
// Chromium: docs/screenshots/make runs this with -screenshots DIR. Without
// the flag it does nothing.
var screenshotDir = flag.String("screenshots", "", "write the README's screenshots of serve --demo into this directory")

// readmeShots are the pages the README shows, in its tour's order.
var readmeShots = []struct {
	file, path, wait string
}{
	{"overview.png", "/", "table.ranking"},
	{"namespace.png", "/ns/ml", "svg.usage-chart"},
	{"prune.png", "/prune", ".prune-summary"},
	{"stream.png", "/ns/payments/is/api", "h1"},
	{"tag.png", "/ns/payments/istag/api:prod", "h1"},
	{"email.png", "/ns/ml/report", "h1"},
}

func TestScreenshots(t *testing.T) {
	t.Parallel()
	if *screenshotDir == "" {
		t.Skip("run docs/screenshots/make (go test ./cli -run TestScreenshots -screenshots DIR)")
	}
	exe := ""
	for _, c := range []string{os.Getenv("CHROME"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); c != "" && err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Fatal("no chromium: apt-get install -y chromium, or set $CHROME")
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A free loopback port for serve --demo.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srvCtx, stop := context.WithCancel(ctx)
	var out, errs bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(srvCtx, []string{"serve", "--demo", "--addr", addr, "--db", filepath.Join(t.TempDir(), "demo.db")}, strings.NewReader(""), &out, &errs)
	}()
	defer func() {
		stop()
		<-done
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo did not get ready:\n%s\n%s", out.String(), errs.String())
		}
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("login-name")),
		chromedp.SendKeys(chromedp.ID("login-name"), "demo"),
		chromedp.SendKeys(chromedp.ID("login-password"), "demo"),
		chromedp.Submit(chromedp.ID("login-password")),
		chromedp.WaitVisible(chromedp.CSS("table.ranking")),
	); err != nil {
		t.Fatalf("log in as demo: %v", err)
	}
	for _, s := range readmeShots {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+s.path), chromedp.WaitVisible(chromedp.CSS(s.wait))); err != nil {
			t.Fatalf("%s: %v", s.path, err)
		}
		// The visible part of the page at 1280×900: what a reader sees first.
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot of %s: %v", s.path, err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("screenshot of %s is not a PNG", s.path)
		}
		if err := os.WriteFile(filepath.Join(*screenshotDir, s.file), png, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "%s: %s (%d KiB)\n", s.file, s.path, len(png)>>10)
	}
}
