/* One request at a time from the API thread to the main thread, and its answer back. */
#include "mailbox.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

int api_mailbox_init(struct api_mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	mb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (mb->efd < 0)
		return -errno;
	pthread_mutex_init(&mb->lock, NULL);
	pthread_cond_init(&mb->answered, NULL);
	return 0;
}

void api_mailbox_destroy(struct api_mailbox *mb)
{
	if (mb->efd >= 0)
		close(mb->efd);
	mb->efd = -1;
}

void api_mailbox_call(void *opaque, const struct http_request *req, struct http_response *resp)
{
	struct api_mailbox *mb = opaque;
	uint64_t one = 1;

	pthread_mutex_lock(&mb->lock);
	mb->req = req;
	mb->resp = resp;
	mb->done = false;
	if (write(mb->efd, &one, sizeof(one)) < 0)
		log_error("API: request eventfd: %m");
	while (!mb->done)
		pthread_cond_wait(&mb->answered, &mb->lock);
	mb->req = NULL;
	mb->resp = NULL;
	pthread_mutex_unlock(&mb->lock);
}

int api_mailbox_wait(struct api_mailbox *mb)
{
	struct pollfd p = { .fd = mb->efd, .events = POLLIN };
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

void api_mailbox_serve(struct api_mailbox *mb, http_handler h, void *opaque)
{
	uint64_t v;

	if (read(mb->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_error("API: request eventfd: %m");
	pthread_mutex_lock(&mb->lock);
	if (mb->req && !mb->done) {
		h(opaque, mb->req, mb->resp);
		mb->done = true;
		pthread_cond_signal(&mb->answered);
	}
	pthread_mutex_unlock(&mb->lock);
}
