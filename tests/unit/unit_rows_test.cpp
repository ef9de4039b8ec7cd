#include "io/unit_rows.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "core/errors.hpp"

namespace lineage::io {
namespace {

std::vector<float> values_of(const UnitRows<float>::Row& row) { return {row.values.begin(), row.values.end()}; }

TEST(UnitRows, RowsAreFoundByIdAndVisitedInAscendingIdWhateverTheOrderTheyWerePut) {
  UnitRows<float> rows;
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(rows.begin(), rows.end());
  rows.put(7, std::vector<float>{7.0f, 7.5f});
  rows.put(2, std::vector<float>{2.0f}, std::vector<float>{-2.0f});
  rows.put(40, std::vector<float>{});
  EXPECT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows.contains(2) && rows.contains(7) && rows.contains(40));
  EXPECT_FALSE(rows.contains(3) || rows.contains(41) || rows.contains(1u << 30));
  EXPECT_FALSE(rows.find(0).has_value());
  ASSERT_TRUE(rows.find(7).has_value());
  EXPECT_EQ(values_of(*rows.find(7)), (std::vector<float>{7.0f, 7.5f}));
  const auto two = *rows.find(2);
  EXPECT_EQ(std::vector<float>(two.a().begin(), two.a().end()), std::vector<float>{2.0f});
  EXPECT_EQ(std::vector<float>(two.b().begin(), two.b().end()), std::vector<float>{-2.0f});
  EXPECT_TRUE(rows.find(40)->values.empty());  // a row of no values is still a row
  std::vector<std::uint64_t> ids;
  for (const auto row : rows) ids.push_back(row.id);
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{2, 7, 40}));
  EXPECT_THROW(rows.put(3, std::vector<float>{1.0f}, std::vector<float>{}), InternalError);
  EXPECT_THROW(rows.put(UnitRows<float>::kIdLimit, std::vector<float>{1.0f}), InternalError);
  EXPECT_EQ(rows.size(), 3u);
  rows.clear();
  EXPECT_TRUE(rows.empty());
  EXPECT_FALSE(rows.contains(7));
  EXPECT_EQ(rows.begin(), rows.end());
}

// Against a map of vectors, the structure it replaces: random puts, replacements included (a
// resumed unit puts its row again), of rows of every length; the buffer is compacted on the way.
TEST(UnitRows, RandomPutsAndReplacementsReadAsAMapOfVectorsWould) {
  std::mt19937_64 rng(20261206);
  UnitRows<std::uint64_t> rows;
  std::map<std::uint64_t, std::vector<std::uint64_t>> want;
  for (int step = 0; step < 20'000; ++step) {
    const auto id = rng() % 3'000;
    std::vector<std::uint64_t> a(rng() % 9), b(a.size());
    for (auto& x : a) x = rng();
    for (auto& x : b) x = rng();
    rows.put(id, a, b);
    a.insert(a.end(), b.begin(), b.end());
    want[id] = a;
  }
  ASSERT_EQ(rows.size(), want.size());
  auto expected = want.begin();
  for (const auto row : rows) {
    ASSERT_EQ(row.id, expected->first);
    EXPECT_TRUE(std::ranges::equal(row.values, expected->second)) << row.id;
    ++expected;
  }
  for (std::uint64_t id = 0; id < 3'100; ++id) EXPECT_EQ(rows.contains(id), want.count(id) > 0) << id;
  // Equality is of contents, not of how the rows lie in the buffer.
  UnitRows<std::uint64_t> fresh;
  for (const auto& [id, v] : want) fresh.put(id, v);
  EXPECT_TRUE(fresh == rows);
  fresh.put(want.begin()->first, std::vector<std::uint64_t>{1});
  EXPECT_FALSE(fresh == rows);
}

TEST(UnitRows, AMovedFromObjectIsEmptyAndARowViewingItsOwnRowsIsRefused) {
  UnitRows<float> rows;
  rows.put(3, std::vector<float>{1.0f, 2.0f});
  rows.put(5, std::vector<float>{4.0f});
  UnitRows<float> moved(std::move(rows));
  EXPECT_EQ(moved.size(), 2u);
  EXPECT_EQ(rows.size(), 0u);  // NOLINT(bugprone-use-after-move): the state after a move is the point
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(rows.begin(), rows.end());
  rows.put(1, std::vector<float>{9.0f});
  EXPECT_EQ(rows.size(), 1u);
  UnitRows<float> assigned;
  assigned.put(8, std::vector<float>{8.0f});
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 2u);
  EXPECT_FALSE(assigned.contains(8));
  EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
  // A span into the buffer it would be appended to (which may move as it grows) is refused, the
  // rows left as they were; a copy of it is taken.
  const auto own = assigned.find(3)->values;
  EXPECT_THROW(assigned.put(4, own), InternalError);
  EXPECT_THROW(assigned.put(4, std::vector<float>{0.0f}, own.first(1)), InternalError);
  EXPECT_EQ(assigned.size(), 2u);
  EXPECT_FALSE(assigned.contains(4));
  const std::vector<float> copy(own.begin(), own.end());
  assigned.put(4, copy);
  EXPECT_EQ(values_of(*assigned.find(4)), (std::vector<float>{1.0f, 2.0f}));
}

// Rows of a whole deep model go into spilled buffers, not one heap block each: what the type is
// for. A million values are past the size at which a buffer becomes a mapping of its own.
TEST(UnitRows, ManyRowsShareOneLargeBuffer) {
  UnitRows<float> rows;
  const std::vector<float> a(64, 1.0f), b(64, 2.0f);
  for (std::uint64_t id = 0; id < 10'000; ++id) rows.put(id, a, b);
  const auto first = *rows.find(0), last = *rows.find(9'999);
  EXPECT_EQ(last.values.data() - first.values.data(), 9'999 * 128);  // one buffer, in put order
  EXPECT_EQ(last.b()[63], 2.0f);
}

// The store's /values: sides of any lengths (a router whose expert count differs keeps every row
// of each), found, iterated in id order, replaced, compared.
TEST(UnitValues, SidesOfAnyLengthsByUnitId) {
  UnitValues v;
  EXPECT_TRUE(v.empty());
  EXPECT_FALSE(v.find(0).has_value());
  v.put(7, std::vector<float>{1, 2, 3, 4}, std::vector<float>{5, 6});
  v.put(2, std::vector<float>{9}, std::vector<float>{8, 7, 6});
  v.put(4, std::vector<float>{}, std::vector<float>{});
  EXPECT_EQ(v.size(), 3u);
  EXPECT_TRUE(v.contains(4));
  EXPECT_FALSE(v.contains(3));
  EXPECT_FALSE(v.contains(70));
  const auto seven = v.find(7);
  ASSERT_TRUE(seven.has_value());
  EXPECT_EQ(std::vector<float>(seven->a.begin(), seven->a.end()), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(std::vector<float>(seven->b.begin(), seven->b.end()), (std::vector<float>{5, 6}));
  std::vector<std::uint64_t> ids;
  std::vector<std::size_t> a_sizes, b_sizes;
  for (const auto e : v) {
    ids.push_back(e.id);
    a_sizes.push_back(e.a.size());
    b_sizes.push_back(e.b.size());
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{2, 4, 7}));
  EXPECT_EQ(a_sizes, (std::vector<std::size_t>{1, 0, 4}));
  EXPECT_EQ(b_sizes, (std::vector<std::size_t>{3, 0, 2}));
  auto copy = v;
  EXPECT_EQ(copy, v);
  // Replaced: the new split holds, not the old one.
  copy.put(7, std::vector<float>{1, 2}, std::vector<float>{3, 4, 5, 6});
  EXPECT_EQ(copy.size(), 3u);
  EXPECT_EQ(copy.find(7)->a.size(), 2u);
  EXPECT_EQ(copy.find(7)->b[3], 6.0f);
  EXPECT_FALSE(copy == v);  // the same values, split elsewhere
  copy.put(7, std::vector<float>{1, 2, 3, 4}, std::vector<float>{5, 6});
  EXPECT_EQ(copy, v);
  const auto moved = std::move(copy);
  EXPECT_EQ(moved, v);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move)
  v.clear();
  EXPECT_TRUE(v.empty());
  EXPECT_FALSE(v.contains(7));
  EXPECT_THROW(v.put(UnitRows<float>::kIdLimit, std::vector<float>{1}, std::vector<float>{1}), InternalError);
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace lineage::io
