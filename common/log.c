/* Logger: one write(2) per line so lines from different threads never interleave. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
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
	if (cfg->fd >= 0)
		log_fd = cfg->fd;
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

void log_vmsg(enum log_level level, const char *file, int line, const char *fmt, va_list ap)
{
	if (!log_enabled(level))
		return;

	int saved_errno = errno;
	char buf[LOG_LINE_MAX];
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
	if (n < sizeof(buf)) {
		errno = saved_errno;	/* so %m in fmt names the caller's error */
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	}
	if (n >= sizeof(buf) - 1) {
		n = sizeof(buf) - 1;
		memcpy(buf + n - 4, "...", 3);
		n--;
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
