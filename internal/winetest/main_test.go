//go:build unix

package winetest

import (
	"os"
	"testing"

	"github.com/cajonfarm/cajon/internal/wine"
)

// env is the prefix and the Windows build, made once in TestMain.
var env *wine.Env

func TestMain(m *testing.M) { os.Exit(wine.Main(m, &env, "exec", "files")) }
