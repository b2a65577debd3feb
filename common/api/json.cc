#include "common/api/json.h"

#include <limits>
#include <type_traits>

namespace nw::api {
namespace {

constexpr std::string_view kDomain = "api";

Error invalid(std::string message) {
  return Error(Code::invalid_argument, std::move(message), {}, kDomain);
}

}  // namespace

std::string to_body(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<nlohmann::json> parse_object(std::string_view body,
                                    std::string_view what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return invalid(std::string(what) + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) {
    return invalid(std::string(what) + ": expected a JSON object, got " +
                   j.type_name());
  }
  return j;
}

ObjectReader::ObjectReader(const nlohmann::json& j, std::string what)
    : j_(j), what_(std::move(what)) {}

Status ObjectReader::status() const { return status_; }

const nlohmann::json* ObjectReader::find(std::string_view key, bool required) {
  if (!status_.ok()) return nullptr;
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) {
      status_ = invalid(what_ + ": missing field \"" + std::string(key) + "\"");
    }
    return nullptr;
  }
  return &*it;
}

void ObjectReader::type_error(std::string_view key, std::string_view expected,
                              const nlohmann::json& got) {
  status_ = invalid(what_ + ": field \"" + std::string(key) + "\": expected " +
                    std::string(expected) + ", got " + got.type_name());
}

template <class T>
void ObjectReader::read(std::string_view key, T& out, bool required) {
  const nlohmann::json* v = find(key, required);
  if (v == nullptr) return;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v->is_string()) return type_error(key, "a string", *v);
    out = v->get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v->is_boolean()) return type_error(key, "true or false", *v);
    out = v->get<bool>();
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    if (v->is_number_unsigned()) {
      if (v->get<std::uint64_t>() >
          static_cast<std::uint64_t>(
              std::numeric_limits<std::int64_t>::max())) {
        return type_error(key, "a 64-bit signed integer", *v);
      }
    } else if (!v->is_number_integer()) {
      return type_error(key, "an integer", *v);
    }
    out = v->get<std::int64_t>();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (!v->is_number_unsigned()) {
      return type_error(key, "a non-negative integer", *v);
    }
    out = v->get<std::uint64_t>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v->is_number()) return type_error(key, "a number", *v);
    out = v->get<double>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!v->is_array()) return type_error(key, "an array of strings", *v);
    std::vector<std::string> items;
    items.reserve(v->size());
    for (const auto& item : *v) {
      if (!item.is_string()) return type_error(key, "an array of strings", *v);
      items.push_back(item.get<std::string>());
    }
    out = std::move(items);
  } else {
    static_assert(!sizeof(T), "no JSON reader for this type");
  }
}

void ObjectReader::required(std::string_view key, std::string& out) {
  read(key, out, true);
}
void ObjectReader::required(std::string_view key, bool& out) {
  read(key, out, true);
}
void ObjectReader::required(std::string_view key, std::int64_t& out) {
  read(key, out, true);
}
void ObjectReader::required(std::string_view key, std::uint64_t& out) {
  read(key, out, true);
}
void ObjectReader::required(std::string_view key, double& out) {
  read(key, out, true);
}
void ObjectReader::required(std::string_view key,
                            std::vector<std::string>& out) {
  read(key, out, true);
}
void ObjectReader::optional(std::string_view key, std::string& out) {
  read(key, out, false);
}
void ObjectReader::optional(std::string_view key, bool& out) {
  read(key, out, false);
}
void ObjectReader::optional(std::string_view key, std::int64_t& out) {
  read(key, out, false);
}
void ObjectReader::optional(std::string_view key, std::uint64_t& out) {
  read(key, out, false);
}
void ObjectReader::optional(std::string_view key, double& out) {
  read(key, out, false);
}
void ObjectReader::optional(std::string_view key,
                            std::vector<std::string>& out) {
  read(key, out, false);
}

}  // namespace nw::api
