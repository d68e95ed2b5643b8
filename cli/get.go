package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/yaml"

	"layerwise/format"
	"layerwise/jobs/openshift"
	"layerwise/store"
)

// cmdGet lists image streams and images like `oc get is,images`; -o json
// (or yaml) prints a v1 List of image.openshift.io/v1 objects — Images
// first, then ImageStreams — that `import openshift` reads back whole.
func (c *cli) cmdGet(ctx context.Context, args []string) error {
	f := c.newFlags("get", false)
	output := f.String("o", "", "output format: json or yaml")
	all := f.Bool("A", false, "all namespaces")
	f.BoolVar(all, "all-namespaces", false, "all namespaces")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch *output {
	case "", "json", "yaml":
	default:
		return usagef("get: -o %q: the output formats are json and yaml", *output)
	}
	const want = "get: want `get is|images|is,images [NAME...] [-n NS | -A] [-o json|yaml]`"
	if len(pos) < 1 {
		return usagef(want)
	}
	var streamsWanted, imagesWanted bool
	for _, kind := range strings.Split(pos[0], ",") {
		switch kind {
		case "is", "imagestream", "imagestreams", "imagestreams.image.openshift.io":
			streamsWanted = true
		case "image", "images", "images.image.openshift.io":
			imagesWanted = true
		default:
			return usagef("get: unknown kind %q; %s", kind, strings.TrimPrefix(want, "get: "))
		}
	}
	names := pos[1:]
	if len(names) > 0 && streamsWanted && imagesWanted {
		return usagef("get: name objects of one kind at a time: `get is NAME...` or `get images DIGEST...`")
	}
	ns := *f.ns
	nsSet := false
	f.Visit(func(fl *flagT) { nsSet = nsSet || fl.Name == "n" || fl.Name == "namespace" })
	if *all || !nsSet {
		// Without -n, show everything: there is no "current project" here.
		ns = ""
	}
	s, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	var streams []store.StreamSnapshot
	if streamsWanted {
		if streams, err = getStreams(ctx, s, ns, *f.ns, names); err != nil {
			return err
		}
	}
	var images []store.ImageSnapshot
	if imagesWanted {
		if images, err = getImages(ctx, s, ns, names); err != nil {
			return err
		}
	}
	if *output != "" {
		b, err := openshift.ExportList(streams, images)
		if err != nil {
			return err
		}
		if *output == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return fmt.Errorf("get: %w", err)
			}
		}
		_, err = c.stdout.Write(b)
		return err
	}
	if len(streams) == 0 && len(images) == 0 {
		if ns != "" {
			fmt.Fprintf(c.stderr, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(c.stderr, "No resources found.")
		}
		return nil
	}
	w := tabwriter.NewWriter(c.stdout, 0, 8, 3, ' ', 0)
	if len(streams) > 0 {
		printStreams(w, streams, s.Now(), streamsWanted && imagesWanted)
	}
	if len(images) > 0 {
		if len(streams) > 0 {
			w.Flush()
			fmt.Fprintln(c.stdout)
		}
		prefix := ""
		if streamsWanted {
			prefix = "image.image.openshift.io/"
		}
		fmt.Fprintln(w, "NAME\tIMAGE REFERENCE")
		for _, img := range images {
			fmt.Fprintf(w, "%s%s\t%s\n", prefix, img.Digest, img.DockerImageReference)
		}
	}
	return w.Flush()
}

func getStreams(ctx context.Context, s *store.Store, ns, defaultNS string, names []string) ([]store.StreamSnapshot, error) {
	if len(names) > 0 {
		var picked []store.StreamSnapshot
		for _, name := range names {
			ref, err := store.ParseStreamRef(name, defaultNS)
			if err != nil {
				return nil, err
			}
			st, err := s.GetStream(ctx, ref)
			if err != nil {
				return nil, err
			}
			picked = append(picked, st)
		}
		return picked, nil
	}
	streams, err := s.ListStreams(ctx, ns)
	if err != nil && !(errors.Is(err, store.ErrNotFound) && ns != "") {
		return nil, err
	}
	return streams, nil
}

// getImages are the images whose Image object is known: every one, or with
// a namespace those its histories hold (Images are cluster-wide in
// OpenShift; a namespace's export carries the images it uses).
func getImages(ctx context.Context, s *store.Store, ns string, names []string) ([]store.ImageSnapshot, error) {
	var sc *store.Scope
	if ns != "" {
		sc = &store.Scope{Namespaces: []string{ns}}
	}
	imgs, err := s.ListImages(ctx, sc)
	if err != nil || len(names) == 0 {
		return imgs, err
	}
	byDigest := map[string]store.ImageSnapshot{}
	for _, img := range imgs {
		byDigest[img.Digest] = img
	}
	var picked []store.ImageSnapshot
	for _, n := range names {
		img, ok := byDigest[n]
		if !ok {
			return nil, fmt.Errorf("image %q not found%s", n, map[bool]string{true: " in namespace " + ns}[ns != ""])
		}
		picked = append(picked, img)
	}
	return picked, nil
}

func printStreams(w *tabwriter.Writer, streams []store.StreamSnapshot, now time.Time, prefixed bool) {
	fmt.Fprintln(w, "NAMESPACE\tNAME\tIMAGE REPOSITORY\tTAGS\tUPDATED")
	for _, st := range streams {
		tags := append([]store.TagSnapshot(nil), st.Tags...)
		store.OrderTags(tags, func(t store.TagSnapshot) string { return t.Name })
		var names []string
		var updated string
		var newest store.EventSnapshot
		for _, t := range tags {
			names = append(names, t.Name)
			if len(t.Items) > 0 && t.Items[0].Created.After(newest.Created) {
				newest = t.Items[0]
			}
		}
		if !newest.Created.IsZero() {
			updated = format.Ago(newest.Created, now)
		}
		if len(names) > 4 {
			names = append(names[:3], fmt.Sprintf("+ %d more...", len(names)-3))
		}
		name := st.Name
		if prefixed {
			name = "imagestream.image.openshift.io/" + name
		}
		// oc shows the public repository when the registry has one.
		repo := st.PublicPullSpec
		if repo == "" {
			repo = st.PullSpec
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", st.Namespace, name, repo, strings.Join(names, ","), updated)
	}
}
