/* The VM configuration: Firecracker's config-file schema, parsed strictly with jansson. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "error.h"
#include "log.h"
#include "memory.h"
#include "ratelimit.h"

#define CONFIG_MAX_VCPUS 32
#define CONFIG_DEFAULT_MEM_MIB 128
#define CONFIG_DEFAULT_BOOT_ARGS "console=ttyS0 reboot=k panic=1 pci=off"
#define CONFIG_MAX_DRIVES 16
#define CONFIG_DRIVE_ID_MAX 64
#define CONFIG_PATH_MAX 4096	/* a host path, its NUL included */

struct boot_source {
	char *kernel_image_path;
	char *boot_args;		/* NULL: CONFIG_DEFAULT_BOOT_ARGS */
	char *initrd_path;		/* NULL: none */
};

struct machine_config {
	unsigned int vcpu_count;
	uint64_t mem_size_mib;
	bool smt;
	enum gm_backing huge_pages;
};

struct logger_config {
	char *log_path;
	enum log_level level;
	bool level_set;
	bool show_level;
	bool show_log_origin;
};

struct metrics_config {
	char *metrics_path;
};

struct serial_config {
	char *serial_out_path;		/* NULL: standard output */
};

enum drive_cache {
	DRIVE_CACHE_UNSAFE,	/* flush requests succeed without syncing */
	DRIVE_CACHE_WRITEBACK,	/* VIRTIO_BLK_F_FLUSH offered; a flush runs fdatasync */
};

enum drive_engine {
	DRIVE_ENGINE_SYNC,	/* preadv/pwritev on the main thread */
	DRIVE_ENGINE_ASYNC,	/* io_uring */
};

/* One element of `drives`: a virtio-blk device backed by a raw image file. */
struct drive_config {
	char *drive_id;
	char *path_on_host;
	char *partuuid;		/* NULL: none */
	bool is_root_device;
	bool is_read_only;
	enum drive_cache cache_type;
	enum drive_engine io_engine;
	struct rate_limiter_config rate_limiter;	/* sizes 0: no limit */
};

/* `vsock`: a virtio-vsock device, Firecracker's Unix-socket protocol on uds_path. */
#define CONFIG_VSOCK_CID_MIN 3
#define CONFIG_VSOCK_CID_MAX 4294967294u	/* 0xffffffff is VMADDR_CID_ANY */
struct vsock_config {
	char *vsock_id;			/* accepted (Firecracker deprecated it), unused */
	uint64_t guest_cid;
	char *uds_path;
};

/* One element of `network-interfaces`: a virtio-net device on a TAP device. */
#define CONFIG_MAX_NETS 8
#define CONFIG_IFACE_ID_MAX 64
#define CONFIG_TAP_NAME_MAX 15		/* IFNAMSIZ - 1 */
#define CONFIG_MTU_MIN 68		/* the least an IPv4 host must take (RFC 791) */
#define CONFIG_MTU_MAX 65535
struct net_config {
	char *iface_id;
	char *host_dev_name;		/* the TAP, opened by name in kiln's network namespace */
	bool has_mac;
	uint8_t guest_mac[6];		/* when has_mac: offered as VIRTIO_NET_F_MAC */
	unsigned int mtu;		/* 0: not given (no VIRTIO_NET_F_MTU) */
	struct rate_limiter_config rx_rate_limiter;	/* host to guest */
	struct rate_limiter_config tx_rate_limiter;	/* guest to host */
};

struct vm_config {
	struct boot_source boot;
	struct machine_config machine;
	struct logger_config logger;
	bool has_logger;
	struct metrics_config metrics;
	bool has_metrics;
	struct serial_config serial;
	struct drive_config drives[CONFIG_MAX_DRIVES];
	unsigned int nr_drives;
	bool has_entropy;		/* `entropy` present: a virtio-rng device */
	struct rate_limiter_config entropy_rate_limiter;
	struct vsock_config vsock;
	bool has_vsock;
	struct net_config nets[CONFIG_MAX_NETS];
	unsigned int nr_nets;
};

/* Defaults for everything optional (1 vCPU, 128 MiB, no initrd...). */
void config_defaults(struct vm_config *cfg);
/*
 * Parse a config file ("-" reads standard input). On error, err->msg names the JSON path and the problem
 * (e.g. "machine-config.vcpu_count: 33 is out of range (1 to 32)").
 */
int config_load_file(const char *path, struct vm_config *cfg, struct error *err) MUST_CHECK;
int config_load_string(const char *json, struct vm_config *cfg, struct error *err) MUST_CHECK;
void config_free(struct vm_config *cfg);

/* The sections an API request body sets, one at a time. */
enum config_section {
	CONFIG_BOOT_SOURCE,	/* PUT /boot-source */
	CONFIG_MACHINE,		/* PUT /machine-config: replaces the section */
	CONFIG_MACHINE_PATCH,	/* PATCH /machine-config: only the keys given */
	CONFIG_LOGGER,
	CONFIG_METRICS,
	CONFIG_SERIAL,
	CONFIG_ENTROPY,
	CONFIG_DRIVE,		/* PUT /drives/{id}: adds or replaces the drive `id` */
	CONFIG_VSOCK,		/* PUT /vsock: sets or replaces the vsock device */
	CONFIG_NET,		/* PUT /network-interfaces/{id}: adds or replaces `id` */
};

/*
 * Apply one section given as JSON text (len bytes, not NUL-terminated) with the same
 * checks and messages as the config file; `id` is the drive id from the request path
 * (CONFIG_DRIVE only). On error cfg is unchanged and err names the JSON path.
 */
int config_apply_json(struct vm_config *cfg, enum config_section s, const char *id,
		      const char *json, size_t len, struct error *err) MUST_CHECK;
/*
 * A PATCH /drives/{id} body, Firecracker's partial drive: `drive_id` (required, the
 * path's) and `path_on_host` and/or `rate_limiter`. A bucket of `rate_limiter` given
 * replaces that bucket; one absent or null is left as it is.
 */
struct drive_update {
	bool has_path;
	char path_on_host[CONFIG_PATH_MAX];	/* when has_path (no allocation after the start) */
	bool has_bandwidth, has_ops;	/* rate_limiter's buckets given */
	struct rate_limiter_config rate_limiter;	/* the buckets given */
};

/*
 * Parse a PATCH /drives/{id} body (len bytes of JSON) for drive `id`; errors name
 * "drives[<id>].<key>". Allocates nothing but jansson's (the VM runs by then). On
 * error u is empty.
 */
int config_parse_drive_update(const char *id, const char *json, size_t len,
			      struct drive_update *u, struct error *err) MUST_CHECK;
/*
 * A PATCH /network-interfaces/{id} body, Firecracker's: `iface_id` (required, the path's)
 * and `rx_rate_limiter` and/or `tx_rate_limiter`; a bucket given replaces that bucket,
 * one absent or null is left as it is.
 */
struct net_update {
	bool has_rx_bandwidth, has_rx_ops, has_tx_bandwidth, has_tx_ops;
	struct rate_limiter_config rx_rate_limiter, tx_rate_limiter;	/* the buckets given */
};

/*
 * Parse a PATCH /network-interfaces/{id} body; errors name
 * "network-interfaces[<id>].<key>". Allocates nothing but jansson's. On error u is empty.
 */
int config_parse_net_update(const char *id, const char *json, size_t len,
			    struct net_update *u, struct error *err) MUST_CHECK;
/* Format a MAC address as "xx:xx:xx:xx:xx:xx" (buf of at least 18 bytes). */
void config_format_mac(const uint8_t mac[6], char *buf);
/* The key of a section in the config file ("machine-config"). */
const char *config_section_name(enum config_section s);
/*
 * The whole configuration in the config file's schema, every section listed (unused ones
 * null or an empty list, as Firecracker answers GET /vm/config), as compact JSON into
 * buf: the length written, or -E2BIG when it does not fit. Loading it boots the same VM.
 */
int config_dump(const struct vm_config *cfg, char *buf, size_t size, struct error *err)
	MUST_CHECK;
/* machine-config alone (GET /machine-config). */
int config_dump_machine(const struct vm_config *cfg, char *buf, size_t size,
			struct error *err) MUST_CHECK;

#endif
