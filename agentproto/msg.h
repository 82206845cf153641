/* The agent protocol's payloads: encoding and strict, bounded decoding of each message. */
#ifndef KILN_AGENTPROTO_MSG_H
#define KILN_AGENTPROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto/frame.h"

#define AP_MAX_NAME 64		/* HELLO's software name */
#define AP_MAX_ERROR_TEXT 1024	/* ERROR's message */
#define AP_MAX_PING 64		/* PING's opaque payload */
#define AP_MAX_ARGS 1024
#define AP_MAX_ENV 1024
#define AP_MAX_PATH 4095

/*
 * HELLO: the versions a side speaks (the agent answers with min == max == the one chosen),
 * the largest payload it accepts (4096..AP_MAX_PAYLOAD) and the credit it gives its peer
 * for data on each new stream (4096..AP_WINDOW_MAX), then its name.
 */
#define AP_MIN_WINDOW 4096u
struct ap_hello {
	uint16_t min_version;
	uint16_t max_version;
	uint32_t max_payload;
	uint32_t window;
	char name[AP_MAX_NAME + 1];
};

int ap_hello_encode(struct ap_builder *b, const struct ap_hello *m);
int ap_hello_decode(const uint8_t *p, size_t n, struct ap_hello *m);

/* ERROR: a positive errno value and a message (not NUL-terminated on the wire). */
struct ap_error {
	uint32_t code;
	char text[AP_MAX_ERROR_TEXT + 1];
};

int ap_error_encode(struct ap_builder *b, uint32_t code, const char *text);
int ap_error_decode(const uint8_t *p, size_t n, struct ap_error *m);

/* WINDOW: credit to add, 1..AP_WINDOW_MAX. */
int ap_window_encode(struct ap_builder *b, uint32_t grant);
int ap_window_decode(const uint8_t *p, size_t n, uint32_t *grant);

/* SIGNAL: a signal number, 1..64. */
int ap_signal_encode(struct ap_builder *b, uint32_t signo);
int ap_signal_decode(const uint8_t *p, size_t n, uint32_t *signo);

/* SHUTDOWN's action. */
enum ap_shutdown_action { AP_SHUTDOWN_AGENT = 0, AP_SHUTDOWN_POWEROFF = 1, AP_SHUTDOWN_REBOOT = 2 };
int ap_shutdown_encode(struct ap_builder *b, enum ap_shutdown_action action);
int ap_shutdown_decode(const uint8_t *p, size_t n, enum ap_shutdown_action *action);

/* EXEC's fields, each a tag (u8), a length (u32) and a value. */
enum ap_exec_tag {
	AP_EXEC_ARG = 1,	/* string, repeated: argv in order; at least one */
	AP_EXEC_ENV = 2,	/* string "NAME=value", repeated */
	AP_EXEC_CWD = 3,	/* string, absolute */
	AP_EXEC_UID = 4,	/* u32 */
	AP_EXEC_GID = 5,	/* u32 */
	AP_EXEC_TIMEOUT_MS = 6,	/* u64, 0 = none */
	AP_EXEC_STDIN = 7,	/* empty: standard input comes as STDIN frames (else /dev/null) */
};

/* What the host asks to run (the encoder's view: borrowed strings). */
struct ap_exec_params {
	const char *const *argv;	/* NULL-terminated, at least one */
	const char *const *env;		/* NULL-terminated, may be NULL */
	const char *cwd;		/* may be NULL */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	uint64_t timeout_ms;
	bool stdin_stream;
};

int ap_exec_encode(struct ap_builder *b, const struct ap_exec_params *m);

/*
 * A decoded EXEC: every string copied, NUL-terminated, into `store`, which is sized for
 * the largest payload, so that nothing is allocated from a peer's lengths. Strings
 * containing NUL, environment entries without a name, a relative cwd, a repeated
 * single field, an unknown tag, more than AP_MAX_ARGS arguments or AP_MAX_ENV
 * entries, or no argument at all are refused.
 */
struct ap_exec {
	char *argv[AP_MAX_ARGS + 1];
	size_t argc;
	char *env[AP_MAX_ENV + 1];
	size_t envc;
	char *cwd;		/* NULL: "/" */
	bool has_uid, has_gid;
	uint32_t uid, gid;
	uint64_t timeout_ms;
	bool stdin_stream;
	char store[AP_MAX_PAYLOAD + AP_MAX_PAYLOAD / 5 + 8];
};

int ap_exec_decode(const uint8_t *p, size_t n, struct ap_exec *m, const char **why);

/* EXIT: how the process ended. */
enum ap_exit_how { AP_EXITED = 1, AP_SIGNALED = 2 };
#define AP_EXIT_TIMED_OUT 0x01u		/* killed because its time limit passed */
struct ap_exit {
	uint8_t how;		/* enum ap_exit_how */
	uint8_t flags;		/* AP_EXIT_* */
	uint32_t value;		/* exit status 0..255, or the signal number */
	uint64_t runtime_us;
};

int ap_exit_encode(struct ap_builder *b, const struct ap_exit *m);
int ap_exit_decode(const uint8_t *p, size_t n, struct ap_exit *m);

/* PUT and GET: an absolute path, no NUL, at most AP_MAX_PATH bytes. */
int ap_path_encode(struct ap_builder *b, const char *path);
int ap_path_decode(const uint8_t *p, size_t n, char out[AP_MAX_PATH + 1]);

/* ENTRY: one member of a file tree. */
enum ap_entry_kind { AP_ENTRY_FILE = 1, AP_ENTRY_DIR = 2, AP_ENTRY_SYMLINK = 3 };
struct ap_entry {
	uint8_t kind;		/* enum ap_entry_kind */
	uint32_t mode;		/* permission bits, 07777 at most */
	uint64_t size;		/* a file's size: exactly this many DATA bytes follow */
	/* Relative to the tree's root, "" for the root itself; no ".", ".." or empty part. */
	char path[AP_MAX_PATH + 1];
	char target[AP_MAX_PATH + 1];	/* a symlink's target, else "" */
};

int ap_entry_encode(struct ap_builder *b, const struct ap_entry *m);
int ap_entry_decode(const uint8_t *p, size_t n, struct ap_entry *m, const char **why);
/* True when rel is "" or a/b/c with no ".", ".." or empty component. */
bool ap_relpath_ok(const char *rel);

#endif
