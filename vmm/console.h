/* The host side of the guest console: stdin into the UART, raw tty mode and its restoration. */
#ifndef KILN_CONSOLE_H
#define KILN_CONSOLE_H

#include "evloop.h"
#include "util.h"

struct serial;
struct vm;

/*
 * Feed stdin to the serial port from the event loop. When stdin is a terminal it is
 * put in raw mode so every key reaches the guest; console_restore() undoes that and
 * runs on every exit path (including fatal signals: it is async-signal-safe).
 */
int console_attach(struct evloop *loop, struct serial *serial, int in_fd) MUST_CHECK;
/*
 * The console UART: its output goes to out_fd, its interrupt is line `irq` of the VM's
 * irqchip, and when its receive FIFO drains, console input resumes. One per process.
 */
struct serial *console_uart_create(struct vm *vm, unsigned int irq, int out_fd);
void console_restore(void);

#endif
