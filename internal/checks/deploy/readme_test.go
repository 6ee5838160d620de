package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pwreset/pwreset/internal/tools/ebsetup"
)

// pendingDocs are documents the README links that other branches write
// (docs/operations.md: issue 10B; docs/endpoints.md: issue 10A). A link to
// one is allowed while it does not exist here; once it exists it is
// checked like any other.
var pendingDocs = map[string]bool{"docs/operations.md": true, "docs/endpoints.md": true}

// ownDocs are the documents whose links this test checks.
var ownDocs = []string{"README.md", "docs/deploy.md", "docs/security.md", "docs/reference.md", "CHANGELOG.md"}

var reLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinkOnlyIntoTheRepository: every relative link resolves to a file
// in the repository, and nothing points outside it (a fresh clone has
// nothing beside it).
func TestDocsLinkOnlyIntoTheRepository(t *testing.T) {
	root := MustRepoRoot(t)
	for _, doc := range ownDocs {
		t.Run(doc, func(t *testing.T) {
			text := string(MustReadFile(t, doc))
			for _, m := range reLink.FindAllStringSubmatch(text, -1) {
				link := m[1]
				if strings.HasPrefix(link, "http://") || strings.HasPrefix(link, "https://") || strings.HasPrefix(link, "#") {
					continue
				}
				link, _, _ = strings.Cut(link, "#")
				target := filepath.Clean(filepath.Join(root, filepath.Dir(doc), link))
				rel, err := filepath.Rel(root, target)
				require.NoError(t, err)
				assert.False(t, strings.HasPrefix(rel, ".."), "%s links %s, outside the repository", doc, m[1])
				if pendingDocs[filepath.ToSlash(rel)] {
					continue
				}
				_, err = os.Stat(target)
				assert.NoError(t, err, "%s links %s, which does not exist", doc, m[1])
			}
			assert.NotContains(t, text, "../shared", "%s points outside the repository", doc)
			if strings.HasPrefix(doc, "docs/") {
				return // DESIGN.md is a sibling there
			}
			for _, m := range regexp.MustCompile(`(?:^|[^/A-Za-z])DESIGN\.md`).FindAllString(text, -1) {
				assert.Failf(t, "bare DESIGN.md", "%s names %q: the file is docs/DESIGN.md", doc, m)
			}
		})
	}
}

// TestReadmeDeployIsFiveCommandsThatExist checks the README's deploy
// section: five commands, each of a tool the section names, every make
// target in the Makefile, the Serverless Devs version the Makefile's npx
// fallback pins, and the access alias s.yaml uses.
func TestReadmeDeployIsFiveCommandsThatExist(t *testing.T) {
	readme := string(MustReadFile(t, "README.md"))
	i := strings.Index(readme, "## Deploy")
	require.GreaterOrEqual(t, i, 0, "README has no deploy section")
	section := readme[i:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(section)
	require.NotNil(t, block, "the deploy section has no sh block")

	targets := makeTargets(t)
	sVersion := mkVarRaw(t, "S_VERSION")
	require.NotEmpty(t, sVersion)
	var commands []string
	for _, line := range strings.Split(block[1], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "export ") {
			continue
		}
		commands = append(commands, line)
		fields := strings.Fields(line)
		switch fields[0] {
		case "make":
			require.Len(t, fields, 2, "one target per make command: %s", line)
			assert.True(t, targets[fields[1]], "`%s`: the Makefile has no target %s", line, fields[1])
		case "npm":
			assert.Equal(t, "npm install -g @serverless-devs/s@"+sVersion, line, "install the version the Makefile pins")
		case "s":
			assert.True(t, strings.HasPrefix(line, "s config add -a "+MustLoadSpec(t).Access+" "), "store credentials under s.yaml's access alias: %s", line)
			assert.Contains(t, line, "--AccountID", "s.yaml needs the account id")
		default:
			t.Errorf("`%s`: not a command of make, npm or s", line)
		}
	}
	assert.Len(t, commands, 5, "a five-command deploy")
}

// makeTargets lists the Makefile's targets.
func makeTargets(tb testing.TB) map[string]bool {
	tb.Helper()
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllStringSubmatch(string(MustReadFile(tb, "Makefile")), -1) {
		out[m[1]] = true
	}
	require.NotEmpty(tb, out)
	return out
}

// TestDocsAgreeWithTheEventBridgeSetup: the README and docs/deploy.md
// document the bus, the pattern (source and type) that `make eventbridge`
// builds from s.yaml, which the sample events carry (internal/tools/ebsetup's
// TestFromShippedSpec).
func TestDocsAgreeWithTheEventBridgeSetup(t *testing.T) {
	setup, err := ebsetup.FromSpec(MustLoadSpec(t), testAccountID)
	require.NoError(t, err)
	for _, doc := range []string{"README.md", "docs/deploy.md"} {
		text := string(MustReadFile(t, doc))
		assert.Contains(t, text, setup.Pattern(), "%s must document the rule's pattern", doc)
		assert.Contains(t, text, "`"+setup.Bus+"`", "%s must name the bus", doc)
	}
	deployDoc := string(MustReadFile(t, "docs/deploy.md"))
	assert.Contains(t, deployDoc, `"source": "`+setup.Source+`"`, "docs/deploy.md's sample event")
	assert.Contains(t, deployDoc, `"type": "`+setup.Type+`"`, "docs/deploy.md's sample event")
}
