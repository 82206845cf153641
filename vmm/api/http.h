/* HTTP/1.1 requests on one connection: libhttp-parser under fixed limits, responses formatted. */
#ifndef KILN_API_HTTP_H
#define KILN_API_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include "util.h"

#define HTTP_MAX_PAYLOAD 51200		/* the default limit: Firecracker's HTTP_MAX_PAYLOAD_SIZE */
#define HTTP_MAX_PAYLOAD_LIMIT 1048576	/* the highest --http-api-max-payload-size */
#define HTTP_URL_MAX 1024
#define HTTP_HEADERS_MAX 8192		/* every header line of one request together */
#define HTTP_BODY_OUT_MAX (256 * 1024)	/* a response body (GET /vm/config is the largest) */
#define HTTP_OUT_MAX (HTTP_BODY_OUT_MAX + 256)	/* a whole response: status, headers, body */

enum http_verb { HTTP_VERB_GET, HTTP_VERB_PUT, HTTP_VERB_PATCH, HTTP_VERB_OTHER };

struct http_request {
	enum http_verb verb;
	const char *method;	/* its name as sent ("GET", "DELETE"...) */
	const char *path;	/* the URL without its query, NUL-terminated, at most URL_MAX */
	const char *body;	/* body_len bytes, NUL-terminated; "" without a body */
	size_t body_len;
};

struct http_response {
	int status;		/* 200, 204, 400... */
	char *body;		/* JSON, HTTP_BODY_OUT_MAX bytes of room (given by the caller) */
	size_t body_len;	/* 0: no body */
};

/* Answers one request: sets status and the body. */
typedef void (*http_handler)(void *opaque, const struct http_request *req,
			     struct http_response *resp);

struct http_conn {
	http_parser parser;
	char url[HTTP_URL_MAX + 1];
	size_t url_len;
	size_t header_bytes;
	char *body;		/* max_payload + 1 bytes, the caller's */
	size_t body_len;
	size_t max_payload;	/* a body over this is refused (413) */
	bool complete;		/* a whole request is waiting for its answer */
	int error_status;	/* a request refused by the HTTP layer itself (400, 413) */
	const char *error_msg;
	char error_text[128];	/* error_msg when it has to name a number */
	bool closing;		/* answer what is queued, then close */
	char *out;		/* HTTP_OUT_MAX bytes, the caller's: the answer not yet written */
	size_t out_len, out_off;
};

/*
 * A connection parses into `body` (max_payload + 1 bytes) and answers into `out`
 * (HTTP_OUT_MAX bytes), both the caller's: the HTTP layer never allocates. A body over
 * max_payload bytes (1 to HTTP_MAX_PAYLOAD_LIMIT) is refused with 413.
 */
void http_conn_init(struct http_conn *c, char *body, size_t max_payload, char *out);

/*
 * Parse up to len bytes; stops after one whole request, answers it (the handler, or the
 * HTTP layer's own 400/413/414/431) into c->out and returns the bytes used. Call again
 * with the rest once the answer is written (http_conn_pending() is false). After an
 * error the connection is closing and takes no more input (the rest is discarded).
 * body_buf (HTTP_BODY_OUT_MAX bytes) is where the handler writes its answer's body.
 */
size_t http_conn_feed(struct http_conn *c, const char *data, size_t len, http_handler h,
		      void *opaque, char *body_buf) MUST_CHECK;
/* Output waits to be written. */
static inline bool http_conn_pending(const struct http_conn *c)
{
	return c->out_off < c->out_len;
}
/* The answer was written: drop it. */
void http_conn_sent(struct http_conn *c);

/* Firecracker's error body: {"fault_message":"<msg>"} with msg escaped for JSON. */
size_t http_fault_body(char *buf, size_t size, const char *msg);
const char *http_status_text(int status);

#endif
