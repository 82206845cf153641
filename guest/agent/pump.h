/* Moving bytes for a connection's streams: process output and input, exits, and GET transfers. */
#ifndef KILN_AGENT_PUMP_H
#define KILN_AGENT_PUMP_H

#include <stdint.h>

#include "guest/agent/conn.h"

/*
 * Reads one chunk of a process's output (*fd: its stdout or stderr pipe) into the queue
 * as a STDOUT or STDERR frame, within the host's credit and the queue's room; closes *fd
 * and sets it to -1 at EOF.
 */
void pump_output(struct conn *c, struct stream *s, int *fd, uint8_t type);
/* Writes buffered standard input to the process; grants the host what it took. */
void pump_stdin(struct conn *c, struct stream *s);
/*
 * Kills the process at its time limit; once it has ended and both pipes are drained,
 * queues its EXIT (or an ERROR if its supervisor was lost) and frees the stream.
 */
void finish_exec(struct conn *c, struct stream **sp);
/*
 * A GET makes as much progress as credit and room allow (ENTRY, DATA, then END or an
 * ERROR that frees the stream); a WINDOW from the host or room made by writing to it
 * wakes the loop for more.
 */
void pump_get(struct conn *c, struct stream **sp);

#endif
