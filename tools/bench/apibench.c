/*
 * kiln's API benchmark: how soon a fresh kiln answers on its API socket, and how long a
 * request takes, measured from the client's side of the Unix socket.
 *   apibench KILN [RUNS] [REQUESTS]
 * Prints lines of "name value unit" for tools/bench/run.sh:
 *   start_wall_us   fork to the first answer of GET / (median and best of RUNS starts)
 *   start_cpu_us    CPU time kiln had used by then, all threads (from schedstat)
 *   get_us          GET / on one kept-alive connection (median, p99, max of REQUESTS)
 *   put_us          PUT /machine-config, likewise
 *   get_newconn_us  GET / with a new connection per request, as curl makes them
 * Needs no /dev/kvm: kiln serves its API before a VM exists.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Sorts v in place; q in [0, 1]. */
static double quantile(double *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * One request on fd, its whole response read (headers, then Content-Length bytes).
 * Returns the HTTP status, or -1 when the connection failed or answered nonsense.
 */
static int request(int fd, const char *method, const char *path, const char *body)
{
	char req[1024], buf[8192];
	size_t blen = body ? strlen(body) : 0, have = 0;
	int n, status;
	char *end, *cl;
	long want;

	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     method, path, blen, body ? body : "");
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (have == sizeof(buf) - 1)
			return -1;
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	cl = strcasestr(buf, "\r\nContent-Length:");
	want = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
	if (want < 0 || want > (long)sizeof(buf))
		return -1;
	while ((long)(have - (size_t)(end + 4 - buf)) < want) {
		size_t off = (size_t)(end - buf);
		ssize_t r = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		end = buf + off;
	}
	return status;
}

/* CPU time of every thread of pid so far, in microseconds (schedstat: nanoseconds). */
static double cpu_us(pid_t pid)
{
	char path[64], line[128];
	unsigned long long total = 0, ns;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && sscanf(line, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(d);
	return (double)total / 1e3;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Starts kiln on sock; returns its pid, with the time to its first answer in *wall. */
static pid_t start_kiln(const char *kiln, const char *sock, double *wall, double *cpu)
{
	double t0 = now_us();
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(kiln, kiln, "--api-sock", sock, "--level", "Error", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		int fd = connect_to(sock);

		if (fd >= 0) {
			int st = request(fd, "GET", "/", NULL);

			close(fd);
			if (st == 200) {
				*wall = now_us() - t0;
				*cpu = cpu_us(pid);
				return pid;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid || now_us() - t0 > 5e6) {
			fprintf(stderr, "apibench: %s did not answer on %s within 5 s\n", kiln, sock);
			stop(pid);
			return -1;
		}
		usleep(20);
	}
}

static void print3(const char *name, double *v, size_t n)
{
	printf("%s %.1f %.1f %.1f\n", name, quantile(v, n, 0.5), quantile(v, n, 0.99),
	       quantile(v, n, 1.0));
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/kiln-apibench-XXXXXX", sock[64];
	int runs = argc > 2 ? atoi(argv[2]) : 21, reqs = argc > 3 ? atoi(argv[3]) : 2000;
	double *wall, *cpu, *lat;
	pid_t pid = -1;
	int fd, rc = 1;

	if (argc < 2 || runs < 1 || reqs < 1) {
		fprintf(stderr, "usage: apibench KILN [RUNS] [REQUESTS]\n");
		return 2;
	}
	wall = calloc((size_t)runs, sizeof(*wall));
	cpu = calloc((size_t)runs, sizeof(*cpu));
	lat = calloc((size_t)reqs, sizeof(*lat));
	if (!wall || !cpu || !lat || !mkdtemp(dir)) {
		perror("apibench");
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);

	for (int i = 0; i < runs; i++) {
		pid = start_kiln(argv[1], sock, &wall[i], &cpu[i]);
		if (pid < 0)
			goto out;
		stop(pid);
		unlink(sock);
	}
	/* The median first: quantile() sorts, so that [0] is then the best. */
	double med = quantile(wall, (size_t)runs, 0.5);

	printf("start_wall_us %.1f %.1f\n", med, wall[0]);
	med = quantile(cpu, (size_t)runs, 0.5);
	printf("start_cpu_us %.1f %.1f\n", med, cpu[0]);

	double w, c;

	pid = start_kiln(argv[1], sock, &w, &c);
	if (pid < 0)
		goto out;
	fd = connect_to(sock);
	if (fd < 0)
		goto fail;
	for (int i = 0; i < reqs; i++) {
		double t = now_us();

		if (request(fd, "GET", "/", NULL) != 200)
			goto fail_fd;
		lat[i] = now_us() - t;
	}
	print3("get_us", lat, (size_t)reqs);
	for (int i = 0; i < reqs; i++) {
		char body[96];
		double t;

		snprintf(body, sizeof(body), "{\"vcpu_count\": %d, \"mem_size_mib\": 128}", 1 + i % 2);
		t = now_us();
		if (request(fd, "PUT", "/machine-config", body) != 204)
			goto fail_fd;
		lat[i] = now_us() - t;
	}
	print3("put_us", lat, (size_t)reqs);
	close(fd);
	for (int i = 0; i < reqs; i++) {
		double t = now_us();

		fd = connect_to(sock);
		if (fd < 0 || request(fd, "GET", "/", NULL) != 200)
			goto fail_fd;
		close(fd);
		lat[i] = now_us() - t;
	}
	print3("get_newconn_us", lat, (size_t)reqs);
	rc = 0;
	goto done;
fail_fd:
	if (fd >= 0)
		close(fd);
fail:
	fprintf(stderr, "apibench: a request to %s failed\n", sock);
done:
	stop(pid);
out:
	unlink(sock);
	rmdir(dir);
	return rc;
}
