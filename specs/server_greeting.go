package specs

import (
	"github.com/greetspec/greetspec/core/contract"
	"github.com/greetspec/greetspec/core/wire"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = DescribeRequirement("SRV-GREET-1", func() {
	It("replies to a plain name with exactly the 22 greeting bytes", func() {
		server := StartServer(0)
		_, res := server.Greet([]byte("Bob"))
		Expect(res.Data).To(Equal([]byte(contract.Greeting)), "reply: %s", res)
	})
})

var _ = DescribeRequirement("SRV-GREET-3", func() {
	It("closes the connection with FIN after the greeting", func() {
		server := StartServer(0)
		_, res := server.Greet([]byte("Bob"))
		Expect(res.End).To(Equal(wire.EndEOF), "the connection must end with an orderly close: %s", res)
	})
})
