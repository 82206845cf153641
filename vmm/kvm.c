/* /dev/kvm: open it, check the API version and every capability kiln relies on. */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const struct kvm_cap_req kvm_common_caps[] = {
	KVM_CAP(KVM_CAP_USER_MEMORY),
	KVM_CAP(KVM_CAP_IRQCHIP),
	KVM_CAP(KVM_CAP_IOEVENTFD),
	KVM_CAP(KVM_CAP_IRQFD),
	KVM_CAP(KVM_CAP_IMMEDIATE_EXIT),
	KVM_CAP(KVM_CAP_MP_STATE),
	{ KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS", 4 },
};
const unsigned int kvm_common_caps_nr = ARRAY_SIZE(kvm_common_caps);

int kvm_open(const char *path, struct error *err)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	int version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		close(fd);
		return error_set(err, -ENOTSUP, "%s: KVM API version %d, kiln needs %d", path,
				 version, KVM_API_VERSION);
	}
	return fd;
}

int kvm_check_caps(int kvm_fd, const struct kvm_cap_req *reqs, unsigned int nr,
		   struct error *err)
{
	char missing[256] = "";
	size_t used = 0;

	for (unsigned int i = 0; i < nr; i++) {
		int v = ioctl(kvm_fd, KVM_CHECK_EXTENSION, reqs[i].cap);
		if (v >= reqs[i].min)
			continue;
		int n = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "",
				 reqs[i].name);
		if (n > 0 && (size_t)n < sizeof(missing) - used)
			used += (size_t)n;
	}
	if (used)
		return error_set(err, -ENOTSUP, "KVM lacks capabilities kiln needs: %s", missing);
	return 0;
}
