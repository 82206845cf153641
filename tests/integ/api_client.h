/* Integration-test helper: one HTTP/1.1 request to kiln's API socket, its status and body. */
#ifndef KILN_TESTS_API_CLIENT_H
#define KILN_TESTS_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Send `method path` with `body` (may be NULL) on a new connection to the Unix socket
 * `sock`; the response body goes to resp (NUL-terminated, may be NULL). Returns the
 * HTTP status, or -errno when the socket could not be reached or answered badly.
 */
int api_call(const char *sock, const char *method, const char *path, const char *body,
	     char *resp, size_t size);
/* Wait up to timeout_ms for the socket to accept a connection. */
bool api_wait_socket(const char *sock, int timeout_ms);

#endif
