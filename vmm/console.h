/* The host side of the guest console: stdin into the UART, raw tty mode and its restoration. */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include "evloop.h"
#include "util.h"

struct serial;

/*
 * Feed stdin to the serial port from the event loop. When stdin is a terminal it is
 * put in raw mode so every key reaches the guest; console_restore() undoes that and
 * runs on every exit path (including fatal signals: it is async-signal-safe).
 */
int console_attach(struct evloop *loop, struct serial *serial, int in_fd) MUST_CHECK;
/* Resume reading input once the UART has room (any thread). */
void console_rx_space(void *opaque);
void console_restore(void);

#endif
