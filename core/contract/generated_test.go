package contract_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed generated code is what the documented commands generate
// from greet.proto (go generate ./core/contract, plugins/python/generate.sh),
// so the proto and the code cannot drift. Skipped where protoc or Debian's
// python3-grpc-tools is missing; .ci/run installs both.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("protoc is missing: .ci/run installs Debian's protobuf-compiler")
		}
		t.Skip("protoc is missing (Debian protobuf-compiler)")
	}
	out := t.TempDir()
	bin := t.TempDir()
	for _, tool := range []string{"google.golang.org/protobuf/cmd/protoc-gen-go", "google.golang.org/grpc/cmd/protoc-gen-go-grpc"} {
		if b, err := exec.Command("go", "build", "-o", bin, tool).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", tool, err, b)
		}
	}
	gen := exec.Command("protoc",
		"--plugin=protoc-gen-go="+filepath.Join(bin, "protoc-gen-go"), "--plugin=protoc-gen-go-grpc="+filepath.Join(bin, "protoc-gen-go-grpc"),
		"--go_out="+out, "--go_opt=paths=source_relative", "--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative", "greet.proto")
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	sameFiles(t, out, ".", "greet.pb.go", "greet_grpc.pb.go")

	if exec.Command("/usr/bin/python3", "-c", "import grpc_tools").Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("grpc_tools is missing: .ci/run installs Debian's python3-grpc-tools")
		}
		t.Skip("/usr/bin/python3 lacks grpc_tools (Debian python3-grpc-tools)")
	}
	py := t.TempDir()
	pygen := exec.Command("/usr/bin/python3", "-m", "grpc_tools.protoc", "-I", ".", "--python_out="+py, "--grpc_python_out="+py, "greet.proto")
	if b, err := pygen.CombinedOutput(); err != nil {
		t.Fatalf("grpc_tools.protoc: %v\n%s", err, b)
	}
	sameFiles(t, py, "../../plugins/python", "greet_pb2.py", "greet_pb2_grpc.py")
}

func sameFiles(t *testing.T, gotDir, wantDir string, names ...string) {
	t.Helper()
	for _, n := range names {
		got, err := os.ReadFile(filepath.Join(gotDir, n))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(wantDir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what greet.proto generates: regenerate it (CONTRIBUTING.md, Regenerating code)", filepath.Join(wantDir, n))
		}
	}
}
