// nw_config_example [OUT]: writes render_example() (the text of
// examples/agent.toml) to OUT, or to stdout without an argument.
// `make generate` runs it to refresh the committed example.

#include <cstdio>
#include <string>

#include "common/config/config.h"

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: %s [OUT]\n", argv[0]);
    return 2;
  }
  std::string text = nw::config::render_example();
  std::FILE* out = argc == 2 ? std::fopen(argv[1], "w") : stdout;
  if (out == nullptr) {
    std::perror(argv[1]);
    return 1;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), out) == text.size();
  ok = (out == stdout ? std::fflush(out) : std::fclose(out)) == 0 && ok;
  if (!ok) {
    std::perror(argc == 2 ? argv[1] : "stdout");
    return 1;
  }
  return 0;
}
