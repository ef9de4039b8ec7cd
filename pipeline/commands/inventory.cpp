#include "core/errors.hpp"
#include "pipeline/commands/commands.hpp"

namespace lineage::pipeline::commands {

// Placeholder until the inventory helper lands its implementation (replaced in this session).
int inventory(const std::vector<std::string>& /*args*/) { throw InternalError("inventory: not built yet"); }

}  // namespace lineage::pipeline::commands
