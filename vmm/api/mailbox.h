/* One request at a time from the API thread to the main thread, and its answer back. */
#ifndef KILN_API_MAILBOX_H
#define KILN_API_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include "http.h"

struct api_mailbox {
	pthread_mutex_t lock;
	pthread_cond_t answered;
	int efd;			/* readable while a request waits (the main thread polls it) */
	const struct http_request *req;	/* the waiting request, NULL when none */
	struct http_response *resp;
	bool done;
};

int api_mailbox_init(struct api_mailbox *mb) MUST_CHECK;
void api_mailbox_destroy(struct api_mailbox *mb);
/*
 * An http_handler for the API thread (opaque: the mailbox): posts the request and waits
 * until the main thread has answered it, as Firecracker's API thread waits for its VMM.
 */
void api_mailbox_call(void *mb, const struct http_request *req, struct http_response *resp);
/* Main thread: wait (pre-boot) until a request is posted; 0 or -errno. */
int api_mailbox_wait(struct api_mailbox *mb) MUST_CHECK;
/* Main thread: answer the waiting request, if any, with h. */
void api_mailbox_serve(struct api_mailbox *mb, http_handler h, void *opaque);

#endif
