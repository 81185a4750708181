// Linked only into the gantry of a GANTRY_STATIC_RUNTIME build (the Jetson
// bundle), which must run on glibc 2.35 (JetPack 6 is Ubuntu 22.04).
//
// GCC 12's static libstdc++, when built against glibc 2.36 (Debian 12's cross
// toolchain), calls arc4random in std::random_device, and its locale code pulls
// that object file into every program: the binary would then need the symbol
// version GLIBC_2.36 and the board's loader would refuse it. gantry never uses
// std::random_device; this definition satisfies the reference from getrandom
// (glibc 2.25) instead, so nothing newer than GLIBC_2.35 is needed
// (scripts/check-glibc.sh checks the binary).
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <cstdint>

extern "C" uint32_t arc4random(void) noexcept {
  uint32_t v = 0;
  ssize_t n = 0;
  do n = getrandom(&v, sizeof v, 0);
  while (n < 0 && errno == EINTR);
  if (n != sizeof v) abort();  // never a value that is not random
  return v;
}
