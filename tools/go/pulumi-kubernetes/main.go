// Command pulumi-resource-kubernetes serves the pulumi-kubernetes provider.
//
// Upstream's main package embeds schema-embed.json and terraform-mapping-embed.json,
// which are generated at release time and are not in the module zip. tools/build
// generates both here (git-ignored) from schema.json / terraform-mapping.json that
// ship in the provider module, stamping the schema with the version it builds.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
