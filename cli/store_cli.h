// `paddock store ...` on the command line: the sub-commands, their arguments, and the checks that
// turn REPO@REF, directories and flag values into the typed arguments of store_commands.h before
// anything is sent (bad values exit 2, naming the argument).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "cli/commands.h"
#include "cli/store_commands.h"

namespace paddock::cli {

// Where CLI11 stores the arguments of the store commands while parsing, as typed. Only one
// sub-command is parsed per run, so they share the slots.
struct StoreArgs {
  std::string target;  // REPO, REPO@REF or REPO@BRANCH
  std::string second;  // DIR, PATH, FILE, REV, or the B of diff, or a branch/tag NAME
  std::string third;   // the REV of `branch NAME REV` and `tag NAME REV`
  std::string message;
  std::string metadata;
  std::string range;
  std::string remove;  // branch/tag -d NAME
  int64_t limit = 0;
  bool allow_empty = false;
  bool recursive = false;
  bool read_only = false;
  bool dry_run = false;
  bool oneline = false;
};

// Adds `store` and its sub-commands to `app`; parsing one stores what to run in `command`.
void AddStoreCommands(CLI::App& app, StoreArgs& args, Command& command);

}  // namespace paddock::cli
