/* The host side of the guest console: stdin into the UART, raw tty mode and its restoration. */
#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "devices/serial.h"
#include "log.h"
#include "vm.h"

static struct {
	struct evloop *loop;
	struct serial *serial;
	int fd;
	bool paused;
	struct vm *vm;		/* the UART's interrupt: line irq of this VM */
	unsigned int irq;
} con = { .fd = -1 };

static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

void console_restore(void)
{
	if (tty_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
		tty_saved = 0;
	}
}

static void on_input(void *opaque, uint32_t events)
{
	uint8_t buf[SERIAL_RX_FIFO];
	(void)opaque;

	size_t room = serial_rx_room(con.serial);
	if (room == 0) {
		/* The guest is not reading: stop polling until the FIFO drains. */
		con.paused = true;
		evloop_modify(con.loop, con.fd, 0);
		if (serial_rx_room(con.serial) == 0)
			return;
		con.paused = false;	/* it drained in between */
		evloop_modify(con.loop, con.fd, EPOLLIN);
		room = serial_rx_room(con.serial);
	}
	ssize_t n = read(con.fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n > 0) {
		serial_push_input(con.serial, buf, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0 || (events & (EPOLLHUP | EPOLLERR)) || n == 0) {
		/* End of input: the guest keeps running without a keyboard. */
		log_debug("console input closed");
		evloop_remove(con.loop, con.fd);
		con.fd = -1;
	}
}

/* The UART's receive FIFO has room again (any thread): resume reading input. */
static void console_rx_space(void *opaque)
{
	(void)opaque;
	if (con.paused && con.fd >= 0) {
		con.paused = false;
		evloop_modify(con.loop, con.fd, EPOLLIN);
	}
}

static void console_set_irq(void *opaque, int level)
{
	(void)opaque;
	if (vm_irq_line(con.vm, con.irq, level) < 0)
		log_ratelimited(LOG_ERROR, "console interrupt %u: %m", con.irq);
}

static const struct serial_ops console_uart_ops = {
	.set_irq = console_set_irq,
	.rx_space = console_rx_space,
};

struct serial *console_uart_create(struct vm *vm, unsigned int irq, int out_fd)
{
	con.vm = vm;
	con.irq = irq;
	return serial_create(out_fd, &console_uart_ops, NULL);
}

int console_attach(struct evloop *loop, struct serial *serial, int in_fd)
{
	con.loop = loop;
	con.serial = serial;
	con.fd = in_fd;

	if (isatty(in_fd)) {
		struct termios raw;
		if (tcgetattr(in_fd, &saved_tty) < 0)
			return -errno;
		tty_saved = 1;
		atexit(console_restore);
		raw = saved_tty;
		cfmakeraw(&raw);
		/* Keep output processing: kiln's own log lines still end lines properly. */
		raw.c_oflag |= OPOST;
		if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
			return -errno;
	}
	int ret = evloop_add(loop, in_fd, EPOLLIN, on_input, NULL);
	if (ret == -EPERM) {
		/* A regular file (e.g. `< /dev/null` or a script): epoll cannot watch it. */
		log_debug("console input is not pollable; the guest gets no input");
		con.fd = -1;
		return 0;
	}
	return ret;
}
