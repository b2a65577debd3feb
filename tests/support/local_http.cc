#include "tests/support/local_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/strings.h"
#include "common/base/time.h"

namespace nw::testsupport {
namespace {

// Owns a socket fd.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Error sys_error(std::string_view what) {
  return Error(Code::io_error, std::string(what) + ": " + std::strerror(errno),
               {}, "testsupport");
}

int bind_loopback(int fd, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
}

int ms_left(MonoTime deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                    mono_now());
  return static_cast<int>(std::max<long long>(left.count(), 0));
}

// Waits for `events` on fd; false when the deadline passed.
bool wait_fd(int fd, short events, MonoTime deadline) {
  while (true) {
    int left = ms_left(deadline);
    if (left == 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, left);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let the next call fail
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(c));
  return out;
}

// Decodes a chunked body; nullopt when it is malformed or incomplete.
std::optional<std::string> dechunk(std::string_view in) {
  std::string out;
  while (true) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::string size_text(in.substr(0, eol));
    size_t semi = size_text.find(';');
    if (semi != std::string::npos) size_text.resize(semi);
    size_t size = 0;
    try {
      size = std::stoul(size_text, nullptr, 16);
    } catch (...) {
      return std::nullopt;
    }
    in.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (in.size() < size + 2) return std::nullopt;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

Result<HttpResponse> parse_response(const std::string& raw,
                                    const std::string& what) {
  size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || !starts_with(raw, "HTTP/1.")) {
    return Error(
        Code::io_error,
        what + ": not an HTTP/1.x response: \"" + raw.substr(0, 200) + "\"", {},
        "testsupport");
  }
  HttpResponse resp;
  std::vector<std::string> lines =
      split(std::string_view(raw).substr(0, head_end), '\n');
  std::vector<std::string> status_line = split(trim(lines[0]), ' ', true);
  if (status_line.size() < 2) {
    return Error(Code::io_error, what + ": bad status line: " + lines[0], {},
                 "testsupport");
  }
  try {
    resp.status = std::stoi(status_line[1]);
  } catch (...) {
    return Error(Code::io_error, what + ": bad status line: " + lines[0], {},
                 "testsupport");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    resp.headers[lower(trim(std::string_view(lines[i]).substr(0, colon)))] =
        std::string(trim(std::string_view(lines[i]).substr(colon + 1)));
  }
  std::string_view body = std::string_view(raw).substr(head_end + 4);
  auto te = resp.headers.find("transfer-encoding");
  if (te != resp.headers.end() && lower(te->second) == "chunked") {
    std::optional<std::string> decoded = dechunk(body);
    if (!decoded) {
      return Error(Code::io_error, what + ": truncated chunked body", {},
                   "testsupport");
    }
    resp.body = std::move(*decoded);
  } else {
    resp.body = std::string(body);
    auto cl = resp.headers.find("content-length");
    if (cl != resp.headers.end() &&
        std::to_string(resp.body.size()) != cl->second) {
      return Error(Code::io_error,
                   what + ": body of " + std::to_string(resp.body.size()) +
                       " bytes, Content-Length says " + cl->second,
                   {}, "testsupport");
    }
  }
  return resp;
}

}  // namespace

Result<std::uint16_t> free_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return sys_error("socket");
  if (bind_loopback(fd.get(), 0) != 0) return sys_error("bind 127.0.0.1:0");
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    return sys_error("getsockname");
  }
  return static_cast<std::uint16_t>(ntohs(sa.sin_port));
}

bool port_is_free(std::uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  return bind_loopback(fd.get(), port) == 0 && ::listen(fd.get(), 1) == 0;
}

Result<HttpResponse> http_get(const HostPort& addr, std::string_view path,
                              Duration timeout) {
  const std::string what = "GET http://" + addr.to_string() + std::string(path);
  const MonoTime deadline = mono_now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(addr.port);
  int gai = ::getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    return Error(Code::io_error, what + ": " + ::gai_strerror(gai), {},
                 "testsupport");
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);

  Error last(Code::unavailable, what + ": no address", {}, "testsupport");
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family,
                   ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                   ai->ai_protocol));
    if (fd.get() < 0) {
      last = sys_error(what + ": socket");
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Error(errno == ECONNREFUSED ? Code::unavailable : Code::io_error,
                     what + ": " + std::strerror(errno), {}, "testsupport");
        continue;
      }
      if (!wait_fd(fd.get(), POLLOUT, deadline)) {
        return Error(Code::timeout, what + ": connect timed out", {},
                     "testsupport");
      }
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0) {
        last =
            Error(so_error == ECONNREFUSED ? Code::unavailable : Code::io_error,
                  what + ": " + std::strerror(so_error), {}, "testsupport");
        continue;
      }
    }

    const std::string request = "GET " + std::string(path) +
                                " HTTP/1.1\r\nHost: " + addr.to_string() +
                                "\r\nUser-Agent: nw-testsupport\r\n"
                                "Accept: */*\r\nConnection: close\r\n\r\n";
    size_t sent = 0;
    while (sent < request.size()) {
      if (!wait_fd(fd.get(), POLLOUT, deadline)) {
        return Error(Code::timeout, what + ": send timed out", {},
                     "testsupport");
      }
      ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent,
                         MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return sys_error(what + ": send");
      }
    }

    std::string raw;
    char buf[16384];
    while (true) {
      if (!wait_fd(fd.get(), POLLIN, deadline)) {
        return Error(Code::timeout,
                     what + ": no complete answer in time (got " +
                         std::to_string(raw.size()) + " bytes)",
                     {}, "testsupport");
      }
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n > 0) {
        raw.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno == ECONNRESET && !raw.empty()) {
        break;  // a server that resets after answering; parse what came
      } else if (errno != EAGAIN && errno != EINTR) {
        return sys_error(what + ": recv");
      }
    }
    return parse_response(raw, what);
  }
  return last;
}

}  // namespace nw::testsupport
