// pulumi-resource-kubernetes, built as upstream's cmd/pulumi-resource-kubernetes/main.go builds
// it. The module zip lacks the two files upstream embeds (its `go generate` writes them), so
// tools/build_go_tools.py writes them first with ./generate, upstream's generate.go.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

var providerName = "kubernetes"

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve(providerName, version.Version, pulumiSchema, terraformMapping)
}
