#pragma once

// Runs nwctl command lines in-process for the unit tests of the topic,
// produce, consume, group and bench commands: parse as main.cc does, run
// the leaf's action, capture stdout and stderr. Also a temporary file for
// produce's --file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/context.h"

namespace nw::ctl::test {

// Redirects stdout and stderr to files while alive.
class Capture {
 public:
  Capture() {
    std::fflush(stdout);
    std::fflush(stderr);
    saved_out_ = ::dup(STDOUT_FILENO);
    saved_err_ = ::dup(STDERR_FILENO);
    out_ = std::tmpfile();
    err_ = std::tmpfile();
    ::dup2(::fileno(out_), STDOUT_FILENO);
    ::dup2(::fileno(err_), STDERR_FILENO);
  }
  ~Capture() {
    restore();
    std::fclose(out_);
    std::fclose(err_);
  }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  void restore() {
    if (saved_out_ < 0) return;
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out_, STDOUT_FILENO);
    ::dup2(saved_err_, STDERR_FILENO);
    ::close(saved_out_);
    ::close(saved_err_);
    saved_out_ = saved_err_ = -1;
  }
  std::string out() { return slurp(out_); }
  std::string err() { return slurp(err_); }

 private:
  static std::string slurp(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
  }
  int saved_out_ = -1;
  int saved_err_ = -1;
  std::FILE* out_ = nullptr;
  std::FILE* err_ = nullptr;
};

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

// One nwctl command line (without "nwctl"): usage errors exit 2, else the
// leaf's action decides.
inline Run nwctl(const std::vector<std::string>& args) {
  auto cli = build_cli();
  std::vector<std::string> words = {"nwctl"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& w : words) argv.push_back(w.c_str());
  Run r;
  Capture cap;
  try {
    cli->app->parse(static_cast<int>(argv.size()),
                    const_cast<char**>(argv.data()));
    const CLI::App* leaf = cli->app.get();
    while (!leaf->get_subcommands().empty()) {
      leaf = leaf->get_subcommands().front();
    }
    auto it = cli->actions.find(leaf);
    if (it == cli->actions.end()) {
      r.code = 2;
    } else {
      Context ctx(cli->globals);
      Status s = ctx.init();
      r.code = s.ok() ? it->second(ctx) : report(s.error());
    }
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    r.code = 2;
  }
  cap.restore();
  r.out = cap.out();
  r.err = cap.err();
  return r;
}

// A file with the given content, removed when the object goes.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/nwctl-test-XXXXXX";
    int fd = ::mkstemp(tmpl);
    REQUIRE(fd >= 0);
    path_ = tmpl;
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      REQUIRE(n > 0);
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Lines of text, without the last empty piece.
inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace nw::ctl::test
