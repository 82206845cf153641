/* The agent's parser of host frames: bytes from the host to one checked, typed request. */
#include "guest/agent/request.h"

#include <errno.h>

static long bad(const char **why, const char *text)
{
	*why = text;
	return -EBADMSG;
}

long agent_parse_frame(const uint8_t *buf, size_t n, struct agent_request *rq,
		       struct ap_exec *exec_store, const char **why)
{
	struct ap_frame f;
	const char *w = "malformed frame";
	long size = ap_frame_parse(buf, n, AP_FROM_HOST, &f, &w);

	if (size <= 0) {
		*why = w;
		return size;
	}
	rq->type = f.h.type;
	rq->stream = f.h.stream;
	rq->exec = NULL;
	rq->data = f.payload;
	rq->data_len = f.h.len;
	if ((f.h.type == AP_HELLO) != (f.h.stream == 0) && f.h.type != AP_ERROR)
		return bad(why, f.h.type == AP_HELLO ? "HELLO on a stream other than 0" :
			   "a request on stream 0");
	switch (f.h.type) {
	case AP_HELLO:
		if (ap_hello_decode(f.payload, f.h.len, &rq->u.hello) < 0)
			return bad(why, "HELLO payload does not decode");
		break;
	case AP_ERROR:
		if (ap_error_decode(f.payload, f.h.len, &rq->u.error) < 0)
			return bad(why, "ERROR payload does not decode");
		break;
	case AP_PING:
		if (f.h.len > AP_MAX_PING)
			return bad(why, "PING payload longer than 64 bytes");
		break;
	case AP_WINDOW:
		if (ap_window_decode(f.payload, f.h.len, &rq->u.window) < 0)
			return bad(why, "WINDOW is not a credit of 1 to 16 MiB");
		break;
	case AP_EXEC:
		if (ap_exec_decode(f.payload, f.h.len, exec_store, why) < 0)
			return -EBADMSG;
		rq->exec = exec_store;
		break;
	case AP_STDIN:
	case AP_DATA:
		break;
	case AP_STDIN_EOF:
	case AP_END:
		if (f.h.len != 0)
			return bad(why, "STDIN_EOF or END with a payload");
		break;
	case AP_SIGNAL:
		if (ap_signal_decode(f.payload, f.h.len, &rq->u.signo) < 0)
			return bad(why, "SIGNAL is not a signal number 1..64");
		break;
	case AP_PUT:
	case AP_GET:
		if (ap_path_decode(f.payload, f.h.len, rq->u.path) < 0)
			return bad(why, "PUT or GET path is not absolute, has a NUL or is too long");
		break;
	case AP_ENTRY:
		if (ap_entry_decode(f.payload, f.h.len, &rq->u.entry, why) < 0)
			return -EBADMSG;
		break;
	case AP_SHUTDOWN:
		if (ap_shutdown_decode(f.payload, f.h.len, &rq->u.shutdown) < 0)
			return bad(why, "SHUTDOWN action is not 0, 1 or 2");
		break;
	default:
		return bad(why, "frame type not allowed from the host");
	}
	return size;
}
