/* The agent protocol's codec against hostile frames: headers, payloads, credit, and the agent's parser. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "agentproto/frame.h"
#include "agentproto/msg.h"
#include "guest/agent/request.h"

static uint8_t buf[AP_MAX_FRAME + 16];
static struct ap_exec exec_store;

/* A frame with any header fields, valid or not. */
static size_t raw(uint8_t *out, uint8_t m0, uint8_t m1, uint8_t ver, uint8_t type,
		  uint32_t stream, uint32_t len, const void *payload, size_t n)
{
	out[0] = m0;
	out[1] = m1;
	out[2] = ver;
	out[3] = type;
	memcpy(out + 4, &stream, 4);	/* the tests run on little-endian hosts */
	memcpy(out + 8, &len, 4);
	if (n)
		memcpy(out + AP_HEADER_SIZE, payload, n);
	return AP_HEADER_SIZE + n;
}

static size_t frame(uint8_t type, uint32_t stream, const void *payload, size_t n)
{
	return raw(buf, 'k', 'a', AP_VERSION, type, stream, (uint32_t)n, payload, n);
}

Test(frame, header_round_trip)
{
	struct ap_header h = { .type = AP_STDOUT, .stream = 0x01020304, .len = 5 }, back;
	struct ap_frame f;
	cr_assert_eq(ap_header_encode(buf, &h), 0);
	memcpy(buf + AP_HEADER_SIZE, "hello", 5);
	cr_assert_eq(ap_frame_parse(buf, 17, AP_FROM_AGENT, &f, NULL), 17);
	back = f.h;
	cr_assert_eq(back.type, AP_STDOUT);
	cr_assert_eq(back.stream, 0x01020304u);
	cr_assert_eq(back.len, 5u);
	cr_assert_eq(memcmp(f.payload, "hello", 5), 0);
	cr_assert_eq(buf[4], 0x04, "stream ids are little-endian on the wire");
}

Test(frame, encode_refuses_oversized_and_unknown)
{
	struct ap_header h = { .type = AP_DATA, .len = AP_MAX_PAYLOAD + 1 };
	cr_assert_eq(ap_header_encode(buf, &h), -EMSGSIZE);
	h.len = AP_MAX_PAYLOAD;
	cr_assert_eq(ap_header_encode(buf, &h), 0);
	h.type = 0x7f;
	cr_assert_eq(ap_header_encode(buf, &h), -EINVAL);
}

Test(frame, truncated_frames_need_more_bytes)
{
	struct ap_frame f;
	size_t n = frame(AP_PING, 1, "12345678", 8);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ap_frame_parse(buf, i, AP_FROM_HOST, &f, NULL), 0, "at %zu bytes", i);
	cr_assert_eq(ap_frame_parse(buf, n, AP_FROM_HOST, &f, NULL), (long)n);
	cr_assert_eq(ap_frame_parse(buf, n + 3, AP_FROM_HOST, &f, NULL), (long)n,
		     "only one frame is taken");
}

Test(frame, oversized_length_fails_before_any_payload)
{
	struct ap_frame f;
	const char *why = NULL;
	raw(buf, 'k', 'a', AP_VERSION, AP_DATA, 1, AP_MAX_PAYLOAD + 1, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, AP_HEADER_SIZE, AP_FROM_HOST, &f, &why), -EMSGSIZE);
	cr_assert_str_eq(why, "frame longer than the limit");
	raw(buf, 'k', 'a', AP_VERSION, AP_DATA, 1, AP_MAX_PAYLOAD, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, AP_HEADER_SIZE, AP_FROM_HOST, &f, &why), 0,
		     "the largest payload allowed is waited for");
}

Test(frame, length_overflow_is_refused)
{
	struct ap_frame f;
	/* A length that would wrap a naive header + len sum. */
	raw(buf, 'k', 'a', AP_VERSION, AP_DATA, 1, 0xfffffff8u, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 64, AP_FROM_HOST, &f, NULL), -EMSGSIZE);
	raw(buf, 'k', 'a', AP_VERSION, AP_DATA, 1, 0xffffffffu, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 64, AP_FROM_HOST, &f, NULL), -EMSGSIZE);
}

Test(frame, bad_magic_fails_at_the_first_wrong_byte)
{
	struct ap_frame f;
	buf[0] = 'G';	/* "GET / HTTP/1.1" to the wrong socket */
	cr_assert_eq(ap_frame_parse(buf, 1, AP_FROM_HOST, &f, NULL), -EPROTO);
	buf[0] = 'k';
	buf[1] = 'x';
	cr_assert_eq(ap_frame_parse(buf, 2, AP_FROM_HOST, &f, NULL), -EPROTO);
}

Test(frame, bad_version)
{
	struct ap_frame f;
	const char *why = NULL;
	raw(buf, 'k', 'a', 2, AP_PING, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, AP_HEADER_SIZE, AP_FROM_HOST, &f, &why),
		     -EPROTONOSUPPORT);
	cr_assert_str_eq(why, "unsupported protocol version in frame header");
	raw(buf, 'k', 'a', 0, AP_PING, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 3, AP_FROM_HOST, &f, NULL), -EPROTONOSUPPORT);
}

Test(frame, unknown_type_and_wrong_direction)
{
	struct ap_frame f;
	raw(buf, 'k', 'a', AP_VERSION, 0x99, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 4, AP_FROM_HOST, &f, NULL), -EBADMSG);
	raw(buf, 'k', 'a', AP_VERSION, 0x00, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 4, AP_FROM_AGENT, &f, NULL), -EBADMSG);
	/* The host may not send what only the agent sends, and the other way round. */
	raw(buf, 'k', 'a', AP_VERSION, AP_EXIT, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 4, AP_FROM_HOST, &f, NULL), -EPROTO);
	raw(buf, 'k', 'a', AP_VERSION, AP_EXEC, 1, 0, NULL, 0);
	cr_assert_eq(ap_frame_parse(buf, 4, AP_FROM_AGENT, &f, NULL), -EPROTO);
	cr_assert_null(ap_type_name(0x99));
	cr_assert_str_eq(ap_type_name(AP_STDIN_EOF), "STDIN_EOF");
}

Test(credit, spend_and_grant_are_bounded)
{
	struct ap_credit c;
	ap_credit_init(&c, 4096);
	cr_assert_eq(ap_credit_spend(&c, 4096), 0);
	cr_assert_eq(ap_credit_spend(&c, 1), -ENOSPC, "a credit violation");
	cr_assert_eq(ap_credit_grant(&c, 100), 0);
	cr_assert_eq(ap_credit_spend(&c, 101), -ENOSPC);
	cr_assert_eq(ap_credit_spend(&c, 100), 0);
	cr_assert_eq(ap_credit_grant(&c, AP_WINDOW_MAX), 0);
	cr_assert_eq(ap_credit_grant(&c, 1), -EOVERFLOW);
	cr_assert_eq(ap_credit_grant(&c, 0xffffffffu), -EOVERFLOW, "no wrap-around");
	cr_assert_eq(c.avail, AP_WINDOW_MAX);
	ap_credit_init(&c, 0xffffffffu);
	cr_assert_eq(c.avail, AP_WINDOW_MAX, "an initial credit is capped too");
}

Test(payload, builder_overflow_is_sticky)
{
	uint8_t small[6];
	struct ap_builder b;
	ap_builder_init(&b, small, sizeof(small));
	ap_put_u32(&b, 1);
	ap_put_u32(&b, 2);
	cr_assert_eq(b.err, -EMSGSIZE);
	ap_put_u8(&b, 3);
	cr_assert_eq(b.len, 4u, "nothing is written after an overflow");
}

Test(payload, cursor_refuses_short_reads)
{
	struct ap_cursor c;
	uint32_t v;
	uint64_t w;
	const uint8_t *p;
	ap_cursor_init(&c, "abc", 3);
	cr_assert_eq(ap_get_u32(&c, &v), -EBADMSG);
	cr_assert_eq(ap_get_u64(&c, &w), -EBADMSG);
	cr_assert_eq(ap_get_bytes(&c, SIZE_MAX, &p), -EBADMSG);
	cr_assert_eq(c.left, 3u);
}

static size_t encode_exec(const struct ap_exec_params *m, uint8_t *out, size_t cap)
{
	struct ap_builder b;
	ap_builder_init(&b, out, cap);
	cr_assert_eq(ap_exec_encode(&b, m), 0);
	return b.len;
}

Test(payload, exec_round_trip)
{
	const char *argv[] = { "sh", "-c", "echo $X", NULL }, *env[] = { "X=1=2", NULL };
	struct ap_exec_params m = { .argv = argv, .env = env, .cwd = "/tmp", .has_uid = true,
				    .uid = 1000, .timeout_ms = 1500, .stdin_stream = true };
	size_t n = encode_exec(&m, buf, sizeof(buf));
	const char *why = NULL;
	cr_assert_eq(ap_exec_decode(buf, n, &exec_store, &why), 0, "%s", why);
	cr_assert_eq(exec_store.argc, 3u);
	cr_assert_str_eq(exec_store.argv[2], "echo $X");
	cr_assert_null(exec_store.argv[3]);
	cr_assert_str_eq(exec_store.env[0], "X=1=2");
	cr_assert_str_eq(exec_store.cwd, "/tmp");
	cr_assert(exec_store.has_uid && !exec_store.has_gid && exec_store.uid == 1000);
	cr_assert_eq(exec_store.timeout_ms, 1500u);
	cr_assert(exec_store.stdin_stream);
	/* A prefix decodes exactly when it ends between two fields (after the first). */
	bool boundary[512] = { false };
	for (size_t pos = 0; pos < n;) {
		uint32_t len;
		memcpy(&len, buf + pos + 1, 4);
		pos += 5 + len;
		boundary[pos] = true;
	}
	for (size_t i = 1; i < n; i++)
		cr_assert_eq(ap_exec_decode(buf, i, &exec_store, &why) == 0, boundary[i],
			     "a prefix of %zu bytes", i);
}

/* One EXEC field by hand: tag, length, value. */
static size_t field(uint8_t *out, uint8_t tag, uint32_t len, const void *v, size_t n)
{
	out[0] = tag;
	memcpy(out + 1, &len, 4);
	if (n)
		memcpy(out + 5, v, n);
	return 5 + n;
}

static void exec_refused(const uint8_t *p, size_t n, const char *want)
{
	const char *why = NULL;
	cr_assert_eq(ap_exec_decode(p, n, &exec_store, &why), -EBADMSG);
	cr_assert_str_eq(why, want);
}

Test(payload, exec_hostile_fields)
{
	uint8_t p[256];
	size_t n;
	n = field(p, AP_EXEC_ARG, 0xffffffffu, "x", 1);
	exec_refused(p, n, "EXEC field truncated");
	n = field(p, AP_EXEC_ARG, 3, "a\0b", 3);
	exec_refused(p, n, "EXEC argument contains a NUL byte");
	n = field(p, AP_EXEC_ENV, 3, "A=b", 3);
	exec_refused(p, n, "EXEC has no argument");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_ENV, 3, "abc", 3);
	exec_refused(p, n, "EXEC environment entry is not NAME=value");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_ENV, 2, "=x", 2);
	exec_refused(p, n, "EXEC environment entry is not NAME=value");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_CWD, 3, "tmp", 3);
	exec_refused(p, n, "EXEC working directory is not an absolute path");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_UID, 4, "\0\0\0\0", 4);
	n += field(p + n, AP_EXEC_UID, 4, "\0\0\0\0", 4);
	exec_refused(p, n, "EXEC uid is repeated or not a u32");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_GID, 2, "\0\0", 2);
	exec_refused(p, n, "EXEC gid is repeated or not a u32");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, AP_EXEC_STDIN, 1, "x", 1);
	exec_refused(p, n, "EXEC stdin flag is repeated or not empty");
	n = field(p, AP_EXEC_ARG, 2, "ls", 2);
	n += field(p + n, 99, 0, NULL, 0);
	exec_refused(p, n, "EXEC has an unknown field");
}

Test(payload, exec_too_many_arguments)
{
	size_t n = 0;
	for (int i = 0; i <= AP_MAX_ARGS; i++)
		n += field(buf + n, AP_EXEC_ARG, 0, NULL, 0);
	exec_refused(buf, n, "EXEC has too many arguments");
	n -= 5;
	const char *why = NULL;
	cr_assert_eq(ap_exec_decode(buf, n, &exec_store, &why), 0, "%s", why);
	cr_assert_eq(exec_store.argc, (size_t)AP_MAX_ARGS);
}

Test(payload, exec_largest_payload_fits_its_store)
{
	size_t n = field(buf, AP_EXEC_ARG, AP_MAX_PAYLOAD - 5, NULL, 0);
	memset(buf + 5, 'x', AP_MAX_PAYLOAD - 5);
	n = AP_MAX_PAYLOAD;
	const char *why = NULL;
	cr_assert_eq(ap_exec_decode(buf, n, &exec_store, &why), 0, "%s", why);
	cr_assert_eq(strlen(exec_store.argv[0]), AP_MAX_PAYLOAD - 5);
	exec_refused(buf, AP_MAX_PAYLOAD + 1, "EXEC payload longer than a frame");
}

static int entry_decode(const struct ap_entry *in, struct ap_entry *out, const char **why)
{
	struct ap_builder b;
	ap_builder_init(&b, buf, sizeof(buf));
	if (ap_entry_encode(&b, in) < 0)
		return -EINVAL;
	return ap_entry_decode(buf, b.len, out, why);
}

Test(payload, entry_paths_cannot_escape)
{
	static const char *const bad[] = { "/etc/passwd", "..", "../x", "a/../../x", "a//b",
					   "a/", ".", "a/./b" };
	static struct ap_entry e, out;
	const char *why = NULL;
	e.kind = AP_ENTRY_FILE;
	e.mode = 0644;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(e.path, bad[i]);
		cr_assert_eq(entry_decode(&e, &out, &why), -EBADMSG, "%s", bad[i]);
		cr_assert_str_eq(why, "ENTRY path is not a clean relative path");
	}
	strcpy(e.path, "a/b..c/.d");
	cr_assert_eq(entry_decode(&e, &out, &why), 0);
	cr_assert_str_eq(out.path, "a/b..c/.d");
	cr_assert(ap_relpath_ok(""));
}

Test(payload, entry_fields_are_checked)
{
	static struct ap_entry e, out;
	const char *why = NULL;
	e.kind = AP_ENTRY_SYMLINK;
	strcpy(e.path, "l");
	cr_assert_eq(entry_decode(&e, &out, &why), -EBADMSG, "a symlink needs a target");
	strcpy(e.target, "../../etc");
	cr_assert_eq(entry_decode(&e, &out, &why), 0, "targets are data, never followed");
	e.kind = AP_ENTRY_DIR;
	e.size = 1;
	cr_assert_eq(entry_decode(&e, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "ENTRY directory with a size");
	/* mode above 07777 and an unknown kind, by hand */
	uint8_t p[32] = { AP_ENTRY_FILE, 0x00, 0x10, 0, 0 };
	cr_assert_eq(ap_entry_decode(p, 17, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "ENTRY mode has bits beyond 07777");
	p[0] = 9;
	p[2] = 0;
	cr_assert_eq(ap_entry_decode(p, 17, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "ENTRY of an unknown kind");
	p[0] = AP_ENTRY_FILE;
	p[13] = 0xff;	/* path length far beyond the payload */
	cr_assert_eq(ap_entry_decode(p, 17, &out, &why), -EBADMSG);
	cr_assert_str_eq(why, "ENTRY truncated");
}

Test(payload, hello_window_exit_signal)
{
	struct ap_hello h = { 1, 3, AP_MAX_PAYLOAD, 65536, "x" }, back;
	struct ap_builder b;
	ap_builder_init(&b, buf, sizeof(buf));
	cr_assert_eq(ap_hello_encode(&b, &h), 0);
	cr_assert_eq(ap_hello_decode(buf, b.len, &back), 0);
	cr_assert_eq(back.max_version, 3);
	cr_assert_str_eq(back.name, "x");
	h.min_version = 4;
	ap_builder_init(&b, buf, sizeof(buf));
	ap_hello_encode(&b, &h);
	cr_assert_eq(ap_hello_decode(buf, b.len, &back), -EBADMSG, "min above max");
	h.min_version = 1;
	h.window = 10;
	ap_builder_init(&b, buf, sizeof(buf));
	ap_hello_encode(&b, &h);
	cr_assert_eq(ap_hello_decode(buf, b.len, &back), -EBADMSG, "a window below 4096");

	uint32_t v;
	cr_assert_eq(ap_window_decode((const uint8_t *)"\0\0\0\0", 4, &v), -EBADMSG, "0 credit");
	cr_assert_eq(ap_window_decode((const uint8_t *)"\x01\0\0\x7f", 4, &v), -EBADMSG);
	cr_assert_eq(ap_window_decode((const uint8_t *)"\x01\0\0\0\0", 5, &v), -EBADMSG);
	cr_assert_eq(ap_signal_decode((const uint8_t *)"\x41\0\0\0", 4, &v), -EBADMSG, "65");
	cr_assert_eq(ap_signal_decode((const uint8_t *)"\x09\0\0\0", 4, &v), 0);

	struct ap_exit x = { AP_SIGNALED, AP_EXIT_TIMED_OUT, 9, 1234 }, xb;
	ap_builder_init(&b, buf, sizeof(buf));
	cr_assert_eq(ap_exit_encode(&b, &x), 0);
	cr_assert_eq(ap_exit_decode(buf, b.len, &xb), 0);
	cr_assert(xb.how == AP_SIGNALED && xb.value == 9 && xb.runtime_us == 1234);
	buf[4] = 0;	/* signal 0 */
	cr_assert_eq(ap_exit_decode(buf, b.len, &xb), -EBADMSG);
}

/* The agent's parser: everything above, plus the rules of streams. */
static long parse(size_t n, struct agent_request *rq, const char **why)
{
	return agent_parse_frame(buf, n, rq, &exec_store, why);
}

Test(request, stream_rules)
{
	struct agent_request rq;
	const char *why = NULL;
	struct ap_hello h = { 1, 1, AP_MAX_PAYLOAD, 65536, "t" };
	uint8_t p[128];
	struct ap_builder b;
	ap_builder_init(&b, p, sizeof(p));
	ap_hello_encode(&b, &h);
	size_t n = frame(AP_HELLO, 0, p, b.len);
	cr_assert_eq(parse(n, &rq, &why), (long)n);
	n = frame(AP_HELLO, 7, p, b.len);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	cr_assert_str_eq(why, "HELLO on a stream other than 0");
	n = frame(AP_PING, 0, NULL, 0);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	cr_assert_str_eq(why, "a request on stream 0");
	n = frame(AP_PING, 1, buf + 100, 65);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	cr_assert_str_eq(why, "PING payload longer than 64 bytes");
	n = frame(AP_STDIN_EOF, 1, "x", 1);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	n = frame(AP_PUT, 1, "relative", 8);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	n = frame(AP_SHUTDOWN, 1, "\x03", 1);
	cr_assert_eq(parse(n, &rq, &why), -EBADMSG);
	n = frame(AP_STDIN, 3, "abc", 3);
	cr_assert_eq(parse(n, &rq, &why), (long)n);
	cr_assert(rq.type == AP_STDIN && rq.stream == 3 && rq.data_len == 3);
	cr_assert_eq(memcmp(rq.data, "abc", 3), 0);
	n = frame(AP_STDOUT, 3, "abc", 3);
	cr_assert_eq(parse(n, &rq, &why), -EPROTO, "the agent's own frame types");
}
