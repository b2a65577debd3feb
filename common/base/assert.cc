#include "common/base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace nw {

void assert_failed(const char* cond, const char* msg, const char* file,
                   int line) {
  std::fprintf(stderr, "nightwatch: assertion failed at %s:%d: %s (%s)\n", file,
               line, msg, cond);
  std::fflush(stderr);
  std::abort();
}

}  // namespace nw
