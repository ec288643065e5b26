// Package specs is greetspec's conformance suite: Ginkgo specs, one
// container per requirement of PROTOCOL.md (embedded in the package), that
// drive a server or client plugin under test with a raw-socket probe on the
// other side of the wire.
//
// The specs are ordinary Go files that register with Ginkgo when the package
// is loaded, so any binary that imports the package and calls RunSpecs runs
// them: specs_suite_test.go does it for `go test` and `ginkgo`, cmd/greetspec
// does it for users. Settings says what runs and how long to wait.
//
// A spec reads like the document:
//
//	var _ = DescribeRequirement("SRV-GREET-1", func() {
//		It("replies with exactly the greeting", func() {
//			server := StartServer(0)
//			_, res := server.Greet([]byte("Bob"))
//			Expect(string(res.Data)).To(Equal(contract.Greeting))
//		})
//	})
package specs
