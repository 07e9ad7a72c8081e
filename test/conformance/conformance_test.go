// Dapr's own conformance suites (components-contrib tests/conformance/pubsub and tests/conformance/state) run
// against the component code daprd loads for the kit's kafka-pubsub (pubsub.kafka v1) and statestore
// (state.postgresql v2), with the metadata the kit renders.
//
// Nothing here chooses a metadata value: test/conformance/dapr-conformance.test.ts renders the kit's components,
// points them at the test substrate's Kafka and PostgreSQL, resolves the state store's secretKeyRef from the
// Secret the kit renders (the operator's job in a cluster) and applies daprd's {appID}/{namespace}/{uuid}
// substitutions, then writes one JSON file whose path is in LEARNFLOW_CONFORMANCE_SPEC. The operations and the
// suite settings are upstream's own: tests/config/{pubsub,state}/tests.yml of the same module version, copied
// next to the compiled test binary by test/substrate/provision-conformance.sh (LEARNFLOW_CONFORMANCE_UPSTREAM).
//
// Every subtest is reported (go test -json); a skipped one counts as failed in test/run-all.sh.
package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dapr/components-contrib/metadata"
	p_kafka "github.com/dapr/components-contrib/pubsub/kafka"
	s_postgresql_v2 "github.com/dapr/components-contrib/state/postgresql/v2"
	upstream "github.com/dapr/components-contrib/tests/conformance"
	conf_pubsub "github.com/dapr/components-contrib/tests/conformance/pubsub"
	conf_state "github.com/dapr/components-contrib/tests/conformance/state"
	"github.com/dapr/kit/logger"
	"github.com/dapr/kit/retry"
)

// The tests.yml entries whose operations and config are used: the ones upstream's own CI runs for these
// components (kafka without a profile; postgresql v2 against a plain server).
const (
	upstreamKafka      = "kafka"
	upstreamPostgresV2 = "postgresql.v2.docker"
)

// One run of a suite: a component as the kit renders it, after the substitutions daprd and the operator make.
type run struct {
	Name      string            `json:"name"`
	Component string            `json:"component"`
	Type      string            `json:"type"`
	Version   string            `json:"version"`
	Metadata  map[string]string `json:"metadata"`
	// Suite settings on top of upstream's (topic names: the kit created these topics before the run).
	Config map[string]any `json:"config"`
}

type spec struct {
	Pubsub []run `json:"pubsub"`
	State  []run `json:"state"`
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	path := os.Getenv("LEARNFLOW_CONFORMANCE_SPEC")
	require.NotEmpty(t, path, "LEARNFLOW_CONFORMANCE_SPEC must name the metadata file written by dapr-conformance.test.ts")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var s spec
	require.NoError(t, json.Unmarshal(b, &s), "parsing %s", path)
	return s
}

// upstreamEntry is the component's entry in upstream's tests.yml (operations and config), with upstream's own
// placeholder expansion applied to its config.
func upstreamEntry(t *testing.T, kind, component string) upstream.TestComponent {
	t.Helper()
	dir := os.Getenv("LEARNFLOW_CONFORMANCE_UPSTREAM")
	require.NotEmpty(t, dir, "LEARNFLOW_CONFORMANCE_UPSTREAM must name the copy of tests/config made at provisioning")
	tc, err := upstream.NewTestConfiguration(filepath.Join(dir, kind, "tests.yml"))
	require.NoError(t, err)
	for _, c := range tc.Components {
		if c.Component == component && c.Profile == "" {
			cfg := map[string]any{}
			for k, v := range c.Config {
				cfg[k] = v
			}
			c.Config = cfg
			return c
		}
	}
	require.FailNow(t, "no entry in upstream tests.yml", "%s/tests.yml has no component %q", kind, component)
	return upstream.TestComponent{}
}

func withConfig(t *testing.T, entry upstream.TestComponent, r run) map[string]any {
	cfg := map[string]any{}
	for k, v := range entry.Config {
		cfg[k] = v
	}
	for k, v := range r.Config {
		cfg[k] = v
	}
	upstream.ParseConfigurationMap(t, cfg)
	return cfg
}

func runs(t *testing.T, rs []run, kind, wantType, wantVersion string) []run {
	t.Helper()
	require.NotEmpty(t, rs, "the spec holds no %s run: nothing would be tested", kind)
	for _, r := range rs {
		require.Equal(t, wantType+" "+wantVersion, r.Type+" "+r.Version,
			"component %s: this test loads the code daprd uses for %s %s", r.Component, wantType, wantVersion)
	}
	return rs
}

// eachRun runs fn once per run of the spec's kind, beside the other suites (t.Parallel), with upstream's entry for
// the component and the run's suite settings on top of upstream's. Runs of one kind go one after the other (the
// pubsub runs share the kit's consumer group).
func eachRun(t *testing.T, kind, upstreamName, wantType, wantVersion string, pick func(spec) []run, fn func(t *testing.T, r run, entry upstream.TestComponent, cfg map[string]any)) {
	t.Parallel()
	s := loadSpec(t)
	entry := upstreamEntry(t, kind, upstreamName)
	for _, r := range runs(t, pick(s), kind, wantType, wantVersion) {
		t.Run(r.Name, func(t *testing.T) { fn(t, r, entry, withConfig(t, entry, r)) })
	}
}

func TestPubsubConformance(t *testing.T) {
	eachRun(t, "pubsub", upstreamKafka, "pubsub.kafka", "v1", func(s spec) []run { return s.Pubsub },
		func(t *testing.T, r run, entry upstream.TestComponent, cfgMap map[string]any) {
			cfg, err := conf_pubsub.NewTestConfig(entry.Component, entry.Operations, cfgMap)
			require.NoError(t, err)
			// daprd registers pubsub.kafka with this constructor (cmd/daprd/components/pubsub_kafka.go).
			conf_pubsub.ConformanceTests(t, r.Metadata, p_kafka.NewKafka(logger.NewLogger("dapr.contrib.pubsub.kafka."+r.Name)), cfg)
		})
}

func TestStateConformance(t *testing.T) {
	eachRun(t, "state", upstreamPostgresV2, "state.postgresql", "v2", func(s spec) []run { return s.State },
		func(t *testing.T, r run, entry upstream.TestComponent, cfgMap map[string]any) {
			cfg, err := conf_state.NewTestConfig(entry.Component, entry.Operations, cfgMap)
			require.NoError(t, err)
			// daprd's constructor for state.postgresql v2 (cmd/daprd/components/state_postgres.go).
			conf_state.ConformanceTests(t, r.Metadata, s_postgresql_v2.NewPostgreSQLStateStore(logger.NewLogger("dapr.contrib.state.postgresql."+r.Name)), cfg)
		})
}

// Not upstream's: the components ignore metadata keys they do not know (mapstructure decoding), so a misspelt key
// passes every suite above while its setting silently stays at the default. Each key the kit renders must be one
// the component reads: a field of its metadata struct (GetComponentMetadata, case-insensitive like the decoder)
// or, for pubsub.kafka, a retry setting read with the prefix "backOff" (common/component/kafka/kafka.go).
func TestKitMetadataKeys(t *testing.T) {
	s := loadSpec(t)
	check := func(t *testing.T, r run, known map[string]bool, prefixed map[string]bool, prefix string) {
		keys := make([]string, 0, len(r.Metadata))
		for k := range r.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Run(k, func(t *testing.T) {
				// The prefix itself is matched case-sensitively (strings.CutPrefix in dapr/kit config.PrefixedBy).
				rest, isPrefixed := strings.CutPrefix(k, prefix)
				ok := known[strings.ToLower(k)] || (prefix != "" && isPrefixed && prefixed[strings.ToLower(rest)])
				require.True(t, ok, "%s: metadata key %q is not read by %s %s (it reads: %s)",
					r.Component, k, r.Type, r.Version, strings.Join(append(sortedKeys(known), prefixedKeys(prefix, prefixed)...), ", "))
			})
		}
	}
	for _, r := range runs(t, s.Pubsub, "pubsub", "pubsub.kafka", "v1") {
		t.Run("pubsub-"+r.Name, func(t *testing.T) {
			check(t, r, componentKeys(t, p_kafka.NewKafka(logger.NewLogger("keys"))), retryKeys(), "backOff")
		})
	}
	for _, r := range runs(t, s.State, "state", "state.postgresql", "v2") {
		t.Run("state-"+r.Name, func(t *testing.T) {
			check(t, r, componentKeys(t, s_postgresql_v2.NewPostgreSQLStateStore(logger.NewLogger("keys"))), nil, "")
		})
	}
}

type withMetadata interface {
	GetComponentMetadata() metadata.MetadataMap
}

func componentKeys(t *testing.T, c any) map[string]bool {
	t.Helper()
	m, ok := c.(withMetadata)
	require.True(t, ok, "%T does not describe its metadata", c)
	out := map[string]bool{}
	for name, f := range m.GetComponentMetadata() {
		out[strings.ToLower(name)] = true
		for _, a := range f.Aliases {
			out[strings.ToLower(a)] = true
		}
	}
	require.NotEmpty(t, out, "%T describes no metadata", c)
	return out
}

// The mapstructure names of dapr/kit retry.Config (lower case: the decoder matches them case-insensitively).
func retryKeys() map[string]bool {
	out := map[string]bool{}
	rt := reflect.TypeOf(retry.Config{})
	for i := range rt.NumField() {
		if tag := strings.Split(rt.Field(i).Tag.Get("mapstructure"), ",")[0]; tag != "" && tag != "-" {
			out[strings.ToLower(tag)] = true
		}
	}
	return out
}

func prefixedKeys(prefix string, m map[string]bool) []string {
	out := []string{}
	for _, k := range sortedKeys(m) {
		out = append(out, prefix+"<"+k+">")
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
