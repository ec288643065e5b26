package execadapter

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// openConns counts the TCP connections on local port port of a program
// listening on host that it still holds open or has not accepted yet
// (states ESTABLISHED, SYN_RECV and CLOSE_WAIT), and reports whether they
// could be counted. Connections the program has closed (FIN_WAIT,
// TIME_WAIT, LAST_ACK) and the listener are not counted. A listener on an
// IPv4 address has IPv4 connections only, one on an IPv6 address (the
// wildcard's IPv4-mapped ones included) IPv6 ones only; for a host name
// both are counted.
//
// It asks the kernel through a sock_diag netlink socket, which filters by
// state itself: /proc/net/tcp lists every TIME_WAIT socket of the machine
// too, and reading it takes a second when load tests have left tens of
// thousands of them. Even so each family's dump walks the kernel's whole
// connection table (milliseconds on a loaded machine, paid once per spec
// by a kept program), so only the listener's family is asked.
func openConns(host, port string) (int, bool) {
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return 0, false
	}
	families := []uint8{syscall.AF_INET, syscall.AF_INET6}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if ip.Is4() {
			families = families[:1]
		} else {
			families = families[1:]
		}
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkInetDiag)
	if err != nil {
		return 0, false
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 1}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	n := 0
	for _, family := range families {
		c, ok := diagCount(fd, family, uint16(p))
		if !ok {
			return 0, false
		}
		n += c
	}
	return n, true
}

const (
	netlinkInetDiag   = 4  // NETLINK_INET_DIAG (NETLINK_SOCK_DIAG)
	sockDiagByFamily  = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagReqLen    = 56 // struct inet_diag_req_v2
	inetDiagMsgMinLen = 8  // family, state, timer, retrans, then the source port
	tcpEstablished    = 1
	tcpSynRecv        = 3
	tcpCloseWait      = 8
)

// diagCount dumps family's TCP sockets in the states openConns counts and
// counts those whose local port is port.
func diagCount(fd int, family uint8, port uint16) (int, bool) {
	req := make([]byte, syscall.NLMSG_HDRLEN+inetDiagReqLen)
	hdr := (*syscall.NlMsghdr)(unsafe.Pointer(&req[0]))
	hdr.Len = uint32(len(req))
	hdr.Type = sockDiagByFamily
	hdr.Flags = syscall.NLM_F_REQUEST | syscall.NLM_F_DUMP
	hdr.Seq = 1
	body := req[syscall.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], 1<<tcpEstablished|1<<tcpSynRecv|1<<tcpCloseWait)
	// The kernel skips other local ports itself (inet_diag_sockid's
	// idiag_sport, in network byte order), so only this port's sockets
	// come back; the port is checked below all the same.
	binary.BigEndian.PutUint16(body[8:], port)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, false
	}
	buf := make([]byte, 64<<10)
	n := 0
	for {
		got, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, false
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:got])
		if err != nil {
			return 0, false
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return n, true
			case syscall.NLMSG_ERROR:
				return 0, false
			}
			if len(m.Data) >= inetDiagMsgMinLen && binary.BigEndian.Uint16(m.Data[4:]) == port {
				n++
			}
		}
	}
}
