// What every subcommand of the vmsock tool shares: the two kinds of failure
// (usage: exit 2; run time: exit 1), argument parsing helpers, and the
// subcommands' entry points.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vmsock_cli {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // a run-time failure: the library's message
inline constexpr int exit_usage = 2;    // a command line to fix: a one-line reason

// A command line the user has to fix: exit code 2, one line on stderr.
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A run-time failure with a message of our own (the library's messages come
// as std::system_error / vmsock::parse_error): exit code 1.
class failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The arguments after the subcommand's name, consumed front to back.
class arguments {
 public:
  arguments(std::string command, std::vector<std::string> args)
      : command_(std::move(command)), args_(std::move(args)) {}

  const std::string& command() const noexcept { return command_; }
  bool empty() const noexcept { return next_ >= args_.size(); }
  const std::string& peek() const { return args_.at(next_); }
  std::string take() { return args_.at(next_++); }
  // The value of option `name`: the rest of "--name=value", else the next argument.
  std::string value_of(std::string_view name, std::optional<std::string> inline_value) {
    if (inline_value) return *inline_value;
    if (empty()) throw usage_error("option " + std::string(name) + " needs a value");
    return take();
  }
  std::size_t left() const noexcept { return args_.size() - next_; }

 private:
  std::string command_;
  std::vector<std::string> args_;
  std::size_t next_ = 0;
};

// Splits "--name=value" into its name and value.
struct option_text {
  std::string name;
  std::optional<std::string> value;
};
inline option_text split_option(const std::string& arg) {
  const auto eq = arg.find('=');
  if (arg.size() > 2 && arg[0] == '-' && arg[1] == '-' && eq != std::string::npos)
    return {arg.substr(0, eq), arg.substr(eq + 1)};
  return {arg, std::nullopt};
}

// "1234", "0x4d2": a number up to `max`; anything else is a usage error
// naming `what`.  Values above `max` are `too_large` (nullopt), which the
// caller turns into the message it wants.
struct parsed_number {
  std::uint64_t value = 0;
  bool too_large = false;
};
parsed_number parse_number(std::string_view what, std::string_view text, std::uint64_t max);

// "250ms", "5s", "5", "2m", "1h", "1.5s": a duration (seconds when no unit).
std::chrono::milliseconds parse_duration(std::string_view option, std::string_view text);

// "65536", "64K", "1M" (binary multiples): a size in bytes, at least `min`.
std::size_t parse_size(std::string_view option, std::string_view text, std::size_t min,
                       std::size_t max);

// The subcommands: each parses its own arguments and returns the exit code.
int run_cat(arguments& args);
int run_mux(arguments& args);
int run_port2guid(arguments& args);
int run_guid2port(arguments& args);
int run_cid(arguments& args);
int run_parse(arguments& args);
int run_service(arguments& args);

// Whether the next argument asks for help (-h, --help); takes it if so.
inline bool wants_help(const arguments& args) {
  return !args.empty() && (args.peek() == "-h" || args.peek() == "--help");
}

// Prints a help text to stdout; exit 0.
inline int print_help(const char* text) {
  std::fputs(text, stdout);
  return exit_ok;
}

// The positional arguments of a subcommand that takes no options but --help
// (then the help is printed and the result is nullopt); an unknown option is
// a usage error.
std::optional<std::vector<std::string>> positionals(arguments& args, const char* help);

}  // namespace vmsock_cli
