package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// fileKeychain holds the credentials of a .dockerconfigjson file (as a
// Kubernetes pull secret has them): {"auths": {"host[:port][/path]":
// {"auth": base64("user:password")} or {"username": …, "password": …}}}.
// The older .dockercfg form (the same map without "auths") is read too.
type fileKeychain struct {
	auths map[string]authn.AuthConfig // by normalized key: host[/path]
}

// anonymous is the keychain without a file.
var anonymous = &fileKeychain{}

func loadKeychain(path string) (*fileKeychain, error) {
	if path == "" {
		return anonymous, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the registry credentials (LAYERWISE_REGISTRY_AUTH_FILE): %v", err)
	}
	bad := func(err error) error {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			err = fmt.Errorf("it holds a JSON %s where an object belongs", te.Value)
		}
		return fmt.Errorf("LAYERWISE_REGISTRY_AUTH_FILE %s is not a .dockerconfigjson file {\"auths\": {\"registry.example.com\": {\"auth\": \"base64(user:password)\"}}}: %v", path, err)
	}
	var doc struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, bad(err)
	}
	if doc.Auths == nil {
		if err := json.Unmarshal(b, &doc.Auths); err != nil {
			return nil, bad(err)
		}
	}
	kc := &fileKeychain{auths: map[string]authn.AuthConfig{}}
	for k, v := range doc.Auths {
		kc.auths[normalizeKey(k)] = v
	}
	return kc, nil
}

// normalizeKey turns "https://index.docker.io/v1/", "docker.io" or
// "Quay.io/org" into the form resources are matched in.
func normalizeKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	host, path, _ := strings.Cut(k, "/")
	host = normalizeHost(host)
	path = strings.Trim(path, "/")
	if path == "" || (host == "index.docker.io" && path == "v1") {
		return host
	}
	return host + "/" + path
}

func normalizeHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return h
}

// Resolve finds the credentials of the most specific key that covers the
// resource (host/path over host); anonymous when none does.
func (kc *fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	host := normalizeHost(r.RegistryStr())
	full := host
	if rest, ok := strings.CutPrefix(r.String(), r.RegistryStr()); ok {
		full = host + rest
	}
	best, found := "", false
	for k := range kc.auths {
		if (k == host || k == full || strings.HasPrefix(full, k+"/")) && len(k) > len(best) {
			best, found = k, true
		}
	}
	if !found || kc.auths[best] == (authn.AuthConfig{}) {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(kc.auths[best]), nil
}
