/* Logger: one write(2) per line so lines from different threads never interleave. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static char log_id[65] = "anonymous-instance";
static enum log_level log_level_cur = LOG_INFO;
static bool log_show_level;
static bool log_show_origin;
static int log_fd = STDERR_FILENO;
static atomic_ulong log_missed;
static _Thread_local char thread_name[16] = "main";

static const char *const level_names[] = {
	[LOG_OFF] = "OFF", [LOG_ERROR] = "ERROR", [LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO", [LOG_DEBUG] = "DEBUG", [LOG_TRACE] = "TRACE",
};

int log_parse_level(const char *s, enum log_level *out)
{
	static const struct { const char *name; enum log_level level; } names[] = {
		{ "off", LOG_OFF }, { "error", LOG_ERROR }, { "warning", LOG_WARN },
		{ "warn", LOG_WARN }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
		{ "trace", LOG_TRACE },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_TRACE ? level_names[level] : "?";
}

void log_configure(const struct log_config *cfg)
{
	if (cfg->id)
		snprintf(log_id, sizeof(log_id), "%s", cfg->id);
	log_level_cur = cfg->level;
	log_show_level = cfg->show_level;
	log_show_origin = cfg->show_origin;
	if (cfg->fd >= 0 && cfg->fd != log_fd) {
		int old = log_fd;
		log_fd = cfg->fd;
		if (old > STDERR_FILENO)
			close(old);
	}
}

void log_set_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

bool log_enabled(enum log_level level)
{
	return level != LOG_OFF && level <= log_level_cur;
}

unsigned long log_missed_count(void)
{
	return atomic_load(&log_missed);
}

const atomic_ulong *log_missed_counter(void)
{
	return &log_missed;
}

static void log_write(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(log_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			atomic_fetch_add(&log_missed, 1);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Bytes 0x80-0xbf: the continuation of a UTF-8 sequence. */
static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * Length of the valid, printable UTF-8 sequence at s (at most len bytes), or 0 when the
 * byte at s must be escaped: ASCII controls and DEL, bytes that start no valid sequence
 * (overlong forms, surrogates, beyond U+10FFFF, truncated), and the C1 controls
 * U+0080-U+009F, which some terminals obey like ESC.
 */
static size_t printable_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return c >= 0x20 && c != 0x7f;
	if (c >= 0xc2 && c <= 0xdf)
		return len >= 2 && is_cont(s[1]) && !(c == 0xc2 && s[1] < 0xa0) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return len >= 3 && s[1] >= lo && s[1] <= hi && is_cont(s[2]) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return len >= 4 && s[1] >= lo && s[1] <= hi && is_cont(s[2]) && is_cont(s[3]) ? 4
											      : 0;
	}
	return 0;
}

size_t log_escape(char *dst, size_t size, const char *src, size_t len, size_t *consumed)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t in = 0, out = 0;

	if (size == 0)
		return 0;
	while (in < len) {
		size_t n = printable_len(s + in, len - in);
		if (n == 0) {
			if (out + 4 >= size)
				break;
			dst[out++] = '\\';
			dst[out++] = 'x';
			dst[out++] = hex[s[in] >> 4];
			dst[out++] = hex[s[in] & 0xf];
			in++;
		} else {
			if (out + n >= size)
				break;
			memcpy(dst + out, s + in, n);
			out += n;
			in += n;
		}
	}
	dst[out] = '\0';
	if (consumed)
		*consumed = in;
	return out;
}

void log_vmsg(enum log_level level, const char *file, int line, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;

	int saved_errno = errno;
	char buf[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);

	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09ld [%s:%s", ts.tv_nsec, log_id,
			      thread_name);
	if (log_show_level)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s", level_names[level]);
	if (log_show_origin && n < sizeof(buf)) {
		const char *base = strrchr(file, '/');
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s:%d", base ? base + 1 : file,
				      line);
	}
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "] ");
	/* Room for "...\n" stays free: a long message is cut at a character, and marked. */
	if (n < sizeof(buf) - 4) {
		/*
		 * Messages quote what came from outside (config values, paths, guest data):
		 * the one escaping step makes every record one line of plain text, whatever
		 * the message holds.
		 */
		errno = saved_errno;	/* so %m in fmt names the caller's error */
		int m = vsnprintf(msg, sizeof(msg), fmt, ap);
		size_t len = m < 0 ? 0 : MIN((size_t)m, sizeof(msg) - 1), used;
		n += log_escape(buf + n, sizeof(buf) - 4 - n, msg, len, &used);
		if (used < len || (size_t)m >= sizeof(msg)) {
			memcpy(buf + n, "...", 3);
			n += 3;
		}
	} else {
		n = sizeof(buf) - 4;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n++] = '\n';
	log_write(buf, n);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, file, line, fmt, ap);
	va_end(ap);
}

void log_signal_safe(const char *msg)
{
	char buf[512];
	size_t n = 0;
	const char *parts[] = { "[", log_id, ":", thread_name, "] ", msg, "\n" };
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		size_t l = strlen(parts[i]);
		if (n + l >= sizeof(buf))
			l = sizeof(buf) - n - 1;
		memcpy(buf + n, parts[i], l);
		n += l;
	}
	log_write(buf, n);
}

bool log_ratelimit_allow(struct log_ratelimit *rl, unsigned int burst, unsigned long *suppressed)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	bool allow;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&lock);
	*suppressed = 0;
	if (ts.tv_sec - rl->window_start >= 5) {
		*suppressed = rl->suppressed;
		rl->window_start = ts.tv_sec;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	allow = rl->printed < burst;
	if (allow)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&lock);
	return allow;
}
