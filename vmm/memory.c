/* Guest RAM: the host mapping, its regions, and the one checked accessor for guest addresses. */
#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int gm_create(struct guest_mem *gm, const struct gm_region *layout, unsigned int nr,
	      enum gm_backing backing)
{
	uint64_t total = 0;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

	memset(gm, 0, sizeof(*gm));
	if (nr == 0 || nr > GM_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < nr; i++) {
		if (layout[i].size == 0 || ADD_OVERFLOWS(total, layout[i].size, &total))
			return -EINVAL;
		if (i > 0 && layout[i].gpa < layout[i - 1].gpa + layout[i - 1].size)
			return -EINVAL;
	}
	if (total > SIZE_MAX)
		return -ENOMEM;
	if (backing == GM_BACKING_HUGETLB)
		flags |= MAP_HUGETLB | (21 << MAP_HUGE_SHIFT);

	void *map = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (map == MAP_FAILED)
		return -errno;
	if (backing == GM_BACKING_THP && madvise(map, (size_t)total, MADV_HUGEPAGE) < 0) {
		int e = -errno;
		munmap(map, (size_t)total);
		return e;
	}
	/* Guest RAM must never end up in a core dump of the VMM. */
	(void)madvise(map, (size_t)total, MADV_DONTDUMP);

	uint64_t off = 0;
	for (unsigned int i = 0; i < nr; i++) {
		gm->regions[i] = layout[i];
		gm->regions[i].host = (uint8_t *)map + off;
		off += layout[i].size;
	}
	gm->nr = nr;
	gm->map = map;
	gm->map_size = (size_t)total;
	gm->owned = true;
	return 0;
}

void gm_init_buffer(struct guest_mem *gm, uint64_t gpa, void *buf, size_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->regions[0] = (struct gm_region){ .gpa = gpa, .size = size, .host = buf };
	gm->nr = 1;
	gm->map = buf;
	gm->map_size = size;
}

void gm_init_layout(struct guest_mem *gm, const struct gm_region *layout, unsigned int nr)
{
	memset(gm, 0, sizeof(*gm));
	for (unsigned int i = 0; i < nr && i < GM_MAX_REGIONS; i++) {
		gm->regions[i] = layout[i];
		gm->regions[i].host = NULL;
	}
	gm->nr = MIN(nr, (unsigned int)GM_MAX_REGIONS);
}

bool gm_is_mapped(const struct guest_mem *gm)
{
	return gm->map != NULL;
}

/* The region holding all of [gpa, gpa+len), len 0 counting as 1; NULL when none does. */
static const struct gm_region *find_region(const struct guest_mem *gm, uint64_t gpa,
					   uint64_t len)
{
	uint64_t end;

	if (len == 0)
		len = 1;
	if (ADD_OVERFLOWS(gpa, len, &end))
		return NULL;
	for (unsigned int i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r;
	}
	return NULL;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->owned && gm->map)
		munmap(gm->map, gm->map_size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct gm_region *r = find_region(gm, gpa, len);
	return r && r->host ? r->host + (gpa - r->gpa) : NULL;
}

bool gm_contains(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return find_region(gm, gpa, len) != NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_total(const struct guest_mem *gm)
{
	uint64_t t = 0;
	for (unsigned int i = 0; i < gm->nr; i++)
		t += gm->regions[i].size;
	return t;
}
