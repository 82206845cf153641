/* Process-wide logger writing Firecracker-format lines to stderr or a file. */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include "util.h"

enum log_level {
	LOG_OFF = 0,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

struct log_config {
	const char *id;		/* instance id shown in every line */
	enum log_level level;
	bool show_level;
	bool show_origin;	/* file:line of the call site */
	int fd;			/* -1 keeps the current destination */
};

/* Parse "Error", "Warning", "Info", "Debug", "Trace", "Off" (any case; "warn" too). */
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/*
 * Replace the configuration; the strings are copied. A cfg->fd >= 0 becomes the logger's
 * (it closes the fd it replaces, unless that is standard error): a logger set up again
 * (PUT /logger) leaves no file open behind it. Safe while no other thread logs.
 */
void log_configure(const struct log_config *cfg);
/* Name of the calling thread as it appears in log lines (at most 15 characters). */
void log_set_thread_name(const char *name);
bool log_enabled(enum log_level level);
/* Count of lines that could not be written (metrics). */
unsigned long log_missed_count(void);
const atomic_ulong *log_missed_counter(void);

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
	PRINTF_LIKE(4, 5);
void log_vmsg(enum log_level level, const char *file, int line, const char *fmt, va_list ap)
	PRINTF_LIKE(4, 0);

/*
 * The logger's one escaping step, applied to every message: copies len bytes of src to
 * dst (size bytes, always NUL-terminated) with ASCII control characters, DEL, the C1
 * controls and every byte that is not part of valid UTF-8 written as \xNN, so that no
 * message can end its line, forge another or drive the terminal. Stops before a
 * character that does not fit; *consumed (may be NULL) says how much of src was used.
 * Returns the length written.
 */
size_t log_escape(char *dst, size_t size, const char *src, size_t len, size_t *consumed);

/*
 * Async-signal-safe: writes a preformatted message with no timestamp formatting
 * beyond what is safe in a handler. Used by fatal signal handlers.
 */
void log_signal_safe(const char *msg);

#define log_error(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __FILE__, __LINE__, __VA_ARGS__)

/*
 * For messages a guest can trigger at will: at most `burst` lines per call site
 * every 5 seconds, then one line saying how many were suppressed.
 */
struct log_ratelimit {
	long window_start;	/* seconds, CLOCK_MONOTONIC */
	unsigned int printed;
	unsigned long suppressed;
};
bool log_ratelimit_allow(struct log_ratelimit *rl, unsigned int burst, unsigned long *suppressed);

#define log_ratelimited(level, ...) do {						\
	static struct log_ratelimit rl_;						\
	unsigned long sup_;								\
	if (log_enabled(level) && log_ratelimit_allow(&rl_, 10, &sup_)) {		\
		if (sup_)								\
			log_msg(level, __FILE__, __LINE__,				\
				"%lu similar messages suppressed", sup_);		\
		log_msg(level, __FILE__, __LINE__, __VA_ARGS__);			\
	}										\
} while (0)

#endif
