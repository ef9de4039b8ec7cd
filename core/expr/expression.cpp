#include "core/expr/expression.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "core/errors.hpp"

namespace lineage::expr {

struct Node {
  enum class Kind { literal, name, list, unary, binary, ternary, coalesce, index, call } kind;
  Value value;       // literal
  std::string text;  // name / operator / function
  std::vector<std::shared_ptr<const Node>> kids;
};

namespace {

using NodePtr = std::shared_ptr<const Node>;

NodePtr make(Node::Kind k, std::string text, std::vector<NodePtr> kids, Value v = {}) {
  auto n = std::make_shared<Node>();
  n->kind = k;
  n->text = std::move(text);
  n->kids = std::move(kids);
  n->value = std::move(v);
  return n;
}

class Parser {
 public:
  Parser(std::string_view s, const std::string& where) : s_(s), where_(where) {}

  NodePtr parse() {
    auto n = ternary();
    skip();
    if (pos_ != s_.size()) fail("unexpected '" + std::string(s_.substr(pos_, 1)) + "'");
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError(where_,
                      "expression '" + std::string(s_) + "': " + why + " at column " + std::to_string(pos_ + 1));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(std::string_view tok) {
    skip();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  bool peek(std::string_view tok) {
    skip();
    return s_.substr(pos_, tok.size()) == tok;
  }

  NodePtr ternary() {
    auto c = coalesce();
    if (peek("?") && !peek("??")) {
      eat("?");
      auto a = ternary();
      if (!eat(":")) fail("expected ':'");
      auto b = ternary();
      return make(Node::Kind::ternary, "?", {c, a, b});
    }
    return c;
  }
  NodePtr coalesce() {
    auto l = logic_or();
    while (eat("??")) l = make(Node::Kind::coalesce, "??", {l, logic_or()});
    return l;
  }
  NodePtr logic_or() {
    auto l = logic_and();
    while (eat("||")) l = make(Node::Kind::binary, "||", {l, logic_and()});
    return l;
  }
  NodePtr logic_and() {
    auto l = compare();
    while (eat("&&")) l = make(Node::Kind::binary, "&&", {l, compare()});
    return l;
  }
  NodePtr compare() {
    auto l = additive();
    for (const char* op : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (eat(op)) return make(Node::Kind::binary, op, {l, additive()});
    }
    return l;
  }
  NodePtr additive() {
    auto l = multiplicative();
    while (true) {
      if (eat("+"))
        l = make(Node::Kind::binary, "+", {l, multiplicative()});
      else if (eat("-"))
        l = make(Node::Kind::binary, "-", {l, multiplicative()});
      else
        return l;
    }
  }
  NodePtr multiplicative() {
    auto l = unary();
    while (true) {
      if (eat("*"))
        l = make(Node::Kind::binary, "*", {l, unary()});
      else if (eat("/"))
        l = make(Node::Kind::binary, "/", {l, unary()});
      else if (eat("%"))
        l = make(Node::Kind::binary, "%", {l, unary()});
      else
        return l;
    }
  }
  NodePtr unary() {
    if (peek("!") && !peek("!=")) {
      eat("!");
      return make(Node::Kind::unary, "!", {unary()});
    }
    if (eat("-")) return make(Node::Kind::unary, "-", {unary()});
    return postfix();
  }
  NodePtr postfix() {
    auto n = primary();
    while (eat("[")) {
      auto i = ternary();
      if (!eat("]")) fail("expected ']'");
      n = make(Node::Kind::index, "[]", {n, i});
    }
    return n;
  }
  NodePtr primary() {
    skip();
    if (pos_ >= s_.size()) fail("unexpected end");
    const char c = s_[pos_];
    if (eat("(")) {
      auto n = ternary();
      if (!eat(")")) fail("expected ')'");
      return n;
    }
    if (eat("[")) {
      std::vector<NodePtr> items;
      if (!eat("]")) {
        do items.push_back(ternary());
        while (eat(","));
        if (!eat("]")) fail("expected ']'");
      }
      return make(Node::Kind::list, "", std::move(items));
    }
    if (c == '"' || c == '\'') {
      const auto end = s_.find(c, pos_ + 1);
      if (end == std::string_view::npos) fail("unterminated string");
      std::string str(s_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      return make(Node::Kind::literal, "", {}, Value{std::move(str)});
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t end = pos_;
      bool is_float = false;
      while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '.' ||
                                 ((s_[end] == '-' || s_[end] == '+') && (s_[end - 1] == 'e' || s_[end - 1] == 'E')))) {
        if (s_[end] == '.' || s_[end] == 'e' || s_[end] == 'E') is_float = true;
        ++end;
      }
      const std::string num(s_.substr(pos_, end - pos_));
      pos_ = end;
      try {
        if (is_float) return make(Node::Kind::literal, "", {}, Value{std::stod(num)});
        return make(Node::Kind::literal, "", {}, Value{static_cast<std::int64_t>(std::stoll(num))});
      } catch (...) {
        fail("bad number '" + num + "'");
      }
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t end = pos_;
      while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_' || s_[end] == '.'))
        ++end;
      std::string id(s_.substr(pos_, end - pos_));
      pos_ = end;
      if (id == "true") return make(Node::Kind::literal, "", {}, Value{true});
      if (id == "false") return make(Node::Kind::literal, "", {}, Value{false});
      if (id == "null") return make(Node::Kind::literal, "", {}, Value{});
      if (eat("(")) {
        std::vector<NodePtr> args;
        if (!eat(")")) {
          do args.push_back(ternary());
          while (eat(","));
          if (!eat(")")) fail("expected ')'");
        }
        static const std::vector<std::string> kFunctions = {"ceil_div", "min", "max", "contains", "len", "count"};
        if (std::find(kFunctions.begin(), kFunctions.end(), id) == kFunctions.end())
          fail("unknown function '" + id + "'");
        return make(Node::Kind::call, id, std::move(args));
      }
      return make(Node::Kind::name, id, {});
    }
    fail("unexpected '" + std::string(1, c) + "'");
  }

  std::string_view s_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

bool is_number(const Value& v) { return v.v.index() == 1 || v.v.index() == 2 || v.v.index() == 3; }
bool is_int(const Value& v) { return v.v.index() == 1 || v.v.index() == 2; }

bool equal(const Value& a, const Value& b) {
  if (is_number(a) && is_number(b)) return a.as_double() == b.as_double();
  return a.to_string() == b.to_string() && a.v.index() == b.v.index();
}

struct Evaluator {
  const Environment& env;
  const std::string& where;
  const std::string& source;

  [[noreturn]] void fail(const std::string& why) const {
    throw ConfigError(where, "expression '" + source + "': " + why);
  }

  Value eval(const Node& n) const {
    using K = Node::Kind;
    switch (n.kind) {
      case K::literal:
        return n.value;
      case K::name: {
        auto v = env.lookup(n.text);
        if (!v) throw MissingName{n.text};
        return *v;
      }
      case K::list: {
        List items;
        for (const auto& k : n.kids) items.push_back(eval(*k));
        return Value{std::move(items)};
      }
      case K::coalesce: {
        try {
          auto v = eval(*n.kids[0]);
          if (!v.is_null()) return v;
        } catch (const MissingName&) {
        }
        return eval(*n.kids[1]);
      }
      case K::ternary:
        return eval(*n.kids[0]).truthy() ? eval(*n.kids[1]) : eval(*n.kids[2]);
      case K::unary: {
        const auto v = eval(*n.kids[0]);
        if (n.text == "!") return Value{!v.truthy()};
        if (v.v.index() == 2) return Value{-std::get<std::int64_t>(v.v)};
        return Value{-v.as_double()};
      }
      case K::index: {
        const auto base = eval(*n.kids[0]);
        const auto i = eval(*n.kids[1]).as_int();
        const auto* list = std::get_if<List>(&base.v);
        if (!list) fail("indexing a non-list");
        if (i < 0 || static_cast<std::size_t>(i) >= list->size()) fail("index " + std::to_string(i) + " out of range");
        return (*list)[static_cast<std::size_t>(i)];
      }
      case K::call:
        return call(n);
      case K::binary:
        return binary(n);
    }
    fail("bad node");
  }

  Value call(const Node& n) const {
    std::vector<Value> a;
    for (const auto& k : n.kids) a.push_back(eval(*k));
    auto need = [&](std::size_t k) {
      if (a.size() != k) fail(n.text + "() takes " + std::to_string(k) + " arguments");
    };
    if (n.text == "ceil_div") {
      need(2);
      const auto d = a[1].as_int();
      if (d == 0) fail("ceil_div by zero");
      return Value{(a[0].as_int() + d - 1) / d};
    }
    if (n.text == "min" || n.text == "max") {
      need(2);
      const bool lt = a[0].as_double() < a[1].as_double();
      return (n.text == "min") == lt ? a[0] : a[1];
    }
    if (n.text == "len") {
      need(1);
      const auto* l = std::get_if<List>(&a[0].v);
      if (!l) fail("len() of a non-list");
      return Value{static_cast<std::int64_t>(l->size())};
    }
    // contains(list, v) and count(list, v)
    need(2);
    const auto* l = std::get_if<List>(&a[0].v);
    if (!l) fail(n.text + "() of a non-list");
    std::int64_t c = 0;
    for (const auto& item : *l) c += equal(item, a[1]) ? 1 : 0;
    if (n.text == "contains") return Value{c > 0};
    return Value{c};
  }

  Value binary(const Node& n) const {
    const auto& op = n.text;
    if (op == "&&") return Value{eval(*n.kids[0]).truthy() && eval(*n.kids[1]).truthy()};
    if (op == "||") return Value{eval(*n.kids[0]).truthy() || eval(*n.kids[1]).truthy()};
    const auto a = eval(*n.kids[0]);
    const auto b = eval(*n.kids[1]);
    if (op == "==") return Value{equal(a, b)};
    if (op == "!=") return Value{!equal(a, b)};
    if (!is_number(a) || !is_number(b))
      fail("operator " + op + " needs numbers, got " + a.to_string() + " and " + b.to_string());
    if (op == "<") return Value{a.as_double() < b.as_double()};
    if (op == "<=") return Value{a.as_double() <= b.as_double()};
    if (op == ">") return Value{a.as_double() > b.as_double()};
    if (op == ">=") return Value{a.as_double() >= b.as_double()};
    if (is_int(a) && is_int(b)) {
      const auto x = a.as_int();
      const auto y = b.as_int();
      if (op == "+") return Value{x + y};
      if (op == "-") return Value{x - y};
      if (op == "*") return Value{x * y};
      if (y == 0) fail("division by zero");
      if (op == "/") return Value{x / y};
      return Value{x % y};
    }
    const double x = a.as_double();
    const double y = b.as_double();
    if (op == "+") return Value{x + y};
    if (op == "-") return Value{x - y};
    if (op == "*") return Value{x * y};
    if (op == "/") return Value{x / y};
    return Value{std::fmod(x, y)};
  }
};

bool mentions_node(const Node& n, std::string_view name) {
  if (n.kind == Node::Kind::name && n.text == name) return true;
  for (const auto& k : n.kids) {
    if (mentions_node(*k, name)) return true;
  }
  return false;
}

}  // namespace

bool Value::truthy() const {
  switch (v.index()) {
    case 0:
      return false;
    case 1:
      return std::get<bool>(v);
    case 2:
      return std::get<std::int64_t>(v) != 0;
    case 3:
      return std::get<double>(v) != 0.0;
    case 4:
      return !std::get<std::string>(v).empty();
    default:
      return !std::get<List>(v).empty();
  }
}

std::int64_t Value::as_int() const {
  if (v.index() == 2) return std::get<std::int64_t>(v);
  if (v.index() == 1) return std::get<bool>(v) ? 1 : 0;
  if (v.index() == 3) {
    const double d = std::get<double>(v);
    // 2^63 is exact in double; beyond it (1e308, inf) a cast would be undefined (it read 0).
    if (d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      return static_cast<std::int64_t>(d);
    }
  }
  throw ConfigError("expression", "value " + to_string() + " is not an integer");
}

double Value::as_double() const {
  if (v.index() == 3) return std::get<double>(v);
  if (v.index() == 2) return static_cast<double>(std::get<std::int64_t>(v));
  if (v.index() == 1) return std::get<bool>(v) ? 1.0 : 0.0;
  throw ConfigError("expression", "value " + to_string() + " is not a number");
}

std::string Value::to_string() const {
  switch (v.index()) {
    case 0:
      return "null";
    case 1:
      return std::get<bool>(v) ? "true" : "false";
    case 2:
      return std::to_string(std::get<std::int64_t>(v));
    case 3: {
      std::ostringstream o;
      o << std::get<double>(v);
      return o.str();
    }
    case 4:
      return "\"" + std::get<std::string>(v) + "\"";
    default: {
      std::string s = "[";
      for (const auto& i : std::get<List>(v)) s += (s.size() > 1 ? ", " : "") + i.to_string();
      return s + "]";
    }
  }
}

Value Value::from_json(const nlohmann::json& j) {
  if (j.is_null()) return {};
  if (j.is_boolean()) return Value{j.get<bool>()};
  if (j.is_number_integer()) return Value{j.get<std::int64_t>()};
  if (j.is_number()) return Value{j.get<double>()};
  if (j.is_string()) return Value{j.get<std::string>()};
  if (j.is_array()) {
    List l;
    for (const auto& x : j) l.push_back(from_json(x));
    return Value{std::move(l)};
  }
  return Value{std::string("<object>")};
}

Expression::Expression(std::string source, const std::string& where) : source_(std::move(source)), where_(where) {
  root_ = Parser(source_, where_).parse();
}

Value Expression::evaluate(const Environment& env) const {
  if (!root_) throw ConfigError(where_, "empty expression");
  return Evaluator{env, where_, source_}.eval(*root_);
}

bool Expression::mentions(std::string_view name) const { return root_ && mentions_node(*root_, name); }

}  // namespace lineage::expr
