/* Firecracker's API paths: each request turned into a controller operation and answered. */
#ifndef KILN_API_ROUTES_H
#define KILN_API_ROUTES_H

#include "controller.h"
#include "http.h"

/*
 * Answer one request (an http_handler; opaque is the struct controller). Logs the
 * request as Firecracker does; a fault is 400 with {"fault_message": "..."}.
 */
void api_route(void *ctl, const struct http_request *req, struct http_response *resp);

#endif
