/* The agent protocol's payloads: encoding and strict, bounded decoding of each message. */
#include "agentproto/msg.h"

#include <errno.h>
#include <string.h>

static int done(const struct ap_builder *b)
{
	return b->err;
}

static int why_bad(const char **why, const char *text)
{
	if (why)
		*why = text;
	return -EBADMSG;
}

/* Copies n bytes into a C string of room `size`; refuses NUL bytes and overlong text. */
static int take_string(const uint8_t *p, size_t n, char *out, size_t size)
{
	if (n >= size || memchr(p, '\0', n))
		return -EBADMSG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int ap_hello_encode(struct ap_builder *b, const struct ap_hello *m)
{
	ap_put_u16(b, m->min_version);
	ap_put_u16(b, m->max_version);
	ap_put_u32(b, m->max_payload);
	ap_put_u32(b, m->window);
	ap_put_bytes(b, m->name, strnlen(m->name, AP_MAX_NAME));
	return done(b);
}

int ap_hello_decode(const uint8_t *p, size_t n, struct ap_hello *m)
{
	struct ap_cursor c;
	ap_cursor_init(&c, p, n);
	if (ap_get_u16(&c, &m->min_version) < 0 || ap_get_u16(&c, &m->max_version) < 0 ||
	    ap_get_u32(&c, &m->max_payload) < 0 || ap_get_u32(&c, &m->window) < 0)
		return -EBADMSG;
	if (m->min_version == 0 || m->min_version > m->max_version)
		return -EBADMSG;
	if (m->max_payload < 4096 || m->max_payload > AP_MAX_PAYLOAD ||
	    m->window < AP_MIN_WINDOW || m->window > AP_WINDOW_MAX)
		return -EBADMSG;
	return take_string(c.p, c.left, m->name, sizeof(m->name));
}

int ap_error_encode(struct ap_builder *b, uint32_t code, const char *text)
{
	ap_put_u32(b, code);
	ap_put_bytes(b, text, strnlen(text, AP_MAX_ERROR_TEXT));
	return done(b);
}

int ap_error_decode(const uint8_t *p, size_t n, struct ap_error *m)
{
	struct ap_cursor c;
	ap_cursor_init(&c, p, n);
	if (ap_get_u32(&c, &m->code) < 0)
		return -EBADMSG;
	return take_string(c.p, c.left, m->text, sizeof(m->text));
}

static int one_u32(const uint8_t *p, size_t n, uint32_t *v, uint32_t lo, uint32_t hi)
{
	struct ap_cursor c;
	ap_cursor_init(&c, p, n);
	if (ap_get_u32(&c, v) < 0 || c.left != 0 || *v < lo || *v > hi)
		return -EBADMSG;
	return 0;
}

int ap_window_encode(struct ap_builder *b, uint32_t grant)
{
	ap_put_u32(b, grant);
	return done(b);
}

int ap_window_decode(const uint8_t *p, size_t n, uint32_t *grant)
{
	return one_u32(p, n, grant, 1, AP_WINDOW_MAX);
}

int ap_signal_encode(struct ap_builder *b, uint32_t signo)
{
	ap_put_u32(b, signo);
	return done(b);
}

int ap_signal_decode(const uint8_t *p, size_t n, uint32_t *signo)
{
	return one_u32(p, n, signo, 1, 64);
}

int ap_shutdown_encode(struct ap_builder *b, enum ap_shutdown_action action)
{
	ap_put_u8(b, (uint8_t)action);
	return done(b);
}

int ap_shutdown_decode(const uint8_t *p, size_t n, enum ap_shutdown_action *action)
{
	if (n != 1 || p[0] > AP_SHUTDOWN_REBOOT)
		return -EBADMSG;
	*action = (enum ap_shutdown_action)p[0];
	return 0;
}

static void put_field(struct ap_builder *b, uint8_t tag, const void *v, size_t n)
{
	if (n > UINT32_MAX) {
		b->err = -EMSGSIZE;
		return;
	}
	ap_put_u8(b, tag);
	ap_put_u32(b, (uint32_t)n);
	ap_put_bytes(b, v, n);
}

static void put_str(struct ap_builder *b, uint8_t tag, const char *s)
{
	put_field(b, tag, s, strlen(s));
}

int ap_exec_encode(struct ap_builder *b, const struct ap_exec_params *m)
{
	uint8_t v[8];
	struct ap_builder vb;

	if (!m->argv || !m->argv[0])
		return -EINVAL;
	for (size_t i = 0; m->argv[i]; i++)
		put_str(b, AP_EXEC_ARG, m->argv[i]);
	for (size_t i = 0; m->env && m->env[i]; i++)
		put_str(b, AP_EXEC_ENV, m->env[i]);
	if (m->cwd)
		put_str(b, AP_EXEC_CWD, m->cwd);
	if (m->has_uid) {
		ap_builder_init(&vb, v, sizeof(v));
		ap_put_u32(&vb, m->uid);
		put_field(b, AP_EXEC_UID, v, vb.len);
	}
	if (m->has_gid) {
		ap_builder_init(&vb, v, sizeof(v));
		ap_put_u32(&vb, m->gid);
		put_field(b, AP_EXEC_GID, v, vb.len);
	}
	if (m->timeout_ms) {
		ap_builder_init(&vb, v, sizeof(v));
		ap_put_u64(&vb, m->timeout_ms);
		put_field(b, AP_EXEC_TIMEOUT_MS, v, vb.len);
	}
	if (m->stdin_stream)
		put_field(b, AP_EXEC_STDIN, NULL, 0);
	return done(b);
}

/* Appends a copy of n bytes as a C string to m->store; NULL when it has a NUL. */
static char *store_string(struct ap_exec *m, size_t *used, const uint8_t *p, size_t n)
{
	if (memchr(p, '\0', n) || n + 1 > sizeof(m->store) - *used)
		return NULL;
	char *s = m->store + *used;
	memcpy(s, p, n);
	s[n] = '\0';
	*used += n + 1;
	return s;
}

int ap_exec_decode(const uint8_t *p, size_t n, struct ap_exec *m, const char **why)
{
	struct ap_cursor c;
	size_t used = 0;
	bool seen_cwd = false, seen_timeout = false;

	memset(m, 0, offsetof(struct ap_exec, store));
	if (n > AP_MAX_PAYLOAD)
		return why_bad(why, "EXEC payload longer than a frame");
	ap_cursor_init(&c, p, n);
	while (c.left > 0) {
		uint8_t tag;
		uint32_t len;
		const uint8_t *v;
		struct ap_cursor vc;
		char *s;

		if (ap_get_u8(&c, &tag) < 0 || ap_get_u32(&c, &len) < 0 ||
		    ap_get_bytes(&c, len, &v) < 0)
			return why_bad(why, "EXEC field truncated");
		ap_cursor_init(&vc, v, len);
		switch (tag) {
		case AP_EXEC_ARG:
			if (m->argc == AP_MAX_ARGS)
				return why_bad(why, "EXEC has too many arguments");
			if (!(s = store_string(m, &used, v, len)))
				return why_bad(why, "EXEC argument contains a NUL byte");
			m->argv[m->argc++] = s;
			break;
		case AP_EXEC_ENV:
			if (m->envc == AP_MAX_ENV)
				return why_bad(why, "EXEC has too many environment entries");
			if (!(s = store_string(m, &used, v, len)))
				return why_bad(why, "EXEC environment entry contains a NUL byte");
			if (s[0] == '=' || !strchr(s, '='))
				return why_bad(why, "EXEC environment entry is not NAME=value");
			m->env[m->envc++] = s;
			break;
		case AP_EXEC_CWD:
			if (seen_cwd)
				return why_bad(why, "EXEC has two working directories");
			seen_cwd = true;
			if (len > AP_MAX_PATH || !(s = store_string(m, &used, v, len)) || s[0] != '/')
				return why_bad(why, "EXEC working directory is not an absolute path");
			m->cwd = s;
			break;
		case AP_EXEC_UID:
			if (m->has_uid || ap_get_u32(&vc, &m->uid) < 0 || vc.left)
				return why_bad(why, "EXEC uid is repeated or not a u32");
			m->has_uid = true;
			break;
		case AP_EXEC_GID:
			if (m->has_gid || ap_get_u32(&vc, &m->gid) < 0 || vc.left)
				return why_bad(why, "EXEC gid is repeated or not a u32");
			m->has_gid = true;
			break;
		case AP_EXEC_TIMEOUT_MS:
			if (seen_timeout || ap_get_u64(&vc, &m->timeout_ms) < 0 || vc.left)
				return why_bad(why, "EXEC time limit is repeated or not a u64");
			seen_timeout = true;
			break;
		case AP_EXEC_STDIN:
			if (m->stdin_stream || len != 0)
				return why_bad(why, "EXEC stdin flag is repeated or not empty");
			m->stdin_stream = true;
			break;
		default:
			return why_bad(why, "EXEC has an unknown field");
		}
	}
	if (m->argc == 0)
		return why_bad(why, "EXEC has no argument");
	m->argv[m->argc] = NULL;
	m->env[m->envc] = NULL;
	return 0;
}

int ap_exit_encode(struct ap_builder *b, const struct ap_exit *m)
{
	ap_put_u8(b, m->how);
	ap_put_u8(b, m->flags);
	ap_put_u16(b, 0);
	ap_put_u32(b, m->value);
	ap_put_u64(b, m->runtime_us);
	return done(b);
}

int ap_exit_decode(const uint8_t *p, size_t n, struct ap_exit *m)
{
	struct ap_cursor c;
	uint16_t zero;
	ap_cursor_init(&c, p, n);
	if (ap_get_u8(&c, &m->how) < 0 || ap_get_u8(&c, &m->flags) < 0 ||
	    ap_get_u16(&c, &zero) < 0 || ap_get_u32(&c, &m->value) < 0 ||
	    ap_get_u64(&c, &m->runtime_us) < 0 || c.left != 0 || zero != 0)
		return -EBADMSG;
	if (m->how == AP_EXITED ? m->value > 255 : m->how != AP_SIGNALED || m->value < 1 ||
	    m->value > 64)
		return -EBADMSG;
	if (m->flags & ~AP_EXIT_TIMED_OUT)
		return -EBADMSG;
	return 0;
}

int ap_path_encode(struct ap_builder *b, const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n > AP_MAX_PATH || path[0] != '/')
		return -EINVAL;
	ap_put_bytes(b, path, n);
	return done(b);
}

int ap_path_decode(const uint8_t *p, size_t n, char out[AP_MAX_PATH + 1])
{
	if (n == 0 || take_string(p, n, out, AP_MAX_PATH + 1) < 0 || out[0] != '/')
		return -EBADMSG;
	return 0;
}

bool ap_relpath_ok(const char *rel)
{
	const char *s = rel;
	if (*s == '\0')
		return true;
	for (;;) {
		const char *e = strchrnul(s, '/');
		size_t len = (size_t)(e - s);
		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (*e == '\0')
			return true;
		s = e + 1;
	}
}

int ap_entry_encode(struct ap_builder *b, const struct ap_entry *m)
{
	size_t plen = strlen(m->path);
	if (plen > AP_MAX_PATH || m->mode > 07777)
		return -EINVAL;
	ap_put_u8(b, m->kind);
	ap_put_u32(b, m->mode);
	ap_put_u64(b, m->size);
	ap_put_u16(b, (uint16_t)plen);
	ap_put_bytes(b, m->path, plen);
	if (m->kind == AP_ENTRY_SYMLINK)
		ap_put_bytes(b, m->target, strnlen(m->target, AP_MAX_PATH));
	return done(b);
}

int ap_entry_decode(const uint8_t *p, size_t n, struct ap_entry *m, const char **why)
{
	struct ap_cursor c;
	uint16_t plen;
	const uint8_t *path;

	ap_cursor_init(&c, p, n);
	if (ap_get_u8(&c, &m->kind) < 0 || ap_get_u32(&c, &m->mode) < 0 ||
	    ap_get_u64(&c, &m->size) < 0 || ap_get_u16(&c, &plen) < 0 ||
	    ap_get_bytes(&c, plen, &path) < 0)
		return why_bad(why, "ENTRY truncated");
	if (m->kind < AP_ENTRY_FILE || m->kind > AP_ENTRY_SYMLINK)
		return why_bad(why, "ENTRY of an unknown kind");
	if (m->mode > 07777)
		return why_bad(why, "ENTRY mode has bits beyond 07777");
	if (take_string(path, plen, m->path, sizeof(m->path)) < 0 || !ap_relpath_ok(m->path))
		return why_bad(why, "ENTRY path is not a clean relative path");
	m->target[0] = '\0';
	if (m->kind == AP_ENTRY_SYMLINK) {
		if (c.left == 0 || take_string(c.p, c.left, m->target, sizeof(m->target)) < 0)
			return why_bad(why, "ENTRY symlink target is empty, too long or has a NUL");
		if (m->size != 0)
			return why_bad(why, "ENTRY symlink with a size");
	} else if (c.left != 0) {
		return why_bad(why, "ENTRY has trailing bytes");
	} else if (m->kind == AP_ENTRY_DIR && m->size != 0) {
		return why_bad(why, "ENTRY directory with a size");
	}
	return 0;
}
