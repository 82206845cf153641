/* Process signals: fatal ones end kiln with Firecracker's exit codes; stop requests go to the loop. */
#ifndef KILN_SIGNALS_H
#define KILN_SIGNALS_H

#include "evloop.h"
#include "util.h"

struct vm;

/* Install handlers for SIGBUS, SIGSEGV, SIGXFSZ, SIGXCPU, SIGPIPE, SIGILL, SIGSYS. */
int signals_install_fatal(void) MUST_CHECK;
/* Where a seccomp violation records itself before kiln exits (-1: nowhere). */
void signals_set_metrics_fd(int fd);
/*
 * Route SIGTERM, SIGINT, SIGQUIT and SIGHUP through a signalfd on the loop: each
 * asks the VM to stop (exit code 128+signal, or 156 for SIGHUP as Firecracker).
 * Blocks them in the calling thread, so call before creating vCPU threads.
 */
int signals_attach(struct evloop *loop, struct vm *vm) MUST_CHECK;

#endif
