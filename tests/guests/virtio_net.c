/*
 * Drives kiln's virtio-net through the real MMIO transport against a TAP that the test
 * (tests/integ/kiln_net.c) made and reads on the host side. `net=` on the command line
 * picks the script:
 *   basic    frames out (one descriptor, a UDP datagram in three, a full-size frame
 *            through an indirect table with the header split), a frame too large for the
 *            only rx chain (dropped, the chain kept for the next one), frames that waited
 *            in the TAP while no rx buffer was posted (half of them into indirect chains
 *            of two descriptors, header and frame);
 *   mrg      MRG_RXBUF, CSUM and GUEST_CSUM with a 9000-byte MTU: a partially
 *            checksummed datagram out, jumbo frames in across several buffers (half of
 *            them indirect chains split inside num_buffers);
 *   hostile  a frame of the largest size out; tx chains that are short, too long or
 *            writable (dropped, the device goes on), frames the TAP refuses (an unknown
 *            offload type, the TAP down: dropped and counted), a descriptor outside RAM,
 *            a loop, a readable rx buffer (DEVICE_NEEDS_RESET), each followed by a frame
 *            that must go through;
 *   features every virtio-net device in the order found: what it offers and its
 *            configuration; and where virtio-rng is;
 *   send     one frame out, and nothing else.
 * At each "net: wait <step>" line the guest waits for a byte on the console: the host has
 * done its part of the step. Frames the host must compare are test frames: ethertype
 * 0x88b5, a tag and its NUL, then byte i of the frame is i * 7 + 3.
 */
#include "lib/guest.h"
#include "lib/virtio.h"

#define F_CSUM (1ULL << 0)
#define F_GUEST_CSUM (1ULL << 1)
#define F_MTU (1ULL << 3)
#define F_MAC (1ULL << 5)
#define F_MRG_RXBUF (1ULL << 15)

#define HDR 12			/* struct virtio_net_hdr_v1 */
#define RXBUF 2048
/*
 * Polls of a used ring before giving up: about 30 s in the lab, and more where guest code
 * is slower; the host's side may be slow to act on a loaded machine.
 */
#define SPINS 2000000000u
#define POLLS 3000000		/* polls of the console before giving up: minutes in the lab */
#define ETH_TEST 0x88b5
#define ETH_IP 0x0800
#define BIG ((u8 *)0x400000)	/* 4 MiB: room for a 64 KiB frame, unused by the guest */
#define BIG_LIMIT 65553		/* the largest frame: 65535 + 18 */

struct net_hdr {
	u8 flags, gso_type;
	u16 hdr_len, gso_size, csum_start, csum_offset, num_buffers;
} __attribute__((packed));

static struct vdev d, rng;
static struct vq rx_vq, tx_vq, rng_vq;
static struct vring rxq, txq;
static u8 rxbuf[VQ_N][RXBUF] __attribute__((aligned(16)));
static u32 rxlen[VQ_N];
static u32 rxsplit;		/* > 0: odd buffers go as two descriptors, split there */
static struct vq_desc rxtab[VQ_N][2] __attribute__((aligned(16)));
static u8 frame[16384] __attribute__((aligned(16)));
static u8 txbuf[HDR + 1514] __attribute__((aligned(16)));
static struct net_hdr txhdr;
static struct vq_desc itab[4] __attribute__((aligned(16)));
static u8 mac[6] = { 0x06, 0, 0, 0, 0, 0x99 };
static const u8 host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static void put16(u8 *p, u32 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }

static u32 hash(const u8 *p, u32 n)
{
	u32 h = 0;
	while (n--)
		h = h * 31 + *p++;
	return h;
}

static u32 csum_add(u32 s, const u8 *p, u32 n)
{
	for (u32 i = 0; i < n; i += 2)
		s += (u32)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
	return s;
}

static u16 csum_fold(u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (u16)s;
}

static u32 str_len(const char *s)
{
	u32 n = 0;
	while (s[n])
		n++;
	return n;
}

static int cmdline_has(u8 *bp, const char *word)
{
	const char *s = (const char *)(u64)*(u32 *)(bp + BP_CMD_LINE_PTR);
	u32 n = str_len(word);
	for (; *s; s++)
		if (bytes_eq((const u8 *)s, word, (int)n) && (s[n] == ' ' || !s[n]))
			return 1;
	return 0;
}

static void put_mac(const u8 *m)
{
	for (int i = 0; i < 6; i++) {
		put_hex(m[i], 2);
		if (i < 5)
			putc(':');
	}
}

static void put_ip(const u8 *p)
{
	for (int i = 0; i < 4; i++) {
		put_dec(p[i]);
		if (i < 3)
			putc('.');
	}
}

/* Waits for the host's go-ahead of `step`. */
static void wait_host(const char *step)
{
	puts("net: wait ");
	puts(step);
	putc('\n');
	if (getc_wait(POLLS) < 0)
		puts("net: the host did not answer\n");
}

/* ---- frames ---- */

static u32 eth(u8 *f, const u8 *dst, u16 type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return 14;
}

/* A test frame of n bytes to the host: the tag after the Ethernet header, then the pattern. */
static u32 test_frame(u8 *f, const char *tag, u32 n)
{
	u32 i = eth(f, host_mac, ETH_TEST);
	while (*tag)
		f[i++] = (u8)*tag++;
	f[i++] = 0;
	for (; i < n; i++)
		f[i] = (u8)(i * 7 + 3);
	return n;
}

/*
 * A UDP datagram 10.0.0.2:6000 > 10.0.0.1:5000 carrying msg, checksummed, or (partial)
 * with only the pseudo-header's sum in the UDP checksum, for the device to complete.
 */
static u32 udp_frame(u8 *f, const char *msg, int partial)
{
	static const u8 iph[20] = { 0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0,
				    10, 0, 0, 2, 10, 0, 0, 1 };
	u32 n = str_len(msg);
	u8 *ip = f + eth(f, host_mac, ETH_IP), *udp = ip + 20;
	memcpy(ip, iph, 20);
	put16(ip + 2, 28 + n);
	put16(ip + 10, (u16)~csum_fold(csum_add(0, ip, 20)));
	put16(udp, 6000);
	put16(udp + 2, 5000);
	put16(udp + 4, 8 + n);
	put16(udp + 6, 0);
	memcpy(udp + 8, msg, n);
	u32 pseudo = csum_add(0, ip + 12, 8) + 17 + 8 + n;
	if (partial) {
		put16(udp + 6, csum_fold(pseudo));
	} else {
		u16 c = (u16)~csum_fold(csum_add(pseudo, udp, 8 + n));
		put16(udp + 6, c ? c : 0xffff);
	}
	return 42 + n;
}

/* ---- the device ---- */

/* Negotiate `want`, set up rx (queue 0) and tx (queue 1), DRIVER_OK. */
static int start(u64 want)
{
	if (virtio_negotiate(&d, want) < 0)
		return -1;
	vring_setup(&d, &rxq, &rx_vq, 0, VQ_N);
	vring_setup(&d, &txq, &tx_vq, 1, VQ_N);
	vw(&d, VM_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return (vr(&d, VM_STATUS) & S_NEEDS_RESET) ? -1 : 0;
}

/* The chain the caller wrote from tx descriptor 0: its used length, or -1. */
static long tx_chain(void)
{
	u32 len;
	vring_post(&d, &txq, 0);
	return vring_wait(&txq, &len, SPINS) < 0 ? -1 : (long)len;
}

/* The header as it is (zero unless a case set it) and the frame, in two descriptors. */
static long send_hdr(const u8 *f, u32 n)
{
	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ (u64)f, n, 0, 0 };
	return tx_chain();
}

/* A zero header and the frame. */
static long send(const u8 *f, u32 n)
{
	memset(&txhdr, 0, sizeof(txhdr));
	return send_hdr(f, n);
}

static void show_tx(const char *what, long used)
{
	puts("net: tx ");
	puts(what);
	puts(", used ");
	if (used < 0)
		puts("timeout");
	else
		put_dec((u64)used);
	putc('\n');
}

/* A marker frame that must reach the host after each hostile case. */
static void marker(const char *tag)
{
	u8 f[64];
	show_tx(tag, send(f, test_frame(f, tag, 64)));
}

/*
 * Buffer i, of len bytes, on the rx queue: one descriptor, or with rxsplit and i odd, an
 * indirect table of two over the same bytes (the device must not assume a layout).
 */
static void rx_post(u16 i, u32 len)
{
	rxlen[i] = len;
	rx_vq.desc[i] = (struct vq_desc){ (u64)rxbuf[i], len, D_WRITE, 0 };
	if (rxsplit && (i & 1)) {
		rxtab[i][0] = (struct vq_desc){ (u64)rxbuf[i], rxsplit, D_WRITE | D_NEXT, 1 };
		rxtab[i][1] = (struct vq_desc){ (u64)rxbuf[i] + rxsplit, len - rxsplit, D_WRITE, 0 };
		rx_vq.desc[i] = (struct vq_desc){ (u64)rxtab[i], sizeof(rxtab[i]), D_INDIRECT, 0 };
	}
	vring_post(&d, &rxq, i);
}

/*
 * The next frame into out (its header into *h), over num_buffers buffers with
 * MRG_RXBUF; with `repost`, each buffer goes back at once. Its length, or -1; *nbuf
 * buffers used.
 */
static long rx_frame(struct net_hdr *h, u8 *out, u32 max, u32 *nbuf, int repost)
{
	u32 len, got = 0, want = 1;
	*nbuf = 0;
	while (*nbuf < want) {
		long head = vring_wait(&rxq, &len, SPINS);
		if (head < 0 || head >= VQ_N || len > rxlen[head])
			return -1;
		u32 off = 0;
		if (*nbuf == 0) {
			if (len < HDR)
				return -1;
			memcpy(h, rxbuf[head], HDR);
			if (d.features & F_MRG_RXBUF)
				want = h->num_buffers;
			off = HDR;
		}
		if (got + len - off > max)
			return -1;
		memcpy(out + got, rxbuf[head] + off, len - off);
		got += len - off;
		(*nbuf)++;
		if (repost)
			rx_post((u16)head, rxlen[head]);
	}
	return got;
}

/* A received UDP datagram: addresses, payload, and both checksums checked. */
static void show_udp(const struct net_hdr *h, u8 *f, u32 n)
{
	u8 *ip = f + 14, *udp = ip + 20;
	if (n < 42 || ip[0] != 0x45 || ip[9] != 17 || 34u + get16(udp + 4) > n) {
		puts(", not a UDP datagram");
		return;
	}
	u32 ulen = get16(udp + 4);
	int completed = 0;
	if (h->flags & 1) {	/* NEEDS_CSUM: the sum from csum_start on goes at csum_offset */
		u32 cs = h->csum_start, co = h->csum_offset;
		if (cs + co + 2 > n) {
			puts(", csum_start/csum_offset outside the frame");
			return;
		}
		put16(f + cs + co, (u16)~csum_fold(csum_add(0, f + cs, n - cs)));
		completed = 1;
	}
	puts(", udp ");
	put_ip(ip + 12);
	putc(':');
	put_dec(get16(udp));
	puts(" > ");
	put_ip(ip + 16);
	putc(':');
	put_dec(get16(udp + 2));
	puts(" \"");
	for (u32 i = 8; i < ulen; i++)
		putc((char)udp[i]);
	puts("\", ip checksum ");
	puts(csum_fold(csum_add(0, ip, 20)) == 0xffff ? "ok" : "BAD");
	u32 pseudo = csum_add(0, ip + 12, 8) + 17 + ulen;
	puts(", udp checksum ");
	puts(csum_fold(csum_add(pseudo, udp, ulen)) == 0xffff ? "ok" : "BAD");
	if (completed)
		puts(" (completed by the guest)");
}

static void show_rx(const struct net_hdr *h, u8 *f, long n, u32 nbuf)
{
	if (n < 0) {
		puts("net: rx failed or timed out\n");
		return;
	}
	puts("net: rx ");
	put_dec((u64)n);
	puts(" bytes");
	if (d.features & F_MRG_RXBUF) {
		puts(" in ");
		put_dec(nbuf);
		puts(" buffers");
	}
	puts(", flags ");
	put_dec(h->flags);
	puts(" gso ");
	put_dec(h->gso_type);
	puts(" num_buffers ");
	put_dec(h->num_buffers);
	if (n < 14) {
		putc('\n');
		return;
	}
	if (bytes_eq(f, (const char *)mac, 6)) {
		puts(", to us");
	} else {
		puts(", to ");
		put_mac(f);
	}
	u16 type = get16(f + 12);
	if (type == ETH_TEST) {
		puts(", test frame ");
		for (u32 i = 14; i < (u32)n && i < 46 && f[i] >= ' ' && f[i] <= '~'; i++)
			putc((char)f[i]);
		puts(" hash ");
		put_hex(hash(f, (u32)n), 8);
	} else if (type == ETH_IP) {
		show_udp(h, f, (u32)n);
	} else {
		puts(", type ");
		put_hex(type, 4);
	}
	putc('\n');
}

static long recv_show(int repost)
{
	struct net_hdr h;
	u32 nbuf;
	long n = rx_frame(&h, frame, sizeof(frame), &nbuf, repost);
	show_rx(&h, frame, n, nbuf);
	return n;
}

/* ---- the scripts ---- */

static void features(void)
{
	u64 offered = virtio_offered(&d);
	puts("net: offered ");
	put_hex(offered, 16);
	puts(offered & F_MAC ? " MAC" : " no-MAC");
	puts(offered & F_MTU ? " MTU" : " no-MTU");
	puts(offered & F_MRG_RXBUF ? " MRG_RXBUF\n" : " no-MRG_RXBUF\n");
}

/* The configuration the guest negotiated: its MAC, the MTU, the link, the queue pairs. */
static void config(void)
{
	puts("net: mac ");
	if (d.features & F_MAC) {
		for (int i = 0; i < 6; i++)
			mac[i] = mmio_read8(d.base + VM_CONFIG + (u32)i);
		put_mac(mac);
	} else {
		puts("not offered");
	}
	puts(" mtu ");
	if (d.features & F_MTU)
		put_dec(mmio_read16(d.base + VM_CONFIG + 10));
	else
		puts("not offered");
	puts(" status ");
	put_dec(mmio_read16(d.base + VM_CONFIG + 6));
	puts(" pairs ");
	put_dec(mmio_read16(d.base + VM_CONFIG + 8));
	putc('\n');
}

static void basic(void)
{
	/* Header and frame in one descriptor. */
	u32 n = test_frame(txbuf + HDR, "tx-one", 1000);
	memset(txbuf, 0, HDR);
	tx_vq.desc[0] = (struct vq_desc){ (u64)txbuf, HDR + n, 0, 0 };
	show_tx("1000 bytes in one descriptor", tx_chain());

	/* A UDP datagram: header, Ethernet+IP+UDP headers, payload. */
	n = udp_frame(frame, "kiln virtio-net says hello", 0);
	memset(&txhdr, 0, sizeof(txhdr));
	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ (u64)frame, 42, D_NEXT, 2 };
	tx_vq.desc[2] = (struct vq_desc){ (u64)frame + 42, n - 42, 0, 0 };
	show_tx("udp in three descriptors", tx_chain());

	/* 1514 bytes through an indirect table, the header split in two. */
	n = test_frame(frame, "tx-indirect", 1514);
	itab[0] = (struct vq_desc){ (u64)&txhdr, 4, D_NEXT, 1 };
	itab[1] = (struct vq_desc){ (u64)&txhdr + 4, HDR - 4, D_NEXT, 2 };
	itab[2] = (struct vq_desc){ (u64)frame, 14, D_NEXT, 3 };
	itab[3] = (struct vq_desc){ (u64)frame + 14, n - 14, 0, 0 };
	tx_vq.desc[0] = (struct vq_desc){ (u64)itab, sizeof(itab), D_INDIRECT, 0 };
	show_tx("1514 bytes through an indirect table", tx_chain());

	/* One chain of 112 bytes: a frame too large for it is dropped, the next one fits. */
	rx_post(0, HDR + 100);
	wait_host("small-chain");
	recv_show(0);

	/* No rx buffer posted while the host sent: the frames waited in the TAP. */
	wait_host("backlog");
	rxsplit = HDR;		/* header and frame apart in odd buffers */
	for (u16 i = 0; i < VQ_N; i++)
		rx_post(i, HDR + 1514);
	for (int i = 0; i < VQ_N; i++)
		recv_show(1);
}

static void mrg(void)
{
	u32 n = udp_frame(frame, "partial checksum from the guest", 1);
	txhdr = (struct net_hdr){ 1, 0, 0, 0, 34, 6, 0 };	/* NEEDS_CSUM at the UDP header */
	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ (u64)frame, n, 0, 0 };
	show_tx("udp with a partial checksum", tx_chain());
	show_tx("9014 bytes", send(frame, test_frame(frame, "tx-jumbo", 9014)));

	rxsplit = HDR - 1;	/* num_buffers across two descriptors in odd buffers */
	for (u16 i = 0; i < VQ_N; i++)
		rx_post(i, RXBUF);
	wait_host("jumbo");
	for (int i = 0; i < 4; i++)
		recv_show(1);
}

static void report_reset(const char *what)
{
	int tries = 10;		/* a loaded host may be slow to see an rx frame */
	puts("net: ");
	puts(what);
	while (virtio_wait_needs_reset(&d) < 0 && --tries)
		;
	if (!tries) {
		puts(": no reset\n");
	} else {
		puts(": needs reset");
		puts((vr(&d, VM_INT_STATUS) & 2) ? ", config interrupt\n" : ", NO interrupt\n");
	}
	if (start(0) < 0)
		puts("net: setup after reset failed\n");
}

static void hostile(void)
{
	static u8 f[64];
	test_frame(f, "bad", 64);

	memset(&txhdr, 0, sizeof(txhdr));
	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR - 4, 0, 0 };
	show_tx("chain shorter than the header", tx_chain());
	marker("ok-1");

	show_tx("frame at the limit", send(BIG, test_frame(BIG, "limit", BIG_LIMIT)));
	show_tx("frame over the limit", send(BIG, test_frame(BIG, "over", BIG_LIMIT + 1)));
	marker("ok-2");

	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ (u64)f, sizeof(f), D_WRITE, 0 };
	show_tx("frame in a device-writable buffer", tx_chain());
	marker("ok-3");

	/* Frames the TAP refuses: an offload type that does not exist; the TAP down. */
	txhdr = (struct net_hdr){ 0, 0x7f, 0, 0, 0, 0, 0 };
	show_tx("frame with an unknown offload type", send_hdr(f, sizeof(f)));
	marker("ok-4");
	wait_host("tap-down");
	show_tx("frame while the TAP is down", send(f, sizeof(f)));
	wait_host("tap-up");
	marker("ok-5");

	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ 0x7f0000000000ULL, 64, 0, 0 };
	vring_post(&d, &txq, 0);
	report_reset("descriptor outside guest memory");
	marker("ok-6");

	tx_vq.desc[0] = (struct vq_desc){ (u64)&txhdr, HDR, D_NEXT, 1 };
	tx_vq.desc[1] = (struct vq_desc){ (u64)f, sizeof(f), D_NEXT, 0 };
	vring_post(&d, &txq, 0);
	report_reset("descriptor loop");
	marker("ok-7");

	/* An rx buffer the device may only read: the next frame from the host finds it. */
	rx_vq.desc[0] = (struct vq_desc){ (u64)rxbuf[0], RXBUF, 0, 0 };
	vring_post(&d, &rxq, 0);
	wait_host("readable-rx");
	report_reset("device-readable rx buffer");
	for (u16 i = 0; i < VQ_N; i++)
		rx_post(i, RXBUF);
	wait_host("after-reset");
	/* The frame that met the readable buffer may still come first. */
	struct net_hdr h;
	u32 nbuf;
	for (int i = 0; i < 3; i++) {
		long n = rx_frame(&h, frame, sizeof(frame), &nbuf, 1);
		if (n < 0 || n < 20 || !bytes_eq(frame + 14, "after-reset", 11))
			continue;
		show_rx(&h, frame, n, nbuf);
		break;
	}
	marker("ok-8");
}

/* Every virtio-net device in the order the guest finds them, and where virtio-rng is. */
static void list_devices(u8 *bp)
{
	for (int i = 0; (d.base = virtio_find(bp, 1, i)); i++) {
		puts("net: device at ");
		put_hex(d.base, 8);
		putc('\n');
		features();
		if (start(F_MAC | F_MTU) < 0)
			puts("net: the device refused the driver\n");
		config();
		vw(&d, VM_STATUS, 0);
	}
	rng.base = virtio_find(bp, 4, 0);
	if (rng.base) {
		puts("net: rng at ");
		put_hex(rng.base, 8);
		putc('\n');
	}
}

void guest_main(u8 *bp)
{
	map_mmio_hole();
	if (cmdline_has(bp, "net=features")) {
		list_devices(bp);
		if (cmdline_has(bp, "hold")) {	/* for the API's changes while it runs */
			puts("net: holding\n");
			halt_forever();
		}
		return;
	}
	d.base = virtio_find(bp, 1, 0);
	if (!d.base) {
		puts("net: no virtio-net device\n");
		return;
	}
	features();
	u64 want = F_MAC | F_MTU | F_INDIRECT;
	if (cmdline_has(bp, "net=mrg"))
		want |= F_MRG_RXBUF | F_CSUM | F_GUEST_CSUM;
	if (start(want) < 0) {
		puts("net: the device refused the driver\n");
		return;
	}
	config();
	if (cmdline_has(bp, "net=send"))
		show_tx("64 bytes", send(frame, test_frame(frame, "one", 64)));
	else if (cmdline_has(bp, "net=mrg"))
		mrg();
	else if (cmdline_has(bp, "net=hostile"))
		hostile();
	else
		basic();

	/* Another device never noticed. */
	rng.base = virtio_find(bp, 4, 0);
	if (rng.base) {
		static u8 rnd[16];
		if (virtio_start(&rng, 0, &rng_vq, VQ_N) < 0)
			puts("net: rng refused\n");
		vq_set(&rng, 0, rnd, sizeof(rnd), D_WRITE, 0);
		vq_kick(&rng, 0);
		puts(vq_wait(&rng) == sizeof(rnd) ? "net: rng still works\n" : "net: rng broken\n");
	}
	puts("net: done\n");
}
