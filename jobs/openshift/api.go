package openshift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The image.openshift.io/v1 wire types, reduced to the fields Layerwise
// keeps. Decode and Export share them so both sides spell fields alike.
// Timestamps stay strings here: they are parsed with the field's path so a
// bad one can be named.

const (
	apiVersionImage  = "image.openshift.io/v1"
	mediaTypeList    = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeV2      = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeConfig  = "application/vnd.docker.container.image.v1+json"
	mediaTypeOCIMan  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeOCIConf = "application/vnd.oci.image.config.v1+json"
)

type apiHeader struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

type apiList struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   struct{}          `json:"metadata"`
	Items      []json.RawMessage `json:"items"`
}

type apiMeta struct {
	Name              string    `json:"name,omitempty"`
	Namespace         string    `json:"namespace,omitempty"`
	CreationTimestamp *string   `json:"creationTimestamp"` // null when unknown, as the API prints it
	Generation        int64     `json:"generation,omitempty"`
	Labels            stringMap `json:"labels,omitempty"`
	Annotations       stringMap `json:"annotations,omitempty"`
}

type apiStream struct {
	Kind       string          `json:"kind,omitempty"`
	APIVersion string          `json:"apiVersion,omitempty"`
	Metadata   apiMeta         `json:"metadata"`
	Spec       apiStreamSpec   `json:"spec"`
	Status     apiStreamStatus `json:"status"`
}

type apiStreamSpec struct {
	LookupPolicy          apiLookupPolicy `json:"lookupPolicy"`
	DockerImageRepository string          `json:"dockerImageRepository,omitempty"`
	Tags                  []apiSpecTag    `json:"tags,omitempty"`
}

type apiLookupPolicy struct {
	Local bool `json:"local"`
}

type apiSpecTag struct {
	Name            string          `json:"name"`
	Annotations     stringMap       `json:"annotations,omitempty"`
	From            *apiRef         `json:"from,omitempty"`
	Reference       bool            `json:"reference,omitempty"`
	Generation      *int64          `json:"generation,omitempty"`
	ImportPolicy    apiImportPolicy `json:"importPolicy"`
	ReferencePolicy *apiRefPolicy   `json:"referencePolicy,omitempty"`
}

type apiRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type apiImportPolicy struct {
	Insecure   bool   `json:"insecure,omitempty"`
	Scheduled  bool   `json:"scheduled,omitempty"`
	ImportMode string `json:"importMode,omitempty"`
}

type apiRefPolicy struct {
	Type string `json:"type"`
}

type apiStreamStatus struct {
	DockerImageRepository       string         `json:"dockerImageRepository,omitempty"`
	PublicDockerImageRepository string         `json:"publicDockerImageRepository,omitempty"`
	Tags                        []apiStatusTag `json:"tags,omitempty"`
}

type apiStatusTag struct {
	Tag        string         `json:"tag"`
	Items      []apiEvent     `json:"items"`
	Conditions []apiCondition `json:"conditions,omitempty"`
}

type apiEvent struct {
	Created              *string `json:"created"`
	DockerImageReference string  `json:"dockerImageReference"`
	Image                string  `json:"image"`
	Generation           int64   `json:"generation"`
}

type apiCondition struct {
	Type               string  `json:"type"`
	Status             string  `json:"status"`
	LastTransitionTime *string `json:"lastTransitionTime,omitempty"`
	Reason             string  `json:"reason,omitempty"`
	Message            string  `json:"message,omitempty"`
	Generation         int64   `json:"generation"`
}

type apiImage struct {
	Kind                         string           `json:"kind,omitempty"`
	APIVersion                   string           `json:"apiVersion,omitempty"`
	Metadata                     apiMeta          `json:"metadata"`
	DockerImageReference         string           `json:"dockerImageReference,omitempty"`
	DockerImageMetadata          *apiDockerImage  `json:"-"`
	DockerImageMetadataRaw       json.RawMessage  `json:"dockerImageMetadata,omitempty"`
	DockerImageMetadataVersion   string           `json:"dockerImageMetadataVersion,omitempty"`
	DockerImageManifest          string           `json:"dockerImageManifest,omitempty"`
	DockerImageLayers            []apiLayer       `json:"dockerImageLayers"`
	Signatures                   json.RawMessage  `json:"signatures,omitempty"`
	DockerImageManifestMediaType string           `json:"dockerImageManifestMediaType,omitempty"`
	DockerImageConfig            string           `json:"dockerImageConfig,omitempty"`
	DockerImageManifests         []apiManifestRef `json:"dockerImageManifests,omitempty"`
}

// decodeMetadata parses dockerImageMetadata (kept raw as given too).
func (a *apiImage) decodeMetadata() error {
	raw := bytes.TrimSpace(a.DockerImageMetadataRaw)
	if len(raw) == 0 || string(raw) == "null" {
		a.DockerImageMetadataRaw = nil
		return nil
	}
	var d apiDockerImage
	if err := json.Unmarshal(raw, &d); err != nil {
		return err
	}
	a.DockerImageMetadata = &d
	return nil
}

// apiDockerImage is dockerImageMetadata (the Docker 1.0 image format).
// encoding/json matches names case-insensitively, so "Os" also reads "os".
type apiDockerImage struct {
	Kind         string           `json:"kind,omitempty"`
	APIVersion   string           `json:"apiVersion,omitempty"`
	ID           string           `json:"Id,omitempty"`
	Created      *string          `json:"Created,omitempty"`
	Author       string           `json:"Author,omitempty"`
	Architecture string           `json:"Architecture,omitempty"`
	OS           string           `json:"Os,omitempty"`
	Variant      string           `json:"Variant,omitempty"`
	Config       *apiDockerConfig `json:"Config,omitempty"`
	// Size is config plus distinct layers for a schema 2 or OCI image,
	// as OpenShift computes it.
	Size int64 `json:"Size,omitempty"`
}

type apiDockerConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          strList             `json:"Env,omitempty"`
	Cmd          strList             `json:"Cmd,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	Entrypoint   strList             `json:"Entrypoint,omitempty"`
	Labels       stringMap           `json:"Labels,omitempty"`
}

type apiLayer struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
}

type apiManifestRef struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ManifestSize int64  `json:"manifestSize"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// apiStreamTag is an ImageStreamTag: a tag's spec, its current image whole,
// and the tag's conditions; metadata.name is STREAM:TAG and
// metadata.creationTimestamp the time of the current history entry.
type apiStreamTag struct {
	Kind       string         `json:"kind,omitempty"`
	APIVersion string         `json:"apiVersion,omitempty"`
	Metadata   apiMeta        `json:"metadata"`
	Tag        *apiSpecTag    `json:"tag"`
	Generation int64          `json:"generation"`
	Conditions []apiCondition `json:"conditions,omitempty"`
	Image      apiImage       `json:"image"`
}

// apiStreamImport is an ImageStreamImport as the API answers it: what was
// asked (spec) and what the registries held (status).
type apiStreamImport struct {
	Kind       string  `json:"kind,omitempty"`
	APIVersion string  `json:"apiVersion,omitempty"`
	Metadata   apiMeta `json:"metadata"`
	Spec       struct {
		Import bool `json:"import"`
		Images []struct {
			From apiRef `json:"from"`
			To   *struct {
				Name string `json:"name"`
			} `json:"to"`
			ImportPolicy    apiImportPolicy `json:"importPolicy"`
			ReferencePolicy *apiRefPolicy   `json:"referencePolicy"`
		} `json:"images"`
	} `json:"spec"`
	Status struct {
		Import     json.RawMessage   `json:"import"`
		Images     []apiImportStatus `json:"images"`
		Repository *struct {
			Images []apiImportStatus `json:"images"`
		} `json:"repository"`
	} `json:"status"`
}

type apiImportStatus struct {
	Status struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"status"`
	Image     *apiImage  `json:"image"`
	Tag       string     `json:"tag"`
	Manifests []apiImage `json:"manifests"`
}

type apiMapping struct {
	Kind       string   `json:"kind,omitempty"`
	APIVersion string   `json:"apiVersion,omitempty"`
	Metadata   apiMeta  `json:"metadata"`
	Image      apiImage `json:"image"`
	Tag        string   `json:"tag"`
}

// regManifest is a registry manifest or index, as dockerImageManifest holds it.
type regManifest struct {
	SchemaVersion int              `json:"schemaVersion"`
	MediaType     string           `json:"mediaType,omitempty"`
	Config        *regDescriptor   `json:"config,omitempty"`
	Layers        []regDescriptor  `json:"layers,omitempty"`
	Manifests     []regPlatformRef `json:"manifests,omitempty"`
}

type regDescriptor struct {
	MediaType string `json:"mediaType"`
	Size      *int64 `json:"size"`
	Digest    string `json:"digest"`
}

type regPlatformRef struct {
	regDescriptor
	Platform *struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant,omitempty"`
	} `json:"platform,omitempty"`
}

// stringMap reads labels and annotations leniently: hand-written YAML often
// leaves numbers and booleans unquoted (version: 2.7).
type stringMap map[string]string

func (m *stringMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(stringMap, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		switch x := x.(type) {
		case nil:
			out[k] = ""
		case bool:
			out[k] = strconv.FormatBool(x)
		case float64:
			out[k] = string(v)
		default:
			return fmt.Errorf("label or annotation %q must be a string, not %s", k, jsonKind(x))
		}
	}
	*m = out
	return nil
}

// strList reads Docker's string-or-list fields (Cmd, Entrypoint).
type strList []string

func (l *strList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = strList{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = list
	return nil
}

func jsonKind(x any) string {
	switch x.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}
