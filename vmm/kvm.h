/* /dev/kvm: open it, check the API version and every capability kiln relies on. */
#ifndef KILN_KVM_H
#define KILN_KVM_H

#include "error.h"

struct kvm_cap_req {
	int cap;
	const char *name;
	int min;	/* the capability's value must be at least this (usually 1) */
};

/* Open path (normally /dev/kvm) and check KVM_GET_API_VERSION == 12. Returns an fd or -errno. */
int kvm_open(const char *path, struct error *err) MUST_CHECK;
/* Check every capability in reqs; the error names each one that is missing. */
int kvm_check_caps(int kvm_fd, const struct kvm_cap_req *reqs, unsigned int nr,
		   struct error *err) MUST_CHECK;
/* The capabilities every architecture needs. */
extern const struct kvm_cap_req kvm_common_caps[];
extern const unsigned int kvm_common_caps_nr;

#define KVM_CAP(c) { c, #c, 1 }

#endif
