// minsend: the least a VRRP Master can do per advert: sleep to an absolute
// time (one clock_nanosleep), send one VRRPv3 advert on a raw socket (one
// sendto). Used to bound the CPU per advert any implementation pays here.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned short csum(const unsigned char *b, int n, unsigned int sum) {
	for (int i = 0; i + 1 < n; i += 2) sum += (b[i] << 8) | b[i + 1];
	if (n & 1) sum += b[n - 1] << 8;
	while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

int main(int argc, char **argv) {
	if (argc < 5) { fprintf(stderr, "usage: minsend IFACE SRC INTERVAL_MS COUNT\n"); return 2; }
	int ms = atoi(argv[3]), count = atoi(argv[4]);
	int fd = socket(AF_INET, SOCK_RAW, 112);
	if (fd < 0) { perror("socket"); return 1; }
	int ttl = 255;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	unsigned char loop = 0;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
	struct ip_mreqn mr = {0};
	mr.imr_ifindex = if_nametoindex(argv[1]);
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr);
	setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1], strlen(argv[1]));
	struct in_addr src, grp, vip;
	inet_pton(AF_INET, argv[2], &src);
	inet_pton(AF_INET, "224.0.0.18", &grp);
	inet_pton(AF_INET, "198.18.0.100", &vip);
	// VRRPv3 advert: VRID 51, priority 200, 1 address, interval in cs.
	unsigned char adv[12] = {0x31, 51, 200, 1, 0, 0, 0, 0};
	int cs = ms / 10;
	adv[4] = (cs >> 8) & 0x0f; adv[5] = cs & 0xff;
	memcpy(adv + 8, &vip, 4);
	unsigned char ph[12 + 12];
	memcpy(ph, &src, 4); memcpy(ph + 4, &grp, 4);
	ph[8] = 0; ph[9] = 112; ph[10] = 0; ph[11] = 12;
	memcpy(ph + 12, adv, 12);
	unsigned short c = csum(ph, 24, 0);
	adv[6] = c >> 8; adv[7] = c & 0xff;
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_addr = grp};
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (int i = 0; i < count; i++) {
		t.tv_nsec += (long)ms * 1000000;
		while (t.tv_nsec >= 1000000000) { t.tv_nsec -= 1000000000; t.tv_sec++; }
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		if (sendto(fd, adv, sizeof adv, 0, (struct sockaddr *)&dst, sizeof dst) < 0) perror("sendto");
	}
	return 0;
}
