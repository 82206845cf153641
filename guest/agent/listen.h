/* Where the agent listens: "vsock[:PORT]" or "unix:PATH", parsed and opened. */
#ifndef KILN_AGENT_LISTEN_H
#define KILN_AGENT_LISTEN_H

#include <stddef.h>

#include "common/error.h"

/*
 * Opens a listening, non-blocking, close-on-exec stream socket for spec:
 *   vsock        AF_VSOCK, any CID, port AP_DEFAULT_PORT (1024)
 *   vsock:PORT   AF_VSOCK, any CID, that port (1..4294967294)
 *   unix:PATH    a Unix socket at PATH (a stale socket there is replaced; any other
 *                file is refused), mode 0600
 *   unix:@NAME   a socket in Linux's abstract namespace (no file; per network namespace)
 * Returns the fd or -errno, err naming the spec and what failed.
 */
int agent_listen(const char *spec, struct error *err);

#endif
