package synth

// The constant name lists the generator draws from. They are read-only; the
// generator copies what it needs into its own state and never iterates a map,
// so the same seed always walks them in the same order.

// Namespace names are <kind>-<domain>-<NNNN>.
var nsKinds = []string{"team", "team", "team", "proj", "svc", "app", "data", "ml"}

var nsDomains = []string{
	"payments", "checkout", "identity", "search", "analytics", "logistics",
	"marketing", "platform", "mobile", "risk", "billing", "catalog", "support",
	"finance", "media", "iot", "growth", "security", "devtools", "ledger",
	"shipping", "pricing", "loyalty", "partners", "reporting", "messaging",
	"storefront", "warehouse", "fraud", "onboarding",
}

var firstNames = []string{
	"alice", "bob", "carmen", "deepak", "elena", "farid", "grace", "hiro",
	"ines", "jonas", "kofi", "lena", "marta", "nikolai", "olga", "priya",
	"quentin", "rosa", "sven", "tomas", "uma", "viktor", "wei", "yusuf",
}

var lastNames = []string{
	"nguyen", "smith", "garcia", "muller", "rossi", "kowalski", "tanaka",
	"okafor", "johansson", "silva", "dubois", "novak", "haddad", "kim",
	"fischer", "costa", "ivanova", "patel", "larsen", "moreau",
}

// streamNames holds more than the 40 streams a namespace may have.
var streamNames = []string{
	"api", "worker", "frontend", "billing-service", "gateway", "auth-service",
	"scheduler", "notifier", "ledger", "reports", "admin-ui", "search",
	"indexer", "etl", "mailer", "webhook-receiver", "pdf-renderer", "inventory",
	"catalog", "cart", "checkout", "orders", "payments-api", "fraud-detector",
	"model-server", "feature-store", "db-migrations", "metrics-exporter",
	"importer", "exporter", "sync-agent", "backend", "web", "mobile-bff",
	"graphql", "rate-limiter", "audit-log", "user-service", "profile",
	"recommendations", "pricing", "invoicing", "shipping", "tracking", "chat",
	"media-transcoder", "thumbnailer", "cache-warmer", "cron-jobs", "docs",
	"portal", "keycloak-theme", "kafka-consumer", "event-router",
	"config-server", "healthcheck", "loadtest", "e2e-tests", "data-loader",
	"ingest",
}

// baseEntry is one version of a base OS image family. Weight is how often a
// stream starts on it.
type baseEntry struct {
	family, version string
	weight          int
}

// baseCatalog: 6 families; within a family versions are oldest first, so a
// stream that upgrades moves to the next entry of its family.
var baseCatalog = []baseEntry{
	{"ubi8", "8.9", 3}, {"ubi8", "8.10", 5},
	{"ubi9", "9.3", 4}, {"ubi9", "9.4", 8}, {"ubi9", "9.5", 10}, {"ubi9", "9.6", 6},
	{"ubi9-minimal", "9.4", 3}, {"ubi9-minimal", "9.5", 5}, {"ubi9-minimal", "9.6", 3},
	{"alpine", "3.19", 2}, {"alpine", "3.20", 4}, {"alpine", "3.21", 4},
	{"debian", "bullseye", 2}, {"debian", "bookworm", 5}, {"debian", "trixie", 1},
	{"ubuntu", "22.04", 3}, {"ubuntu", "24.04", 3},
}

// runtimeEntry is one language runtime version layered on a base. Line
// groups the versions a stream may upgrade through (oldest first).
type runtimeEntry struct {
	line, lang, version, base string // base is family:version
	weight                    int
}

var runtimeCatalog = []runtimeEntry{
	{"python-ubi", "python", "3.9", "ubi8:8.10", 3},
	{"python-ubi", "python", "3.11", "ubi9:9.4", 8},
	{"python-ubi", "python", "3.12", "ubi9:9.5", 7},
	{"python-slim", "python", "3.12-slim", "debian:bookworm", 4},
	{"python-alpine", "python", "3.13-alpine", "alpine:3.21", 2},
	{"nodejs-ubi", "nodejs", "16", "ubi8:8.9", 2},
	{"nodejs-ubi", "nodejs", "18", "ubi9:9.3", 5},
	{"nodejs-ubi", "nodejs", "20", "ubi9:9.5", 9},
	{"nodejs-ubi", "nodejs", "22", "ubi9:9.6", 5},
	{"nodejs-alpine", "nodejs", "20-alpine", "alpine:3.20", 4},
	{"nodejs-debian", "nodejs", "22-bookworm", "debian:bookworm", 2},
	{"openjdk-ubi", "openjdk", "11", "ubi8:8.10", 4},
	{"openjdk-ubi", "openjdk", "17", "ubi9:9.4", 9},
	{"openjdk-ubi", "openjdk", "21", "ubi9:9.6", 6},
	{"temurin", "openjdk", "temurin-17", "ubuntu:22.04", 3},
	{"temurin", "openjdk", "temurin-21", "ubuntu:24.04", 3},
	{"dotnet-ubi", "dotnet", "6.0", "ubi8:8.9", 2},
	{"dotnet-ubi", "dotnet", "8.0", "ubi9:9.5", 4},
	{"dotnet-ubi", "dotnet", "9.0", "ubi9:9.6", 1},
	{"ruby-ubi", "ruby", "3.1", "ubi9:9.3", 1},
	{"ruby-ubi", "ruby", "3.3", "ubi9:9.5", 2},
	{"php-ubi", "php", "8.1", "ubi9:9.4", 1},
	{"php-ubi", "php", "8.2", "ubi9:9.5", 2},
	{"php-debian", "php", "8.3-fpm", "debian:bookworm", 1},
	{"golang-ubi", "golang", "1.22", "ubi9-minimal:9.4", 1},
	{"golang-ubi", "golang", "1.23", "ubi9-minimal:9.5", 2},
	{"nginx", "nginx", "1.24", "ubi9:9.4", 2},
	{"nginx", "nginx", "1.26", "ubi9:9.6", 2},
	{"httpd", "httpd", "2.4", "ubi9:9.5", 1},
	{"perl", "perl", "5.32", "ubi8:8.10", 1},
}

// channelEntry is an external image a scheduled tag imports from.
type channelEntry struct {
	ref, tag, base  string // ref is repository:tag; tag is the local tag name
	entrypoint, cmd string
	ports           string
	oci             bool
}

var channelCatalog = []channelEntry{
	{"docker.io/library/redis:7.2", "redis-7.2", "debian:bookworm", `["docker-entrypoint.sh"]`, `["redis-server"]`, `["6379/tcp"]`, false},
	{"docker.io/library/redis:7.4", "redis-7.4", "debian:bookworm", `["docker-entrypoint.sh"]`, `["redis-server"]`, `["6379/tcp"]`, false},
	{"docker.io/library/postgres:16", "postgres-16", "debian:bookworm", `["docker-entrypoint.sh"]`, `["postgres"]`, `["5432/tcp"]`, false},
	{"docker.io/library/postgres:17", "postgres-17", "debian:bookworm", `["docker-entrypoint.sh"]`, `["postgres"]`, `["5432/tcp"]`, false},
	{"docker.io/library/nginx:1.27", "nginx-upstream", "debian:bookworm", `["/docker-entrypoint.sh"]`, `["nginx","-g","daemon off;"]`, `["80/tcp"]`, true},
	{"docker.io/library/rabbitmq:3.13-management", "rabbitmq", "ubuntu:22.04", `["docker-entrypoint.sh"]`, `["rabbitmq-server"]`, `["5672/tcp","15672/tcp"]`, false},
	{"docker.io/library/mongo:7.0", "mongo-7.0", "ubuntu:22.04", `["docker-entrypoint.sh"]`, `["mongod"]`, `["27017/tcp"]`, false},
	{"quay.io/keycloak/keycloak:25.0", "keycloak", "ubi9-minimal:9.4", `["/opt/keycloak/bin/kc.sh"]`, `["start"]`, `["8080/tcp","8443/tcp"]`, true},
	{"docker.io/bitnami/kafka:3.7", "kafka", "debian:bookworm", `["/opt/bitnami/scripts/kafka/entrypoint.sh"]`, `["/opt/bitnami/scripts/kafka/run.sh"]`, `["9092/tcp"]`, false},
	{"registry.access.redhat.com/ubi9/ubi-minimal:latest", "ubi-minimal", "ubi9-minimal:9.5", `[]`, `["/bin/bash"]`, `[]`, false},
	{"quay.io/prometheus/node-exporter:v1.8.2", "node-exporter", "alpine:3.20", `["/bin/node_exporter"]`, `[]`, `["9100/tcp"]`, true},
	{"docker.io/grafana/grafana:11.2.0", "grafana", "alpine:3.20", `["/run.sh"]`, `[]`, `["3000/tcp"]`, false},
	{"ghcr.io/acme-corp/build-tools:stable", "build-tools", "ubi9:9.4", `[]`, `["/bin/bash"]`, `[]`, true},
	{"registry.example.com/platform/base-java:17", "base-java", "ubi9:9.4", `[]`, `["java","-jar","/deployments/app.jar"]`, `["8080/tcp"]`, false},
}

// Failed imports: the reasons OpenShift sets and the messages it writes.
// %[1]s is the tag's from name, %[2]s the registry host it talks to.
type failureEntry struct {
	reason, message string
	dockerHubOnly   bool
}

var failureCatalog = []failureEntry{
	{"NotFound", `dockerimage.image.openshift.io "%[1]s" not found`, false},
	{"NotFound", `dockerimage.image.openshift.io "%[1]s" not found`, false},
	{"Unauthorized", `you may not have access to the container image "%[1]s"`, false},
	{"Unauthorized", `you may not have access to the container image "%[1]s"`, false},
	{"InternalError", `Internal error occurred: %[1]s: toomanyrequests: You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit`, true},
	{"InternalError", `Internal error occurred: %[1]s: Get "https://%[2]s/v2/": net/http: TLS handshake timeout`, false},
	{"InternalError", `Internal error occurred: %[1]s: Get "https://%[2]s/v2/": dial tcp: lookup %[2]s on 172.30.0.10:53: no such host`, false},
}

// Media types.
const (
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtOCILayer       = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// emptyLayerDigest is the gzip of an empty tar: the layer an ENV or LABEL
// step of old builders leaves behind, which real manifests list repeatedly.
const (
	emptyLayerDigest = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
	emptyLayerSize   = 32
)

// Registry host names of pull specs.
const (
	internalRegistry = "image-registry.openshift-image-registry.svc:5000"
	publicRegistry   = "default-route-openshift-image-registry.apps.ocp.example.com"
)
