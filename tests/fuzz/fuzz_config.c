/* The config parser on arbitrary text: no crash, no leak, and every error one log line. */
/* coverage: vmm/config.c */
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = malloc(size + 1);
	struct vm_config cfg;
	struct error err = { 0 };
	char line[4 * sizeof(err.msg) + 1];

	if (!json)
		return 0;
	memcpy(json, data, size);
	json[size] = '\0';
	config_defaults(&cfg);
	int ret = config_load_string(json, &cfg, &err);
	FUZZ_CHECK(ret <= 0, "config_load_string returned %d", ret);
	if (ret < 0) {
		FUZZ_CHECK(err.code == ret, "error code %d, returned %d", err.code, ret);
		FUZZ_CHECK(err.msg[0] != '\0', "an error without a message");
		/* What the logger would print of it: one line of text, whatever it quotes. */
		log_escape(line, sizeof(line), err.msg, strlen(err.msg), NULL);
		for (const char *p = line; *p; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte 0x%02x",
				   (unsigned char)*p);
	} else {
		FUZZ_CHECK(cfg.boot.kernel_image_path && *cfg.boot.kernel_image_path,
			   "accepted without a kernel");
		FUZZ_CHECK(cfg.machine.vcpu_count >= 1 && cfg.machine.vcpu_count <= CONFIG_MAX_VCPUS,
			   "vcpu_count %u", cfg.machine.vcpu_count);
		FUZZ_CHECK(cfg.machine.mem_size_mib >= 1, "mem_size_mib 0");
		FUZZ_CHECK(cfg.nr_drives <= CONFIG_MAX_DRIVES, "%u drives", cfg.nr_drives);
		/* What the parser accepts, the limiter takes. */
		struct rate_limiter rl;
		for (unsigned int i = 0; i < cfg.nr_drives; i++)
			FUZZ_CHECK(rate_limiter_init(&rl, &cfg.drives[i].rate_limiter, 0) == 0,
				   "drives[%u].rate_limiter refused by the limiter", i);
		FUZZ_CHECK(rate_limiter_init(&rl, &cfg.entropy_rate_limiter, 0) == 0,
			   "entropy.rate_limiter refused by the limiter");
	}
	config_free(&cfg);
	free(json);
	return 0;
}
