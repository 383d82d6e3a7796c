// Upstream's cmd/pulumi-resource-kubernetes/generate.go, reading the schema and the Terraform
// mapping from the provider module's folder (the first argument) instead of its own: it sets
// the schema's version to $VERSION and writes both compacted into the current folder.
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: generate <provider module folder>/cmd/pulumi-resource-kubernetes")
	}
	source := os.Args[1]
	version, found := os.LookupEnv("VERSION")
	if !found {
		log.Fatal("version not found")
	}

	schemaContents, err := os.ReadFile(filepath.Join(source, "schema.json"))
	if err != nil {
		log.Fatal(err)
	}
	var packageSpec schema.PackageSpec
	if err := json.Unmarshal(schemaContents, &packageSpec); err != nil {
		log.Fatalf("cannot deserialize schema: %v", err)
	}
	packageSpec.Version = version
	versionedContents, err := json.Marshal(packageSpec)
	if err != nil {
		log.Fatalf("cannot reserialize schema: %v", err)
	}
	if err := os.WriteFile("schema-embed.json", versionedContents, 0600); err != nil {
		log.Fatal(err)
	}

	terraformContents, err := os.ReadFile(filepath.Join(source, "terraform-mapping.json"))
	if err != nil {
		log.Fatal(err)
	}
	var mapping interface{}
	if err := json.Unmarshal(terraformContents, &mapping); err != nil {
		log.Fatalf("cannot deserialize terraform mapping: %v", err)
	}
	embeddedMapping, err := json.Marshal(mapping)
	if err != nil {
		log.Fatalf("cannot reserialize terraform mapping: %v", err)
	}
	if err := os.WriteFile("terraform-mapping-embed.json", embeddedMapping, 0600); err != nil {
		log.Fatal(err)
	}
}
