/*
 * A slow disk for the group-commit benchmarks (BENCHMARKS.md, "Group
 * commit on a slow disk"): loaded with LD_PRELOAD, it sleeps SLOW_SYNC_MS
 * milliseconds (default 5, about an SD card's sync) before every
 * fdatasync and fsync, then makes the real call.
 *
 *   gcc -shared -fPIC -O2 -o /tmp/slow_sync.so benches/slow_sync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void slow_down(void) {
  const char *v = getenv("SLOW_SYNC_MS");
  long ms = v ? atol(v) : 5;
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, 0);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  slow_down();
  return real ? real(fd) : -1;
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  slow_down();
  return real ? real(fd) : -1;
}
