/*
 * Greeting-protocol client in C, written from specs/PROTOCOL.md alone:
 * non-blocking socket and poll() for the timeout.
 *
 * Usage: client HOST PORT TIMEOUT_MS < name
 *
 * Reads the name from standard input to its end, exactly as given, sends
 * it, half-closes, reads the reply until the server closes or 1024 bytes
 * have arrived, and prints it decoded (one U+FFFD per maximal subpart of
 * invalid UTF-8). Errors go to standard error (strerror's words) with exit
 * status 1; bytes received before a reset or a timeout are printed first.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIMIT 1024

static long long deadline;
static unsigned char reply[LIMIT];
static size_t got;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints b decoded as UTF-8 with one U+FFFD per maximal subpart. */
static void show(const unsigned char *b, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned c = b[i], need = 0;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			putchar(c);
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		size_t j = i + 1;
		unsigned k;
		for (k = 0; k < need && j < len && b[j] >= lo && b[j] <= hi; k++, j++)
			lo = 0x80, hi = 0xbf;
		if (need > 0 && k == need)
			fwrite(b + i, 1, j - i, stdout);
		else
			fputs("\xef\xbf\xbd", stdout);
		i = j;
	}
	putchar('\n');
}

static void fail(const char *what)
{
	if (got > 0)
		show(reply, got);
	fprintf(stderr, "client: %s\n", what);
	exit(1);
}

/* Waits until fd is ready for events or the deadline passes. */
static void await(int fd, short events)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			fail("Connection timed out");
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return;
		if (r < 0 && errno != EINTR)
			fail(strerror(errno));
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s HOST PORT TIMEOUT_MS < name\n", argv[0]);
		return 2;
	}
	deadline = now_ms() + atoi(argv[3]);
	signal(SIGPIPE, SIG_IGN);

	size_t len = 0, cap = 4096;
	unsigned char *name = malloc(cap);
	for (;;) {
		if (len == cap)
			name = realloc(name, cap *= 2);
		ssize_t k = read(0, name + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			fail(strerror(errno));
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > LIMIT) {
		fprintf(stderr, "client: name too long: %zu bytes, at most %d\n", len, LIMIT);
		return 1;
	}

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int err = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (err)
		fail(gai_strerror(err));
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		fail(strerror(errno));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			fail(strerror(errno));
		await(fd, POLLOUT);
		socklen_t sl = sizeof err;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err)
			fail(strerror(err));
	}
	freeaddrinfo(ai);

	for (size_t sent = 0; sent < len;) {
		ssize_t k = send(fd, name + sent, len - sent, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			await(fd, POLLOUT);
			continue;
		}
		if (k < 0)
			fail(strerror(errno));
		sent += (size_t)k;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		fail(strerror(errno));
	while (got < LIMIT) {
		await(fd, POLLIN);
		ssize_t k = recv(fd, reply + got, LIMIT - got, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k < 0)
			fail(strerror(errno));
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got == 0)
		fail("connection closed without a reply");
	show(reply, got);
	return 0;
}
