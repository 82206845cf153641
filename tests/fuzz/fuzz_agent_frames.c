/*
 * The agent's parser of host frames on an arbitrary byte stream, frame after frame, as
 * a connection would feed it. Every frame taken must lie inside the input and agree with
 * its header; every accepted request must be within its limits (arguments, paths that
 * cannot escape, modes); an accepted EXEC must encode again and decode to the same; a
 * refusal must say why.
 */
/* coverage: guest/agent/request.c agentproto/frame.c agentproto/msg.c */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "guest/agent/request.h"

static void check_exec(const struct ap_exec *m)
{
	static uint8_t buf[AP_MAX_PAYLOAD];
	static struct ap_exec again;
	struct ap_builder b;
	const char *why = NULL;

	FUZZ_CHECK(m->argc >= 1 && m->argc <= AP_MAX_ARGS, "argc %zu", m->argc);
	FUZZ_CHECK(m->argv[m->argc] == NULL && m->env[m->envc] == NULL, "unterminated lists");
	for (size_t i = 0; i < m->envc; i++)
		FUZZ_CHECK(m->env[i][0] != '=' && strchr(m->env[i], '='), "env %zu", i);
	FUZZ_CHECK(!m->cwd || m->cwd[0] == '/', "relative cwd");
	struct ap_exec_params p = {
		.argv = (const char *const *)m->argv, .env = (const char *const *)m->env,
		.cwd = m->cwd, .has_uid = m->has_uid, .has_gid = m->has_gid, .uid = m->uid,
		.gid = m->gid, .timeout_ms = m->timeout_ms, .stdin_stream = m->stdin_stream,
	};
	ap_builder_init(&b, buf, sizeof(buf));
	FUZZ_CHECK(ap_exec_encode(&b, &p) == 0, "an accepted EXEC does not encode: %d", b.err);
	FUZZ_CHECK(ap_exec_decode(buf, b.len, &again, &why) == 0, "re-decode: %s", why);
	FUZZ_CHECK(again.argc == m->argc && again.envc == m->envc, "argc or envc changed");
	for (size_t i = 0; i < m->argc; i++)
		FUZZ_CHECK(!strcmp(again.argv[i], m->argv[i]), "argv[%zu] changed", i);
	FUZZ_CHECK(again.timeout_ms == m->timeout_ms && again.uid == m->uid &&
		   again.stdin_stream == m->stdin_stream, "fields changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ap_exec store;
	static struct agent_request rq;

	while (size > 0) {
		const char *why = NULL;
		long k = agent_parse_frame(data, size, &rq, &store, &why);
		if (k == 0)
			break;
		if (k < 0) {
			FUZZ_CHECK(k == -EPROTO || k == -EPROTONOSUPPORT || k == -EBADMSG ||
				   k == -EMSGSIZE, "error %ld", k);
			FUZZ_CHECK(why && why[0], "a refusal without a reason");
			break;
		}
		FUZZ_CHECK((size_t)k <= size && (size_t)k >= AP_HEADER_SIZE, "took %ld of %zu", k,
			   size);
		FUZZ_CHECK((size_t)k == AP_HEADER_SIZE + rq.data_len, "length disagrees");
		FUZZ_CHECK(rq.data == data + AP_HEADER_SIZE, "payload outside the frame");
		FUZZ_CHECK(rq.data_len <= AP_MAX_PAYLOAD, "payload %zu", rq.data_len);
		FUZZ_CHECK(ap_type_allowed(rq.type, AP_FROM_HOST), "type %u", rq.type);
		FUZZ_CHECK(rq.type == AP_ERROR || (rq.type == AP_HELLO) == (rq.stream == 0),
			   "type %u on stream %u", rq.type, rq.stream);
		switch (rq.type) {
		case AP_EXEC:
			FUZZ_CHECK(rq.exec == &store, "EXEC not decoded");
			check_exec(rq.exec);
			break;
		case AP_ENTRY:
			FUZZ_CHECK(ap_relpath_ok(rq.u.entry.path), "path %s", rq.u.entry.path);
			FUZZ_CHECK(rq.u.entry.mode <= 07777, "mode %o", rq.u.entry.mode);
			FUZZ_CHECK(rq.u.entry.kind == AP_ENTRY_SYMLINK ? rq.u.entry.target[0] != 0 :
				   rq.u.entry.target[0] == 0, "symlink target");
			break;
		case AP_PUT:
		case AP_GET:
			FUZZ_CHECK(rq.u.path[0] == '/' && strlen(rq.u.path) <= AP_MAX_PATH, "path");
			break;
		case AP_PING:
			FUZZ_CHECK(rq.data_len <= AP_MAX_PING, "ping %zu", rq.data_len);
			break;
		case AP_WINDOW:
			FUZZ_CHECK(rq.u.window >= 1 && rq.u.window <= AP_WINDOW_MAX, "window");
			break;
		case AP_SIGNAL:
			FUZZ_CHECK(rq.u.signo >= 1 && rq.u.signo <= 64, "signal %u", rq.u.signo);
			break;
		default:
			break;
		}
		data += k;
		size -= (size_t)k;
	}
	return 0;
}
