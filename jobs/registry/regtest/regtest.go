// Package regtest runs the real CNCF distribution registry (Debian's
// docker-registry, distribution 2.8) on a free loopback port for tests,
// with filesystem storage in a temp dir and deletes enabled.
//
// Without the binary the test is skipped, unless LAYERWISE_REQUIRE_REGISTRY
// is set (CI sets it), in which case it fails: CI must never skip silently.
package regtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary is the registry executable looked up in PATH.
const Binary = "docker-registry"

// Options configure the registry.
type Options struct {
	// NotifyURL, when set, is a notifications endpoint that receives every
	// push and delete event, with "Authorization: Bearer NotifyToken".
	NotifyURL   string
	NotifyToken string
}

// Registry is one running registry.
type Registry struct {
	Host string // 127.0.0.1:PORT, as used in image references
	URL  string // http://127.0.0.1:PORT
	Dir  string // storage root directory (holds docker/registry/v2/...)

	t      testing.TB
	config string
	cmd    *exec.Cmd
	log    *bytes.Buffer
}

// Start starts a registry and stops it when the test ends.
func Start(t testing.TB, opt Options) *Registry {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if os.Getenv("LAYERWISE_REQUIRE_REGISTRY") != "" {
			t.Fatalf("%s not found in PATH but LAYERWISE_REQUIRE_REGISTRY is set: apt-get install -y docker-registry", Binary)
		}
		t.Skipf("%s not installed (apt-get install -y docker-registry); skipping the real-registry test", Binary)
	}
	dir := t.TempDir()
	r := &Registry{t: t, Dir: filepath.Join(dir, "storage"), config: filepath.Join(dir, "config.yml")}
	r.Host = freeAddr(t)
	r.URL = "http://" + r.Host
	if err := os.WriteFile(r.config, []byte(r.configYAML(opt)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start(bin)
	t.Cleanup(r.stop)
	return r
}

func (r *Registry) configYAML(opt Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, r.Dir, r.Host)
	if opt.NotifyURL != "" {
		fmt.Fprintf(&b, `notifications:
  events:
    includereferences: true
  endpoints:
    - name: layerwise
      url: %s
      headers:
        Authorization: [%q]
      timeout: 2s
      threshold: 3
      backoff: 200ms
`, opt.NotifyURL, "Bearer "+opt.NotifyToken)
	}
	return b.String()
}

func (r *Registry) start(bin string) {
	r.t.Helper()
	r.log = &bytes.Buffer{}
	r.cmd = exec.Command(bin, "serve", r.config)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", Binary, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.URL + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	r.t.Fatalf("%s did not answer on %s within 15s; its log:\n%s", Binary, r.URL, r.log)
}

func (r *Registry) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Log returns what the registry printed so far (for failure messages).
func (r *Registry) Log() string { return r.log.String() }

// GarbageCollect stops the registry, runs `docker-registry garbage-collect`
// on its storage (as the distribution docs require: no writes during GC),
// starts it again on the same address and returns the command's output.
func (r *Registry) GarbageCollect() string {
	r.t.Helper()
	r.stop()
	out, err := exec.Command(Binary, "garbage-collect", r.config).CombinedOutput()
	if err != nil {
		r.t.Fatalf("garbage-collect: %v\n%s", err, out)
	}
	bin, _ := exec.LookPath(Binary)
	r.start(bin)
	return string(out)
}

// v2 is the storage root of the registry's data.
func (r *Registry) v2() string { return filepath.Join(r.Dir, "docker", "registry", "v2") }

// BlobFiles returns every blob data file in storage: digest → bytes on disk.
func (r *Registry) BlobFiles() map[string]int64 {
	r.t.Helper()
	out := map[string]int64{}
	root := filepath.Join(r.v2(), "blobs")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "data" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		// blobs/sha256/ab/abcdef.../data
		hex := filepath.Base(filepath.Dir(p))
		alg := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(p))))
		out[alg+":"+hex] = info.Size()
		return nil
	})
	if err != nil {
		r.t.Fatalf("walk blobs: %v", err)
	}
	return out
}

// LayerLinks returns the distinct blobs linked into the _layers of every
// repository under prefix (a namespace, "team-a", or a repository,
// "team-a/api"), with their sizes on disk: the layers and configs that
// scope holds.
func (r *Registry) LayerLinks(prefix string) map[string]int64 {
	return r.links(prefix, false)
}

// Stored returns every distinct blob the repositories under prefix link:
// layers and configs (_layers) and manifests (_manifests/revisions), with
// their sizes on disk — all the bytes that scope keeps in the registry.
func (r *Registry) Stored(prefix string) map[string]int64 {
	return r.links(prefix, true)
}

func (r *Registry) links(prefix string, manifests bool) map[string]int64 {
	r.t.Helper()
	files := r.BlobFiles()
	out := map[string]int64{}
	root := filepath.Join(r.v2(), "repositories", filepath.FromSlash(prefix))
	sep := string(filepath.Separator)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || d.Name() != "link" {
			return nil
		}
		layer := strings.Contains(p, sep+"_layers"+sep)
		manifest := manifests && strings.Contains(p, sep+"_manifests"+sep+"revisions"+sep)
		if !layer && !manifest {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dg := strings.TrimSpace(string(b))
		if size, ok := files[dg]; ok {
			out[dg] = size
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("walk repositories: %v", err)
	}
	return out
}

// Sum adds up sizes.
func Sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
