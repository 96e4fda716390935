# Writes a C++ source defining `std::string_view ${FUNCTION}()` that returns the contents of INPUT.
# Run at build time (cmake -P) so editing INPUT rebuilds only that source.
file(READ "${INPUT}" CONTENT)
set(DELIM "PADDOCK_EMBED")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT}; do not edit.\n#include <string_view>\nnamespace paddock {\n"
  "std::string_view ${FUNCTION}() {\n  static constexpr char kText[] = R\"${DELIM}(${CONTENT})${DELIM}\";\n"
  "  return {kText, sizeof kText - 1};\n}\n}  // namespace paddock\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
