/*
 * Greeting-protocol server in C, written from specs/PROTOCOL.md alone:
 * one POSIX thread per connection, poll() for the idle timeout.
 *
 * Usage: server HOST PORT IDLE_TIMEOUT_MS
 *
 * Logs one line per greeted connection on standard output with plain
 * printf: "connected with: HOST:PORT NAME". Standard output is left as
 * the C library sets it up (fully buffered unless it is a terminal), on
 * purpose: this is how ordinary C servers behave.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIMIT 1024
static const char greeting[] = "welcome to Asif server";
static int idle_ms;

struct conn {
	int fd;
	struct sockaddr_storage peer;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for fd to be readable: 1 readable, 0 timed out, -1 error. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

/* Appends code point cp to out as UTF-8, escaping control characters and
 * U+2028/U+2029. Returns the new length. */
static size_t put(char *out, size_t n, unsigned cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
		return n + sprintf(out + n, "\\x%02x", cp);
	if (cp == 0x2028 || cp == 0x2029)
		return n + sprintf(out + n, "\\u%04x", cp);
	if (cp < 0x80) {
		out[n++] = (char)cp;
	} else if (cp < 0x800) {
		out[n++] = (char)(0xc0 | cp >> 6);
		out[n++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[n++] = (char)(0xe0 | cp >> 12);
		out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[n++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[n++] = (char)(0xf0 | cp >> 18);
		out[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[n++] = (char)(0x80 | (cp & 0x3f));
	}
	return n;
}

/* Decodes the name as UTF-8, one U+FFFD per maximal subpart of an
 * ill-formed sequence, into out (at most 6 bytes per input byte + 1). */
static void printable(const unsigned char *b, size_t len, char *out)
{
	size_t n = 0, i = 0;
	while (i < len) {
		unsigned c = b[i], cp, need = 0;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			n = put(out, n, c);
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			cp = 0;
		}
		size_t j = i + 1;
		unsigned k;
		for (k = 0; k < need && j < len; k++, j++) {
			if (b[j] < lo || b[j] > hi)
				break;
			cp = cp << 6 | (b[j] & 0x3f);
			lo = 0x80;
			hi = 0xbf;
		}
		n = put(out, n, need > 0 && k == need ? cp : 0xfffd);
		i = j;
	}
	out[n] = 0;
}

static void format_peer(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		port = ntohs(a->sin_port);
		snprintf(buf, size, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		port = ntohs(a->sin6_port);
		snprintf(buf, size, "[%s]:%u", host, port);
	}
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	unsigned char name[LIMIT];
	char text[LIMIT * 6 + 1], peer[80], drain[16384];
	size_t n = 0;

	while (n < LIMIT) {
		int r = wait_readable(c->fd, idle_ms);
		if (r == 0 && n == 0)
			goto out; /* no byte for T: close without a greeting */
		if (r == 0)
			break;
		ssize_t k = recv(c->fd, name + n, LIMIT - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out; /* reset before the name ended: nothing to log */
		if (k == 0)
			break;
		n += (size_t)k;
	}
	printable(name, n, text);
	format_peer(&c->peer, peer, sizeof peer);
	printf("connected with: %s %s\n", peer, text);

	size_t sent = 0;
	while (sent < sizeof greeting - 1) {
		ssize_t k = send(c->fd, greeting + sent, sizeof greeting - 1 - sent, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			goto out;
		sent += (size_t)k;
	}
	if (shutdown(c->fd, SHUT_WR) < 0)
		goto out;
	long long deadline = now_ms() + idle_ms;
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0 || wait_readable(c->fd, (int)left) <= 0)
			break;
		ssize_t k = recv(c->fd, drain, sizeof drain, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
	}
out:
	close(c->fd);
	free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s HOST PORT IDLE_TIMEOUT_MS\n", argv[0]);
		return 2;
	}
	idle_ms = atoi(argv[3]);
	if (idle_ms <= 0) {
		fprintf(stderr, "IDLE_TIMEOUT_MS must be a positive integer\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
	int err = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (err) {
		fprintf(stderr, "%s: %s\n", argv[1], gai_strerror(err));
		return 1;
	}
	int ls = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ls < 0 || bind(ls, ai->ai_addr, ai->ai_addrlen) < 0 || listen(ls, 128) < 0) {
		perror("listen");
		return 1;
	}
	freeaddrinfo(ai);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		struct conn *c = malloc(sizeof *c);
		socklen_t len = sizeof c->peer;
		c->fd = accept(ls, (struct sockaddr *)&c->peer, &len);
		if (c->fd < 0) {
			free(c);
			continue;
		}
		pthread_t t;
		if (pthread_create(&t, &attr, serve, c) != 0) {
			close(c->fd);
			free(c);
		}
	}
}
