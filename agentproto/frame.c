/* The agent protocol's frames: header layout, limits, and bounds-checked encoding and decoding. */
#include "agentproto/frame.h"

#include <errno.h>
#include <string.h>

static const struct {
	uint8_t type;
	const char *name;
	unsigned int from;	/* mask of enum ap_sender */
} types[] = {
	{ AP_HELLO, "HELLO", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_ERROR, "ERROR", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_PING, "PING", AP_FROM_HOST },
	{ AP_PONG, "PONG", AP_FROM_AGENT },
	{ AP_DONE, "DONE", AP_FROM_AGENT },
	{ AP_WINDOW, "WINDOW", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_EXEC, "EXEC", AP_FROM_HOST },
	{ AP_STDIN, "STDIN", AP_FROM_HOST },
	{ AP_STDIN_EOF, "STDIN_EOF", AP_FROM_HOST },
	{ AP_STDOUT, "STDOUT", AP_FROM_AGENT },
	{ AP_STDERR, "STDERR", AP_FROM_AGENT },
	{ AP_EXIT, "EXIT", AP_FROM_AGENT },
	{ AP_SIGNAL, "SIGNAL", AP_FROM_HOST },
	{ AP_PUT, "PUT", AP_FROM_HOST },
	{ AP_GET, "GET", AP_FROM_HOST },
	{ AP_ENTRY, "ENTRY", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_DATA, "DATA", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_END, "END", AP_FROM_HOST | AP_FROM_AGENT },
	{ AP_SHUTDOWN, "SHUTDOWN", AP_FROM_HOST },
};

static int type_index(uint8_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return (int)i;
	return -1;
}

const char *ap_type_name(uint8_t type)
{
	int i = type_index(type);
	return i < 0 ? NULL : types[i].name;
}

bool ap_type_allowed(uint8_t type, enum ap_sender from)
{
	int i = type_index(type);
	return i >= 0 && (types[i].from & (unsigned int)from);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int ap_header_encode(uint8_t out[AP_HEADER_SIZE], const struct ap_header *h)
{
	if (h->len > AP_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (type_index(h->type) < 0)
		return -EINVAL;
	out[0] = AP_MAGIC0;
	out[1] = AP_MAGIC1;
	out[2] = AP_VERSION;
	out[3] = h->type;
	le32(out + 4, h->stream);
	le32(out + 8, h->len);
	return 0;
}

static long bad(const char **why, const char *text, int code)
{
	if (why)
		*why = text;
	return code;
}

long ap_frame_parse(const uint8_t *buf, size_t n, enum ap_sender from, struct ap_frame *f,
		    const char **why)
{
	/* Each byte is checked as soon as it is there: a wrong magic fails at once. */
	if (n >= 1 && buf[0] != AP_MAGIC0)
		return bad(why, "bad magic (not a kiln agent frame)", -EPROTO);
	if (n >= 2 && buf[1] != AP_MAGIC1)
		return bad(why, "bad magic (not a kiln agent frame)", -EPROTO);
	if (n >= 3 && buf[2] != AP_VERSION)
		return bad(why, "unsupported protocol version in frame header", -EPROTONOSUPPORT);
	if (n >= 4 && type_index(buf[3]) < 0)
		return bad(why, "unknown frame type", -EBADMSG);
	if (n >= 4 && !ap_type_allowed(buf[3], from))
		return bad(why, "frame type not allowed in this direction", -EPROTO);
	if (n < AP_HEADER_SIZE)
		return 0;
	uint32_t len = rd32(buf + 8);
	if (len > AP_MAX_PAYLOAD)
		return bad(why, "frame longer than the limit", -EMSGSIZE);
	if (n - AP_HEADER_SIZE < len)
		return 0;
	f->h.type = buf[3];
	f->h.stream = rd32(buf + 4);
	f->h.len = len;
	f->payload = buf + AP_HEADER_SIZE;
	return (long)(AP_HEADER_SIZE + len);
}

void ap_builder_init(struct ap_builder *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
}

void ap_put_bytes(struct ap_builder *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (n > b->cap - b->len) {
		b->err = -EMSGSIZE;
		return;
	}
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

void ap_put_u8(struct ap_builder *b, uint8_t v)
{
	ap_put_bytes(b, &v, 1);
}

void ap_put_u16(struct ap_builder *b, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	ap_put_bytes(b, p, 2);
}

void ap_put_u32(struct ap_builder *b, uint32_t v)
{
	uint8_t p[4];
	le32(p, v);
	ap_put_bytes(b, p, 4);
}

void ap_put_u64(struct ap_builder *b, uint64_t v)
{
	ap_put_u32(b, (uint32_t)v);
	ap_put_u32(b, (uint32_t)(v >> 32));
}

void ap_cursor_init(struct ap_cursor *c, const void *p, size_t n)
{
	c->p = p;
	c->left = n;
}

int ap_get_bytes(struct ap_cursor *c, size_t n, const uint8_t **p)
{
	if (n > c->left)
		return -EBADMSG;
	*p = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

int ap_get_u8(struct ap_cursor *c, uint8_t *v)
{
	const uint8_t *p;
	if (ap_get_bytes(c, 1, &p) < 0)
		return -EBADMSG;
	*v = p[0];
	return 0;
}

int ap_get_u16(struct ap_cursor *c, uint16_t *v)
{
	const uint8_t *p;
	if (ap_get_bytes(c, 2, &p) < 0)
		return -EBADMSG;
	*v = (uint16_t)(p[0] | p[1] << 8);
	return 0;
}

int ap_get_u32(struct ap_cursor *c, uint32_t *v)
{
	const uint8_t *p;
	if (ap_get_bytes(c, 4, &p) < 0)
		return -EBADMSG;
	*v = rd32(p);
	return 0;
}

int ap_get_u64(struct ap_cursor *c, uint64_t *v)
{
	const uint8_t *p;
	if (ap_get_bytes(c, 8, &p) < 0)
		return -EBADMSG;
	*v = (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
	return 0;
}

void ap_credit_init(struct ap_credit *c, uint32_t initial)
{
	c->avail = initial > AP_WINDOW_MAX ? AP_WINDOW_MAX : initial;
}

int ap_credit_grant(struct ap_credit *c, uint32_t n)
{
	if (n > AP_WINDOW_MAX - c->avail)
		return -EOVERFLOW;
	c->avail += n;
	return 0;
}

int ap_credit_spend(struct ap_credit *c, uint32_t n)
{
	if (n > c->avail)
		return -ENOSPC;
	c->avail -= n;
	return 0;
}
