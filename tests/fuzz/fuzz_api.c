/*
 * The API's request path on arbitrary bytes: HTTP parsing, routing, every body parser and
 * the controller (without a machine). Every answer is a well-formed HTTP/1.1 response
 * whose Content-Length is its body's and whose body is JSON; no crash, no leak.
 */
/* coverage: vmm/api/http.c vmm/api/routes.c vmm/controller.c */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "api/http.h"
#include "api/routes.h"
#include "controller.h"
#include "fuzz.h"
#include "log.h"

static char body[HTTP_MAX_PAYLOAD + 1], out[HTTP_OUT_MAX], answer_body[HTTP_BODY_OUT_MAX];

static void check_answer(const char *a, size_t len)
{
	int status = 0;
	size_t clen = 0;
	FUZZ_CHECK(len > 12 && memcmp(a, "HTTP/1.1 ", 9) == 0, "not a status line");
	FUZZ_CHECK(sscanf(a, "HTTP/1.1 %d", &status) == 1, "no status");
	FUZZ_CHECK(status == 200 || status == 204 || status == 400 || status == 405 ||
		   status == 413 || status == 414 || status == 431 || status == 500,
		   "status %d", status);
	const char *end = memmem(a, len, "\r\n\r\n", 4);
	FUZZ_CHECK(end, "no end of headers");
	size_t head = (size_t)(end - a) + 4;
	const char *cl = memmem(a, head, "Content-Length: ", 16);
	if (!cl) {
		FUZZ_CHECK(head == len, "a body without Content-Length");
		FUZZ_CHECK(status == 204, "status %d without a body", status);
		return;
	}
	FUZZ_CHECK(sscanf(cl, "Content-Length: %zu", &clen) == 1, "bad Content-Length");
	FUZZ_CHECK(head + clen == len, "Content-Length %zu, body %zu", clen, len - head);
	json_error_t jerr;
	json_t *j = json_loadb(a + head, clen, 0, &jerr);
	FUZZ_CHECK(j, "the body is not JSON: %s: %.*s", jerr.text, (int)clen, a + head);
	if (status >= 400)
		FUZZ_CHECK(json_is_string(json_object_get(j, "fault_message")), "no fault_message");
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct controller ctl;
	struct http_conn c;

	if (!quiet) {
		log_configure(&(struct log_config){ .level = LOG_OFF, .fd = -1 });
		quiet = true;
	}
	ctl_init(&ctl, NULL, NULL, "fuzz");
	http_conn_init(&c, body, HTTP_MAX_PAYLOAD, out);
	/* The first byte splits the rest into reads of 1 to 256 bytes, as a socket would. */
	size_t chunk = size ? (size_t)data[0] + 1 : 1, off = size ? 1 : 0;
	unsigned int answers = 0;
	while (off < size && !c.closing) {
		size_t n = MIN(chunk, size - off), used = 0;
		while (used < n && !c.closing) {
			size_t u = http_conn_feed(&c, (const char *)data + off + used, n - used,
						  api_route, &ctl, answer_body);
			FUZZ_CHECK(u <= n - used, "used %zu of %zu", u, n - used);
			if (http_conn_pending(&c)) {
				check_answer(c.out, c.out_len);
				http_conn_sent(&c);
				answers++;
			} else {
				FUZZ_CHECK(u == n - used, "stopped without an answer");
			}
			used += u;
		}
		off += n;
	}
	FUZZ_CHECK(ctl.state == VM_NOT_STARTED, "started without a machine");
	ctl_free(&ctl);
	return 0;
}
