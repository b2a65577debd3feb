#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/units.h"
#include "common/cli/command_tree.h"

namespace CLI {
class App;
}
namespace nw::http {
class Client;
}

namespace nw::ctl {

enum class Output { table, json };

// The global flags of DESIGN.md's CLI contract, each with its environment
// variable. Filled by CLI11; read by every command.
struct Globals {
  std::string addr = "127.0.0.1:7070";  // --addr, NW_ADDR
  std::string token;                    // --token, NW_TOKEN
  std::string ca_cert;                  // --ca-cert, NW_CACERT
  std::string output;                   // -o/--output, NW_OUTPUT; "" = auto
  std::string timeout = "10s";          // --timeout, NW_TIMEOUT
};

// What a command needs at run time: the parsed globals, an API client made
// from them, and the output format. One per nwctl invocation.
class Context {
 public:
  explicit Context(const Globals& globals);
  ~Context();

  // Validates the globals (invalid_argument for a bad --addr, -o or
  // --timeout) and decides the output format: -o, else NW_OUTPUT, else
  // table on a terminal and json when stdout is a pipe or file.
  Status init();
  Output output() const { return output_; }
  Duration timeout() const { return timeout_; }
  // The client for --addr (created on first use).
  Result<http::Client*> client();

 private:
  const Globals& globals_;
  Output output_ = Output::table;
  Duration timeout_{10000};
  std::unique_ptr<http::Client> client_;
};

// An API client for `addr` (an --addr value) with the global flags' token
// and CA, nwctl's user agent and `timeout`; each request opens its own
// connection unless `keep_alive`.
Result<std::unique_ptr<http::Client>> make_client(const Globals& globals,
                                                  const std::string& addr,
                                                  Duration timeout,
                                                  bool keep_alive);

// A command's action: returns the exit code.
using Action = std::function<int(Context&)>;

// The whole nwctl command tree: the CLI11 app, the action of every leaf
// command, and the hints for completions. Built by build_cli(); used by
// main, by `nwctl completion`, and by the tests that check the man page and
// the completion files against it.
struct Cli {
  std::unique_ptr<CLI::App> app;
  Globals globals;
  std::map<const CLI::App*, Action> actions;
  cli::CommandHints hints;
  ~Cli();
};

std::unique_ptr<Cli> build_cli();

// Adds one noun's commands to the tree (one file per noun).
void add_status_commands(Cli& cli);
void add_cluster_commands(Cli& cli);
void add_version_commands(Cli& cli);
void add_completion_commands(Cli& cli);

// Reports an error on stderr ("nwctl: <message>" and "hint: <hint>") and
// returns its exit code.
int report(const Error& error);

// Prints a JSON document (already serialized) to stdout with a newline.
void print_json(const std::string& json);

// A table for `-o table`: rows of cells, columns padded to line up.
class Table {
 public:
  explicit Table(std::vector<std::string> header)
      : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Key/value pairs for one object under `-o table`: "NODE    nw-1a2b3c4d".
std::string render_fields(
    const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace nw::ctl
