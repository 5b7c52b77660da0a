module github.com/cajonfarm/cajon/sdk

// The lowest go line the SDK's dependencies allow, so that a plugin is not
// held to the host's toolchain: google.golang.org/grpc v1.85.0 and
// golang.org/x/sys, x/net and x/text declare go 1.26.0 (go-plugin v1.8.0
// needs 1.24, protobuf v1.36.12 1.23). Lowering it would mean requiring older
// versions of them than the host is built and tested with.
go 1.26.0

require (
	github.com/hashicorp/go-plugin v1.8.0
	golang.org/x/sys v0.49.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/fatih/color v1.13.0 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/hashicorp/go-hclog v1.6.3 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/oklog/run v1.1.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)
