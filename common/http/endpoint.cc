#include "common/http/endpoint.h"

#include <cctype>

#include "common/base/strings.h"

namespace nw::http {
namespace {

Error bad_endpoint(std::string_view text) {
  return Error(Code::invalid_argument,
               "--addr: expected host:port or http(s)://host:port, got \"" +
                   std::string(text) + "\"",
               "for example 127.0.0.1:7070 or https://agent1.example:7070; "
               "separate several agents with commas",
               "http");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string Endpoint::to_string() const {
  return scheme + "://" + addr.to_string();
}

std::string Endpoint::display() const {
  return scheme == "http" ? addr.to_string() : to_string();
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view rest = trim(text);
  Endpoint ep;
  if (size_t sep = rest.find("://"); sep != std::string_view::npos) {
    ep.scheme = lower(rest.substr(0, sep));
    if (ep.scheme != "http" && ep.scheme != "https") return bad_endpoint(text);
    rest.remove_prefix(sep + 3);
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  // parse_host_port() rejects '/', ' ' and '@' in hosts; a query or
  // fragment would otherwise pass as part of the host.
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string_view::npos) {
    return bad_endpoint(text);
  }
  auto hp = parse_host_port(rest, kDefaultPort);
  if (!hp.ok() || hp.value().port == 0) return bad_endpoint(text);
  ep.addr = std::move(hp).value();
  return ep;
}

Result<std::vector<Endpoint>> parse_endpoints(std::string_view text) {
  if (trim(text).empty()) return bad_endpoint(text);
  std::vector<Endpoint> out;
  for (const std::string& piece : split(text, ',')) {
    if (trim(piece).empty()) return bad_endpoint(text);
    NW_ASSIGN_OR_RETURN(Endpoint ep, parse_endpoint(trim(piece)));
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace nw::http
