#include "core/errors.hpp"
#include "pipeline/commands/commands.hpp"

namespace lineage::pipeline::commands {

// Placeholder until the synth helper lands its implementation (replaced in this session).
int synth(const std::vector<std::string>& /*args*/) { throw InternalError("synth: not built yet"); }

}  // namespace lineage::pipeline::commands
