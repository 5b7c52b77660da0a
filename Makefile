# Cajon build. `make help` lists the targets.
GO        ?= go
BIN       := bin
PLUGINS   := exec blender ffmpeg files
TOOLS     := $(CURDIR)/.tools
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
BUF_VERSION                := v1.75.0
# A python3 with grpc_tools (Debian python3-grpc-tools), for the Python
# example plugin's stubs; the first python3 on PATH may be another one.
PYTHON    ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import grpc_tools' 2>/dev/null && { command -v $$p; break; }; done)
PY_GEN    := examples/python-plugin/gen
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/cajonfarm/cajon/host/version.Version=$(VERSION)
# Every package of the host's module and of the SDK's (sdk/go.mod, a nested
# module that ./... does not enter; go.mod's replace puts it in the build).
PKGS      := ./... github.com/cajonfarm/cajon/sdk/...

.PHONY: help build test test-windows test-windows-bench proto proto-check proto-breaking lint demo cross bench faults fuzz clean install dist

help:
	@echo "make build   build bin/cajon and bin/plugins/cajon-plugin-*"
	@echo "make demo    build, then run the demo job through the local queue"
	@echo "make test    run all tests with the race detector"
	@echo "make test-windows  build cajon.exe and its plugins, run the Windows suite under wine"
	@echo "make proto   regenerate sdk/proto and the Python example's stubs from plugin.proto"
	@echo "make lint    gofmt + go vet + generated-code freshness + buf breaking"
	@echo "make cross   build for linux, darwin and windows"
	@echo "make bench   run the benchmarks and rewrite docs/BENCHMARKS.md"
	@echo "make faults  run the fault suite (docs/FAULTS.md); one: make faults FAULT=manager-down"
	@echo "make fuzz    run every fuzz target for FUZZTIME (default 10s)"
	@echo "make install build, then install under PREFIX (default /usr/local); DESTDIR for packages"
	@echo "make dist    release archives for DIST_PLATFORMS in dist/, with SHA256SUMS"

# Each target is named as it starts: a cold build cache takes minutes.
build:
	@echo "build $(BIN)/cajon"
	@$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/cajon ./cmd/cajon
	@mkdir -p $(BIN)/plugins
	@for p in $(PLUGINS); do \
	  if [ -d plugins/$$p ]; then echo "build $(BIN)/plugins/cajon-plugin-$$p"; $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/plugins/cajon-plugin-$$p ./plugins/$$p || exit 1; fi; \
	done
	@# cajon refuses plugin files that group or others may write (umask 002).
	@chmod go-w $(BIN)/plugins $(BIN)/plugins/cajon-plugin-*

test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# The Windows lane (docs/PLATFORMS.md): the Windows build of cajon and its
# plugins, run under wine. Needs Debian's wine64 and gcc-mingw-w64-x86-64-win32;
# the wine prefix is made on the first run (about a minute) and kept in
# .tools/wine-prefix. The packages run one after the other: they share the
# prefix (and `taskkill /IM cajon.exe` kills every cajon.exe in it).
# The real Manager's part (internal/realmanager, TestWine*) skips without a
# flamenco-manager on PATH. test-windows-bench measures the Manager's Echo
# Sleep job and a cancel under wine against Linux (docs/BENCHMARKS.md).
WINE_ENV := WINE_SUITE=1 WINE_SUITE_PREFIX=$(TOOLS)/wine-prefix
test-windows:
	$(WINE_ENV) $(GO) test -count=1 -timeout 10m ./internal/winetest/
	$(WINE_ENV) $(GO) test -count=1 -timeout 10m -run '^TestWine' ./internal/realmanager/

test-windows-bench:
	$(WINE_ENV) $(GO) test -run '^$$' -bench '^BenchmarkWineEchoSleep$$' -benchtime 3x -timeout 20m ./internal/realmanager/

demo: build
	./scripts/demo.sh

$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

# Go code, then the Python example's: messages from Debian's protoc (which
# knows proto3 `optional`), the service stubs from grpc_tools, whose bundled
# protoc is too old to parse the file and so reads protoc's descriptor set.
proto: $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc
	protoc -I sdk/proto -I /usr/include \
	  --plugin=protoc-gen-go=$(TOOLS)/protoc-gen-go \
	  --plugin=protoc-gen-go-grpc=$(TOOLS)/protoc-gen-go-grpc \
	  --go_out=sdk/proto --go_opt=paths=source_relative \
	  --go-grpc_out=sdk/proto --go-grpc_opt=paths=source_relative \
	  sdk/proto/cajon/plugin/v1/plugin.proto
	@[ -n "$(PYTHON)" ] || { echo "no python3 with grpc_tools: apt-get install python3-grpc-tools"; exit 1; }
	protoc -I sdk/proto -I /usr/include --python_out=$(PY_GEN) \
	  --include_imports --include_source_info --descriptor_set_out=$(TOOLS)/plugin.binpb \
	  cajon/plugin/v1/plugin.proto
	$(PYTHON) -c 'import sys; from grpc_tools import protoc; sys.exit(protoc.main(sys.argv))' \
	  --descriptor_set_in=$(TOOLS)/plugin.binpb --grpc_python_out=$(PY_GEN) cajon/plugin/v1/plugin.proto

# Fails when the committed generated code differs from what `make proto` makes.
proto-check: proto
	@git diff --exit-code -- sdk/proto $(PY_GEN) || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }
	@out=$$(git ls-files --others --exclude-standard -- sdk/proto $(PY_GEN)); if [ -n "$$out" ]; then echo "generated files not committed:"; echo "$$out"; exit 1; fi

# The protocol stays compatible on the wire and in JSON (the rules at the top
# of plugin.proto) with the last release: the proto at the newest tag, or,
# before the first release, the committed copy of v1 in sdk/proto-baseline.
proto-breaking: $(TOOLS)/buf
	@tag=$$(git describe --tags --abbrev=0 2>/dev/null); \
	if [ -n "$$tag" ]; then against=".git#tag=$$tag,subdir=sdk/proto"; else against=sdk/proto-baseline; fi; \
	echo "buf breaking sdk/proto --against $$against"; \
	$(TOOLS)/buf breaking sdk/proto --against "$$against"

lint: proto-check proto-breaking
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@# The SDK's module on its own, as a plugin outside this repository gets
	@# it: nothing of the host's module, and its go.mod and go.sum complete.
	@# (examples/plugin-outside is built and checked from a copy by the
	@# examples package's test.)
	cd sdk && GOWORK=off $(GO) vet ./...
	@for m in . sdk examples/plugin-outside; do (cd $$m && GOWORK=off $(GO) mod tidy -diff) || { echo "$$m/go.mod is not tidy: run 'go mod tidy' there"; exit 1; }; done

cross:
	@for os in linux darwin windows; do \
	  echo "== $$os/amd64"; GOOS=$$os GOARCH=amd64 CGO_ENABLED=0 $(GO) build -o /dev/null $(PKGS) || exit 1; \
	done
	@# vet compiles the tests too, so a test that only builds on Linux shows here.
	@for os in darwin windows; do \
	  echo "== vet $$os/amd64"; GOOS=$$os GOARCH=amd64 CGO_ENABLED=0 $(GO) vet $(PKGS) || exit 1; \
	done
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) build -o /dev/null $(PKGS)

# Every benchmark, then docs/BENCHMARKS.md from their results. Most run 5
# times; the per-task overhead is averaged over a job of 200 tasks, and the
# abort latencies take 20 samples each (p50/p95).
BENCH_PKGS := ./bench/ ./host/... ./internal/e2e/
bench: build
	$(GO) test -run '^$$' -bench . -skip 'AbortLatency|TaskOverhead' -benchtime 5x -timeout 60m $(BENCH_PKGS) > bench/results.txt || { cat bench/results.txt; exit 1; }
	$(GO) test -run '^$$' -bench 'TaskOverhead' -benchtime 200x -timeout 60m ./host/worker/ >> bench/results.txt || { cat bench/results.txt; exit 1; }
	$(GO) test -run '^$$' -bench 'AbortLatency' -benchtime 20x -timeout 60m ./host/worker/ >> bench/results.txt || { cat bench/results.txt; exit 1; }
	@grep -E '^(Benchmark|ok|FAIL)' bench/results.txt
	$(GO) run ./bench/report < bench/results.txt > docs/BENCHMARKS.md
	cat bench/by-hand.md >> docs/BENCHMARKS.md
	@echo "wrote docs/BENCHMARKS.md"

# The fault suite (docs/FAULTS.md), then its summary table. One scenario:
# make faults FAULT=manager-down
faults:
	FAULT_SUITE=1 $(GO) test -race -count=1 -v -timeout 15m -run 'TestFault$(if $(FAULT),/$(FAULT)$$)' ./faults/

# Every fuzz target for FUZZTIME. A crasher is saved in the package's
# testdata/fuzz/ and from then on runs as a regular test: commit it with the fix.
FUZZTIME ?= 10s
fuzz:
	@for file in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$file); do \
	    echo "== $$(dirname $$file) $$target ($(FUZZTIME))"; \
	    (cd $$(dirname $$file) && $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) .) || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN) $(TOOLS)

# Install layout (docs/MANAGER.md, "Installing"):
#   $(PREFIX)/bin/cajon
#   $(PREFIX)/libexec/cajon/plugins/cajon-plugin-*   (cajon finds them from its own path)
#   $(PREFIX)/share/cajon/cajon.toml                 the example config, always refreshed
#   $(PREFIX)/share/cajon/cajon-worker.service       the systemd unit, ExecStart pointing at $(PREFIX)/bin
#   $(SYSCONFDIR)/cajon/cajon.toml                   a copy of the example, only if none exists yet
# SYSCONFDIR is /etc for PREFIX=/usr or /usr/local (cajon reads /etc/cajon/cajon.toml)
# and empty otherwise (no config outside the prefix); set it to override.
# DESTDIR is prepended to every path, for building packages.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc)
INSTALL    ?= install

install: build
	$(INSTALL) -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/cajon/plugins $(DESTDIR)$(PREFIX)/share/cajon
	$(INSTALL) -m 0755 $(BIN)/cajon $(DESTDIR)$(PREFIX)/bin/cajon
	$(INSTALL) -m 0755 $(foreach p,$(PLUGINS),$(BIN)/plugins/cajon-plugin-$(p)) $(DESTDIR)$(PREFIX)/libexec/cajon/plugins/
	$(INSTALL) -m 0644 examples/cajon.toml $(DESTDIR)$(PREFIX)/share/cajon/cajon.toml
	sed 's|/usr/local/bin/cajon|$(PREFIX)/bin/cajon|g' examples/cajon-worker.service > $(DESTDIR)$(PREFIX)/share/cajon/cajon-worker.service
	chmod 0644 $(DESTDIR)$(PREFIX)/share/cajon/cajon-worker.service
	@if [ -n "$(SYSCONFDIR)" ]; then \
	  if [ -e "$(DESTDIR)$(SYSCONFDIR)/cajon/cajon.toml" ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/cajon/cajon.toml (the new example is $(PREFIX)/share/cajon/cajon.toml)"; \
	  else \
	    $(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/cajon && \
	    $(INSTALL) -m 0644 examples/cajon.toml $(DESTDIR)$(SYSCONFDIR)/cajon/cajon.toml && \
	    echo "installed $(DESTDIR)$(SYSCONFDIR)/cajon/cajon.toml: set [manager] url"; \
	  fi; \
	fi

# Release archives (docs/MANAGER.md, "Installing from a release archive"):
# dist/cajon-$(VERSION)-OS-ARCH.tar.gz (.zip for Windows), each with cajon,
# plugins/, the example config, the systemd unit or WINDOWS.md, README and
# LICENSE, and dist/SHA256SUMS. One platform: make dist DIST_PLATFORMS=linux/amd64
DIST_PLATFORMS ?= linux/amd64 linux/arm64 windows/amd64 darwin/arm64
dist:
	$(GO) run ./internal/dist -go '$(GO)' -version '$(VERSION)' -plugins '$(PLUGINS)' -out dist $(DIST_PLATFORMS)
