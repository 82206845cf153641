/* HTTP/1.1 requests on one connection: libhttp-parser under fixed limits, responses formatted. */
#include "http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static struct http_conn *conn_of(http_parser *p)
{
	return p->data;
}

/* The HTTP layer refuses the request itself; parsing stops (a callback's non-zero). */
static int refuse(struct http_conn *c, int status, const char *msg)
{
	if (!c->error_status) {
		c->error_status = status;
		c->error_msg = msg;
	}
	return -1;
}

/* Firecracker's words for a body over the limit, with this connection's limit. */
static int refuse_payload(struct http_conn *c)
{
	snprintf(c->error_text, sizeof(c->error_text), "Request payload with size larger than "
		 "the limit of %zu bytes allowed by server.", c->max_payload);
	return refuse(c, 413, c->error_text);
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	c->url_len = 0;
	c->url[0] = '\0';
	c->header_bytes = 0;
	c->body_len = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (len > HTTP_URL_MAX - c->url_len)
		return refuse(c, 414, "The request URI is longer than 1024 bytes.");
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_header_bytes(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	(void)at;
	if (len > HTTP_HEADERS_MAX - c->header_bytes)
		return refuse(c, 431, "The request headers are larger than 8192 bytes.");
	c->header_bytes += len;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	/* content_length is ULLONG_MAX when the request gives none (chunked or no body). */
	if (p->content_length != (uint64_t)-1 && p->content_length > c->max_payload)
		return refuse_payload(c);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (len > c->max_payload - c->body_len)
		return refuse_payload(c);
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	c->body[c->body_len] = '\0';
	c->complete = true;
	/* One request at a time: the parser waits until its answer is written. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_bytes,
	.on_header_value = on_header_bytes,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_conn_init(struct http_conn *c, char *body, size_t max_payload, char *out)
{
	memset(c, 0, sizeof(*c));
	c->body = body;
	c->max_payload = max_payload;
	c->out = out;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

size_t http_fault_body(char *buf, size_t size, const char *raw)
{
	static const char head[] = "{\"fault_message\":\"", tail[] = "\"}";
	char msg[1024];
	size_t n = 0;

	/* Bytes that are not printable UTF-8 become \xNN text first, so the JSON is valid. */
	log_escape(msg, sizeof(msg), raw, strlen(raw), NULL);
	if (size < sizeof(head) + sizeof(tail))
		return 0;
	memcpy(buf, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	/* Room for the tail and the NUL is kept; a message that does not fit is cut. */
	for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
		char esc[8];
		size_t e;
		if (*s == '"' || *s == '\\')
			e = (size_t)snprintf(esc, sizeof(esc), "\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			e = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *s);
		else
			esc[0] = (char)*s, e = 1;
		if (n + e + sizeof(tail) > size)
			break;
		memcpy(buf + n, esc, e);
		n += e;
	}
	memcpy(buf + n, tail, sizeof(tail));
	return n + sizeof(tail) - 1;
}

/* Queue the status line, the headers and the body (at most HTTP_BODY_OUT_MAX bytes). */
static void queue_answer(struct http_conn *c, int status, const char *body, size_t body_len)
{
	char head[256];
	int n;

	if (body_len > HTTP_BODY_OUT_MAX)
		body_len = 0;
	if (body_len)
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: kiln API\r\n"
			     "Connection: %s\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n", status, http_status_text(status),
			     c->closing ? "close" : "keep-alive", body_len);
	else
		n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nServer: kiln API\r\n"
			     "Connection: %s\r\n\r\n", status, http_status_text(status),
			     c->closing ? "close" : "keep-alive");
	/* n < sizeof(head) and HTTP_OUT_MAX has room for both. */
	memcpy(c->out, head, (size_t)n);
	if (body_len)
		memcpy(c->out + n, body, body_len);
	c->out_off = 0;
	c->out_len = (size_t)n + body_len;
}

static enum http_verb verb_of(unsigned int method)
{
	switch (method) {
	case HTTP_GET: return HTTP_VERB_GET;
	case HTTP_PUT: return HTTP_VERB_PUT;
	case HTTP_PATCH: return HTTP_VERB_PATCH;
	default: return HTTP_VERB_OTHER;
	}
}

static void answer_request(struct http_conn *c, http_handler h, void *opaque, char *body_buf)
{
	char *q = strchr(c->url, '?');
	struct http_request req = {
		.verb = verb_of(c->parser.method),
		.method = http_method_str((enum http_method)c->parser.method),
		.path = c->url,
		.body = c->body,
		.body_len = c->body_len,
	};
	struct http_response resp = { .status = 500, .body = body_buf };

	if (q)
		*q = '\0';
	if (!http_should_keep_alive(&c->parser))
		c->closing = true;
	h(opaque, &req, &resp);
	c->url_len = 0;
	c->header_bytes = 0;
	queue_answer(c, resp.status, body_buf, resp.body_len);
}

size_t http_conn_feed(struct http_conn *c, const char *data, size_t len, http_handler h,
		      void *opaque, char *body_buf)
{
	if (c->closing || len == 0)
		return len;
	if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	size_t n = http_parser_execute(&c->parser, &settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);

	if (c->complete) {
		c->complete = false;
		answer_request(c, h, opaque, body_buf);
		return n;
	}
	if (e == HPE_OK || e == HPE_PAUSED)
		return n;
	/* Malformed or over a limit: answer once, then close. */
	c->closing = true;
	if (!c->error_status) {
		c->error_status = 400;
		c->error_msg = http_errno_description(e);
	}
	char msg[160];
	snprintf(msg, sizeof(msg), "%s", c->error_msg);
	queue_answer(c, c->error_status, body_buf, http_fault_body(body_buf, HTTP_BODY_OUT_MAX,
								  msg));
	return len;
}

void http_conn_sent(struct http_conn *c)
{
	c->out_len = c->out_off = 0;
}
