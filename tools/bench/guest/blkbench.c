/* Guest-side block benchmark for tools/bench/blk.sh: O_DIRECT sequential write/read and 4 KiB random reads. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/*
 *   blkbench DEVICE seqwrite|seqread MIB      1 MiB requests over the first MIB MiB
 *   blkbench DEVICE randread SECONDS          4 KiB reads at random 4 KiB-aligned offsets,
 *                                             one at a time (queue depth 1)
 * Prints one line: "<mode> bytes=N ios=N seconds=S MBps=R iops=R".
 */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: blkbench DEVICE seqwrite|seqread MIB | randread SECONDS\n");
		return 2;
	}
	const char *mode = argv[2];
	long arg = strtol(argv[3], NULL, 10);
	int wr = !strcmp(mode, "seqwrite");
	int fd = open(argv[1], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
	uint64_t size = 0;
	void *buf;
	if (fd >= 0 && ioctl(fd, BLKGETSIZE64, &size) < 0) {
		off_t end = lseek(fd, 0, SEEK_END);	/* a regular file, for trying it out */
		size = end > 0 ? (uint64_t)end : 0;
	}
	if (fd < 0 || size < (1 << 20) || arg <= 0) {
		perror(argv[1]);
		return 1;
	}
	size_t bs = strcmp(mode, "randread") ? 1 << 20 : 4096;
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0x5a, bs);
	uint64_t ios = 0, bytes = 0, x = 0x9e3779b97f4a7c15ULL;
	double t0 = now(), t = t0;
	if (!strcmp(mode, "randread")) {
		uint64_t blocks = size / bs;
		while ((t = now()) - t0 < (double)arg) {
			for (int i = 0; i < 64; i++) {
				x ^= x << 13; x ^= x >> 7; x ^= x << 17;	/* xorshift64 */
				if (pread(fd, buf, bs, (off_t)((x % blocks) * bs)) != (ssize_t)bs) {
					perror("pread");
					return 1;
				}
				ios++;
			}
		}
	} else {
		uint64_t n = (uint64_t)arg;
		if (n << 20 > size)
			n = size >> 20;
		for (uint64_t i = 0; i < n; i++) {
			ssize_t r = wr ? pwrite(fd, buf, bs, (off_t)(i * bs)) : pread(fd, buf, bs, (off_t)(i * bs));
			if (r != (ssize_t)bs) {
				perror(wr ? "pwrite" : "pread");
				return 1;
			}
			ios++;
		}
		if (wr && fdatasync(fd) < 0)
			perror("fdatasync");
		t = now();
	}
	bytes = ios * bs;
	double s = t - t0;
	printf("%s bytes=%llu ios=%llu seconds=%.3f MBps=%.1f iops=%.0f\n", mode,
	       (unsigned long long)bytes, (unsigned long long)ios, s, (double)bytes / s / 1e6,
	       (double)ios / s);
	return 0;
}
