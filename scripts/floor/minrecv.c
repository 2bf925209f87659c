// minrecv: the least a Backup can do per advert while it defers its reads
// (as vrrpkit's deferred Backup does): sleep for a period, then read every
// queued advert at once (one recvmmsg, and one more that finds none), and
// nothing else. Its period is the mean time between a deferred Backup's
// wake-ups: Master_Down_Interval after the latest advert seen, which is
// on average half an advert interval old when it wakes.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: minrecv IFACE PERIOD_MS SECONDS\n"); return 2; }
	int period = atoi(argv[2]), secs = atoi(argv[3]);
	int fd = socket(AF_INET, SOCK_RAW, 112);
	if (fd < 0) { perror("socket"); return 1; }
	setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, argv[1], strlen(argv[1]));
	struct ip_mreqn mr = {0};
	inet_pton(AF_INET, "224.0.0.18", &mr.imr_multiaddr);
	mr.imr_ifindex = if_nametoindex(argv[1]);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) { perror("join"); return 1; }
	enum { N = 64 };
	static unsigned char bufs[N][128];
	struct iovec iov[N];
	struct mmsghdr ms[N];
	memset(ms, 0, sizeof ms);
	for (int i = 0; i < N; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof bufs[i];
		ms[i].msg_hdr.msg_iov = &iov[i];
		ms[i].msg_hdr.msg_iovlen = 1;
	}
	long total = 0;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (long waited = 0; waited < (long)secs * 1000; waited += period) {
		t.tv_nsec += (long)period * 1000000;
		while (t.tv_nsec >= 1000000000) { t.tv_nsec -= 1000000000; t.tv_sec++; }
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		int n;
		while ((n = recvmmsg(fd, ms, N, MSG_DONTWAIT, NULL)) > 0) total += n;
	}
	printf("%ld\n", total);
	return 0;
}
