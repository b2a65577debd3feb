#include "cli/context.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/base/version.h"
#include "common/http/client.h"
#include "common/http/endpoint.h"

namespace nw::ctl {

Context::Context(const Globals& globals) : globals_(globals) {}
Context::~Context() = default;
Cli::~Cli() = default;

Status Context::init() {
  std::string out = globals_.output;
  if (out.empty()) {
    out = ::isatty(STDOUT_FILENO) ? "table" : "json";
  }
  if (out == "table") {
    output_ = Output::table;
  } else if (out == "json") {
    output_ = Output::json;
  } else {
    return Error(Code::invalid_argument,
                 "--output: expected table or json, got \"" + out + "\"",
                 "check -o/--output or NW_OUTPUT", "cli");
  }
  auto t = parse_duration(globals_.timeout);
  if (!t.ok() || t.value().count() <= 0) {
    return Error(Code::invalid_argument,
                 "--timeout: expected a duration such as 5s or 1m, got \"" +
                     globals_.timeout + "\"",
                 "check --timeout or NW_TIMEOUT", "cli");
  }
  timeout_ = t.value();
  NW_RETURN_IF_ERROR(http::parse_endpoints(globals_.addr));
  return ok_status();
}

Result<std::unique_ptr<http::Client>> make_client(const Globals& globals,
                                                  const std::string& addr,
                                                  Duration timeout,
                                                  bool keep_alive) {
  NW_ASSIGN_OR_RETURN(std::vector<http::Endpoint> endpoints,
                      http::parse_endpoints(addr));
  http::ClientOptions options;
  options.token = globals.token;
  options.ca_cert = globals.ca_cert;
  options.timeout = timeout;
  options.connect_timeout = std::min(timeout, Duration(2000));
  options.user_agent = std::string("nwctl/") + kVersion;
  options.keep_alive = keep_alive;
  return std::make_unique<http::Client>(std::move(endpoints), options);
}

Result<http::Client*> Context::client() {
  if (!client_) {
    NW_ASSIGN_OR_RETURN(client_,
                        make_client(globals_, globals_.addr, timeout_, false));
  }
  return client_.get();
}

int report(const Error& error) {
  std::cerr << "nwctl: " << error.message << "\n";
  if (!error.hint.empty()) std::cerr << "hint: " << error.hint << "\n";
  return exit_code(error.code);
}

void print_json(const std::string& json) {
  std::fwrite(json.data(), 1, json.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string Table::render() const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      l += cell;
      if (i + 1 < width.size())
        l += std::string(width[i] - cell.size() + 3, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header_);
  for (const auto& r : rows_) line(r);
  return out;
}

std::string render_fields(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t w = 0;
  for (const auto& [k, v] : fields) w = std::max(w, k.size());
  std::string out;
  for (const auto& [k, v] : fields) {
    out += k + std::string(w - k.size() + 3, ' ') + v + "\n";
  }
  return out;
}

}  // namespace nw::ctl
