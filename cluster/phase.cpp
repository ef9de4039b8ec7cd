#include "cluster/phase.hpp"

#include <cstring>
#include <exception>
#include <new>

namespace lineage::cluster {
namespace {

std::string first_message(const std::vector<std::string>& messages) {
  return messages.empty() ? std::string("a rank failed") : messages.front();
}

/// [exit code: 1 byte][message]; empty for a rank that did not fail.
std::vector<std::byte> encode(const PhaseOutcome& o) {
  if (!o.failed) return {};
  std::vector<std::byte> out(1 + o.message.size());
  out[0] = static_cast<std::byte>(static_cast<int>(o.code));
  if (!o.message.empty()) std::memcpy(out.data() + 1, o.message.data(), o.message.size());
  return out;
}

}  // namespace

PhaseError::PhaseError(std::string phase, ExitCode code, std::vector<std::string> messages)
    : Error(first_message(messages)), phase_(std::move(phase)), code_(code), messages_(std::move(messages)) {}

PhaseOutcome outcome_of_current_exception(PhaseCategory category) noexcept {
  PhaseOutcome o;
  o.failed = true;
  try {
    try {
      throw;
    } catch (const Error& e) {
      o.code = category.fixed.value_or(e.exit_code());
      o.message = e.what();
    } catch (const std::bad_alloc&) {
      o.code = category.fixed.value_or(ExitCode::internal);
      o.message = "out of memory";
    } catch (const std::exception& e) {
      o.code = category.fixed.value_or(ExitCode::internal);
      o.message = (o.code == ExitCode::internal ? "internal error: " : "") + std::string(e.what());
    } catch (...) {
      o.code = category.fixed.value_or(ExitCode::internal);
      o.message = "internal error: unknown exception";
    }
  } catch (...) {
    // Building the message itself failed (out of memory): keep the code, drop the text.
    o.code = category.fixed.value_or(ExitCode::internal);
  }
  return o;
}

void agree(const Communicator& comm, std::string_view phase, const PhaseOutcome& local) {
  if (!comm.any(local.failed)) return;
  // Someone failed: every rank is now past its phase body, so these collectives cannot hang.
  const auto mine = encode(local);
  const auto all = comm.gather(mine, 0);
  std::vector<std::byte> packed;  // on rank 0: [rank u32][length u32][code + message] ...
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty()) continue;
    const auto rank = static_cast<std::uint32_t>(r);
    const auto length = static_cast<std::uint32_t>(all[r].size());
    const auto at = packed.size();
    packed.resize(at + 8 + all[r].size());
    std::memcpy(packed.data() + at, &rank, 4);
    std::memcpy(packed.data() + at + 4, &length, 4);
    std::memcpy(packed.data() + at + 8, all[r].data(), all[r].size());
  }
  const auto shared = comm.broadcast(packed, 0);
  std::vector<std::string> messages;
  std::optional<ExitCode> code;
  for (std::size_t at = 0; at + 8 <= shared.size();) {
    std::uint32_t rank = 0;
    std::uint32_t length = 0;
    std::memcpy(&rank, shared.data() + at, 4);
    std::memcpy(&length, shared.data() + at + 4, 4);
    if (length == 0 || at + 8 + length > shared.size()) break;
    const auto* p = reinterpret_cast<const char*>(shared.data() + at + 8);
    if (!code) code = static_cast<ExitCode>(static_cast<int>(p[0]));
    std::string text(p + 1, length - 1);
    if (text.empty()) text = "failed in phase " + std::string(phase);
    messages.push_back(comm.size() > 1 ? "rank " + std::to_string(rank) + ": " + text : text);
    at += 8 + length;
  }
  throw PhaseError(std::string(phase), code.value_or(ExitCode::internal), std::move(messages));
}

}  // namespace lineage::cluster
