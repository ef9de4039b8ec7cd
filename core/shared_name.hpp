#pragma once
/// @file shared_name.hpp
/// An immutable string whose copies share one allocation. A 100k-tensor checkpoint pairs into
/// several hundred thousand comparison units, each naming two tensors and two shard files; with
/// plain strings, copying those four heap strings per unit was most of the pairing's time.

#include <compare>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

namespace lineage {

class SharedName {
 public:
  SharedName() = default;
  // Implicit on purpose: a name is given as text wherever a view is written out by hand.
  SharedName(std::string text) : text_(std::make_shared<const std::string>(std::move(text))) {}  // NOLINT
  SharedName(const char* text) : SharedName(std::string(text)) {}                                // NOLINT

  [[nodiscard]] const std::string& str() const noexcept { return text_ ? *text_ : empty(); }
  operator const std::string&() const noexcept { return str(); }  // NOLINT(google-explicit-constructor)

  friend bool operator==(const SharedName& x, const SharedName& y) noexcept {
    return x.text_ == y.text_ || x.str() == y.str();
  }
  friend std::strong_ordering operator<=>(const SharedName& x, const SharedName& y) noexcept {
    return x.str() <=> y.str();
  }
  friend std::ostream& operator<<(std::ostream& out, const SharedName& n) { return out << n.str(); }

 private:
  static const std::string& empty() noexcept {
    static const std::string none;
    return none;
  }
  std::shared_ptr<const std::string> text_;
};

}  // namespace lineage
