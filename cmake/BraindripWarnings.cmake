# Warning flags for the C++ sources.
set(BD_CXX_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-unknown-pragmas)
