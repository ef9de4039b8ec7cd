#include "stages/align/token_mapped_embedding.hpp"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <Eigen/Dense>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/tokenizer_file.hpp"
#include "stages/tokenizer/token_map.hpp"

namespace lineage::stages {
namespace {

io::TokenizerFile tokenizer(const std::vector<std::string>& tokens) {
  io::TokenizerFile t;
  t.model_type = "BPE";
  t.encoding = io::TokenEncoding::plain;
  for (std::size_t i = 0; i < tokens.size(); ++i) t.vocab.emplace_back(static_cast<std::int64_t>(i), tokens[i]);
  return t;
}

std::vector<std::string> words(std::size_t n, const std::string& prefix = "w") {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

TEST(TokenMap, SameTokenizerIsTheIdentity) {
  const auto t = tokenizer(words(50));
  const auto m = map_tokens(t, t);
  EXPECT_EQ(m.pairs.size(), 50u);
  EXPECT_EQ(m.same_id, 50u);
  EXPECT_TRUE(m.identity());
}

TEST(TokenMap, InsertedTokensShiftIdsAndTheMapFollowsTheBytes) {
  // B inserts a new token before every 4th token of A: ids shift by a growing offset.
  const auto a_words = words(40);
  std::vector<std::string> b_words;
  for (std::size_t i = 0; i < a_words.size(); ++i) {
    if (i % 4 == 0) b_words.push_back("new" + std::to_string(i));
    b_words.push_back(a_words[i]);
  }
  const auto m = map_tokens(tokenizer(a_words), tokenizer(b_words));
  ASSERT_EQ(m.pairs.size(), 40u);
  EXPECT_FALSE(m.identity());
  for (const auto& p : m.pairs) {
    EXPECT_EQ(b_words[static_cast<std::size_t>(p.id_b)], a_words[static_cast<std::size_t>(p.id_a)]);
    EXPECT_EQ(p.id_b, p.id_a + p.id_a / 4 + 1);
  }
  EXPECT_EQ(m.same_id, 0u);
}

TEST(TokenMap, ExtensionKeepsEveryOldIdAndIsNotTheIdentity) {
  auto b_words = words(30);
  for (int i = 0; i < 5; ++i) b_words.push_back("ext" + std::to_string(i));
  const auto m = map_tokens(tokenizer(words(30)), tokenizer(b_words));
  EXPECT_EQ(m.pairs.size(), 30u);
  EXPECT_EQ(m.same_id, 30u);
  EXPECT_FALSE(m.identity());  // B holds tokens A lacks
}

TEST(TokenMap, BytesNotSpellingDecideAndAmbiguousBytesAreLeftOut) {
  // Byte-level 'Ġthe' and SentencePiece '▁the' are both " the".
  io::TokenizerFile a = tokenizer({"x", "\xC4\xA0the", "y"});
  a.encoding = io::TokenEncoding::byte_level;
  io::TokenizerFile b = tokenizer({"\xE2\x96\x81the", "x", "<0x79>", "y"});  // <0x79> and 'y' are both "y"
  b.encoding = io::TokenEncoding::sentencepiece;
  const auto m = map_tokens(a, b);
  ASSERT_EQ(m.pairs.size(), 2u);
  EXPECT_EQ(m.pairs[0].id_a, 0);
  EXPECT_EQ(m.pairs[0].id_b, 1);
  EXPECT_EQ(m.pairs[1].id_a, 1);
  EXPECT_EQ(m.pairs[1].id_b, 0);
  EXPECT_EQ(m.ambiguous, 1u);
}

TEST(TokenMap, SampleIsBoundedSortedWithinTheTablesAndIdIndependent) {
  const auto a_words = words(3000);
  std::vector<std::string> b_words = a_words;
  std::reverse(b_words.begin(), b_words.end());
  const auto m = map_tokens(tokenizer(a_words), tokenizer(b_words));
  const auto s = sample_token_pairs(m, 3000, 2900, 512, 7);  // B's table lacks its last 100 rows
  ASSERT_EQ(s.size(), 512u);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_LT(s[i].id_b, 2900);
    if (i > 0) {
      EXPECT_LT(s[i - 1].id_a, s[i].id_a);
    }
  }
  // The same tokens are chosen whichever side is A (the key is the bytes).
  const auto back = sample_token_pairs(map_tokens(tokenizer(b_words), tokenizer(a_words)), 2900, 3000, 512, 7);
  std::vector<std::int64_t> x, y;
  for (const auto& p : s) x.push_back(p.id_a);
  for (const auto& p : back) y.push_back(p.id_b);
  std::sort(y.begin(), y.end());
  EXPECT_EQ(x, y);
  EXPECT_EQ(sample_token_pairs(m, 3000, 3000, 10000, 7).size(), 3000u);
}

// ---- Procrustes on mapped rows -----------------------------------------------------------------

struct Tables {
  std::vector<float> a, b;
  std::vector<std::uint64_t> ids;
};

/// A: n x d rows with a shared mean direction and frequency-like norms; B from `make_b`.
template <typename MakeB>
Tables tables(std::uint64_t n, std::uint64_t d, std::uint64_t seed, MakeB make_b) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd a(n, d);
  Eigen::RowVectorXd mean(d);
  for (std::uint64_t j = 0; j < d; ++j) mean(static_cast<Eigen::Index>(j)) = g(rng);
  for (std::uint64_t i = 0; i < n; ++i) {
    const double scale = 2.0 / std::sqrt(1.0 + static_cast<double>(i) / 64.0);
    for (std::uint64_t j = 0; j < d; ++j) {
      a(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
          scale * (g(rng) + mean(static_cast<Eigen::Index>(j)));
    }
  }
  const Eigen::MatrixXd b = make_b(a, rng);
  Tables t;
  for (std::uint64_t i = 0; i < n; ++i) {
    t.ids.push_back(i);
    for (std::uint64_t j = 0; j < d; ++j) {
      t.a.push_back(static_cast<float>(a(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j))));
      t.b.push_back(static_cast<float>(b(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j))));
    }
  }
  return t;
}

Eigen::MatrixXd random_rotation(std::uint64_t d, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  Eigen::MatrixXd m(d, d);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = g(rng);
  }
  return Eigen::HouseholderQR<Eigen::MatrixXd>(m).householderQ();
}

TEST(TokenMappedEmbedding, RotatedNoisyCopyFitsOnHeldOutTokens) {
  constexpr std::uint64_t n = 1024, d = 48;
  const auto t = tables(n, d, 1, [&](const Eigen::MatrixXd& a, std::mt19937_64& rng) {
    std::normal_distribution<double> g(0.0, 0.1);
    Eigen::MatrixXd noisy = a;
    for (Eigen::Index i = 0; i < noisy.size(); ++i) noisy.data()[i] += g(rng);
    return Eigen::MatrixXd(noisy * random_rotation(d, rng));
  });
  const auto r = compare_mapped_rows(t.a, t.b, n, d, t.ids, t.ids, 3);
  EXPECT_EQ(r.same_id_share, 1.0);
  EXPECT_LT(std::fabs(r.raw_cosine), 0.2);  // rotated: row i against row i looks unrelated
  EXPECT_GT(r.rotation.train + r.rotation.test, n - 1);
  EXPECT_GT(r.rotation.heldout.observed, 0.9);
  // The null keeps what norm strata share (rows centred by one mean keep a trace of the mean
  // direction that grows with their norm), so it is above 0, but far below the fit.
  EXPECT_LT(r.rotation.heldout.null_mean, 0.3);
  EXPECT_LT(r.rotation.heldout.p, 1e-6);
  EXPECT_EQ(r.rotation.heldout.permutations, 50);
}

TEST(TokenMappedEmbedding, IndependentTablesFitPoorlyOnHeldOutTokens) {
  constexpr std::uint64_t n = 1024, d = 48;
  // Same norm law and a mean direction of their own: what independent models share.
  const auto t = tables(n, d, 2, [&](const Eigen::MatrixXd& a, std::mt19937_64& rng) {
    std::normal_distribution<double> g(0.0, 1.0);
    Eigen::MatrixXd b(a.rows(), a.cols());
    Eigen::RowVectorXd mean(a.cols());
    for (Eigen::Index j = 0; j < a.cols(); ++j) mean(j) = g(rng);
    for (Eigen::Index i = 0; i < b.rows(); ++i) {
      const double scale = 2.0 / std::sqrt(1.0 + static_cast<double>(i) / 64.0);
      for (Eigen::Index j = 0; j < b.cols(); ++j) b(i, j) = scale * (g(rng) + mean(j));
    }
    return b;
  });
  const auto r = compare_mapped_rows(t.a, t.b, n, d, t.ids, t.ids, 3);
  // The fitting half is matched better than chance (d x d freedom), the held-out half only as
  // well as the norm strata explain (the shuffled-pairing null).
  const auto& h = r.rotation.heldout;
  std::cout << "independent: train " << r.rotation.train_cosine << ", held-out " << h.observed << ", null "
            << h.null_mean << " +- " << h.null_sd << ", p " << h.p << "\n";
  EXPECT_GT(r.rotation.train_cosine, h.observed + 0.1);
  EXPECT_LT((h.observed - h.null_mean) / (1 - h.null_mean), 0.05);
  EXPECT_GT(h.p, 1e-3);
}

// The raw cosine, computed row by row since the tables stopped being copied into double
// matrices, against the definition written out with Eigen: rows centred by the fitting rows'
// column means (the split a hash of the token pair), scaled to unit length, their dot products
// averaged; non-finite values count as zero.
TEST(TokenMappedEmbedding, RawCosineIsTheMeanCosineOfRowsCentredOnTheFittingHalf) {
  constexpr std::uint64_t n = 301, d = 37, seed = 11;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> g(0.5f, 1.0f);
  std::vector<float> a(n * d), b(n * d);
  for (std::size_t k = 0; k < a.size(); ++k) a[k] = g(rng), b[k] = 0.3f * a[k] + g(rng);
  a[3 * d + 4] = std::nanf("");
  b[8 * d] = std::numeric_limits<float>::infinity();
  std::vector<std::uint64_t> ids_a(n), ids_b(n);
  for (std::uint64_t i = 0; i < n; ++i) ids_a[i] = i, ids_b[i] = i % 3 == 0 ? i + 1000 : i;
  std::vector<bool> train(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t key[3] = {ids_a[i], ids_b[i], seed};
    train[i] = (XXH3_64bits(key, sizeof key) & 1u) == 0;
  }
  constexpr auto rows = static_cast<Eigen::Index>(n), cols = static_cast<Eigen::Index>(d);
  const auto table = [&](const std::vector<float>& v) {
    Eigen::MatrixXd m(rows, cols);
    for (Eigen::Index i = 0; i < rows; ++i) {
      for (Eigen::Index j = 0; j < cols; ++j) {
        const float e = v[static_cast<std::size_t>(i * cols + j)];
        m(i, j) = std::isfinite(e) ? e : 0.0;
      }
    }
    return m;
  };
  const auto centred_unit = [&](Eigen::MatrixXd m) {
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(cols);
    double count = 0;
    for (Eigen::Index i = 0; i < rows; ++i) {
      if (train[static_cast<std::size_t>(i)]) mean += m.row(i), count += 1;
    }
    m.rowwise() -= mean / count;
    for (Eigen::Index i = 0; i < rows; ++i) {
      if (m.row(i).norm() > 0) m.row(i).normalize();
    }
    return m;
  };
  const auto x = centred_unit(table(a)), y = centred_unit(table(b));
  const double want = (x.array() * y.array()).rowwise().sum().mean();
  const auto r = compare_mapped_rows(a, b, n, d, ids_a, ids_b, seed);
  EXPECT_NEAR(r.raw_cosine, want, 1e-12);
  EXPECT_NEAR(r.same_id_share, 200.0 / 301.0, 1e-15);
}

TEST(TokenMappedEmbedding, TooFewTokensForTheHiddenSizeAreNotFitted) {
  constexpr std::uint64_t n = 100, d = 64;  // ~50 fitting tokens for 64 dimensions
  const auto t = tables(n, d, 4, [](const Eigen::MatrixXd& a, std::mt19937_64&) { return a; });
  const auto r = compare_mapped_rows(t.a, t.b, n, d, t.ids, t.ids, 3);
  EXPECT_NEAR(r.raw_cosine, 1.0, 1e-6);
  EXPECT_TRUE(std::isnan(r.rotation.heldout.observed));
  EXPECT_EQ(r.rotation.heldout.permutations, 0);
  // Enough tokens, but a hidden size above the cost bound: not fitted either.
  const auto big = tables(1024, 48, 5, [](const Eigen::MatrixXd& a, std::mt19937_64&) { return a; });
  MappedEmbeddingOptions capped;
  capped.max_hidden = 32;
  const auto c = compare_mapped_rows(big.a, big.b, 1024, 48, big.ids, big.ids, 3, capped);
  EXPECT_TRUE(std::isnan(c.rotation.heldout.observed));
  EXPECT_FALSE(std::isnan(compare_mapped_rows(big.a, big.b, 1024, 48, big.ids, big.ids, 3).rotation.heldout.observed));
}

}  // namespace
}  // namespace lineage::stages
