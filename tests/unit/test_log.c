/* The logger's escaping: whatever a message quotes, each record is one line of plain text. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static FILE *out;

static void setup(void)
{
	out = tmpfile();
	cr_assert_not_null(out);
	/* The logger owns the fd it is given: a copy of the file's. */
	log_configure(&(struct log_config){ .id = "anonymous-instance", .level = LOG_INFO,
					    .fd = dup(fileno(out)) });
}

static void teardown(void)
{
	log_configure(&(struct log_config){ .level = LOG_INFO, .fd = STDERR_FILENO });
	fclose(out);
}

TestSuite(log_escape, .init = setup, .fini = teardown);

/* A logger configured again (PUT /logger) closes the file it wrote to before. */
Test(log_escape, a_replaced_log_file_is_closed)
{
	int fd = dup(fileno(out));
	cr_assert_geq(fd, 0);
	log_configure(&(struct log_config){ .level = LOG_INFO, .fd = fd });
	FILE *second = tmpfile();
	cr_assert_not_null(second);
	log_configure(&(struct log_config){ .level = LOG_INFO, .fd = dup(fileno(second)) });
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "the first log file's fd is still open");
	cr_assert_eq(errno, EBADF);
	fclose(second);
}

/* Everything logged so far. */
static const char *logged(void)
{
	static char text[8192];
	size_t n = (size_t)pread(fileno(out), text, sizeof(text) - 1, 0);
	text[n] = '\0';
	return text;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void expect_escaped(const char *in, const char *want)
{
	char buf[256];
	size_t n = log_escape(buf, sizeof(buf), in, strlen(in), NULL);
	cr_assert_str_eq(buf, want, "\n got  \"%s\"\n want \"%s\"", buf, want);
	cr_assert_eq(n, strlen(want));
}

static const char forged[] = "\n2026-01-01T00:00:00 [anonymous-instance:main] fake";

Test(log_escape, injected_newline_yields_one_line)
{
	log_error("drives[0].drive_id: \"x%s\" must be 1 to 20 characters", forged);
	const char *text = logged();
	cr_assert_eq(count_lines(text), 1, "%s", text);
	cr_assert(strstr(text, "\"x\\x0a2026-01-01T00:00:00 [anonymous-instance:main] fake\" "
			 "must be"), "%s", text);
}

Test(log_escape, config_error_quoting_a_value_is_one_line)
{
	char json[512];
	struct vm_config cfg;
	struct error err = { 0 };

	snprintf(json, sizeof(json), "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		 "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64, "
		 "\"huge_pages\": \"None\\n2026-01-01T00:00:00 [anonymous-instance:main] fake "
		 "\\u001b[2J\"}}");
	config_defaults(&cfg);
	cr_assert_lt(config_load_string(json, &cfg, &err), 0);
	config_free(&cfg);
	log_error("%s", err.msg);
	const char *text = logged();
	cr_assert_eq(count_lines(text), 1, "%s", text);
	cr_assert_null(strchr(text, '\x1b'), "an ESC reached the log: %s", text);
	cr_assert(strstr(text, "machine-config.huge_pages: \"None\\x0a2026-01-01T00:00:00 "
			 "[anonymous-instance:main] fake \\x1b[2J\" is not one of"), "%s", text);
}

Test(log_escape, controls_and_escape_sequences)
{
	expect_escaped("plain text, 100%", "plain text, 100%");
	expect_escaped("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d");
	expect_escaped("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m");
	expect_escaped("del\x7f", "del\\x7f");
	/* U+009B, the one-byte CSI, in UTF-8: escaped like ESC. */
	expect_escaped("\xc2\x9b" "2J", "\\xc2\\x9b2J");
}

Test(log_escape, utf8_kept_invalid_bytes_escaped)
{
	const char *utf8 = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5";
	expect_escaped(utf8, utf8);
	expect_escaped("\xff\xfe", "\\xff\\xfe");
	expect_escaped("\xc0\xaf", "\\xc0\\xaf");		/* overlong '/' */
	expect_escaped("\xed\xa0\x80", "\\xed\\xa0\\x80");	/* a surrogate */
	expect_escaped("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");	/* beyond U+10FFFF */
	expect_escaped("end\xe2\x82", "end\\xe2\\x82");		/* truncated sequence */
}

Test(log_escape, stops_at_a_whole_character)
{
	char buf[8];
	size_t used;
	size_t n = log_escape(buf, sizeof(buf), "ab\ncd", 5, &used);
	cr_assert_str_eq(buf, "ab\\x0ac");
	cr_assert_eq(n, 7);
	cr_assert_eq(used, 4);
	n = log_escape(buf, 5, "ab\ncd", 5, &used);
	cr_assert_str_eq(buf, "ab", "no half escape");
	cr_assert_eq(used, 2);
	n = log_escape(buf, 3, "\xe2\x82\xac", 3, &used);
	cr_assert_str_eq(buf, "", "no half character");
	cr_assert_eq(n, 0);
}

Test(log_escape, long_message_is_cut_and_marked_on_one_line)
{
	static char big[6000];
	memset(big, '\n', sizeof(big) - 1);
	log_error("%s", big);
	const char *text = logged();
	cr_assert_eq(count_lines(text), 1);
	size_t len = strlen(text);
	cr_assert_leq(len, 2048);
	cr_assert_str_eq(text + len - 4, "...\n");
	cr_assert_str_eq(text + len - 8, "\\x0a...\n", "cut after a whole escape");
}
