// Job files from the file system: one file, or a folder of them with the
// check that no job is defined twice. The TOML itself is read by
// parse_job_toml() in job_file.cc.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "common/config/job_file.h"

namespace nw::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDomain = "config";

Result<std::string> read_text(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Error(Code::not_found, "read job file " + path + ": no such file",
                 "check the path given to -f", kDomain);
  }
  if (fs::is_directory(path, ec)) {
    return Error(Code::invalid_argument,
                 "read job file " + path + ": is a folder",
                 "give -f the folder to read every *.toml file in it", kDomain);
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return Error(Code::io_error, "read job file " + path + ": cannot read it",
                 "check that the file is readable", kDomain);
  }
  return text.str();
}

}  // namespace

std::string SourceLocation::to_string() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line);
}

Result<std::vector<LoadedJob>> load_job_file(const std::string& path) {
  NW_ASSIGN_OR_RETURN(std::string text, read_text(path));
  return parse_job_toml(text, path);
}

Result<std::vector<LoadedJob>> load_job_dir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return Error(ec == std::errc::no_such_file_or_directory ? Code::not_found
                                                            : Code::io_error,
                 "read job folder " + dir + ": " + ec.message(),
                 "check the path given to -f", kDomain);
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string file = it->path().filename().string();
    if (file.empty() || file.front() == '.') continue;
    if (it->path().extension() != ".toml") continue;
    if (it->is_directory(ec)) continue;
    files.push_back((fs::path(dir) / file).string());
  }
  if (ec) {
    return Error(Code::io_error, "read job folder " + dir + ": " + ec.message(),
                 "check that the folder is readable", kDomain);
  }
  if (files.empty()) {
    return Error(Code::not_found,
                 "read job folder " + dir + ": no *.toml files in it",
                 "job files end in .toml; see examples/jobs/", kDomain);
  }
  std::sort(files.begin(), files.end());
  std::vector<LoadedJob> all;
  std::map<std::string, SourceLocation> seen;
  for (const std::string& file : files) {
    NW_ASSIGN_OR_RETURN(std::vector<LoadedJob> jobs, load_job_file(file));
    for (LoadedJob& job : jobs) {
      auto [at, inserted] = seen.emplace(job.spec.name, job.where);
      if (!inserted) {
        return Error(Code::invalid_argument,
                     job.where.to_string() + ": job." +
                         job_key_name(job.spec.name) +
                         ": defined twice, first at " + at->second.to_string(),
                     "give every job a name of its own, or delete one of the "
                     "two definitions",
                     kDomain);
      }
      all.push_back(std::move(job));
    }
  }
  return all;
}

Result<std::vector<LoadedJob>> load_jobs(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_job_dir(path);
  return load_job_file(path);
}

std::vector<JobSpec> specs_of(const std::vector<LoadedJob>& jobs) {
  std::vector<JobSpec> out;
  out.reserve(jobs.size());
  for (const LoadedJob& j : jobs) out.push_back(j.spec);
  return out;
}

}  // namespace nw::config
