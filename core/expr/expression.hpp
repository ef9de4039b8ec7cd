#pragma once
/// @file expression.hpp
/// The small expression language of family files (docs/families.md): shapes, predicates and
/// variable definitions over config.json keys. Parsed once, evaluated many times.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lineage::expr {

struct Value;
using List = std::vector<Value>;

/// null, bool, integer, float, string or list. Config JSON values convert into these.
struct Value {
  std::variant<std::monostate, bool, std::int64_t, double, std::string, List> v;

  [[nodiscard]] bool is_null() const noexcept { return v.index() == 0; }
  [[nodiscard]] bool truthy() const;
  [[nodiscard]] std::int64_t as_int() const;  ///< integers, and floats with no fraction
  [[nodiscard]] double as_double() const;
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] static Value from_json(const nlohmann::json& j);
};

/// Variables an expression can see. `lookup` returns nullopt for an unknown name (which makes
/// `a ?? b` fall back to b, and is an error otherwise).
class Environment {
 public:
  virtual ~Environment() = default;
  [[nodiscard]] virtual std::optional<Value> lookup(std::string_view name) const = 0;
};

/// Thrown by evaluate() for an unknown name outside `??`; callers add file context.
struct MissingName {
  std::string name;
};

struct Node;

class Expression {
 public:
  Expression() = default;
  /// Parses `source`; throws ConfigError(`where`, ...) on a syntax error.
  Expression(std::string source, const std::string& where);

  /// Evaluates; throws MissingName for unknown names, ConfigError(where) for type errors.
  [[nodiscard]] Value evaluate(const Environment& env) const;
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] bool empty() const noexcept { return !root_; }
  /// True if the expression mentions `name` as a variable (used to hoist loop invariants).
  [[nodiscard]] bool mentions(std::string_view name) const;

 private:
  std::string source_;
  std::string where_;
  std::shared_ptr<const Node> root_;
};

}  // namespace lineage::expr
