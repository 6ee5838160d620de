package emulator_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestErrorCodeTable: the error-code table of the package doc lists every
// code the package answers by itself, with the status it answers it with,
// and lists no code the package never answers. It reads the package's own
// source: each errorf(status, "Code", ...) and
// writeRuntimeError(w, status, "Code", ...) call.
func TestErrorCodeTable(t *testing.T) {
	answered := answeredCodes(t)
	listed := listedCodes(t)
	require.NotEmpty(t, answered)
	for code, statuses := range answered {
		status, ok := listed[code]
		if !assert.True(t, ok, "the package answers %s, which the error-code table of doc.go does not list", code) {
			continue
		}
		for _, s := range statuses {
			if s != 0 {
				assert.Equal(t, status, s, "%s: the table's status differs from the one the code answers", code)
			}
		}
	}
	for code := range listed {
		_, ok := answered[code]
		assert.True(t, ok, "the table lists %s, which the package never answers", code)
	}
}

// statusNames are the net/http constants the package answers with.
var statusNames = map[string]int{
	"StatusBadRequest":            http.StatusBadRequest,
	"StatusForbidden":             http.StatusForbidden,
	"StatusNotFound":              http.StatusNotFound,
	"StatusMethodNotAllowed":      http.StatusMethodNotAllowed,
	"StatusConflict":              http.StatusConflict,
	"StatusGone":                  http.StatusGone,
	"StatusRequestEntityTooLarge": http.StatusRequestEntityTooLarge,
	"StatusTooManyRequests":       http.StatusTooManyRequests,
	"StatusInternalServerError":   http.StatusInternalServerError,
	"StatusServiceUnavailable":    http.StatusServiceUnavailable,
}

// answeredCodes maps each literal code of an error answer in the package's
// non-test sources to the statuses it is answered with.
func answeredCodes(t *testing.T) map[string][]int {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	codes := map[string][]int{}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		parsed = append(parsed, f)
	}
	// String constants, so that a code answered through a named constant
	// (errorf(status, CodePasswordReused, ...)) counts too.
	consts := map[string]string{}
	for _, f := range parsed {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, err := strconv.Unquote(lit.Value)
							require.NoError(t, err)
							consts[n.Name] = v
						}
					}
				}
			}
		}
	}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				// A body written out whole, e.g. {"Code":"InternalError"}
				// when an answer cannot be encoded; its status is not in
				// the literal.
				if _, rest, ok := strings.Cut(lit.Value, `"Code":"`); ok {
					code, _, _ := strings.Cut(rest, `"`)
					codes[code] = append(codes[code], 0)
				}
				return true
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			var statusArg, codeArg int
			switch fn.Name {
			case "errorf":
				statusArg, codeArg = 0, 1
			case "writeRuntimeError":
				statusArg, codeArg = 1, 2
			default:
				return true
			}
			if len(call.Args) <= codeArg {
				return true
			}
			var code string
			switch arg := call.Args[codeArg].(type) {
			case *ast.BasicLit:
				if arg.Kind != token.STRING {
					return true
				}
				var err error
				code, err = strconv.Unquote(arg.Value)
				require.NoError(t, err)
			case *ast.Ident:
				if code, ok = consts[arg.Name]; !ok {
					return true // a code a test injects (FailNext)
				}
			default:
				return true // a code a test injects (FailNext)
			}
			sel, ok := call.Args[statusArg].(*ast.SelectorExpr)
			require.True(t, ok, "%s: %s's status is not an http.Status constant", fset.Position(call.Pos()), code)
			status, ok := statusNames[sel.Sel.Name]
			require.True(t, ok, "%s: add %s to statusNames", fset.Position(call.Pos()), sel.Sel.Name)
			codes[code] = append(codes[code], status)
			return true
		})
	}
	return codes
}

// listedCodes reads the table under "# Error codes" in doc.go: code and
// status of each row.
func listedCodes(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	_, table, ok := strings.Cut(string(src), "// # Error codes")
	require.True(t, ok, "doc.go has no \"# Error codes\" section")
	listed := map[string]int{}
	header := true
	for _, line := range strings.Split(table, "\n") {
		row, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			continue
		}
		fields := strings.Fields(row)
		require.GreaterOrEqual(t, len(fields), 3, "table row %q", row)
		if header {
			header = false // code status products source
			continue
		}
		status, err := strconv.Atoi(fields[1])
		require.NoError(t, err, "table row %q", row)
		_, dup := listed[fields[0]]
		assert.False(t, dup, "the table lists %s twice", fields[0])
		listed[fields[0]] = status
	}
	return listed
}
