package store

import (
	"regexp"
	"strings"
	"unicode"
)

// The name rules of docs/REFERENCE.md ("Names"). Refusals say them in
// words, so a person can see what to change; the patterns check them.
const (
	streamNamePattern = `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`
	tagNamePattern    = `^[\w][\w.-]{0,127}$`
	// StreamNameRule and TagNameRule are the rules in words (the importer
	// of OpenShift dumps checks the same rules and says them the same way).
	StreamNameRule    = `lower-case letters a–z and digits, in groups joined by a single '.', '_' or '-' (e.g. payment-api)`
	TagNameRule       = `at most 128 characters: letters a–z and A–Z, digits, '_', '.' and '-', not starting with '.' or '-' (e.g. v1.2.0)`
	namespaceNameRule = `a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`
	digestRule        = `algorithm:hex, e.g. sha256: and 64 lower-case hex digits`
)

var (
	streamNameRe = regexp.MustCompile(streamNamePattern)
	tagNameRe    = regexp.MustCompile(tagNamePattern)
	dnsLabelRe   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	digestRe     = regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$`)
	sha256Re     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// ValidateNamespace checks a namespace name.
func ValidateNamespace(ns string) error {
	if len(ns) > 63 || !dnsLabelRe.MatchString(ns) {
		return invalidf("namespace %q must be %s", ns, namespaceNameRule)
	}
	return nil
}

// ValidateStream checks a stream name within its namespace.
func ValidateStream(ns, name string) error {
	if !streamNameRe.MatchString(name) {
		return invalidf("image stream name %q must be %s", name, StreamNameRule)
	}
	if len(ns)+1+len(name) > 255 {
		return invalidf("image stream name %q: namespace/name must be at most 255 characters", name)
	}
	return nil
}

// ValidateTag checks a tag name.
func ValidateTag(tag string) error {
	if !tagNameRe.MatchString(tag) {
		return invalidf("tag name %q must be %s", tag, TagNameRule)
	}
	return nil
}

// ValidateDigest checks an image or blob digest.
func ValidateDigest(d string) error {
	if !digestRe.MatchString(d) || (strings.HasPrefix(d, "sha256:") && !sha256Re.MatchString(d)) {
		return invalidf("digest %q must be %s", d, digestRule)
	}
	return nil
}

// TagRef names a tag: namespace, stream and tag.
type TagRef struct {
	Namespace, Stream, Tag string
}

func (r TagRef) String() string { return r.Namespace + "/" + r.Stream + ":" + r.Tag }

// StreamRef names a stream.
type StreamRef struct {
	Namespace, Stream string
}

func (r StreamRef) String() string { return r.Namespace + "/" + r.Stream }

// Validate checks every part of the reference.
func (r TagRef) Validate() error {
	if err := ValidateNamespace(r.Namespace); err != nil {
		return err
	}
	if err := ValidateStream(r.Namespace, r.Stream); err != nil {
		return err
	}
	return ValidateTag(r.Tag)
}

// Validate checks both parts of the reference.
func (r StreamRef) Validate() error {
	if err := ValidateNamespace(r.Namespace); err != nil {
		return err
	}
	return ValidateStream(r.Namespace, r.Stream)
}

// The grammar of image references (distribution's reference package): a
// registry host is DNS labels with an optional port (or an IPv6 address in
// brackets); a repository is lower-case path components joined by '/'.
var (
	hostRe          = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$`)
	pathComponentRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
)

// ValidatePullSpec checks an external image reference:
// [host[:port]/]path[:tag][@digest], as docker and oc parse it.
func ValidatePullSpec(ref string) error {
	bad := func(why string) error {
		return invalidf("image reference %q %s; use [registry/]repository[:tag][@sha256:digest]", ref, why)
	}
	if ref == "" {
		return bad("is empty")
	}
	if strings.ContainsFunc(ref, unicode.IsSpace) {
		return bad("contains white space")
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest {
		if err := ValidateDigest(digest); err != nil {
			return bad("has a malformed digest")
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		if !tagNameRe.MatchString(name[i+1:]) {
			return bad("has a malformed tag")
		}
		name = name[:i]
	}
	if name == "" || len(name) > 255 {
		return bad("has a malformed repository")
	}
	parts := strings.Split(name, "/")
	// The first part is a registry host when it looks like one, as docker
	// decides: a dot, a port, "localhost" or an upper-case letter.
	if first := parts[0]; len(parts) > 1 && (strings.ContainsAny(first, ".:[") || first == "localhost" || strings.ToLower(first) != first) {
		if !hostRe.MatchString(first) {
			return bad("has a malformed registry host")
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !pathComponentRe.MatchString(p) {
			return bad("has a malformed repository: each part of the path is lower-case letters and digits, joined by '.', '_', '__' or '-'")
		}
	}
	return nil
}
